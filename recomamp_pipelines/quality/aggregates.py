"""Aggregates of a staged week computed by PostgreSQL in one scan of the staging table.

Float and numeric columns are aggregated over their finite values only (NaN and infinities are
left out), as the summary_stats are, so the two can be compared value for value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from recomamp_pipelines.quality.sql import compose
from recomamp_pipelines.results.columns import ResultColumn
from recomamp_pipelines.results.staging import StagedWeek
from recomamp_pipelines.results.summary_stats import FILTERED_COLUMN, METRIC_CANDIDATES

Number = int | float

# (name of the rule, role that must not exceed, role it is bounded by)
FUNNEL_RULES: tuple[tuple[str, str, str], ...] = (
    ("clicks_not_above_impressions", "clicks", "impressions"),
    ("purchases_not_above_clicks", "purchases", "clicks"),
)

_INTEGER_TYPES = ("bigint", "integer")


@dataclass(frozen=True)
class ColumnAggregate:
    """One numeric column's aggregates over the staged rows."""

    total: Number
    count: int
    absolute_total: Number
    minimum: Number | None
    negative_rows: int
    is_integer: bool


@dataclass(frozen=True)
class FunnelRule:
    """A row-level rule `column <= bound_column` and the number of rows that break it."""

    name: str
    column: str
    bound_column: str
    violating_rows: int


@dataclass(frozen=True)
class StagedAggregates:
    row_count: int
    filtered_row_count: int | None
    columns: dict[str, ColumnAggregate]
    funnel: list[FunnelRule]


def column_for_role(columns: Sequence[ResultColumn], role: str) -> ResultColumn | None:
    """The numeric column that plays a metric role (e.g. 'clicks'), matched by name."""
    by_name = {column.name.lower(): column for column in columns if column.is_numeric}
    for candidate in METRIC_CANDIDATES[role]:
        if candidate in by_name:
            return by_name[candidate]
    return None


def _finite(column: ResultColumn) -> sql.Composable:
    # NaN sorts above 'Infinity' in PostgreSQL, so this range excludes it too.
    return sql.SQL("{col} > '-Infinity' and {col} < 'Infinity'").format(
        col=sql.Identifier(column.name)
    )


def staged_aggregates(conn: psycopg.Connection, staged: StagedWeek) -> StagedAggregates:
    """Row count, filtered rows, per-column sums/counts/extremes/negatives and funnel breaks."""
    numeric = [column for column in staged.columns if column.is_numeric]
    filtered = next(
        (column for column in staged.columns if column.name.lower() == FILTERED_COLUMN), None
    )
    rules: list[tuple[str, ResultColumn, ResultColumn]] = []
    for name, upper_role, lower_role in FUNNEL_RULES:
        upper = column_for_role(staged.columns, upper_role)
        lower = column_for_role(staged.columns, lower_role)
        if upper is not None and lower is not None:
            rules.append((name, upper, lower))
    expressions: list[sql.Composable] = [sql.SQL("count(*)")]
    for column in numeric:
        col = sql.Identifier(column.name)
        if column.staging_type in _INTEGER_TYPES:
            expressions += [
                sql.SQL("sum({col})").format(col=col),
                sql.SQL("count({col})").format(col=col),
                # Integer sums are exact: no tolerance, so no need for the sum of |values|.
                sql.SQL("null"),
                sql.SQL("min({col})").format(col=col),
            ]
        else:
            finite = _finite(column)
            expressions += [
                sql.SQL("sum({col}) filter (where {finite})").format(col=col, finite=finite),
                sql.SQL("count({col}) filter (where {finite})").format(col=col, finite=finite),
                sql.SQL("sum(abs({col})) filter (where {finite})").format(col=col, finite=finite),
                sql.SQL("min({col}) filter (where {finite})").format(col=col, finite=finite),
            ]
        expressions.append(sql.SQL("count(*) filter (where {col} < 0)").format(col=col))
    if filtered is not None:
        flag = (
            sql.Identifier(filtered.name)
            if filtered.staging_type == "boolean"
            else sql.SQL("lower({}) = 'true'").format(sql.Identifier(filtered.name))
        )
        expressions.append(sql.SQL("count(*) filter (where {})").format(flag))
    for _, upper, lower in rules:
        expressions.append(
            sql.SQL("count(*) filter (where {} > {})").format(
                sql.Identifier(upper.name), sql.Identifier(lower.name)
            )
        )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            compose(
                "staged_aggregates",
                aggregates=sql.SQL(", ").join(expressions),
                staging_table=staged.staging_table,
            )
        )
        row = cur.fetchone()
    assert row is not None
    values = iter(row)
    row_count = int(next(values))
    columns: dict[str, ColumnAggregate] = {}
    for column in numeric:
        total, count, absolute_total, minimum, negatives = (next(values) for _ in range(5))
        columns[column.name] = ColumnAggregate(
            total=_number(total) or 0,
            count=int(count),
            absolute_total=_number(absolute_total) or 0,
            minimum=_number(minimum),
            negative_rows=int(negatives),
            is_integer=column.staging_type in _INTEGER_TYPES,
        )
    filtered_rows = int(next(values)) if filtered is not None else None
    funnel = [
        FunnelRule(name, upper.name, lower.name, int(next(values))) for name, upper, lower in rules
    ]
    return StagedAggregates(row_count, filtered_rows, columns, funnel)


def _number(value: Any) -> Number | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
