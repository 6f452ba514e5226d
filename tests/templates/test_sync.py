"""`sync` installs the official templates, updates them in place and versions SQL changes."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.templates.catalog import find_template, installed_templates
from recomamp_pipelines.templates.official import LIBRARY_DIR, load_template, official_templates
from recomamp_pipelines.templates.sync import sql_checksum, sync

runner = CliRunner()
KEYS = sorted(t.key for t in official_templates())


def template_rows(conn: psycopg.Connection) -> list[tuple[str, int, str]]:
    return conn.execute(
        "select template_key, version, sql_checksum from query_templates order by template_key"
    ).fetchall()


def test_sync_installs_every_official_template_with_parameters_and_dashboard(
    db_conn: psycopg.Connection,
) -> None:
    report = sync(db_conn)
    assert sorted(report.created) == KEYS
    rows = template_rows(db_conn)
    assert [r[0] for r in rows] == KEYS
    assert all(version == 1 for _, version, _ in rows)

    template = official_templates()[0]
    stored = db_conn.execute(
        "select sql_template, sql_checksum, is_official, category, report_config "
        "from query_templates where template_key = %s",
        (template.key,),
    ).fetchone()
    assert stored is not None
    assert stored[:4] == (template.sql, sql_checksum(template.sql), True, template.category)
    assert stored[4]["output_columns"] == template.output_columns_json()

    parameters = db_conn.execute(
        "select p.parameter_name, p.parameter_type, p.default_value, p.display_order, p.group_name "
        "from query_template_parameters p join query_templates t on t.id = p.template_id "
        "where t.template_key = %s order by p.display_order",
        (template.key,),
    ).fetchall()
    assert [(p[0], p[1], p[2], p[3], p[4]) for p in parameters] == [
        (d.name, d.type.value, d.default, d.order, d.group) for d in template.parameters
    ]
    reports = db_conn.execute(
        "select r.report_name, r.dashboard_config, r.field_mappings, r.widget_order "
        "from query_template_reports r join query_templates t on t.id = r.template_id "
        "where t.template_key = %s",
        (template.key,),
    ).fetchall()
    assert reports == [
        (
            template.report.report_name,
            dict(template.report.dashboard_config),
            dict(template.report.field_mappings),
            list(template.report.widget_order),
        )
    ]
    total = db_conn.execute("select count(*) from query_template_reports").fetchone()
    assert total == (len(KEYS),)


def test_sync_twice_changes_nothing(db_conn: psycopg.Connection) -> None:
    sync(db_conn)
    before = db_conn.execute(
        "select id, version, updated_at from query_templates order by id"
    ).fetchall()
    parameter_rows = db_conn.execute(
        "select id, updated_at from query_template_parameters order by id"
    ).fetchall()
    again = sync(db_conn)
    assert sorted(again.unchanged) == KEYS and not again.changed
    assert (
        db_conn.execute(
            "select id, version, updated_at from query_templates order by id"
        ).fetchall()
        == before
    )
    assert (
        db_conn.execute(
            "select id, updated_at from query_template_parameters order by id"
        ).fetchall()
        == parameter_rows
    )


def copy_library(tmp_path: Path) -> Path:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    return library


def test_changed_sql_bumps_the_version_and_keeps_the_row(
    db_conn: psycopg.Connection, tmp_path: Path
) -> None:
    sync(db_conn)
    (template_id,) = db_conn.execute(
        "select id from query_templates where template_key = 'asin_performance'"
    ).fetchone() or (None,)
    library = copy_library(tmp_path)
    sql_path = library / "asin_performance.sql"
    sql_path.write_text(
        sql_path.read_text().replace("as units_sold", "as units_sold "), encoding="utf-8"
    )
    edited = load_template(sql_path)

    report = sync(db_conn, [edited])
    assert report.new_version == ("asin_performance",)
    row = db_conn.execute(
        "select id, version, sql_checksum, sql_template from query_templates "
        "where template_key = 'asin_performance'"
    ).fetchone()
    assert row == (template_id, 2, sql_checksum(edited.sql), edited.sql)
    assert sync(db_conn, [edited]).unchanged == ("asin_performance",)
    count = db_conn.execute("select count(*) from query_templates").fetchone()
    assert count == (len(KEYS),)


def test_changed_parameters_update_in_place_without_a_new_version(
    db_conn: psycopg.Connection, tmp_path: Path
) -> None:
    sync(db_conn)
    library = copy_library(tmp_path)
    json_path = library / "asin_performance.json"
    body = json.loads(json_path.read_text())
    body["parameters"] = [p for p in body["parameters"] if p["name"] != "min_purchases"]
    for p in body["parameters"]:
        if p["name"] == "asins":
            p["display_name"] = "Products to report"
    body["report"]["report_name"] = "ASIN funnel"
    json_path.write_text(json.dumps(body))
    sql_path = library / "asin_performance.sql"
    sql_path.write_text(
        sql_path.read_text().replace(
            "\nhaving sum(purchases) >= CUSTOM_PARAMETER('min_purchases')", ""
        ),
        encoding="utf-8",
    )
    edited = load_template(sql_path)
    report = sync(db_conn, [edited])
    assert report.new_version == ("asin_performance",)

    names = db_conn.execute(
        "select p.parameter_name, p.display_name from query_template_parameters p "
        "join query_templates t on t.id = p.template_id "
        "where t.template_key = 'asin_performance' order by p.display_order"
    ).fetchall()
    assert ("min_purchases" not in [n for n, _ in names]) and (
        "asins",
        "Products to report",
    ) in names
    reports = db_conn.execute(
        "select r.report_name from query_template_reports r join query_templates t "
        "on t.id = r.template_id where t.template_key = 'asin_performance'"
    ).fetchall()
    assert reports == [("ASIN funnel",)]

    # Metadata alone: updated, same version.
    body["description"] = "Funnel per ASIN."
    json_path.write_text(json.dumps(body))
    report = sync(db_conn, [load_template(sql_path)])
    assert report.updated == ("asin_performance",)
    version = db_conn.execute(
        "select version, description from query_templates where template_key = 'asin_performance'"
    ).fetchone()
    assert version == (2, "Funnel per ASIN.")


def test_concurrent_syncs_never_duplicate(db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(db_url) as conn:
                sync(conn)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(db_url) as conn:
        assert [r[0] for r in template_rows(conn)] == KEYS
        reports = conn.execute("select count(*) from query_template_reports").fetchone()
    assert reports == (len(KEYS),)


def test_installed_templates_read_back_their_definitions(db_conn: psycopg.Connection) -> None:
    sync(db_conn)
    for official in official_templates():
        installed = find_template(db_conn, official.key)
        assert installed.parameters == official.parameters
        assert installed.output_columns == official.output_columns
        assert installed.sql == official.sql
    assert find_template(db_conn, "asin performance").key == "asin_performance"
    assert len(installed_templates(db_conn)) == len(KEYS)


def test_templates_commands(recomamp_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["templates", "list"])
    assert result.exit_code == 0, result.output
    assert "No templates installed" in result.output

    result = runner.invoke(app, ["templates", "sync"])
    assert result.exit_code == 0, result.output
    assert f"{len(KEYS)} created" in result.output
    result = runner.invoke(app, ["templates", "sync"])
    assert f"{len(KEYS)} unchanged" in result.output

    result = runner.invoke(app, ["templates", "list"])
    assert result.exit_code == 0, result.output
    for key in KEYS:
        assert key in result.output

    result = runner.invoke(app, ["templates", "show", "time_to_conversion"])
    assert result.exit_code == 0, result.output
    assert "traffic_types (string_list" in result.output
    assert "SECONDS_BETWEEN" in result.output
    assert "bucket_order INTEGER" in result.output

    result = runner.invoke(app, ["templates", "show", "no_such_template"])
    assert result.exit_code == 1
    assert "no template with key or name 'no_such_template'" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["templates", "--help"],
        ["templates", "sync", "--help"],
        ["templates", "show", "--help"],
        ["templates", "list", "--help"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 0 and "Usage" in result.output
