"""Dagster glue of the analyst layer: the views of dbt_like_views/ as assets, their checks."""
