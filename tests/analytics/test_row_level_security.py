"""Row-level security through every view: a user sees only their rows, the pipeline all."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors

from recomamp_pipelines.analytics.views import view_files
from tests.analytics.fixture import AnalystFixture, Owner
from tests.db.helpers import acting_as

Conn = psycopg.Connection[Any]
VIEWS = sorted(view.name for view in view_files())
# The template family marts: the fixture has sponsored ads results of user a only.
FAMILIES = {view.name for view in view_files() if view.layer == "marts" and "weekly" in view.name}
FAMILIES.discard("collection_weekly_kpis")
A_HAS_NOTHING = FAMILIES - {"sponsored_ads_weekly"}
# b has no schedule and no workflow made from a template.
B_HAS_NOTHING = {"stg_workflow_schedules", "stg_schedule_runs", "schedule_reliability", *FAMILIES}


def rows_as_text(conn: Conn, view: str) -> list[str]:
    return [row[0] for row in conn.execute(f"select to_jsonb(v)::text from analytics.{view} as v")]


def mentions(rows: list[str], owner: Owner) -> list[str]:
    return [row for row in rows if any(str(key) in row for key in owner.ids)]


def test_a_user_sees_none_of_another_users_rows_through_any_view(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    for view in VIEWS:
        check_view(db_conn, analyst, view)


def check_view(db_conn: Conn, analyst: AnalystFixture, view: str) -> None:
    everything = rows_as_text(db_conn, view)
    a_rows = mentions(everything, analyst.a)
    if view not in A_HAS_NOTHING:
        assert a_rows, f"the pipeline sees user a's rows of {view}"
    with acting_as(db_conn, analyst.b.user_id):
        seen = rows_as_text(db_conn, view)
    assert mentions(seen, analyst.a) == []
    assert all(row in everything for row in seen)
    if view not in B_HAS_NOTHING:
        assert mentions(seen, analyst.b), f"user b sees their own rows of {view}"
    with acting_as(db_conn, analyst.a.user_id):
        seen_by_a = rows_as_text(db_conn, view)
    assert sorted(mentions(seen_by_a, analyst.a)) == sorted(a_rows)


def test_the_materialized_mart_itself_is_out_of_users_reach(
    db_conn: Conn, analyst: AnalystFixture
) -> None:
    with acting_as(db_conn, analyst.b.user_id), pytest.raises(errors.InsufficientPrivilege):
        db_conn.execute("select * from analytics_internal.collection_weekly_kpis")


def test_a_signed_out_caller_sees_nothing(db_conn: Conn, analyst: AnalystFixture) -> None:
    with acting_as(db_conn, None):
        assert rows_as_text(db_conn, "collection_weekly_kpis") == []
