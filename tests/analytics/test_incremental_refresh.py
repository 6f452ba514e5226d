"""The incremental mart: a refresh recomputes the collections that changed, and only those."""

from __future__ import annotations

from typing import Any

import psycopg

from recomamp_pipelines.analytics.views import refresh_marts
from tests.analytics.fixture import AnalystFixture
from tests.db.helpers import one

Conn = psycopg.Connection[Any]
MART = "collection_weekly_kpis"
STORED = f"analytics_internal.{MART}"
SOURCE = f"analytics_internal.{MART}__source"


def refreshed_partitions(conn: Conn) -> int | None:
    (mart,) = refresh_marts(conn, [MART])
    return mart.partitions


def stored_differs_from_query(conn: Conn) -> int:
    """Rows of the stored mart that the query would not give now, and the other way round."""
    differing: int = one(
        conn,
        f"select count(*) from ((select * from {STORED} except all select * from {SOURCE}) "
        f"union all (select * from {SOURCE} except all select * from {STORED})) as d",
    )
    return differing


def test_nothing_changed_recomputes_nothing(db_conn: Conn, analyst: AnalystFixture) -> None:
    assert refreshed_partitions(db_conn) == 0
    assert stored_differs_from_query(db_conn) == 0


def test_a_changed_week_recomputes_its_collection_only(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    funnel = analyst.a.collections["funnel 2024"]
    others_before = db_conn.execute(
        f"select ctid::text, week_start_date from {STORED} where collection_id <> %s order by 2, 1",
        (funnel,),
    ).fetchall()
    db_conn.execute(
        "update report_data_weeks set summary_stats = summary_stats "
        "|| '{\"impressions_sum\": 8000}' where collection_id = %s "
        "and week_start_date = '2024-01-08'",
        (funnel,),
    )
    assert stored_differs_from_query(db_conn) > 0
    assert refreshed_partitions(db_conn) == 1
    assert stored_differs_from_query(db_conn) == 0
    assert (
        one(
            db_conn,
            f"select impressions from {STORED} where collection_id = %s "
            "and week_start_date = '2024-01-08'",
            (funnel,),
        )
        == 8000
    )
    # The other collections' rows were not rewritten (same tuples).
    others_after = db_conn.execute(
        f"select ctid::text, week_start_date from {STORED} where collection_id <> %s order by 2, 1",
        (funnel,),
    ).fetchall()
    assert others_after == others_before


def test_a_renamed_collection_and_a_deleted_one_are_followed(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    funnel = analyst.a.collections["funnel 2024"]
    b_collection = analyst.b.collections["b 2024"]
    db_conn.execute(
        "update report_data_collections set name = 'funnel, renamed' where id = %s", (funnel,)
    )
    db_conn.execute("delete from report_data_collections where id = %s", (b_collection,))
    assert refreshed_partitions(db_conn) == 2
    assert stored_differs_from_query(db_conn) == 0
    names = {
        row[0]
        for row in db_conn.execute(
            f"select collection_name from {STORED} where collection_id = %s", (funnel,)
        )
    }
    assert names == {"funnel, renamed"}
    assert (
        one(db_conn, f"select count(*) from {STORED} where collection_id = %s", (b_collection,))
        == 0
    )


def test_a_new_week_appears_with_its_week_over_week_change(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    funnel = analyst.a.collections["funnel 2024"]
    weeks_before = one(
        db_conn, f"select count(*) from {STORED} where collection_id = %s", (funnel,)
    )
    db_conn.execute(
        "update report_data_collections set end_date = '2024-02-04' where id = %s", (funnel,)
    )
    db_conn.execute(
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date, status, "
        "summary_stats) values (%s, '2024-01-29', '2024-02-04', 'SUCCESS', "
        '\'{"row_count": 1, "impressions_sum": 10, "impressions_count": 1}\')',
        (funnel,),
    )
    assert refreshed_partitions(db_conn) == 1
    assert stored_differs_from_query(db_conn) == 0
    assert (
        one(db_conn, f"select count(*) from {STORED} where collection_id = %s", (funnel,))
        == weeks_before + 1
    )
