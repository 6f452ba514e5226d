"""AMC's SQL rules, checked on a query before it is offered as a template or saved as a workflow.

The checks are the shared AMC SQL front end's (`recomamp_pipelines.amc_sql`), the same the local
AMC simulator's compiler makes, so a query this accepts is one the simulator runs. Messages are
AMC's own ("Unable to compile the SQL query. From line N, column M to ...: Object 'x' not
found"), naming the offending text's position.
"""

from __future__ import annotations

from sqlglot import exp

from recomamp_pipelines.amc_sql.catalogue import TABLES
from recomamp_pipelines.amc_sql.frontend import AmcSqlError, CheckedQuery, check_query, parse

__all__ = [
    "AMC_OUTPUT_TYPES",
    "AMC_TABLES",
    "AmcSqlError",
    "amc_sql_problems",
    "check_amc_sql",
    "parse_amc_sql",
]

#: AMC tables a template may read, with their columns.
AMC_TABLES: dict[str, frozenset[str]] = {
    name: frozenset(c.name for c in table.columns) for name, table in TABLES.items()
}

#: Column types AMC reports in `outputColumns[].dataType`.
AMC_OUTPUT_TYPES = frozenset(
    {"STRING", "LONG", "INTEGER", "DOUBLE", "DECIMAL", "BOOLEAN", "DATE", "TIMESTAMP"}
)


def parse_amc_sql(sql: str) -> exp.Query:
    """The one query in `sql`, parsed as AMC SQL; AmcSqlError in AMC's words otherwise."""
    return parse(sql)


def check_amc_sql(sql: str) -> CheckedQuery:
    """The checked query (tables read, output names), or AmcSqlError naming the first problem."""
    return check_query(sql)


def amc_sql_problems(sql: str) -> list[str]:
    """The rule of AMC's that `sql` breaks first, as AMC words it; empty when AMC would take it."""
    try:
        check_query(sql)
    except AmcSqlError as exc:
        return [str(exc)]
    return []
