"""Weeks reused without an AMC call: recorded by the run that reuses them, counted by the mart."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row
from typer.testing import CliRunner

from recomamp_pipelines.analytics.data_tests import data_tests, run_data_test
from recomamp_pipelines.analytics.views import apply_views, static_views
from recomamp_pipelines.cli import app
from tests.db.helpers import acting_as, attempt
from tests.defs.conftest import Pipeline

runner = CliRunner()


def backfill(collection_id: Any) -> str:
    result = runner.invoke(app, ["backfill", "--collection", str(collection_id)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_a_second_backfill_shows_its_weeks_as_reused_in_execution_reliability(
    pipeline: Pipeline,
) -> None:
    collection = pipeline.collection("Sponsored ads weekly")
    assert "3 week(s): 3 submitted" in backfill(collection.collection_id)
    submitted = pipeline.simulator.counters()
    assert "3 week(s): 3 reused" in backfill(collection.collection_id)
    assert pipeline.simulator.counters() == submitted

    with psycopg.connect(pipeline.db_url, autocommit=True, row_factory=dict_row) as conn:
        apply_views(conn)
        (instance,) = conn.execute(
            "select instance_id, user_id from report_data_collections where id = %s",
            (collection.collection_id,),
        ).fetchall()
        reuses = conn.execute(
            "select r.reason, r.dagster_run_id, r.execution_id = wk.workflow_execution_id as kept "
            "from collection_week_reuses as r "
            "join report_data_weeks as wk on wk.id = r.collection_week_id "
            "where wk.collection_id = %s",
            (collection.collection_id,),
        ).fetchall()
        assert [(r["reason"], r["kept"]) for r in reuses] == [("SAME_REQUEST", True)] * 3
        # One Dagster run reused the three weeks.
        assert len({r["dagster_run_id"] for r in reuses}) == 1
        assert reuses[0]["dagster_run_id"] is not None

        reliability = conn.execute(
            "select sum(reused_weeks) as reused_weeks, sum(week_reuses) as week_reuses, "
            "sum(submissions) as submissions "
            "from analytics.execution_reliability where instance_id = %s",
            (instance["instance_id"],),
        ).fetchone()
        assert reliability is not None
        assert (reliability["reused_weeks"], reliability["week_reuses"]) == (3, 3)

        # A third run reuses the same weeks again: three more reuses of the same three weeks.
        assert "3 week(s): 3 reused" in backfill(collection.collection_id)
        (again,) = conn.execute(
            "select sum(reused_weeks) as reused_weeks, sum(week_reuses) as week_reuses "
            "from analytics.execution_reliability where instance_id = %s",
            (instance["instance_id"],),
        ).fetchall()
        assert (again["reused_weeks"], again["week_reuses"]) == (3, 6)

        for test in data_tests(static_views()):
            if test.view == "execution_reliability":
                result = run_data_test(conn, test)
                assert result.passed, (test.name, result.sample)

        # The owner sees the reuses through the mart; the other user sees none of them.
        other = conn.execute(
            "select id from users where id <> %s order by email limit 1", (instance["user_id"],)
        ).fetchone()
        assert other is not None
        with acting_as(conn, instance["user_id"]):
            mine = conn.execute(
                "select coalesce(sum(week_reuses), 0) as n from analytics.execution_reliability"
            ).fetchone()
            assert mine is not None and mine["n"] == 6
        with acting_as(conn, other["id"]):
            theirs = conn.execute(
                "select count(*) as n from analytics.stg_collection_week_reuses"
            ).fetchone()
            assert theirs is not None and theirs["n"] == 0


@pytest.mark.slow
def test_a_refresh_is_not_a_reuse(pipeline: Pipeline) -> None:
    collection = pipeline.collection("Sponsored ads weekly")
    backfill(collection.collection_id)
    refreshed = runner.invoke(
        app, ["backfill", "--collection", str(collection.collection_id), "--refresh"]
    )
    assert refreshed.exit_code == 0, refreshed.output
    assert "3 week(s): 3 submitted" in refreshed.output
    assert pipeline.query("select count(*) from collection_week_reuses") == [(0,)]


def test_signed_in_users_cannot_write_reuses(pipeline: Pipeline) -> None:
    collection = pipeline.collection("Sponsored ads weekly")
    backfill(collection.collection_id)
    backfill(collection.collection_id)
    with psycopg.connect(pipeline.db_url, autocommit=True) as conn:
        (owner,) = conn.execute(
            "select user_id from report_data_collections where id = %s",
            (collection.collection_id,),
        ).fetchone() or (None,)
        with acting_as(conn, owner):
            assert conn.execute("select count(*) from collection_week_reuses").fetchone() == (3,)
            for statement in (
                "update collection_week_reuses set reason = 'SAME_REQUEST'",
                "delete from collection_week_reuses",
                "insert into collection_week_reuses (collection_week_id, request_hash, reason) "
                "select collection_week_id, request_hash, reason from collection_week_reuses",
            ):
                with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                    conn.execute(statement)
