"""Summary statistics of one week's result, and the collection-level report built from them.

A week's `summary_stats` is ONE flat JSON object of numbers, so that the schema's
`aggregate_collection_weeks` (which sums every numeric key) and
`calculate_week_over_week_change` (which reads one key) work on it directly:

- `row_count`, `filtered_row_count`, `filtered_row_share` (rows AMC flagged `filtered = TRUE`,
  0 when the result has no `filtered` column);
- per numeric column `<column>_sum`, `<column>_mean`, `<column>_min`, `<column>_max`,
  `<column>_count` (non-null, finite values only: NaN and infinities are left out);
- ratios computed from the sums where their inputs exist: `ctr` = clicks / impressions,
  `cpc` = cost / clicks, `cpm` = cost / impressions x 1000, `cvr` = purchases / clicks,
  `acos` = cost / sales, `roas` = sales / cost, `ntb_sales_share` = new-to-brand sales / sales.
  Inputs are matched by column name (case-insensitive, first candidate present wins, see
  `METRIC_CANDIDATES`). Ratios are fractions (a CTR of 1.2 % is 0.012).

Costs are kept in the unit the query returned: AMC's raw `total_cost` is in millicents
(100,000 = $1) and `spend` in microcents (1e8 = $1). `cpc`, `cpm`, `acos` and `roas` are therefore
in the cost column's unit; a template that wants dollars divides in its SQL.

A value that is undefined (a mean of no values, a ratio with a zero denominator) is omitted,
never NaN or null, so every value in the object is a finite number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recomamp_pipelines.results.columns import ResultColumn

Number = int | float
SummaryStats = dict[str, Number]

ROW_COUNT = "row_count"
FILTERED_ROW_COUNT = "filtered_row_count"
FILTERED_ROW_SHARE = "filtered_row_share"
FILTERED_COLUMN = "filtered"

STAT_SUFFIXES = ("_sum", "_mean", "_min", "_max", "_count")

# Metric roles and the column names that play them, in order of preference.
METRIC_CANDIDATES: dict[str, tuple[str, ...]] = {
    "impressions": ("impressions",),
    "clicks": ("clicks",),
    "cost": ("spend", "total_cost", "cost"),
    "purchases": ("purchases", "conversions", "total_purchases"),
    "sales": ("sales", "product_sales", "total_product_sales"),
    "ntb_sales": ("new_to_brand_product_sales", "ntb_product_sales", "new_to_brand_sales"),
}

# ratio name -> (numerator role, denominator role, scale)
RATIOS: dict[str, tuple[str, str, int]] = {
    "ctr": ("clicks", "impressions", 1),
    "cpc": ("cost", "clicks", 1),
    "cpm": ("cost", "impressions", 1000),
    "cvr": ("purchases", "clicks", 1),
    "acos": ("cost", "sales", 1),
    "roas": ("sales", "cost", 1),
    "ntb_sales_share": ("ntb_sales", "sales", 1),
}

# The metric that ranks weeks and watches for drops: the first role present, else row_count.
PRIMARY_METRIC_ROLES = ("sales", "purchases", "impressions")

# Row-level rules `column <= bound column`: (name of the rule, role that must not exceed, role it
# is bounded by). Counted while the week streams by, for the quality checks.
FUNNEL_RULES: tuple[tuple[str, str, str], ...] = (
    ("clicks_not_above_impressions", "clicks", "impressions"),
    ("purchases_not_above_clicks", "purchases", "clicks"),
)


def finite_or_none(value: Any) -> Number | None:
    """A JSON-safe number: ints as they are, finite floats, anything else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def column_for_role(columns: Sequence[ResultColumn], role: str) -> ResultColumn | None:
    """The numeric column that plays a metric role (e.g. 'clicks'), matched by name."""
    by_name = {column.name.lower(): column for column in columns if column.is_numeric}
    for candidate in METRIC_CANDIDATES[role]:
        if candidate in by_name:
            return by_name[candidate]
    return None


