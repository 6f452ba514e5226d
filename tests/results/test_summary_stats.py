from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recomamp_pipelines.results import (
    WeekSummary,
    collection_report_metadata,
    collection_totals,
    map_output_columns,
    week_over_week_change,
)
from recomamp_pipelines.results.parquet import arrow_schema
from recomamp_pipelines.results.summary_stats import SummaryAccumulator

COLUMNS = map_output_columns(
    [
        {"name": "campaign", "dataType": "STRING", "columnType": "DIMENSION"},
        {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
        {"name": "clicks", "dataType": "LONG", "columnType": "METRIC"},
        {"name": "total_cost", "dataType": "DOUBLE", "columnType": "METRIC"},
        {"name": "purchases", "dataType": "INTEGER", "columnType": "METRIC"},
        {"name": "product_sales", "dataType": "DOUBLE", "columnType": "METRIC"},
        {"name": "new_to_brand_product_sales", "dataType": "DOUBLE", "columnType": "METRIC"},
        {"name": "Filtered", "dataType": "BOOLEAN", "columnType": "DIMENSION"},
    ]
)
SCHEMA = arrow_schema(COLUMNS)


def batch(rows: Sequence[tuple[object, ...]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [dict(zip(SCHEMA.names, row, strict=True)) for row in rows], schema=SCHEMA
    )


def summarise(*batches: pa.RecordBatch) -> dict[str, float]:
    accumulator = SummaryAccumulator(COLUMNS)
    for item in batches:
        accumulator.add_batch(item)
    return accumulator.summary_stats()


def test_stats_across_batches_skip_nulls_nan_and_infinities() -> None:
    stats = summarise(
        batch(
            [
                ("a", 1000, 10, 500.0, 1, 50.0, 20.0, False),
                ("b", 3000, 20, math.nan, 2, 150.0, 30.0, False),
            ]
        ),
        batch(
            [
                ("c", None, 0, math.inf, None, 0.0, 0.0, True),
                ("d", 6000, 70, 1500.0, 3, -math.inf, None, True),
            ]
        ),
    )

    assert stats["row_count"] == 4
    assert (stats["impressions_sum"], stats["impressions_count"]) == (10000, 3)
    assert stats["impressions_mean"] == pytest.approx(10000 / 3)
    assert (stats["impressions_min"], stats["impressions_max"]) == (1000, 6000)
    assert (stats["total_cost_sum"], stats["total_cost_count"]) == (2000.0, 2)
    assert (stats["product_sales_sum"], stats["product_sales_count"]) == (200.0, 3)
    assert (stats["filtered_row_count"], stats["filtered_row_share"]) == (2, 0.5)
    assert "campaign_sum" not in stats
    json.dumps(stats, allow_nan=False)


def test_ratios_come_from_the_sums_never_from_averaged_rows() -> None:
    stats = summarise(
        batch([("a", 1000, 100, 2000.0, 10, 400.0, 100.0, False)]),
        batch([("b", 9000, 0, 8000.0, 0, 600.0, 150.0, False)]),
    )

    # Averaging the rows' CTRs would give (0.1 + 0) / 2 = 0.05.
    assert stats["ctr"] == pytest.approx(100 / 10000)
    assert stats["cpc"] == pytest.approx(10000 / 100)
    assert stats["cpm"] == pytest.approx(10000 / 10000 * 1000)
    assert stats["cvr"] == pytest.approx(10 / 100)
    assert stats["acos"] == pytest.approx(10000 / 1000)
    assert stats["roas"] == pytest.approx(1000 / 10000)
    assert stats["ntb_sales_share"] == pytest.approx(250 / 1000)


def test_undefined_values_are_left_out_not_nan() -> None:
    stats = summarise(batch([("a", 0, 0, None, None, None, None, False)]))

    assert stats["impressions_sum"] == 0
    assert "ctr" not in stats  # clicks / 0 impressions
    assert "total_cost_mean" not in stats  # no value at all
    assert stats["total_cost_count"] == 0
    json.dumps(stats, allow_nan=False)


def test_an_empty_week_has_zero_rows_and_no_filtered_share() -> None:
    stats = summarise()

    assert (stats["row_count"], stats["filtered_row_share"]) == (0, 0)


@given(
    st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 10**6)), min_size=1, max_size=40),
    st.integers(1, 40),
)
def test_how_rows_are_split_into_batches_does_not_change_the_stats(
    rows: list[tuple[int, int]], split: int
) -> None:
    full = [("x", imp, clk, 1.0, 1, 2.0, 1.0, False) for imp, clk in rows]
    one_batch = summarise(batch(full))
    two_batches = summarise(batch(full[:split]), batch(full[split:]))

    assert one_batch["impressions_sum"] == two_batches["impressions_sum"] == sum(r[0] for r in rows)
    assert one_batch["clicks_max"] == two_batches["clicks_max"]
    assert one_batch.get("ctr") == two_batches.get("ctr")


