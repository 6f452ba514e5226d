"""AMC SQL over HTTP: what AMC refuses at create time, and what the privacy rules do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

FROZEN_AT = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
WEEK = (datetime(2025, 2, 17), datetime(2025, 2, 24))
DAY = (datetime(2025, 2, 17), datetime(2025, 2, 18))
#: An hour: DMAs by device or creative then hold from one user to a few hundred.
HOUR = (datetime(2025, 2, 17, 9), datetime(2025, 2, 17, 10))


@pytest.fixture(scope="module")
def sql_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmcSimulator]:
    """A simulator of this module's own: frozen clock, executions that take no time."""
    sim = AmcSimulator(
        tmp_path_factory.mktemp("sql-sim"), clock=FROZEN_AT, freeze_clock=True, execution_seconds=0
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def amc(sql_sim: AmcSimulator) -> Iterator[Amc]:
    session = Amc(sql_sim)
    yield session
    session.close()


def refused(amc: Amc, sql: str) -> str:
    response = amc.post(
        "/workflowExecutions",
        {
            "workflow": {"sqlQuery": sql},
            "timeWindowStart": "2025-02-17T00:00:00",
            "timeWindowEnd": "2025-02-18T00:00:00",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "400"
    return str(response.json()["details"])


def test_unknown_table_is_reported_where_it_is(amc: Amc) -> None:
    details = refused(amc, "SELECT campaign, SUM(impressions)\nFROM dsp_impresions\nGROUP BY 1")
    assert details == (
        "Unable to compile the SQL query. From line 2, column 6 to line 2, column 19: "
        "Object 'dsp_impresions' not found"
    )


def test_unknown_column_is_reported_where_it_is(amc: Amc) -> None:
    details = refused(
        amc, "SELECT campaign,\n       SUM(impresions)\nFROM dsp_impressions GROUP BY 1"
    )
    assert details == (
        "Unable to compile the SQL query. From line 2, column 12 to line 2, column 21: "
        "Column 'impresions' not found in any table"
    )


def test_limit_and_order_by_are_reported_where_they_are(amc: Amc) -> None:
    limit = refused(
        amc, "SELECT campaign, SUM(impressions)\nFROM dsp_impressions GROUP BY 1\nLIMIT 10"
    )
    order = refused(
        amc,
        "SELECT campaign, SUM(impressions) AS i,\n  RANK() OVER (ORDER BY SUM(impressions)) AS r\n"
        "FROM dsp_impressions GROUP BY 1 ORDER BY i",
    )
    assert "From line 3, column 1 to line 3, column 5: LIMIT" in limit
    assert "From line 3, column 33 to line 3, column 40: ORDER BY is only" in order


def test_syntax_errors_are_compile_errors_with_a_position(amc: Amc) -> None:
    details = refused(amc, "SELECT campaign, SUM(impressions) FORM dsp_impressions GROUP BY 1")
    assert details.startswith("Unable to compile the SQL query. From line 1, column ")
    assert "dsp_impressions" in details


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM dsp_impressions", "SELECT * is not supported"),
        (
            "SELECT campaign, SUM(impressions) FROM dsp_impressions GROUP BY 1 LIMIT 10",
            "LIMIT is not supported",
        ),
        (
            "SELECT campaign, SUM(impressions) AS i FROM dsp_impressions GROUP BY 1 ORDER BY i",
            "ORDER BY is only supported inside window functions",
        ),
        ("SELECT campaign, impressions FROM dsp_impressions", "AMC queries must aggregate"),
        (
            "SELECT user_id, SUM(impressions) FROM dsp_impressions GROUP BY 1",
            "user_id cannot appear in the output",
        ),
        (
            "SELECT campaign, NO_SUCH_FUNCTION(impressions) FROM dsp_impressions GROUP BY 1",
            "no_such_function",
        ),
        (
            "SELECT campaign, SUM(impressions) FROM dsp_impressions GROUP BY 1; SELECT 1",
            "Expected exactly one query, found 2 statements.",
        ),
        ("DELETE FROM dsp_impressions", "Only queries can run in AMC"),
    ],
)
def test_what_amc_refuses(amc: Amc, sql: str, expected: str) -> None:
    details = refused(amc, sql)
    assert details.startswith("Unable to compile the SQL query.")
    assert expected in details


def test_window_functions_may_order(amc: Amc) -> None:
    rows = amc.result(
        "SELECT campaign, SUM(impressions) AS impressions, "
        "RANK() OVER (ORDER BY SUM(impressions) DESC) AS position "
        "FROM dsp_impressions GROUP BY campaign",
        *WEEK,
    )
    assert sorted(int(r["position"]) for r in rows) == list(range(1, 13))


def test_mixed_case_group_by_ordinal_and_distinct_users(amc: Amc) -> None:
    rows = amc.result(
        "select Campaign, SUM(IMPRESSIONS) as Imps, count(DISTINCT USER_ID) as Reach "
        "FROM DSP_Impressions group by 1",
        *WEEK,
    )
    assert set(rows[0]) == {"Campaign", "Imps", "Reach"}
    assert len(rows) == 12
    assert all(0 < int(r["Reach"]) < int(r["Imps"]) for r in rows)


def test_custom_parameters_come_from_the_execution_or_the_default(amc: Amc) -> None:
    sql = (
        "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions "
        "WHERE ARRAY_CONTAINS(CUSTOM_PARAMETER('campaigns'), campaign) GROUP BY 1"
    )
    declared = {
        "inputParameters": [
            {
                "name": "campaigns",
                "dataType": {"type": "ARRAY", "elementDataType": "STRING"},
                "defaultValue": ["Books | DSP | Prospecting"],
            }
        ]
    }
    default_rows = amc.result(sql, *WEEK, workflow_fields=declared)
    assert [r["campaign"] for r in default_rows] == ["Books | DSP | Prospecting"]

    chosen = ["Kitchen | DSP | Retargeting", "Outdoor | DSP | Streaming TV"]
    chosen_rows = amc.result(
        sql,
        *WEEK,
        workflow_fields=declared,
        parameterValues={"campaigns": chosen},
    )
    assert sorted(r["campaign"] for r in chosen_rows) == chosen


def test_a_parameter_without_value_or_default_is_refused(amc: Amc) -> None:
    details = refused(
        amc,
        "SELECT campaign, SUM(impressions) FROM dsp_impressions "
        "WHERE campaign = CUSTOM_PARAMETER('campaign') GROUP BY 1",
    )
    assert "No value for parameter 'campaign'" in details


def test_seconds_between_and_time_functions(amc: Amc) -> None:
    rows = amc.result(
        "SELECT CASE WHEN SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt) < 86400 "
        "THEN 'same day' ELSE 'later' END AS lag, "
        "EXTRACT(HOUR FROM MIN(DATE_TRUNC('HOUR', conversion_event_dt))) AS first_hour, "
        "APPROX_PERCENTILE(SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt), 0.5) AS median, "
        "SUM(purchases) AS purchases "
        "FROM amazon_attributed_events_by_conversion_time GROUP BY 1",
        *WEEK,
    )
    lags = {r["lag"]: r for r in rows}
    assert set(lags) == {"same day", "later"}
    assert float(lags["same day"]["median"]) < 86400 <= float(lags["later"]["median"])


def test_rows_below_the_threshold_are_dropped(amc: Amc) -> None:
    sql = "SELECT postal_code, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
    everything = amc.result(sql, *DAY, disableAggregationControls=True)
    kept = amc.result(sql, *DAY)

    assert len(kept) < len(everything)
    kept_codes = {r["postal_code"] for r in kept}
    # Impressions per postal code exceed their users; a kept row had 100 users or more.
    assert all(int(r["impressions"]) >= 100 for r in kept)
    assert any(r["postal_code"] not in kept_codes for r in everything)


def test_filtered_rows_keep_dimensions_and_lose_metrics(amc: Amc) -> None:
    sql = (
        "SELECT postal_code, SUM(impressions) AS impressions, COUNT(DISTINCT user_id) AS users "
        "FROM dsp_impressions GROUP BY 1"
    )
    rows = amc.result(
        sql,
        *DAY,
        workflow_fields={
            "filteredMetricsDiscriminatorColumn": "filtered",
            "distinctUserCountColumn": "user_count",
        },
    )
    filtered = [r for r in rows if r["filtered"] == "true"]
    passed = [r for r in rows if r["filtered"] == "false"]

    assert filtered and passed
    assert all(r["impressions"] == "" and r["users"] == "" and r["postal_code"] for r in filtered)
    assert all(int(r["user_count"]) < 100 for r in filtered)
    assert all(int(r["users"]) == int(r["user_count"]) >= 100 for r in passed)


def test_threshold_follows_users_and_column_classes_through_ctes(amc: Amc) -> None:
    """A frequency is a count: NONE, one user a row; a bid passed on by a WITH query is MEDIUM."""
    sql = (
        "WITH per_user AS (SELECT user_id, COUNT(*) AS n, MAX(bid_price) AS top_bid "
        "FROM dsp_impressions GROUP BY user_id) "
        "SELECT n AS frequency, COUNT(*) AS users{bid} FROM per_user GROUP BY 1"
    )
    everything = {
        r["frequency"]: int(r["users"])
        for r in amc.result(sql.format(bid=""), *DAY, disableAggregationControls=True)
    }
    counts_only = {r["frequency"]: int(r["users"]) for r in amc.result(sql.format(bid=""), *DAY)}
    with_bids = {
        r["frequency"]: int(r["users"])
        for r in amc.result(sql.format(bid=", MAX(top_bid) AS top_bid"), *DAY)
    }

    assert counts_only == everything
    assert min(everything.values()) < 100
    assert with_bids == {f: users for f, users in everything.items() if users >= 100}


def users_by_row(amc: Amc, sql: str, extra: str, dimension: str, **fields: bool) -> dict[str, int]:
    """Users per (DMA, dimension) row of `sql` with `extra` output columns, over HOUR."""
    start, end = HOUR
    rows = amc.result(sql.format(extra=extra), start, end, **fields)
    return {f"{r['dma_code']}/{r[dimension]}": int(r["users"]) for r in rows}


def test_low_columns_keep_rows_of_two_users_medium_and_high_need_a_hundred(amc: Amc) -> None:
    """Amazon's classes: LOW 2 users, MEDIUM and HIGH 100, whatever the query only filters on."""
    by_dma = (
        "SELECT dma_code, {dimension}, SUM(impressions) AS impressions, "
        "COUNT(DISTINCT user_id) AS users{extra} FROM dsp_impressions "
        "WHERE postal_code IS NOT NULL OR bid_price >= 0 GROUP BY 1, 2"
    )
    seen: dict[str, dict[str, int]] = {}
    for dimension in ("device_type", "creative_id"):
        sql = by_dma.replace("{dimension}", dimension)
        everything = seen[dimension] = users_by_row(
            amc, sql, "", dimension, disableAggregationControls=True
        )
        low = users_by_row(amc, sql, "", dimension)
        assert low == {k: u for k, u in everything.items() if u >= 2}, dimension
        hundred = {k: u for k, u in everything.items() if u >= 100}
        medium = users_by_row(amc, sql, ", MAX(bid_price) AS top_bid", dimension)
        high = users_by_row(amc, sql, ", MIN(city_name) AS city", dimension)
        assert medium == high == hundred, dimension
        assert any(2 <= u < 100 for u in everything.values()), dimension
    # By device, some DMAs pass 100 users; by creative, some hold a single user.
    assert any(u >= 100 for u in seen["device_type"].values())
    assert any(u == 1 for u in seen["creative_id"].values())


def test_aggregation_threshold_setting_is_the_medium_and_high_threshold(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`aggregation_threshold` 1 lets every row through, LOW ones too; 10 changes only MEDIUM."""
    sql = (
        "SELECT dma_code, creative_id, COUNT(DISTINCT user_id) AS users{extra} "
        "FROM dsp_impressions GROUP BY 1, 2"
    )
    for threshold in (1, 10):
        sim = AmcSimulator(
            tmp_path_factory.mktemp(f"threshold-{threshold}"),
            clock=FROZEN_AT,
            freeze_clock=True,
            execution_seconds=0,
            settings={"aggregation_threshold": threshold},
        ).start()
        session = Amc(sim)
        try:
            everything = users_by_row(
                session, sql, "", "creative_id", disableAggregationControls=True
            )
            low = users_by_row(session, sql, "", "creative_id")
            medium = users_by_row(session, sql, ", MAX(bid_price) AS b", "creative_id")
        finally:
            session.close()
            sim.stop()
        assert any(u == 1 for u in everything.values())
        assert any(2 <= u < 10 for u in everything.values())
        assert low == {k: u for k, u in everything.items() if u >= min(2, threshold)}, threshold
        assert medium == {k: u for k, u in everything.items() if u >= threshold}, threshold


def test_user_id_may_be_aggregated_but_never_output(amc: Amc) -> None:
    rows = amc.result(
        "SELECT advertiser, COUNT(DISTINCT user_id) AS users, COUNT(user_id) AS impressions "
        "FROM dsp_impressions GROUP BY advertiser",
        *DAY,
    )
    assert len(rows) == 3
    assert all("user_id" not in r for r in rows)
    # Amazon's reference: VERY_HIGH columns leave a query only through COUNT.
    details = refused(
        amc, "SELECT advertiser, MAX(user_id) AS last_user FROM dsp_impressions GROUP BY 1"
    )
    assert details.endswith(
        "user_id cannot appear in the output: it is a VERY_HIGH sensitivity "
        "column. Aggregate it, e.g. COUNT(DISTINCT user_id)."
    )


def test_every_table_and_time_column_can_be_queried(amc: Amc) -> None:
    queries = {
        "dsp_clicks": "SELECT campaign, SUM(clicks) AS n, MIN(click_dt_utc) AS first, "
        "MIN(impression_date) AS d FROM dsp_clicks GROUP BY 1",
        "sponsored_ads_traffic": "SELECT ad_product_type, SUM(impressions + clicks) AS n, "
        "MIN(event_dt) AS first "
        "FROM sponsored_ads_traffic GROUP BY 1",
        "by_traffic": "SELECT traffic_event_subtype, SUM(conversions) AS n, "
        "MIN(traffic_event_date_utc) AS first FROM amazon_attributed_events_by_traffic_time "
        "GROUP BY 1",
        "conversions": "SELECT event_category, SUM(conversions) AS n, MIN(event_date) AS first "
        "FROM conversions GROUP BY 1",
    }
    for name, sql in queries.items():
        rows = amc.result(sql, *WEEK)
        assert rows, name
        assert all(int(r["n"]) > 0 for r in rows), name


def test_built_in_parameters_name_the_window(amc: Amc) -> None:
    rows = amc.result(
        "SELECT BUILT_IN_PARAMETER('TIME_WINDOW_START') AS window_start, "
        "BUILT_IN_PARAMETER('TIME_WINDOW_TIME_ZONE') AS zone, SUM(impressions) AS impressions "
        "FROM dsp_impressions GROUP BY 1, 2",
        *DAY,
    )
    assert [(r["window_start"], r["zone"]) for r in rows] == [("2025-02-17 00:00:00", "UTC")]
