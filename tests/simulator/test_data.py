"""The generated data: deterministic, plausible, and rich enough for every report, every week."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from recomamp_pipelines.simulator.data import DataWindow, Warehouse, week_factor
from recomamp_pipelines.simulator.engine import AmcSqlCompiler, PrivacyRules, QueryRunner

SEED = 20240101
AMC_RULES = PrivacyRules(threshold=100)
CLOCK = datetime(2025, 6, 2, tzinfo=UTC)
HISTORY_START = datetime(2024, 4, 1, tzinfo=UTC)  # 61 weeks before the clock

TEMPLATES = {
    "weekly_dsp_performance": """
        SELECT campaign, SUM(impressions) AS impressions, SUM(total_cost) / 100000.0 AS spend,
               COUNT(DISTINCT user_id) AS reach
        FROM dsp_impressions GROUP BY campaign""",
    "sponsored_ads_by_product": """
        SELECT ad_product_type, SUM(impressions) AS impressions, SUM(clicks) AS clicks,
               SUM(spend) / 100000000.0 AS spend, COUNT(DISTINCT user_id) AS users
        FROM sponsored_ads_traffic GROUP BY 1""",
    "frequency_distribution": """
        WITH per_user AS (
            SELECT user_id, SUM(impressions) AS frequency FROM dsp_impressions GROUP BY user_id
        )
        SELECT CASE WHEN frequency >= 10 THEN '10+' ELSE CAST(frequency AS STRING) END
                   AS frequency_bucket,
               COUNT(DISTINCT user_id) AS users
        FROM per_user GROUP BY 1""",
    "dsp_sa_overlap": """
        WITH dsp AS (SELECT user_id FROM dsp_impressions GROUP BY user_id),
        sa AS (SELECT user_id FROM sponsored_ads_traffic GROUP BY user_id),
        buyers AS (
            SELECT user_id FROM amazon_attributed_events_by_conversion_time
            WHERE purchases > 0 GROUP BY user_id
        ),
        segments AS (
            SELECT COALESCE(d.user_id, s.user_id) AS user_id,
                   CASE WHEN d.user_id IS NOT NULL AND s.user_id IS NOT NULL THEN 'both'
                        WHEN d.user_id IS NOT NULL THEN 'dsp_only' ELSE 'sa_only' END AS segment
            FROM dsp d FULL OUTER JOIN sa s ON d.user_id = s.user_id
        )
        SELECT segment, COUNT(DISTINCT g.user_id) AS users, COUNT(DISTINCT b.user_id) AS buyers
        FROM segments g LEFT JOIN buyers b ON g.user_id = b.user_id GROUP BY segment""",
    "path_to_conversion": """
        WITH touches AS (
            SELECT user_id, 'dsp' AS channel, impression_dt AS touched_at FROM dsp_impressions
            UNION ALL
            SELECT user_id, ad_product_type AS channel, event_dt AS touched_at
            FROM sponsored_ads_traffic WHERE clicks > 0
        ),
        first_purchase AS (
            SELECT user_id, MIN(conversion_event_dt) AS purchased_at
            FROM amazon_attributed_events_by_conversion_time WHERE purchases > 0 GROUP BY user_id
        ),
        paths AS (
            SELECT t.user_id, ARRAY_JOIN(ARRAY_SORT(COLLECT(t.channel)), ' > ') AS path
            FROM touches t JOIN first_purchase p ON t.user_id = p.user_id
            WHERE t.touched_at < p.purchased_at GROUP BY t.user_id
        )
        SELECT path, COUNT(DISTINCT user_id) AS users FROM paths GROUP BY path""",
    "new_to_brand": """
        SELECT advertiser, SUM(new_to_brand_purchases) AS ntb_purchases,
               SUM(new_to_brand_product_sales) AS ntb_sales, SUM(purchases) AS purchases
        FROM amazon_attributed_events_by_conversion_time GROUP BY advertiser""",
    "time_to_conversion": """
        SELECT CASE
                 WHEN SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt) < 3600 THEN '0-1h'
                 WHEN SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt) < 86400 THEN '1-24h'
                 WHEN SECONDS_BETWEEN(traffic_event_dt, conversion_event_dt) < 604800 THEN '1-7d'
                 ELSE '7d+' END AS time_to_conversion,
               SUM(purchases) AS purchases, COUNT(DISTINCT user_id) AS users
        FROM amazon_attributed_events_by_conversion_time WHERE purchases > 0 GROUP BY 1""",
    "asin_performance": """
        SELECT tracked_asin, SUM(purchases) AS purchases, SUM(units_sold) AS units,
               SUM(product_sales) AS sales, COUNT(DISTINCT user_id) AS buyers
        FROM amazon_attributed_events_by_conversion_time GROUP BY tracked_asin""",
}


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AmcSqlCompiler, QueryRunner]]:
    warehouse = Warehouse(SEED, 1.0, 2, 12_000_000, tmp_path_factory.mktemp("duckdb"))
    compiler = AmcSqlCompiler()
    try:
        yield compiler, QueryRunner(warehouse, compiler)
    finally:
        warehouse.close()


def week(monday: date, clock: datetime = CLOCK) -> DataWindow:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return DataWindow(start, start + timedelta(days=7), "America/New_York", clock, HISTORY_START)


def run(
    engine: tuple[AmcSqlCompiler, QueryRunner],
    sql: str,
    window: DataWindow,
    out: Path,
    rules: PrivacyRules | None = AMC_RULES,
) -> list[dict[str, str]]:
    compiler, runner = engine
    result = runner.run("t", compiler.compile(sql, {}, [], window), window, rules, out, 10**7)
    with (out / result.files[0]).open() as handle:
        return list(csv.DictReader(handle))


def mondays() -> list[date]:
    first = HISTORY_START.date() + timedelta(days=7)
    return [first + timedelta(weeks=n) for n in range(58)]


def quietest_week() -> date:
    return min(mondays(), key=lambda monday: week_factor(SEED, monday))


def test_quiet_weeks_and_variation_exist() -> None:
    factors = [week_factor(SEED, monday) for monday in mondays()]
    assert sum(f < 0.7 for f in factors) >= 2
    assert len({round(f, 3) for f in factors}) > 40


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_report_passes_the_threshold_in_the_quietest_week(
    engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path, name: str
) -> None:
    rows = run(engine, TEMPLATES[name], week(quietest_week()), tmp_path)
    assert len(rows) >= 2, name


def test_numbers_are_plausible_per_campaign(
    engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path
) -> None:
    window = week(date(2025, 3, 3))
    impressions = {
        r["campaign"]: int(r["n"])
        for r in run(
            engine,
            "SELECT campaign, SUM(impressions) AS n FROM dsp_impressions GROUP BY 1",
            window,
            tmp_path / "i",
        )
    }
    clicks = {
        r["campaign"]: int(r["n"])
        for r in run(
            engine,
            "SELECT campaign, SUM(clicks) AS n FROM dsp_clicks GROUP BY 1",
            window,
            tmp_path / "c",
        )
    }
    purchases = {
        r["campaign"]: int(r["n"])
        for r in run(
            engine,
            "SELECT campaign, SUM(purchases) AS n FROM amazon_attributed_events_by_conversion_time "
            "WHERE ad_product_type IS NULL GROUP BY 1",
            window,
            tmp_path / "p",
        )
    }
    assert len(impressions) == 12
    assert set(clicks) == set(purchases) == set(impressions)
    for campaign, shown in impressions.items():
        assert shown > clicks[campaign] > purchases[campaign] > 0, campaign


def test_weeks_differ_and_a_week_never_drifts(
    engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path
) -> None:
    sql = (
        "SELECT advertiser, SUM(impressions) AS n, COUNT(DISTINCT user_id) AS u "
        "FROM dsp_impressions GROUP BY 1"
    )
    first = run(engine, sql, week(date(2025, 3, 3)), tmp_path / "a")
    asked_later = run(
        engine, sql, week(date(2025, 3, 3), clock=CLOCK + timedelta(days=3)), tmp_path / "b"
    )
    next_week = run(engine, sql, week(date(2025, 3, 10)), tmp_path / "c")

    assert first == asked_later
    assert first != next_week


def test_no_data_outside_the_history_or_after_the_clock(
    engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path
) -> None:
    sql = "SELECT advertiser, SUM(impressions) AS n FROM dsp_impressions GROUP BY 1"
    before = run(engine, sql, week(date(2024, 3, 4)), tmp_path / "a")
    after = run(engine, sql, week(date(2025, 6, 2)), tmp_path / "b")
    assert before == after == []


def test_book_asins_sell(engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path) -> None:
    rows = run(
        engine,
        "SELECT tracked_asin, SUM(total_units_sold) AS units FROM conversions GROUP BY 1",
        week(date(2025, 3, 3)),
        tmp_path,
    )
    asins = {r["tracked_asin"]: int(r["units"]) for r in rows}
    assert asins["0345391802"] > 0
    assert sum(len(a) == 10 and a.isdigit() for a in asins) >= 5


def test_only_the_days_a_window_touches_are_generated(tmp_path: Path) -> None:
    warehouse = Warehouse(SEED, 1.0, 2, 12_000_000, tmp_path)
    # Midnight to midnight in New York: 05:00 UTC on the 4th to 05:00 UTC on the 5th.
    start = datetime(2025, 3, 4, 5, tzinfo=UTC)
    window = DataWindow(start, start + timedelta(days=1), "America/New_York", CLOCK, HISTORY_START)
    try:
        with warehouse.session(window, {"dsp_impressions"}) as cursor:
            dates = cursor.execute(
                "select distinct impression_date from dsp_impressions order by 1"
            ).fetchall()
        assert [d.isoformat() for (d,) in dates] == ["2025-03-04"]
        assert [(kind, day) for kind, day, _ in warehouse.cached_days()] == [
            ("dsp", "2025-03-04"),
            ("dsp", "2025-03-05"),
        ]
    finally:
        warehouse.close()


def test_windows_larger_than_the_cache_are_streamed_with_the_same_answer(
    engine: tuple[AmcSqlCompiler, QueryRunner], tmp_path: Path
) -> None:
    sql = (
        "SELECT campaign, SUM(clicks) AS clicks, COUNT(DISTINCT user_id) AS users "
        "FROM dsp_clicks GROUP BY 1"
    )
    window = week(date(2025, 3, 3))
    cached = run(engine, sql, window, tmp_path / "cached")

    tiny = Warehouse(SEED, 1.0, 2, 1000, tmp_path / "tiny")
    try:
        compiler = AmcSqlCompiler()
        streamed = run((compiler, QueryRunner(tiny, compiler)), sql, window, tmp_path / "streamed")
        assert tiny.cached_days() == []
    finally:
        tiny.close()

    assert streamed == cached
    assert len(streamed) == 12
