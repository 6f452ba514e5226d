"""Every KPI of the marts on the hand-computed fixture, and source totals equal to mart totals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from recomamp_pipelines.analytics.data_tests import data_tests, run_data_test
from recomamp_pipelines.analytics.views import compile_views, refresh_marts
from tests.analytics.fixture import FAILED_ERROR, FAILED_WEEK, KPI_WEEKS, AnalystFixture

Conn = psycopg.Connection[Any]


def rows(conn: Conn, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def kpi_weeks(conn: Conn, collection_id: Any) -> dict[date, dict[str, Any]]:
    found = rows(
        conn,
        "select * from analytics.collection_weekly_kpis where collection_id = %s",
        (collection_id,),
    )
    return {row["week_start_date"]: row for row in found}


def test_collection_weekly_kpis_match_figures_computed_by_hand(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    weeks = kpi_weeks(db_conn, analyst.a.collections["funnel 2024"])
    assert sorted(weeks) == [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15), FAILED_WEEK]

    first = weeks[date(2024, 1, 1)]
    # 2 rows: impressions 1000 + 3000, clicks 50 + 150, spend 25 + 75, purchases 5 + 15,
    # sales 100 + 300, units 6 + 14, new-to-brand sales 40 + 20
    assert (first["week_status"], first["result_rows"]) == ("SUCCESS", 2)
    assert first["impressions"] == 4000
    assert first["clicks"] == 200
    assert first["spend_usd"] == 100
    assert first["purchases"] == 20
    assert first["sales_usd"] == 400
    assert first["units_sold"] == 20
    assert first["new_to_brand_sales_usd"] == 60
    assert first["ctr"] == pytest.approx(200 / 4000)  # 0.05
    assert first["cpc_usd"] == pytest.approx(100 / 200)  # 0.50
    assert first["cpm_usd"] == pytest.approx(100 / 4000 * 1000)  # 25
    assert first["cvr"] == pytest.approx(20 / 200)  # 0.10
    assert first["acos"] == pytest.approx(100 / 400)  # 0.25
    assert first["roas"] == pytest.approx(400 / 100)  # 4
    assert first["new_to_brand_sales_share"] == pytest.approx(60 / 400)  # 0.15
    # the first week has no previous week
    assert first["previous_week_start_date"] is None
    assert first["impressions_wow"] is None

    second = weeks[date(2024, 1, 8)]
    # clicks and sales are 0: ratios over them are null, never an error or infinity
    assert second["ctr"] == 0
    assert second["cpc_usd"] is None
    assert second["cvr"] is None
    assert second["acos"] is None
    assert second["new_to_brand_sales_share"] is None
    assert second["roas"] == 0
    assert second["cpm_usd"] == pytest.approx(50 / 5000 * 1000)  # 10
    assert second["impressions_wow"] == pytest.approx((5000 - 4000) / 4000)  # +25 %
    assert second["clicks_wow"] == pytest.approx(-1.0)  # 200 -> 0
    assert second["spend_usd_wow"] == pytest.approx(-0.5)  # 100 -> 50
    assert second["ctr_wow"] == pytest.approx((0 - 0.05) / 0.05)
    assert second["cpc_usd_wow"] is None  # this week's CPC is undefined

    third = weeks[date(2024, 1, 15)]
    assert third["impressions_wow"] == 0  # 5000 -> 5000
    assert third["clicks_wow"] is None  # 0 -> 10 has no finite change
    assert third["sales_usd_wow"] is None  # 0 -> 20
    assert third["ctr"] == pytest.approx(10 / 5000)

    failed = weeks[FAILED_WEEK]
    assert (failed["week_status"], failed["result_rows"], failed["is_published"]) == (
        "FAILED",
        0,
        False,
    )
    assert failed["impressions"] is None
    assert failed["ctr"] is None
    assert failed["impressions_wow"] is None


def test_metrics_a_result_lacks_stay_null(db_conn: Conn, analyst: AnalystFixture) -> None:
    (week,) = kpi_weeks(db_conn, analyst.a.collections["sponsored ads 2024"]).values()
    # two ad products: impressions 100 + 300, clicks 10 + 30, spend 5 + 15, no sales column
    assert (week["impressions"], week["clicks"], week["spend_usd"]) == (400, 40, 20)
    assert week["ctr"] == pytest.approx(0.1)
    assert week["cpm_usd"] == pytest.approx(20 / 400 * 1000)
    assert week["template_key"] == "sponsored_ads_performance"
    assert week["sales_usd"] is None
    assert week["acos"] is None
    assert week["roas"] is None


WEEK_OVER_WEEK_CASES = [
    (150.0, 100.0, 0.5),
    (-50.0, -100.0, 0.5),  # from a negative value: the sign of the change
    (-150.0, -100.0, -0.5),
    (0.0, 0.0, 0.0),
    (10.0, 0.0, None),  # no finite change from zero
    (None, 10.0, None),
    (10.0, None, None),
]


def test_week_over_week_change_follows_the_schemas_rule(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    for current, previous, change in WEEK_OVER_WEEK_CASES:
        (row,) = rows(
            db_conn,
            "select analytics.week_over_week_change(%s, %s) as change",
            (current, previous),
        )
        expected = pytest.approx(change) if change is not None else None
        assert row["change"] == expected, (current, previous)


def test_a_zero_denominator_gives_null(db_conn: Conn, analyst: AnalystFixture) -> None:
    (row,) = rows(
        db_conn,
        "select analytics.safe_divide(1, 0) as by_zero, analytics.safe_divide(1, null) as by_null,"
        " analytics.safe_divide(0, 4) as zero, analytics.safe_divide(3, 4) as ratio",
    )
    assert row == {"by_zero": None, "by_null": None, "zero": 0, "ratio": 0.75}


def test_source_totals_equal_mart_totals_at_every_grain(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    metrics = ("impressions", "clicks", "spend_usd", "purchases", "sales_usd", "units_sold")
    sums = ", ".join(f"sum({metric}) as {metric}" for metric in metrics)
    # collection x week: the staging rows of collections against the mart
    staged = rows(
        db_conn,
        f"select collection_id, week_start_date, count(*) as result_rows, {sums} "
        "from analytics.stg_workflow_results where source_kind = 'collection' "
        "group by 1, 2 order by 1, 2",
    )
    mart = rows(
        db_conn,
        f"select collection_id, week_start_date, result_rows, {', '.join(metrics)} "
        "from analytics.collection_weekly_kpis where result_rows > 0 order by 1, 2",
    )
    assert staged == mart
    # whole: the results tables themselves against the mart
    raw = rows(
        db_conn,
        "select sum(impressions) as impressions, sum(clicks) as clicks, count(*) as result_rows "
        "from (select impressions, clicks from results.{} where source_kind = 'collection' "
        "union all select impressions, clicks from results.{} where source_kind = 'collection'"
        " union all select impressions, clicks from results.{}) as everything".format(
            *(
                f"workflow_{workflow_id.hex}"
                for workflow_id in (
                    analyst.a.workflows["own funnel"],
                    analyst.a.workflows["sponsored ads"],
                    analyst.b.workflows["b's funnel"],
                )
            )
        ),
    )
    total = rows(
        db_conn,
        "select sum(impressions) as impressions, sum(clicks) as clicks, "
        "sum(result_rows) as result_rows from analytics.collection_weekly_kpis",
    )
    assert raw == total
    assert total[0]["impressions"] == 4000 + 5000 + 5000 + 400 + 10
    # one mart row per week row, whatever its status
    (weeks,) = rows(db_conn, "select count(*) as n from public.report_data_weeks")
    (mart_weeks,) = rows(db_conn, "select count(*) as n from analytics.collection_weekly_kpis")
    assert weeks == mart_weeks


def test_family_mart_unions_collections_and_schedules_of_its_template(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    found = rows(
        db_conn,
        "select source_kind, collection_name, schedule_name, week_start_date, ad_product_type, "
        "impressions, clicks, spend_usd from analytics.sponsored_ads_weekly "
        "order by source_kind, ad_product_type",
    )
    assert found == [
        {
            "source_kind": "collection",
            "collection_name": "sponsored ads 2024",
            "schedule_name": None,
            "week_start_date": date(2024, 1, 1),
            "ad_product_type": "sponsored_brands",
            "impressions": 300,
            "clicks": 30,
            "spend_usd": 15.0,
        },
        {
            "source_kind": "collection",
            "collection_name": "sponsored ads 2024",
            "schedule_name": None,
            "week_start_date": date(2024, 1, 1),
            "ad_product_type": "sponsored_products",
            "impressions": 100,
            "clicks": 10,
            "spend_usd": 5.0,
        },
        {
            "source_kind": "schedule",
            "collection_name": None,
            "schedule_name": "nightly sponsored ads",
            "week_start_date": None,
            "ad_product_type": "sponsored_products",
            "impressions": 100,
            "clicks": 10,
            "spend_usd": 5.0,
        },
    ]
    # the template's other families hold nothing of it
    (other,) = rows(db_conn, "select count(*) as n from analytics.dsp_campaign_weekly")
    assert other == {"n": 0}


def test_collection_health_of_weeks_amc_has_not_completed_and_skipped_ones(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    b_collection = analyst.b.collections["b 2024"]
    # A week that ends in the future is not complete in AMC; alone, nothing can be late.
    monday = date.today() - timedelta(days=date.today().weekday())
    db_conn.execute(
        "update report_data_collections set start_date = %s, end_date = %s where id = %s",
        (monday, monday + timedelta(days=6), b_collection),
    )
    db_conn.execute(
        "update report_data_weeks set week_start_date = %s, week_end_date = %s, "
        "status = 'PENDING' where collection_id = %s",
        (monday, monday + timedelta(days=6), b_collection),
    )
    db_conn.execute(
        "update report_data_weeks set status = 'SKIPPED' where collection_id = %s "
        "and week_start_date = '2024-01-15'",
        (analyst.a.collections["funnel 2024"],),
    )
    fresh, skipped = rows(
        db_conn,
        "select * from analytics.collection_health where collection_id = any(%s) "
        "order by collection_name",
        ([b_collection, analyst.a.collections["funnel 2024"]],),
    )
    assert fresh["collection_id"] == b_collection
    assert fresh["newest_complete_week_start_date"] is None
    assert (fresh["pending_weeks"], fresh["is_fresh"]) == (1, True)
    assert (skipped["published_weeks"], skipped["skipped_weeks"]) == (2, 1)


def test_collection_health(db_conn: Conn, analyst: AnalystFixture) -> None:
    (health,) = rows(
        db_conn,
        "select * from analytics.collection_health where collection_id = %s",
        (analyst.a.collections["funnel 2024"],),
    )
    assert health["published_weeks"] == 3
    assert (health["pending_weeks"], health["skipped_weeks"]) == (0, 0)
    assert health["failed_weeks"] == [
        {"week_start_date": FAILED_WEEK.isoformat(), "error_message": FAILED_ERROR}
    ]
    # every week of January 2024 is long complete in AMC; the newest one failed
    assert health["newest_complete_week_start_date"] == FAILED_WEEK
    assert health["newest_published_week_start_date"] == date(2024, 1, 15)
    assert health["complete_weeks_not_published"] == 1
    assert health["is_fresh"] is False
    # published today, after every 7/14/30-day age of those weeks: nothing to re-run
    assert health["weeks_pending_refresh"] == 0
    assert (health["total_weeks"], health["completed_weeks"], health["failed_week_total"]) == (
        4,
        3,
        1,
    )


def test_execution_reliability(db_conn: Conn, analyst: AnalystFixture) -> None:
    week, next_week = rows(
        db_conn,
        "select * from analytics.execution_reliability where instance_id = %s "
        "order by week_start_date",
        (analyst.a.instance_id,),
    )
    assert week["week_start_date"] == date(2024, 1, 1)  # Wednesday 3 January's week
    assert (week["executions"], week["submissions"], week["succeeded"], week["failed"]) == (
        4,
        3,
        2,
        2,
    )
    assert week["success_rate"] == pytest.approx(0.5)
    assert week["amc_run_seconds_p50"] == pytest.approx(900)  # median of 600 and 1200
    assert week["amc_run_seconds_p95"] == pytest.approx(600 + 0.95 * 600)
    assert week["queue_seconds_mean"] == pytest.approx((60 + 180 + 120) / 3)
    assert week["error_types"] == {"QUERY_ERROR": 1, "UNKNOWN": 1}
    assert week["retries"] == 2
    # The funnel's first week reused twice and the sponsored ads week once, that week.
    assert (week["reused_weeks"], week["week_reuses"]) == (2, 3)
    # The next week has a reuse and no execution.
    assert next_week["week_start_date"] == date(2024, 1, 8)
    assert (next_week["executions"], next_week["submissions"], next_week["retries"]) == (0, 0, 0)
    assert next_week["success_rate"] is None
    assert next_week["error_types"] == {}
    assert (next_week["reused_weeks"], next_week["week_reuses"]) == (1, 1)


def test_schedule_reliability(db_conn: Conn, analyst: AnalystFixture) -> None:
    (schedule,) = rows(
        db_conn,
        "select * from analytics.schedule_reliability where schedule_id = %s",
        (analyst.a.schedule_id,),
    )
    assert (schedule["runs"], schedule["succeeded"], schedule["failed"], schedule["skipped"]) == (
        6,
        2,
        3,
        1,
    )
    # lateness 10, 400, 20, 30, 5 s: four within 5 minutes
    assert schedule["on_time_rate"] == pytest.approx(4 / 5)
    assert schedule["lateness_seconds_mean"] == pytest.approx((10 + 400 + 20 + 30 + 5) / 5)
    assert schedule["lateness_seconds_max"] == 400
    # S F F (skip) S F: the longest streak is 2, the current one 1
    assert schedule["longest_failure_streak"] == 2
    assert schedule["current_failure_streak"] == 1


def test_every_data_test_passes_on_the_fixture_and_a_stale_mart_fails_one(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    tests = data_tests(compile_views(db_conn))
    assert {test.name for test in tests} >= {
        "collection_weekly_kpis__totals_match_results",
        "sponsored_ads_weekly__family_rows_match_results",
        "dsp_campaign_weekly__family_rows_match_results",
    }
    failed = [result for test in tests if not (result := run_data_test(db_conn, test)).passed]
    assert failed == []
    # rows that no longer agree with the summary_stats their weeks recorded
    table = f"workflow_{analyst.a.workflows['own funnel'].hex}"
    db_conn.execute(f"update results.{table} set impressions = impressions + 1")
    refresh_marts(db_conn)
    totals = next(t for t in tests if t.name == "collection_weekly_kpis__totals_match_results")
    result = run_data_test(db_conn, totals)
    assert result.failing_rows == 3  # the three weeks with rows
    assert {row["week_start_date"] for row in result.sample} == set(KPI_WEEKS)
    db_conn.execute(f"update results.{table} set impressions = impressions - 1")
    assert run_data_test(db_conn, totals).passed