def test_week_over_week_matches_the_schema_semantics() -> None:
    assert week_over_week_change({"x": 150}, {"x": 100}, "x")["percentage_change"] == 50
    assert week_over_week_change({"x": 5}, {"x": 0}, "x")["percentage_change"] is None
    assert week_over_week_change({}, {}, "x") == {
        "metric": "x",
        "current_value": 0,
        "previous_value": 0,
        "absolute_change": 0,
        "percentage_change": 0,
    }
    # Relative to the magnitude of the previous value: -100 -> -50 is an increase.
    assert week_over_week_change({"x": -50}, {"x": -100}, "x")["percentage_change"] == 50


def test_collection_totals_add_sums_and_recompute_ratios() -> None:
    weeks = [
        {
            "row_count": 2,
            "clicks_sum": 100,
            "impressions_sum": 1000,
            "ctr": 0.1,
            "clicks_count": 2,
            "clicks_min": 10,
            "clicks_max": 90,
            "filtered_row_count": 1,
        },
        {
            "row_count": 3,
            "clicks_sum": 0,
            "impressions_sum": 9000,
            "ctr": 0.0,
            "clicks_count": 3,
            "clicks_min": 0,
            "clicks_max": 0,
            "filtered_row_count": 0,
        },
    ]

    totals = collection_totals(weeks)

    assert (totals["row_count"], totals["clicks_sum"], totals["impressions_sum"]) == (5, 100, 10000)
    assert totals["ctr"] == pytest.approx(0.01)  # not 0.1 + 0.0, not their mean 0.05
    assert (totals["clicks_min"], totals["clicks_max"], totals["clicks_mean"]) == (0, 90, 20)
    assert totals["filtered_row_share"] == pytest.approx(1 / 5)


def test_report_metadata_ranks_weeks_by_the_first_primary_metric_present() -> None:
    weeks = [
        WeekSummary(
            date(2024, 1, 15), {"row_count": 9, "purchases_sum": 1, "product_sales_sum": 30}
        ),
        WeekSummary(
            date(2024, 1, 1), {"row_count": 1, "purchases_sum": 9, "product_sales_sum": 50}
        ),
        WeekSummary(
            date(2024, 1, 8), {"row_count": 5, "purchases_sum": 5, "product_sales_sum": 10}
        ),
    ]

    metadata = collection_report_metadata(weeks)

    assert metadata["primary_metric"] == "product_sales_sum"
    assert metadata["best_week"] == {"week_start_date": "2024-01-01", "value": 50}
    assert metadata["worst_week"] == {"week_start_date": "2024-01-08", "value": 10}
    wow = metadata["week_over_week"]
    assert (wow["current_week_start_date"], wow["previous_week_start_date"]) == (
        "2024-01-15",
        "2024-01-08",
    )
    assert wow["changes"]["product_sales_sum"]["percentage_change"] == 200
    assert wow["changes"]["row_count"]["absolute_change"] == 4
    json.dumps(metadata, allow_nan=False)


def test_report_metadata_of_no_week_and_of_one_week() -> None:
    assert collection_report_metadata([])["best_week"] is None
    single = collection_report_metadata([WeekSummary(date(2024, 1, 1), {"row_count": 3})])
    assert single["primary_metric"] == "row_count"
    assert single["week_over_week"] is None
    assert single["totals"]["row_count"] == 3


def test_the_profile_counts_negatives_and_funnel_breaks_across_batches() -> None:
    accumulator = SummaryAccumulator(COLUMNS)
    accumulator.add_batch(
        batch(
            [
                ("a", 100, 150, -1.0, 2, 10.0, 0.0, False),  # clicks > impressions
                ("b", 100, 5, 2.0, 9, -math.inf, None, False),  # purchases > clicks
            ]
        )
    )
    accumulator.add_batch(
        batch(
            [
                ("c", None, 5, math.nan, 1, 3.0, -2.0, False),  # no impressions: no break
                ("d", 50, 60, 4.0, None, 1.0, 1.0, True),  # clicks > impressions
            ]
        )
    )

    profile = accumulator.profile()

    negatives = {name: column.negative_rows for name, column in profile.columns.items()}
    assert negatives == {
        "impressions": 0,
        "clicks": 0,
        "total_cost": 1,
        "purchases": 0,
        "product_sales": 1,  # -Infinity is negative, though left out of the sums
        "new_to_brand_product_sales": 1,
    }
    assert profile.columns["total_cost"].absolute_total == 7.0
    assert [
        (rule.name, rule.column, rule.bound_column, rule.violating_rows) for rule in profile.funnel
    ] == [
        ("clicks_not_above_impressions", "clicks", "impressions", 2),
        ("purchases_not_above_clicks", "purchases", "clicks", 1),
    ]
