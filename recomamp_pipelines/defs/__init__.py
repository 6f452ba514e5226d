"""Dagster glue: assets, checks, sensors, schedules and resources, assembled in definitions.py."""