@dataclass
class _ColumnTotals:
    count: int = 0
    total: Number = 0
    absolute_total: Number = 0
    minimum: Number | None = None
    maximum: Number | None = None
    negative_rows: int = 0
    non_finite_rows: int = 0


@dataclass(frozen=True)
class ColumnProfile:
    """What the quality checks need of one numeric column beyond its summary_stats."""

    negative_rows: int
    absolute_total: Number
    non_finite_rows: int = 0


@dataclass(frozen=True)
class FunnelCount:
    """A row-level rule `column <= bound_column` and the number of rows that break it."""

    name: str
    column: str
    bound_column: str
    violating_rows: int


@dataclass(frozen=True)
class WeekProfile:
    """Row-level facts of a week, counted while it streamed by: negatives and funnel breaks."""

    columns: dict[str, ColumnProfile]
    funnel: list[FunnelCount]


class SummaryAccumulator:
    """Summary statistics computed batch by batch, so a result never has to fit in memory."""

    def __init__(self, columns: Sequence[ResultColumn]) -> None:
        self._numeric = [column for column in columns if column.is_numeric]
        self._totals = {column.name: _ColumnTotals() for column in self._numeric}
        self._filtered = next(
            (column.name for column in columns if column.name.lower() == FILTERED_COLUMN), None
        )
        self._rows = 0
        self._filtered_rows = 0
        self._rules: list[tuple[str, str, str]] = []
        for name, upper_role, lower_role in FUNNEL_RULES:
            upper = column_for_role(columns, upper_role)
            lower = column_for_role(columns, lower_role)
            if upper is not None and lower is not None:
                self._rules.append((name, upper.name, lower.name))
        self._violations = dict.fromkeys((rule[0] for rule in self._rules), 0)

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """Fold one batch (columns named and typed as the result's columns) into the totals."""
        self._rows += batch.num_rows
        if batch.num_rows == 0:
            return
        for column in self._numeric:
            self._add_column(self._totals[column.name], batch.column(column.name))
        if self._filtered is not None:
            self._filtered_rows += _true_count(batch.column(self._filtered))
        for name, upper, lower in self._rules:
            above = pc.greater(batch.column(upper), batch.column(lower))
            self._violations[name] += int(pc.sum(above.cast(pa.int64())).as_py() or 0)

    def profile(self) -> WeekProfile:
        """Negative values per numeric column and funnel breaks of everything added so far."""
        return WeekProfile(
            columns={
                name: ColumnProfile(
                    totals.negative_rows, totals.absolute_total, totals.non_finite_rows
                )
                for name, totals in self._totals.items()
            },
            funnel=[
                FunnelCount(name, upper, lower, self._violations[name])
                for name, upper, lower in self._rules
            ],
        )

    def summary_stats(self) -> SummaryStats:
        """The flat summary object of everything added so far."""
        stats: SummaryStats = {}
        for name, totals in self._totals.items():
            stats[f"{name}_sum"] = totals.total
            stats[f"{name}_count"] = totals.count
            if totals.count:
                stats[f"{name}_mean"] = totals.total / totals.count
            for suffix, value in (("_min", totals.minimum), ("_max", totals.maximum)):
                if value is not None:
                    stats[name + suffix] = value
        stats.update(_row_counts(self._rows, self._filtered_rows))
        stats.update(ratios_from_sums(stats))
        return _finite_only(stats)

    @staticmethod
    def _add_column(totals: _ColumnTotals, values: pa.Array) -> None:
        # Counted before infinities are left out: -Infinity is negative too.
        totals.negative_rows += int(pc.sum(pc.less(values, 0).cast(pa.int64())).as_py() or 0)
        if pa.types.is_floating(values.type):
            # NaN and infinities would poison every sum and mean downstream.
            finite = pc.is_finite(values)
            totals.non_finite_rows += int(pc.sum(pc.invert(finite).cast(pa.int64())).as_py() or 0)
            values = pc.if_else(finite, values, pa.scalar(None, values.type))
        count = len(values) - values.null_count
        if count == 0:
            return
        totals.count += count
        batch_sum = pc.sum(values).as_py()
        totals.total += batch_sum
        totals.absolute_total += pc.sum(pc.abs(values)).as_py()
        extremes = pc.min_max(values).as_py()
        low, high = extremes["min"], extremes["max"]
        totals.minimum = low if totals.minimum is None else min(totals.minimum, low)
        totals.maximum = high if totals.maximum is None else max(totals.maximum, high)


