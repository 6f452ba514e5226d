"""The one loader of the pipeline's SQL files: `<name>.sql` beside the code that runs it.

Every package keeps its queries in a folder of `.sql` files and loads them by name through
`sql_loader(__package__)`. Files may hold `{placeholder}` slots for identifiers only; those are
filled through `psycopg.sql` (`compose_sql`), so that every dynamic name is quoted, and values
are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from psycopg import sql


@cache
def load_sql(package: str, name: str) -> str:
    """The text of `<name>.sql` in `package`."""
    return resources.files(package).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def compose_sql(package: str, name: str, **identifiers: sql.Composable) -> sql.Composed:
    """`<name>.sql` of `package` with its `{placeholder}` slots filled by composable SQL."""
    return sql.SQL(load_sql(package, name)).format(**identifiers)


def sql_loader(package: str | None) -> Callable[[str], str]:
    """`load(name)`: the text of `<name>.sql` in `package`."""
    if not package:
        raise ValueError("sql_loader needs the package whose folder holds the .sql files")
    folder = package

    def load(name: str) -> str:
        return load_sql(folder, name)

    return load
