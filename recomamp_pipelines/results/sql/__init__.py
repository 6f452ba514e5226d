"""SQL run by the results layer, loaded by name.

Files hold `{placeholder}` slots for identifiers only; callers fill them through
`psycopg.sql` so that every dynamic name is quoted, and pass values as bound parameters.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql


@cache
def load_from(package: str, name: str) -> str:
    """The text of `<name>.sql` in `package`."""
    return resources.files(package).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def compose_from(package: str, name: str, **identifiers: sql.Composable) -> sql.Composed:
    """`<name>.sql` of `package` with its `{placeholder}` slots filled by composable SQL."""
    return sql.SQL(load_from(package, name)).format(**identifiers)


def compose(name: str, **identifiers: sql.Composable) -> sql.Composed:
    """`<name>.sql` of this folder with its `{placeholder}` slots filled by composable SQL."""
    return compose_from(__package__, name, **identifiers)
