"""The collection report: snapshot row, terminal table, PNG, and the HTML page in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.analytics.report import (
    UnknownCollectionError,
    find_collection,
    kpi_table_lines,
    load_report,
    render_html,
    week_cells,
    write_snapshot,
)
from recomamp_pipelines.cli import app
from tests.analytics.fixture import AnalystFixture
from tests.db.helpers import acting_as, one

Conn = psycopg.Connection[Any]
runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_snapshot_holds_the_marts_figures_and_replaces_the_previous_one(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    collection = find_collection(db_conn, "sponsored ads 2024")
    report = load_report(db_conn, collection)
    write_snapshot(db_conn, report)
    snapshot_id = write_snapshot(db_conn, load_report(db_conn, collection))
    rows = db_conn.execute(
        "select id, created_by, snapshot_data from collection_report_snapshots "
        "where collection_id = %s",
        (collection.collection_id,),
    ).fetchall()
    assert [row[0] for row in rows] == [snapshot_id]
    _, created_by, data = rows[0]
    assert created_by == analyst.a.user_id
    assert data["report_name"] == "Sponsored ads by ad product"
    assert [week["impressions"] for week in data["weeks"]] == [400]
    widgets = {widget["id"]: widget for widget in data["widgets"]}
    assert widgets["total_clicks"]["value"] == 40  # 10 + 30 from the family mart
    assert widgets["total_spend"]["value"] == 20
    assert sorted(
        (r["ad_product_type"], r["spend_usd"]) for r in widgets["spend_by_product"]["rows"]
    ) == [
        ("sponsored_brands", 15.0),
        ("sponsored_products", 5.0),
    ]
    # the snapshot is the owner's under row-level security, and nobody else's
    with acting_as(db_conn, analyst.a.user_id):
        assert one(db_conn, "select count(*) from collection_report_snapshots") == 1
    with acting_as(db_conn, analyst.b.user_id):
        assert one(db_conn, "select count(*) from collection_report_snapshots") == 0


def test_a_user_reports_only_their_own_collections(db_conn: Conn, analyst: AnalystFixture) -> None:
    with (
        acting_as(db_conn, analyst.b.user_id),
        pytest.raises(UnknownCollectionError, match="no collection 'funnel 2024'"),
    ):
        find_collection(db_conn, "funnel 2024")


def test_the_terminal_table_fits_80_columns(db_conn: Conn, analyst: AnalystFixture) -> None:
    lines = kpi_table_lines(load_report(db_conn, find_collection(db_conn, "funnel 2024")))
    assert max(len(line) for line in lines) <= 80
    assert lines[3].split() == [
        "2024-01-01",
        "SUCCESS",
        "2",
        "4000",
        "200",
        "100.00",
        "400.00",
        "5.00%",
        "4.00",
    ]


def test_report_command_prints_the_table_and_writes_html_and_png(
    recomamp_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        from recomamp_pipelines.analytics.views import apply_views
        from tests.analytics.fixture import seed

        seed(conn)
        apply_views(conn)
    html, png = tmp_path / "report.html", tmp_path / "report.png"
    result = runner.invoke(app, ["report", "funnel 2024", "--html", str(html), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "2024-01-22  FAILED" in result.output
    table = result.output.split("HTML report:")[0].splitlines()
    assert len(table) == 3 + 4  # title, header, rule, four weeks
    assert all(len(line) <= 80 for line in table)
    page = html.read_text()
    assert page.startswith("<!doctype html>")
    assert "<script src" not in page and "<link" not in page  # everything inlined
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    missing = runner.invoke(app, ["report", "no such collection"])
    assert missing.exit_code == 1
    assert "no collection 'no such collection'" in missing.output


@pytest.mark.browser
def test_the_html_report_renders_its_charts_in_chromium(
    db_conn: Conn, analyst: AnalystFixture, tmp_path: Path, browser_page: Any
) -> None:
    report = load_report(db_conn, find_collection(db_conn, "funnel 2024"))
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    # nothing from the network: every request the page makes is refused
    requests: list[str] = []

    def only_the_file(route: Any) -> None:
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    browser_page.route("**/*", only_the_file)
    browser_page.goto(page_file.as_uri())
    browser_page.wait_for_selector("body[data-charts=rendered]", timeout=30_000)
    assert [url for url in requests if not url.startswith("file:")] == []

    weeks_with_results = [w for w in report.weeks if w["result_rows"] > 0]
    bars = browser_page.locator("#weekly-kpis g.mark-rect.role-mark path")
    assert bars.count() == len(weeks_with_results) == 3
    # one point per KPI and week with a value: CTR, CVR, ROAS, ACOS over three weeks, less the
    # undefined ones (CVR and ACOS of the week without clicks and sales)
    points = browser_page.locator("#weekly-ratios g.mark-symbol.role-mark path")
    expected_points = sum(
        1
        for w in weeks_with_results
        for kpi in ("ctr", "cvr", "roas", "acos")
        if w[kpi] is not None
    )
    assert points.count() == expected_points == 10
    # the bars' tooltips carry the mart's sales, in week order
    titles = [bars.nth(i).get_attribute("aria-label") or "" for i in range(bars.count())]
    for title, week in zip(titles, weeks_with_results, strict=True):
        assert week["week_start_date"].isoformat() in title
        assert f"{week['sales_usd']:g}" in title.replace(",", "")
    # the table shows the mart's figures
    for week in report.weeks:
        cells = week_cells(week)
        row = browser_page.locator(f"#weekly-table tr[data-week='{cells['week']}'] td")
        assert [row.nth(i).inner_text() for i in range(row.count())] == list(cells.values())
    assert cells["status"] == "FAILED"
    browser_page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert json.dumps(report.weeks[0]["ctr"]) == "0.05"
