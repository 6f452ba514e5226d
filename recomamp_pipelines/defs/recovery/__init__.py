"""Dagster glue of recovery: runs that died, and what they left in flight."""
