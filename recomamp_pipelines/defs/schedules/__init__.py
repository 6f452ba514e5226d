"""Dagster glue of user schedules, collection backfills and nightly runs, and dead-run recovery."""
