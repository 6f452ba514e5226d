"""Every quality check passes on good data and fails on the bad data it guards against."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from recomamp_pipelines.quality import CHECKS, CheckOutcome, check_loaded_week
from recomamp_pipelines.quality.expectations import setup_seconds
from recomamp_pipelines.results import LoadedWeek, TableColumn, load_week
from tests.results.factories import HEADER, OUTPUT_COLUMNS, ROWS, Conn, make_target, write_csv


@contextmanager
def loaded(
    conn: Conn,
    tmp_path: Path,
    rows: Sequence[Sequence[str]],
    *,
    output_columns: list[dict[str, str]] = OUTPUT_COLUMNS,
    header: Sequence[str] = HEADER,
    workflow_id: uuid.UUID | None = None,
    week: date = date(2024, 1, 1),
    publish: bool = False,
) -> Iterator[LoadedWeek]:
    """A week loaded in an open transaction; rolled back at the end unless `publish`."""
    with load_week(
        conn,
        [write_csv(tmp_path / f"{uuid.uuid4().hex}.csv", rows, header=header)],
        output_columns,
        make_target(workflow_id=workflow_id, week=week),
        results_root=tmp_path / "results",
    ) as loaded_week:
        yield loaded_week
        if not publish:
            loaded_week.discard()


def outcomes_by_name(outcomes: list[CheckOutcome]) -> dict[str, CheckOutcome]:
    return {outcome.name: outcome for outcome in outcomes}


def check(
    conn: Conn,
    week: LoadedWeek,
    name: str,
    previous: Sequence[Mapping[str, float]] = (),
    expected: Sequence[TableColumn] | None = None,
) -> CheckOutcome:
    outcomes = check_loaded_week(
        conn, week, previous_weeks_stats=previous, expected_columns=expected
    )
    return outcomes_by_name(outcomes)[name]


def with_value(column: str, value: str, row: int = 0) -> list[list[str]]:
    rows = [list(item) for item in ROWS]
    rows[row][HEADER.index(column)] = value
    return rows


def test_a_good_week_passes_every_check_with_json_metadata(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:
        outcomes = check_loaded_week(
            db_conn,
            week,
            previous_weeks_stats=[{"row_count": 6, "product_sales_sum": 400}] * 4,
            expected_columns=None,
        )

        assert [outcome.name for outcome in outcomes] == [spec.name for spec in CHECKS]
        assert [(o.name, o.passed) for o in outcomes if not o.passed] == []
        assert {o.severity for o in outcomes} == {"ERROR", "WARN"}
        for outcome in outcomes:
            assert outcome.metadata["reason"]
            assert not outcome.blocks_publish
            json.dumps(outcome.metadata, allow_nan=False)
        assert setup_seconds()["import"] > 0


def test_a_missing_or_retyped_column_fails_and_a_new_column_does_not(
    db_conn: Conn, tmp_path: Path
) -> None:
    workflow = uuid.uuid4()
    with loaded(db_conn, tmp_path, ROWS, workflow_id=workflow, publish=True):
        pass
    retyped = [
        {**column, "dataType": "DOUBLE"} if column["name"] == "clicks" else column
        for column in OUTPUT_COLUMNS
    ]
    with loaded(
        db_conn, tmp_path, ROWS, output_columns=retyped, workflow_id=workflow, week=date(2024, 1, 8)
    ) as week:
        outcome = check(db_conn, week, "columns_stable")

        assert (outcome.passed, outcome.severity, outcome.blocks_publish) == (False, "ERROR", True)
        assert "clicks bigint -> double precision" in outcome.metadata["reason"]

        without_spend = [column for column in OUTPUT_COLUMNS if column["name"] != "spend"]
        index = HEADER.index("spend")
    with loaded(
        db_conn,
        tmp_path,
        [row[:index] + row[index + 1 :] for row in ROWS],
        output_columns=without_spend,
        header=[name for name in HEADER if name != "spend"],
        workflow_id=workflow,
    ) as fewer:
        missing = check(db_conn, fewer, "columns_stable")
        assert not missing.passed
        assert "spend double precision -> missing" in missing.metadata["reason"]

    with loaded(
        db_conn,
        tmp_path,
        [[*row, "3"] for row in ROWS],
        output_columns=[*OUTPUT_COLUMNS, {"name": "units_sold", "dataType": "LONG"}],
        header=[*HEADER, "units_sold"],
        workflow_id=workflow,
    ) as more:
        added = check(db_conn, more, "columns_stable")
        assert added.passed
        assert added.metadata["new_columns"] == ["units_sold"]


def test_expected_columns_can_be_given_explicitly(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:
        outcome = check(
            db_conn, week, "columns_stable", expected=[TableColumn("clicks", "integer")]
        )

        assert not outcome.passed
        assert outcome.metadata["observed"] == [
            {"column": "clicks", "expected_type": "integer", "week_type": "bigint"}
        ]


@pytest.mark.parametrize(("column", "value"), [("spend", "-0.5"), ("purchases", "-1")])
def test_a_negative_metric_fails(db_conn: Conn, tmp_path: Path, column: str, value: str) -> None:
    with loaded(db_conn, tmp_path, with_value(column, value, row=2)) as week:
        outcome = check(db_conn, week, "metrics_non_negative")

        assert (outcome.passed, outcome.severity) == (False, "ERROR")
        assert f"{column} in 1 rows" in outcome.metadata["reason"]
        observed = {row["column"]: row for row in outcome.metadata["observed"]}
        assert observed[column]["negative_rows"] == 1
        assert observed[column]["min_value"] == float(value)
        # great-expectations' partial unexpected list: the failing column's count of rows.
        assert outcome.metadata["unexpected"] == [1]


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [("clicks", "5000", "clicks > impressions"), ("purchases", "60", "purchases > clicks")],
)
def test_a_row_breaking_the_funnel_fails(
    db_conn: Conn, tmp_path: Path, column: str, value: str, rule: str
) -> None:
    with loaded(db_conn, tmp_path, with_value(column, value)) as week:
        outcome = check(db_conn, week, "funnel_consistent")

        assert (outcome.passed, outcome.severity) == (False, "ERROR")
        assert f"1 rows with {rule}" in outcome.metadata["reason"]


def test_the_funnel_check_does_not_apply_without_its_columns(db_conn: Conn, tmp_path: Path) -> None:
    columns = [{"name": "campaign", "dataType": "STRING"}, {"name": "clicks", "dataType": "LONG"}]
    with loaded(
        db_conn, tmp_path, [["a", "3"]], output_columns=columns, header=["campaign", "clicks"]
    ) as week:
        outcome = check(db_conn, week, "funnel_consistent")

        assert outcome.passed
        assert outcome.metadata["reason"].startswith("not applicable")
        assert not outcome.applicable


def test_summary_stats_that_disagree_with_the_table_fail(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:
        assert check(db_conn, week, "summary_stats_match_table").passed
        db_conn.execute(
            f"update {week.results_table} "
            "set clicks = clicks + 1, spend = spend * 2 where campaign = 'Brand'"
        )

        outcome = check(db_conn, week, "summary_stats_match_table")

        assert (outcome.passed, outcome.severity) == (False, "ERROR")
        assert "clicks_sum table 144 vs summary 143" in outcome.metadata["reason"]
        assert "spend_sum table 40" in outcome.metadata["reason"]
        mismatched = {
            row["stat"] for row in outcome.metadata["observed"] if row["excess_difference"]
        }
        assert mismatched == {"clicks_sum", "spend_sum"}


def test_a_nan_in_the_table_that_the_stream_did_not_see_fails(
    db_conn: Conn, tmp_path: Path
) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:
        assert week.profile.columns["spend"].non_finite_rows == 0
        db_conn.execute(
            f"update {week.results_table} set spend = 'NaN', product_sales = 'Infinity' "
            "where campaign = 'Spring sale'"
        )

        outcome = check(db_conn, week, "summary_stats_match_table")

    assert (outcome.passed, outcome.blocks_publish) == (False, True)
    # An infinite excess is JSON null in the metadata.
    mismatched = {
        row["stat"] for row in outcome.metadata["observed"] if row["excess_difference"] != 0
    }
    assert mismatched == {"spend_sum", "product_sales_sum"}
    assert "spend_sum table nan" in outcome.metadata["reason"]


def test_nan_and_infinities_seen_by_the_stream_are_left_out_on_both_sides(
    db_conn: Conn, tmp_path: Path
) -> None:
    rows = with_value("spend", "NaN", row=0)
    rows[1][HEADER.index("spend")] = "-inf"
    with loaded(db_conn, tmp_path, rows) as week:
        assert week.profile.columns["spend"].non_finite_rows == 2

        outcome = check(db_conn, week, "summary_stats_match_table")

    assert outcome.passed, outcome.metadata["reason"]


def test_an_empty_week_warns(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, []) as week:
        outcomes = outcomes_by_name(check_loaded_week(db_conn, week, expected_columns=[]))

        assert (outcomes["week_not_empty"].passed, outcomes["week_not_empty"].severity) == (
            False,
            "WARN",
        )
        assert not outcomes["week_not_empty"].blocks_publish
        failed = {name for name, outcome in outcomes.items() if not outcome.passed}
        assert failed == {"week_not_empty"}


def test_a_drop_far_below_the_trailing_weeks_warns(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:  # 5 rows, product sales 420.75
        history = [
            {"row_count": 1000, "product_sales_sum": 100},  # older than the trailing four
            {"row_count": 10, "product_sales_sum": 2000},
            {"row_count": 30, "product_sales_sum": 1800},
            {"row_count": 20, "product_sales_sum": 1700},
            {"row_count": 25, "product_sales_sum": 1600},
        ]

        outcome = check(db_conn, week, "no_drop_against_trailing_weeks", previous=history)

        assert (outcome.passed, outcome.severity) == (False, "WARN")
        observed = {row["metric"]: row for row in outcome.metadata["observed"]}
        assert observed["row_count"]["trailing_median"] == 22.5
        assert observed["row_count"]["share_of_trailing_median"] == pytest.approx(5 / 22.5)
        assert observed["product_sales_sum"]["trailing_median"] == 1750
        assert "row_count 5 is 22% of the trailing median 22.5" in outcome.metadata["reason"]
        assert "product_sales_sum" in outcome.metadata["reason"]
        assert outcome.metadata["trailing_weeks"] == 4


def test_no_drop_warning_within_range_or_without_history(db_conn: Conn, tmp_path: Path) -> None:
    with loaded(db_conn, tmp_path, ROWS) as week:
        within = check(
            db_conn,
            week,
            "no_drop_against_trailing_weeks",
            previous=[{"row_count": 20, "product_sales_sum": 1000}] * 4,
        )
        no_history = check(db_conn, week, "no_drop_against_trailing_weeks")

        assert within.passed and within.applicable
        assert no_history.passed
        assert not no_history.applicable
        assert no_history.metadata["reason"] == "not applicable: no earlier week to compare with"


def test_mostly_filtered_rows_warn(db_conn: Conn, tmp_path: Path) -> None:
    rows = [list(row) for row in ROWS]
    for row in rows[:3]:
        row[HEADER.index("filtered")] = "true"
    with loaded(db_conn, tmp_path, rows) as week:
        outcome = check(db_conn, week, "filtered_share_acceptable")

        assert (outcome.passed, outcome.severity) == (False, "WARN")
        assert outcome.metadata["observed"] == [{"filtered_rows": 4, "filtered_row_share": 0.8}]
        assert "80.0% of rows were filtered" in outcome.metadata["reason"]


def test_an_unknown_amc_type_warns(db_conn: Conn, tmp_path: Path) -> None:
    columns = [
        {"name": "asins", "dataType": "ARRAY"},
        {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    ]
    with loaded(
        db_conn, tmp_path, [["[B01]", "4"]], output_columns=columns, header=["asins", "impressions"]
    ) as week:
        outcome = check(db_conn, week, "column_types_known")

        assert (outcome.passed, outcome.severity) == (False, "WARN")
        assert outcome.metadata["reason"] == "stored as text: asins (ARRAY)"


def test_a_result_without_numeric_columns_passes(db_conn: Conn, tmp_path: Path) -> None:
    columns = [{"name": "campaign", "dataType": "STRING"}, {"name": "device", "dataType": "STRING"}]
    with loaded(
        db_conn,
        tmp_path,
        [["a", "Phone"], ["b", "TV"]],
        output_columns=columns,
        header=["campaign", "device"],
    ) as week:
        outcomes = check_loaded_week(db_conn, week, previous_weeks_stats=[{"row_count": 2}])

        assert [(o.name, o.passed) for o in outcomes if not o.passed] == []
        assert outcomes_by_name(outcomes)["metrics_non_negative"].metadata["reason"] == (
            "not applicable: the result has no metric column"
        )


def test_great_expectations_is_prepared_once_in_the_background() -> None:
    script = """
import sys
from recomamp_pipelines.quality import expectations
assert "great_expectations" not in sys.modules
first = expectations.prepare_in_background()
assert first is not None and expectations.prepare_in_background() is first
first.join(timeout=120)
assert not first.is_alive()
assert "great_expectations" in sys.modules
seconds = expectations.setup_seconds()
assert seconds["import"] > 0 and seconds["context"] > 0, seconds
assert expectations.prepare_in_background() is first
print("prepared")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "prepared"