def _true_count(values: pa.Array) -> int:
    if pa.types.is_boolean(values.type):
        flags = values
    else:
        flags = pc.equal(pc.utf8_lower(values.cast(pa.string())), "true")
    return int(pc.sum(flags.cast(pa.int64())).as_py() or 0)


def _row_counts(rows: int, filtered_rows: int) -> SummaryStats:
    return {
        ROW_COUNT: rows,
        FILTERED_ROW_COUNT: filtered_rows,
        FILTERED_ROW_SHARE: filtered_rows / rows if rows else 0,
    }


def _finite_only(stats: Mapping[str, Any]) -> SummaryStats:
    cleaned: SummaryStats = {}
    for key, value in stats.items():
        number = finite_or_none(value)
        if number is not None:
            cleaned[key] = number
    return cleaned


def metric_sum_key(stats: Mapping[str, Any], role: str) -> str | None:
    """The `<column>_sum` key of the column playing `role` (e.g. 'sales'), if any."""
    sums = {key[: -len("_sum")].lower(): key for key in stats if key.endswith("_sum")}
    for candidate in METRIC_CANDIDATES[role]:
        if candidate in sums:
            return sums[candidate]
    return None


def ratios_from_sums(stats: Mapping[str, Any]) -> SummaryStats:
    """CTR, CPC, CPM, CVR, ACOS, ROAS and new-to-brand share, from the sums in `stats`."""
    ratios: SummaryStats = {}
    for ratio, (numerator_role, denominator_role, scale) in RATIOS.items():
        numerator_key = metric_sum_key(stats, numerator_role)
        denominator_key = metric_sum_key(stats, denominator_role)
        if numerator_key is None or denominator_key is None:
            continue
        numerator = finite_or_none(stats.get(numerator_key))
        denominator = finite_or_none(stats.get(denominator_key))
        if numerator is None or not denominator:
            continue
        ratios[ratio] = numerator / denominator * scale
    return ratios


def primary_metric(stats: Mapping[str, Any]) -> str:
    """The key that ranks weeks: the sum of sales, purchases or impressions, else row_count."""
    for role in PRIMARY_METRIC_ROLES:
        key = metric_sum_key(stats, role)
        if key is not None:
            return key
    return ROW_COUNT


@dataclass(frozen=True)
class WeekSummary:
    """One published week of a collection and its summary_stats."""

    week_start_date: date
    summary_stats: Mapping[str, Any]


def week_over_week_change(
    current: Mapping[str, Any], previous: Mapping[str, Any], metric: str
) -> dict[str, Any]:
    """The change of one metric between two weeks, as the schema's SQL function computes it.

    A missing value counts as 0; the percentage is None when the previous week is 0 and the
    current week is not, and 0 when both are 0. It is relative to the magnitude of the previous
    value, so a move from -100 to -50 is +50 %.
    """
    current_value = finite_or_none(current.get(metric)) or 0
    previous_value = finite_or_none(previous.get(metric)) or 0
    absolute_change = current_value - previous_value
    percentage_change: Number | None
    if previous_value == 0:
        percentage_change = 0 if current_value == 0 else None
    else:
        percentage_change = absolute_change / abs(previous_value) * 100
    return {
        "metric": metric,
        "current_value": current_value,
        "previous_value": previous_value,
        "absolute_change": absolute_change,
        "percentage_change": percentage_change,
    }


