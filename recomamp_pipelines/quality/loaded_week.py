"""Quality checks of one loaded week, run before it is published.

Each check turns aggregates (computed by PostgreSQL over the week's loaded rows, or carried by the
week's summary_stats) into a small frame and validates it with a Great Expectations
expectation. A failed ERROR check means the week must not be published; a failed WARN check is
reported and the week is published all the same.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg

from recomamp_pipelines.quality import expectations as gx
from recomamp_pipelines.quality.aggregates import WeekAggregates, week_aggregates
from recomamp_pipelines.quality.outcomes import CheckOutcome, CheckSpec
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.summary_stats import (
    FILTERED_ROW_COUNT,
    ROW_COUNT,
    finite_or_none,
    primary_metric,
)
from recomamp_pipelines.results.table import TableColumn

TRAILING_WEEKS = 4
DROP_THRESHOLD = 0.25
MAX_FILTERED_SHARE = 0.5
# Floating sums differ with summation order; allow this much relative to the sum of |values|.
RELATIVE_TOLERANCE = 1e-9

COLUMNS_STABLE = CheckSpec(
    "columns_stable",
    "ERROR",
    "Every column of earlier weeks is present, with the same type (no silent cast).",
)
METRICS_NON_NEGATIVE = CheckSpec(
    "metrics_non_negative", "ERROR", "No metric column holds a negative value."
)
FUNNEL_CONSISTENT = CheckSpec(
    "funnel_consistent",
    "ERROR",
    "No row has more clicks than impressions or more purchases than clicks.",
)
SUMMARY_MATCHES_TABLE = CheckSpec(
    "summary_stats_match_table",
    "ERROR",
    "Row count, sums and counts in summary_stats equal those recomputed from the loaded rows.",
)
WEEK_NOT_EMPTY = CheckSpec("week_not_empty", "WARN", "The week returned at least one row.")
NO_DROP = CheckSpec(
    "no_drop_against_trailing_weeks",
    "WARN",
    f"Row count and primary metric are at least {DROP_THRESHOLD:.0%} of the median of the "
    f"trailing {TRAILING_WEEKS} weeks.",
)
FILTERED_SHARE = CheckSpec(
    "filtered_share_acceptable",
    "WARN",
    f"At most {MAX_FILTERED_SHARE:.0%} of rows were filtered by AMC's aggregation threshold.",
)
COLUMN_TYPES_KNOWN = CheckSpec(
    "column_types_known",
    "WARN",
    "Every output column has an AMC data type the results table can type (else it is text).",
)

CHECKS: tuple[CheckSpec, ...] = (
    COLUMNS_STABLE,
    METRICS_NON_NEGATIVE,
    FUNNEL_CONSISTENT,
    SUMMARY_MATCHES_TABLE,
    WEEK_NOT_EMPTY,
    NO_DROP,
    FILTERED_SHARE,
    COLUMN_TYPES_KNOWN,
)


def check_loaded_week(
    conn: psycopg.Connection,
    week: LoadedWeek,
    *,
    previous_weeks_stats: Sequence[Mapping[str, Any]] = (),
    expected_columns: Sequence[TableColumn] | None = None,
) -> list[CheckOutcome]:
    """Run every check on a loaded week; one outcome per entry of CHECKS, in that order.

    `previous_weeks_stats` are the summary_stats of earlier weeks, oldest first.
    `expected_columns` are the columns of earlier weeks; None takes those of the results table
    before this week was loaded (none before the workflow's first week).
    """
    if expected_columns is None:
        expected_columns = week.expected_columns
    aggregates = week_aggregates(conn, week)
    return [
        _columns_stable(week, expected_columns),
        _metrics_non_negative(week, aggregates),
        _funnel_consistent(aggregates),
        _summary_matches_table(week, aggregates),
        _week_not_empty(aggregates),
        _no_drop(week, previous_weeks_stats),
        _filtered_share(aggregates),
        _column_types_known(week),
    ]


def _outcome(
    spec: CheckSpec,
    frame: pd.DataFrame,
    expectation: Any,
    *,
    reason_passed: str,
    reason_failed: str,
    applicable: bool = True,
    **metadata: Any,
) -> CheckOutcome:
    result = gx.validate(frame, [expectation])[0]
    return CheckOutcome(
        name=spec.name,
        passed=result.success,
        severity=spec.severity,
        description=spec.description,
        applicable=applicable,
        metadata={
            "reason": reason_passed if result.success else reason_failed,
            "expectation": result.expectation,
            "observed": _records(frame),
            "unexpected": [_json_value(value) for value in result.unexpected],
            **metadata,
        },
    )


def _columns_stable(week: LoadedWeek, expected: Sequence[TableColumn]) -> CheckOutcome:
    week_types = {column.name: column.postgres_type for column in week.columns}
    frame = pd.DataFrame(
        {
            "column": [column.name for column in expected],
            "expected_type": [column.postgres_type for column in expected],
            "week_type": [week_types.get(column.name, "missing") for column in expected],
        },
        dtype=object,
    )
    changed = frame[frame["expected_type"] != frame["week_type"]]
    expected_names = {column.name for column in expected}
    new_columns = [name for name in week_types if name not in expected_names]
    return _outcome(
        COLUMNS_STABLE,
        frame,
        gx.expectation(
            "ExpectColumnPairValuesToBeEqual", column_A="expected_type", column_B="week_type"
        ),
        reason_passed=(
            "not applicable: no earlier week to compare with"
            if not expected
            else f"all {len(expected)} columns of earlier weeks present with the same types"
        ),
        reason_failed="columns missing or changed type: "
        + "; ".join(
            f"{row.column} {row.expected_type} -> {row.week_type}" for row in changed.itertuples()
        ),
        applicable=bool(expected),
        new_columns=new_columns,
    )


def _metrics_non_negative(week: LoadedWeek, aggregates: WeekAggregates) -> CheckOutcome:
    metrics = [column.name for column in week.columns if column.is_metric]
    frame = pd.DataFrame(
        {
            "column": metrics,
            "negative_rows": [aggregates.columns[name].negative_rows for name in metrics],
            "min_value": [aggregates.columns[name].minimum for name in metrics],
        }
    )
    negative = frame[frame["negative_rows"] > 0]
    return _outcome(
        METRICS_NON_NEGATIVE,
        frame,
        gx.expectation("ExpectColumnValuesToBeBetween", column="negative_rows", max_value=0),
        reason_passed=(
            f"no negative value in {len(metrics)} metric columns"
            if metrics
            else "not applicable: the result has no metric column"
        ),
        reason_failed="negative values: "
        + "; ".join(f"{row.column} in {row.negative_rows} rows" for row in negative.itertuples()),
        applicable=bool(metrics),
    )


def _funnel_consistent(aggregates: WeekAggregates) -> CheckOutcome:
    frame = pd.DataFrame(
        {
            "rule": [rule.name for rule in aggregates.funnel],
            "column": [rule.column for rule in aggregates.funnel],
            "bound_column": [rule.bound_column for rule in aggregates.funnel],
            "violating_rows": [rule.violating_rows for rule in aggregates.funnel],
        }
    )
    broken = [rule for rule in aggregates.funnel if rule.violating_rows]
    return _outcome(
        FUNNEL_CONSISTENT,
        frame,
        gx.expectation("ExpectColumnValuesToBeBetween", column="violating_rows", max_value=0),
        reason_passed=(
            "every row respects " + ", ".join(rule.name for rule in aggregates.funnel)
            if aggregates.funnel
            else "not applicable: the result lacks clicks with impressions or purchases"
        ),
        reason_failed="; ".join(
            f"{rule.violating_rows} rows with {rule.column} > {rule.bound_column}"
            for rule in broken
        ),
        applicable=bool(aggregates.funnel),
    )


def _summary_matches_table(week: LoadedWeek, aggregates: WeekAggregates) -> CheckOutcome:
    stats = week.summary_stats
    rows: list[tuple[str, Any, Any, float]] = [
        (ROW_COUNT, aggregates.row_count, stats.get(ROW_COUNT), 0.0)
    ]
    if aggregates.filtered_row_count is not None:
        rows.append(
            (FILTERED_ROW_COUNT, aggregates.filtered_row_count, stats.get(FILTERED_ROW_COUNT), 0.0)
        )
    for name, column in aggregates.columns.items():
        tolerance = (
            0.0
            if column.is_integer
            else RELATIVE_TOLERANCE * max(float(column.absolute_total), 1.0)
        )
        rows.append((f"{name}_sum", column.total, stats.get(f"{name}_sum", 0), tolerance))
        rows.append((f"{name}_count", column.count, stats.get(f"{name}_count", 0), 0.0))
    frame = pd.DataFrame(
        {
            "stat": [row[0] for row in rows],
            "table_value": [row[1] for row in rows],
            "summary_value": [row[2] for row in rows],
            "excess_difference": [_excess(row[1], row[2], row[3]) for row in rows],
        },
        dtype=object,
    )
    frame["excess_difference"] = frame["excess_difference"].astype(float)
    mismatched = frame[frame["excess_difference"] > 0]
    return _outcome(
        SUMMARY_MATCHES_TABLE,
        frame,
        gx.expectation("ExpectColumnValuesToBeBetween", column="excess_difference", max_value=0),
        reason_passed=f"{len(rows)} statistics agree with the loaded rows",
        reason_failed="summary_stats disagree with the loaded rows: "
        + "; ".join(
            f"{row.stat} table {row.table_value} vs summary {row.summary_value}"
            for row in mismatched.itertuples()
        ),
    )


def _excess(table_value: Any, summary_value: Any, tolerance: float) -> float:
    """How far two values are apart beyond the tolerance (0 when they agree)."""
    if summary_value is None:
        return math.inf
    difference = abs(float(table_value) - float(summary_value))
    if math.isnan(difference):
        # A NaN or an infinity on one side only (or both: the stream leaves them out).
        return math.inf
    return max(difference - tolerance, 0.0)


def _week_not_empty(aggregates: WeekAggregates) -> CheckOutcome:
    frame = pd.DataFrame({ROW_COUNT: [aggregates.row_count]})
    return _outcome(
        WEEK_NOT_EMPTY,
        frame,
        gx.expectation("ExpectColumnValuesToBeBetween", column=ROW_COUNT, min_value=1),
        reason_passed=f"{aggregates.row_count} rows",
        reason_failed="AMC returned no row for this week",
    )


def _no_drop(week: LoadedWeek, previous_weeks_stats: Sequence[Mapping[str, Any]]) -> CheckOutcome:
    trailing = list(previous_weeks_stats)[-TRAILING_WEEKS:]
    metrics = [ROW_COUNT]
    primary = primary_metric(week.summary_stats)
    if primary != ROW_COUNT:
        metrics.append(primary)
    records: list[dict[str, Any]] = []
    for metric in metrics:
        history = [finite_or_none(stats.get(metric)) for stats in trailing]
        values = [value for value in history if value is not None]
        median = statistics.median(values) if values else None
        current = finite_or_none(week.summary_stats.get(metric)) or 0
        records.append(
            {
                "metric": metric,
                "current": current,
                "trailing_median": median,
                # No usable history (or a zero median) leaves the share empty: nothing to drop from.
                "share_of_trailing_median": current / median if median else None,
            }
        )
    frame = pd.DataFrame(
        records, columns=["metric", "current", "trailing_median", "share_of_trailing_median"]
    )
    frame["share_of_trailing_median"] = frame["share_of_trailing_median"].astype(float)
    dropped = [
        record
        for record in records
        if record["share_of_trailing_median"] is not None
        and record["share_of_trailing_median"] < DROP_THRESHOLD
    ]
    return _outcome(
        NO_DROP,
        frame,
        gx.expectation(
            "ExpectColumnValuesToBeBetween",
            column="share_of_trailing_median",
            min_value=DROP_THRESHOLD,
        ),
        reason_passed=(
            f"within range of the trailing {len(trailing)} weeks"
            if trailing
            else "not applicable: no earlier week to compare with"
        ),
        reason_failed="; ".join(
            f"{record['metric']} {record['current']} is "
            f"{record['share_of_trailing_median']:.0%} of the trailing median "
            f"{record['trailing_median']}"
            for record in dropped
        ),
        applicable=bool(trailing),
        trailing_weeks=len(trailing),
        threshold=DROP_THRESHOLD,
    )


def _filtered_share(aggregates: WeekAggregates) -> CheckOutcome:
    filtered = aggregates.filtered_row_count or 0
    share = filtered / aggregates.row_count if aggregates.row_count else 0.0
    frame = pd.DataFrame({"filtered_rows": [filtered], "filtered_row_share": [share]})
    return _outcome(
        FILTERED_SHARE,
        frame,
        gx.expectation(
            "ExpectColumnValuesToBeBetween",
            column="filtered_row_share",
            max_value=MAX_FILTERED_SHARE,
        ),
        reason_passed=(
            f"{share:.1%} of rows filtered"
            if aggregates.filtered_row_count is not None
            else "not applicable: the result has no filtered column"
        ),
        reason_failed=(
            f"{share:.1%} of rows were filtered by AMC's aggregation threshold: the breakdown "
            "may be too fine for the audience"
        ),
        applicable=aggregates.filtered_row_count is not None,
        threshold=MAX_FILTERED_SHARE,
    )


def _column_types_known(week: LoadedWeek) -> CheckOutcome:
    frame = pd.DataFrame(
        {
            "column": [column.name for column in week.columns],
            "amc_data_type": [column.amc_data_type for column in week.columns],
            "is_typed": [column.is_typed for column in week.columns],
        }
    )
    untyped = week.untyped_columns
    return _outcome(
        COLUMN_TYPES_KNOWN,
        frame,
        gx.expectation("ExpectColumnValuesToBeInSet", column="is_typed", value_set=[True]),
        reason_passed="every AMC data type is mapped",
        reason_failed="stored as text: "
        + ", ".join(f"{column.name} ({column.amc_data_type})" for column in untyped),
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {key: _json_value(value) for key, value in record.items()}
        for record in frame.to_dict(orient="records")
    ]


def _json_value(value: Any) -> Any:
    """A frame or GE value as plain JSON: numpy scalars unwrapped, NaN and infinities None."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return str(value)
