"""SQL run by the quality checks, loaded by name."""

from __future__ import annotations

from psycopg import sql

from recomamp_pipelines.results.sql import compose_from


def compose(name: str, **identifiers: sql.Composable) -> sql.Composed:
    """`<name>.sql` of this folder with its `{placeholder}` slots filled by composable SQL."""
    return compose_from(__package__, name, **identifiers)
