"""What the checks know of a loaded week: PostgreSQL's recount of its rows, and its profile.

PostgreSQL recounts the loaded rows in one scan (row count, filtered rows, each numeric column's
sum and count), to be compared with the summary_stats computed from the stream. Row-level facts
(negative values, funnel breaks) and the extremes come from the week's profile and
summary_stats, counted from the same batches while they were loaded.

Float columns are summed over their finite values only (NaN and infinities are left out), as
the summary_stats are, so that the two can be compared value for value. Where the stream saw no
NaN or infinity in a column, PostgreSQL sums it whole, which is cheaper: a non-finite value in
the table that the stream did not see then shows as a mismatch, as it should.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from recomamp_pipelines.quality.sql import compose
from recomamp_pipelines.results.columns import ResultColumn
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.summary_stats import FILTERED_COLUMN, FunnelCount, finite_or_none

Number = int | float

_INTEGER_TYPES = ("bigint", "integer")


@dataclass(frozen=True)
class ColumnAggregate:
    """One numeric column's aggregates: total and count recounted by PostgreSQL, the rest
    from the stream."""

    total: Number
    count: int
    absolute_total: Number
    minimum: Number | None
    negative_rows: int
    is_integer: bool


@dataclass(frozen=True)
class WeekAggregates:
    row_count: int
    filtered_row_count: int | None
    columns: dict[str, ColumnAggregate]
    funnel: list[FunnelCount]


def _finite(column: ResultColumn) -> sql.Composable:
    # NaN sorts above 'Infinity' in PostgreSQL, so this range excludes it too.
    return sql.SQL("{col} > '-Infinity' and {col} < 'Infinity'").format(
        col=sql.Identifier(column.name)
    )


def week_aggregates(conn: psycopg.Connection, week: LoadedWeek) -> WeekAggregates:
    """Row count, filtered rows and per-column sums and counts of the loaded rows, recounted
    by PostgreSQL, with the week's negatives, minimums and funnel breaks."""
    numeric = [column for column in week.columns if column.is_numeric]
    filtered = next(
        (column for column in week.columns if column.name.lower() == FILTERED_COLUMN), None
    )
    expressions: list[sql.Composable] = [sql.SQL("count(*)")]
    for column in numeric:
        col = sql.Identifier(column.name)
        if (
            column.postgres_type in _INTEGER_TYPES
            or not week.profile.columns[column.name].non_finite_rows
        ):
            expressions += [
                sql.SQL("sum({col})").format(col=col),
                sql.SQL("count({col})").format(col=col),
            ]
        else:
            finite = _finite(column)
            expressions += [
                sql.SQL("sum({col}) filter (where {finite})").format(col=col, finite=finite),
                sql.SQL("count({col}) filter (where {finite})").format(col=col, finite=finite),
            ]
    if filtered is not None:
        flag = (
            sql.Identifier(filtered.name)
            if filtered.postgres_type == "boolean"
            else sql.SQL("lower({}) = 'true'").format(sql.Identifier(filtered.name))
        )
        expressions.append(sql.SQL("count(*) filter (where {})").format(flag))
    with conn.cursor() as cur:
        cur.execute(
            compose(
                "week_aggregates",
                aggregates=sql.SQL(", ").join(expressions),
                table=week.table,
                week_rows=week.rows,
            )
        )
        row = cur.fetchone()
    assert row is not None
    values = iter(row)
    row_count = int(next(values))
    columns: dict[str, ColumnAggregate] = {}
    for column in numeric:
        total, count = next(values), next(values)
        profile = week.profile.columns[column.name]
        columns[column.name] = ColumnAggregate(
            total=_number(total) or 0,
            count=int(count),
            absolute_total=profile.absolute_total,
            minimum=finite_or_none(week.summary_stats.get(f"{column.name}_min")),
            negative_rows=profile.negative_rows,
            is_integer=column.postgres_type in _INTEGER_TYPES,
        )
    filtered_rows = int(next(values)) if filtered is not None else None
    return WeekAggregates(row_count, filtered_rows, columns, list(week.profile.funnel))


def _number(value: Any) -> Number | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
