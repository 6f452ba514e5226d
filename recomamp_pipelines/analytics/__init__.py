"""The analyst layer: the views of `dbt_like_views/`, applied in dependency order, and reports."""
