"""SQL run by the quality checks, loaded by name."""

from __future__ import annotations

from psycopg import sql

from recomamp_pipelines.db.sql_files import compose_sql


def compose(name: str, **identifiers: sql.Composable) -> sql.Composed:
    """`<name>.sql` of this folder with its `{placeholder}` slots filled by composable SQL."""
    return compose_sql(__package__, name, **identifiers)
