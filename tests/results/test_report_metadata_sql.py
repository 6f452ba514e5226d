"""report_metadata computed in Python agrees with the schema's own SQL functions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from psycopg.types.json import Jsonb

from recomamp_pipelines.results import (
    WeekSummary,
    collection_report_metadata,
    load_week,
)
from tests.results.factories import (
    OUTPUT_COLUMNS,
    ROWS,
    Conn,
    add_collection,
    add_owner,
    make_target,
    one,
    write_csv,
)

WEEK_ROWS = [
    ROWS[:2],  # no filtered row
    ROWS[:1],  # fewer sales than the week before
    ROWS,  # filtered rows appear: 0 -> 1, no finite percentage
]


def test_totals_and_week_over_week_match_aggregate_collection_weeks(
    db_conn: Conn, tmp_path: Path
) -> None:
    owner = add_owner(db_conn)
    collection = add_collection(db_conn, owner)
    weeks = []
    for number, rows in enumerate(WEEK_ROWS):
        week = date(2024, 1, 1) + timedelta(weeks=number)
        with load_week(
            db_conn,
            [write_csv(tmp_path / f"week{number}.csv", rows)],
            OUTPUT_COLUMNS,
            make_target(user_id=owner, source_id=collection, week=week),
            results_root=tmp_path / "results",
        ) as loaded:
            loaded.discard()
        db_conn.execute(
            "insert into report_data_weeks "
            "(collection_id, week_start_date, week_end_date, status, summary_stats) "
            "values (%s, %s, %s, 'SUCCESS', %s)",
            (collection, week, week + timedelta(days=6), Jsonb(loaded.summary_stats)),
        )
        weeks.append(WeekSummary(week, loaded.summary_stats))

    metadata = collection_report_metadata(weeks)

    summed = one(
        db_conn,
        "select aggregate_collection_weeks(%s, '2024-01-01', '2024-12-31', 'sum')",
        (collection,),
    )
    additive = [k for k in metadata["totals"] if k == "row_count" or k.endswith("_sum")]
    assert len(additive) >= 6
    for key in additive:
        assert metadata["totals"][key] == pytest.approx(float(summed[key])), key

    changes = metadata["week_over_week"]["changes"]
    assert changes["filtered_row_count"]["percentage_change"] is None
    for metric, change in changes.items():
        expected = one(
            db_conn,
            "select calculate_week_over_week_change(cur.summary_stats, prev.summary_stats, %s) "
            "from report_data_weeks cur, report_data_weeks prev "
            "where cur.week_start_date = '2024-01-15' and prev.week_start_date = '2024-01-08'",
            (metric,),
        )
        for field in ("current_value", "previous_value", "absolute_change"):
            assert change[field] == pytest.approx(float(expected[field])), (metric, field)
        if expected["percentage_change"] is None:
            assert change["percentage_change"] is None, metric
        else:
            assert change["percentage_change"] == pytest.approx(
                float(expected["percentage_change"])
            ), metric
