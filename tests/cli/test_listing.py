"""Listing what exists: users, instances, workflows, collections and a collection's weeks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.collections.registration import register_collections
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.sample.account import load_sample_account, sample_users
from recomamp_pipelines.settings import load_settings

runner = CliRunner()


@pytest.fixture
def account(recomamp_env: dict[str, str], db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        load_sample_account(
            conn,
            TokenCipher.from_settings(load_settings()),
            sample_users(["Atzr|a", "Atzr|b"], ["amcone", "amctwo"]),
            today=datetime.now(UTC).date(),
        )
        register_collections(conn, 0)
    return db_url


def listed(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def test_each_list_gives_full_ids_as_json_and_in_a_wide_table(account: str) -> None:
    with psycopg.connect(account) as conn:
        ids = {
            "users": {str(r[0]) for r in conn.execute("select id from users").fetchall()},
            "instances": {str(r[0]) for r in conn.execute("select id from amc_instances")},
            "workflows": {str(r[0]) for r in conn.execute("select id from workflows")},
            "collections": {
                str(r[0]) for r in conn.execute("select id from report_data_collections")
            },
        }
    key = {
        "users": "user_id",
        "instances": "instance_row_id",
        "workflows": "workflow_id",
        "collections": "collection_id",
    }
    for group, wanted in ids.items():
        rows = listed(group, "list")
        assert {str(row[key[group]]) for row in rows} == wanted, group
        wide = runner.invoke(app, [group, "list", "--wide"])
        assert wide.exit_code == 0, wide.output
        for full_id in wanted:
            assert full_id in wide.output, (group, full_id)
    users = listed("users", "list")
    assert {row["email"] for row in users} == {"ana.analyst@example.com", "bo.brand@example.com"}
    assert all(row["has_refresh_token"] is True for row in users)


def test_collections_show_lists_every_week(account: str) -> None:
    with psycopg.connect(account) as conn:
        collection_id, weeks = conn.execute(
            "select c.id, count(w.*) from report_data_collections as c "
            "join report_data_weeks as w on w.collection_id = c.id "
            "where c.name = 'DSP weekly 2026' group by c.id"
        ).fetchone()  # type: ignore[misc]
    rows = listed("collections", "show", str(collection_id))
    assert len(rows) == weeks
    assert {row["status"] for row in rows} == {"PENDING"}
    assert set(rows[0]) >= {"week_start_date", "status", "result_rows", "amc_execution_id"}
    assert set(rows[0]) >= {"error_message"}
    table = runner.invoke(app, ["collections", "show", str(collection_id)])
    assert table.exit_code == 0 and "PENDING" in table.output

    unknown = runner.invoke(app, ["collections", "show", "not-an-id"])
    assert unknown.exit_code == 1
    assert "expected a UUID" in unknown.output


def test_schedules_preview_says_when_there_is_nothing_to_show(recomamp_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["schedules", "preview"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("no active schedule: nothing to preview")
    assert listed("users", "list") == []
    empty = runner.invoke(app, ["users", "list"])
    assert empty.output.strip() == "no users yet"