def collection_totals(weeks_stats: Iterable[Mapping[str, Any]]) -> SummaryStats:
    """Totals over weeks: counts and sums added, extremes kept, means and ratios recomputed.

    Ratios and shares are derived from the summed totals, never summed or averaged across weeks.
    """
    additive: dict[str, list[Number]] = {}
    minima: dict[str, Number] = {}
    maxima: dict[str, Number] = {}
    for stats in weeks_stats:
        for key, raw in stats.items():
            value = finite_or_none(raw)
            if value is None:
                continue
            if key in (ROW_COUNT, FILTERED_ROW_COUNT) or key.endswith(("_sum", "_count")):
                additive.setdefault(key, []).append(value)
            elif key.endswith("_min"):
                minima[key] = min(minima.get(key, value), value)
            elif key.endswith("_max"):
                maxima[key] = max(maxima.get(key, value), value)
    totals: SummaryStats = {key: _exact_sum(values) for key, values in additive.items()}
    totals.update(minima)
    totals.update(maxima)
    for key in [key for key in totals if key.endswith("_sum")]:
        column = key[: -len("_sum")]
        count = totals.get(f"{column}_count")
        if count:
            totals[f"{column}_mean"] = totals[key] / count
    rows = int(totals.get(ROW_COUNT, 0))
    totals.update(_row_counts(rows, int(totals.get(FILTERED_ROW_COUNT, 0))))
    totals.update(ratios_from_sums(totals))
    return _finite_only(totals)


def _exact_sum(values: Sequence[Number]) -> Number:
    if all(isinstance(value, int) for value in values):
        return sum(values)
    return math.fsum(values)


def collection_report_metadata(weeks: Iterable[WeekSummary]) -> dict[str, Any]:
    """The collection's `report_metadata`, recomputed from its weeks' summary_stats.

    Holds the totals across weeks, the week-over-week change of every metric of the latest two
    weeks, and the best and worst week by the primary metric.
    """
    ordered = sorted(weeks, key=lambda week: week.week_start_date)
    totals = collection_totals(week.summary_stats for week in ordered)
    metadata: dict[str, Any] = {
        "week_count": len(ordered),
        "first_week_start_date": ordered[0].week_start_date.isoformat() if ordered else None,
        "last_week_start_date": ordered[-1].week_start_date.isoformat() if ordered else None,
        "totals": totals,
        "primary_metric": primary_metric(totals),
        "best_week": None,
        "worst_week": None,
        "week_over_week": None,
    }
    if not ordered:
        return metadata
    metric = metadata["primary_metric"]
    ranked = [(finite_or_none(week.summary_stats.get(metric)) or 0, week) for week in ordered]
    # max/min keep the first of equal values: ties go to the earliest week.
    best_value, best = max(ranked, key=lambda pair: pair[0])
    worst_value, worst = min(ranked, key=lambda pair: pair[0])
    metadata["best_week"] = {
        "week_start_date": best.week_start_date.isoformat(),
        "value": best_value,
    }
    metadata["worst_week"] = {
        "week_start_date": worst.week_start_date.isoformat(),
        "value": worst_value,
    }
    if len(ordered) >= 2:
        previous, current = ordered[-2], ordered[-1]
        metrics = sorted(
            key
            for key in {*previous.summary_stats, *current.summary_stats}
            if finite_or_none(current.summary_stats.get(key)) is not None
            or finite_or_none(previous.summary_stats.get(key)) is not None
        )
        metadata["week_over_week"] = {
            "current_week_start_date": current.week_start_date.isoformat(),
            "previous_week_start_date": previous.week_start_date.isoformat(),
            "changes": {
                metric_name: week_over_week_change(
                    current.summary_stats, previous.summary_stats, metric_name
                )
                for metric_name in metrics
            },
        }
    return metadata
