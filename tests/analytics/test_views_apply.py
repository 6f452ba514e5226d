"""`views apply`: order from the SQL, one transaction, idempotent, clear errors naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.analytics.views import (
    VIEWS_DIR,
    ViewApplyError,
    ViewDefinitionError,
    apply_views,
    compile_views,
    creation_order,
    view_files,
)
from recomamp_pipelines.cli import app
from tests.analytics.fixture import AnalystFixture
from tests.db.helpers import one

Conn = psycopg.Connection[Any]
runner = CliRunner()


def analytics_views(conn: Conn) -> dict[str, list[str] | None]:
    """Every view of the schema analytics with its options."""
    found = conn.execute(
        "select c.relname, c.reloptions from pg_class as c "
        "join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = 'analytics' and c.relkind = 'v' order by 1"
    ).fetchall()
    return {name: options for name, options in found}


def copy_of_views(tmp_path: Path) -> Path:
    target = tmp_path / "views"
    shutil.copytree(VIEWS_DIR, target, ignore=shutil.ignore_patterns("*.md"))
    return target


def test_apply_on_a_fresh_database_creates_every_view_security_invoker(db_conn: Conn) -> None:
    report = apply_views(db_conn)
    names = {view.name for view in view_files()}
    assert set(report.created) == names
    views = analytics_views(db_conn)
    assert set(views) == names
    assert all(options and "security_invoker=true" in options for options in views.values())
    # every view answers, empty
    for name in names:
        assert one(db_conn, f"select count(*) from analytics.{name}") == 0


def test_apply_twice_changes_nothing(db_conn: Conn, analyst: AnalystFixture) -> None:
    before = one(db_conn, "select sum(impressions) from analytics.collection_weekly_kpis")
    oids = db_conn.execute(
        "select c.relname, c.oid from pg_class as c join pg_namespace as n "
        "on n.oid = c.relnamespace where n.nspname like 'analytics%' order by 1"
    ).fetchall()
    report = apply_views(db_conn)
    assert report.created == []
    assert len(report.unchanged) == len(view_files())
    assert (
        db_conn.execute(
            "select c.relname, c.oid from pg_class as c join pg_namespace as n "
            "on n.oid = c.relnamespace where n.nspname like 'analytics%' order by 1"
        ).fetchall()
        == oids
    )
    assert one(db_conn, "select sum(impressions) from analytics.collection_weekly_kpis") == before


def test_a_new_results_table_rebuilds_the_views_that_read_it(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    db_conn.execute(
        "create table results.workflow_00000000000000000000000000000001 "
        "(like results.{} including all)".format(
            f"workflow_{analyst.a.workflows['own funnel'].hex}"
        )
    )
    report = apply_views(db_conn)
    # the union; the table's workflow has no template: no family mart changes, and the weekly
    # KPIs read the weeks' summary_stats
    assert report.created == ["stg_workflow_results"]
    assert "sponsored_ads_weekly" in report.unchanged
    assert "collection_weekly_kpis" in report.unchanged


def test_the_order_comes_from_the_sql(db_conn: Conn) -> None:
    order = [view.name for view in creation_order(compile_views(db_conn))]
    for view in compile_views(db_conn):
        for read in view.reads:
            assert order.index(read) < order.index(view.name), (read, view.name)
    kpis = next(v for v in compile_views(db_conn) if v.name == "collection_weekly_kpis")
    assert kpis.reads == {"stg_collections", "stg_collection_weeks"}
    assert kpis.materialized


def test_a_failing_view_keeps_the_previous_set(
    db_conn: Conn, analyst: AnalystFixture, tmp_path: Path
) -> None:
    views = copy_of_views(tmp_path)
    apply_views(db_conn, views)
    before = analytics_views(db_conn)
    staging = views / "staging" / "stg_collections.sql"
    # a change that parses, reaches every mart downstream, and that PostgreSQL refuses
    staging.write_text(
        staging.read_text().replace(
            "collections.name as collection_name", "collections.no_such_column as collection_name"
        )
    )
    with pytest.raises(ViewApplyError, match=r"staging/stg_collections\.sql.*no_such_column"):
        apply_views(db_conn, views)
    assert analytics_views(db_conn) == before
    assert one(db_conn, "select count(*) from analytics.collection_weekly_kpis") == 6
    assert one(db_conn, "select count(*) from analytics.stg_collections") == 3


def test_a_cycle_is_an_error_naming_its_files(db_conn: Conn, tmp_path: Path) -> None:
    views = tmp_path / "views"
    (views / "staging").mkdir(parents=True)
    (views / "marts").mkdir()
    (views / "staging" / "stg_a.sql").write_text("select * from analytics.weekly_b")
    (views / "marts" / "weekly_b.sql").write_text(
        "with a as (select * from analytics.stg_a) select * from a"
    )
    with pytest.raises(ViewDefinitionError, match=r"cycle: .*stg_a\.sql.*weekly_b\.sql"):
        apply_views(db_conn, views)
    assert analytics_views(db_conn) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("select * from analytics.nowhere", r"stg_x\.sql: reads analytics\.nowhere, which no"),
        ("select * from public.nowhere", r"stg_x\.sql: reads public\.nowhere, which does not"),
        ("select * from report_data_weeks", r"stg_x\.sql: reads 'report_data_weeks'.*public\."),
        ("select from where", r"stg_x\.sql: the SQL does not parse"),
        ("{{ template_results('nope') }}", r"stg_x\.sql: no official template 'nope'"),
        (
            "{{ config(materialized='table') }} select 1",
            r"stg_x\.sql: materialized='table'; expected",
        ),
        (
            "{{ config(materialized='incremental', unique_key=['a']) }} select 1 as a",
            r"stg_x\.sql: an incremental mart needs partition_by='<column>' \(got None\)",
        ),
        (
            "{{ config(materialized='incremental', unique_key=['a'], partition_by='a', "
            "version_column='v') }} select 1 as a, null::uuid as user_id",
            r"stg_x\.sql: version_column='v' is not a column of the mart",
        ),
    ],
)
def test_a_bad_file_is_an_error_naming_it(
    db_conn: Conn, tmp_path: Path, text: str, message: str
) -> None:
    views = tmp_path / "views"
    (views / "staging").mkdir(parents=True)
    (views / "staging" / "stg_x.sql").write_text(text)
    with pytest.raises(ViewDefinitionError, match=message):
        apply_views(db_conn, views)


def test_views_apply_and_db_upgrade_commands(recomamp_env: dict[str, str], db_url: str) -> None:
    result = runner.invoke(app, ["views", "apply"])
    assert result.exit_code == 0, result.output
    assert f"Analyst views: {len(view_files())} created or replaced" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"0 created or replaced, {len(view_files())} unchanged" in result.output
    result = runner.invoke(app, ["views", "refresh"])
    assert result.exit_code == 0, result.output
    assert "collection_weekly_kpis" in result.output
