"""Row-level security through every view: a user sees only their rows, the pipeline all.

The database belongs to a role that is not a superuser and has no BYPASSRLS (the superuser
bypasses row-level security, which would make every check below pass whatever the policies):
the pipeline role sees every row because it owns the tables, and users, acting as
`authenticated` with their JWT claims, see what the policies and the owner rule give them.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors

from recomamp_pipelines.analytics.views import view_files
from tests.analytics.fixture import AnalystFixture, Owner
from tests.db.helpers import acting_as, attempt, one

Conn = psycopg.Connection[Any]
VIEWS = sorted(view.name for view in view_files())
# The template family marts: the fixture has sponsored ads results of user a only.
FAMILIES = {view.name for view in view_files() if view.layer == "marts" and "weekly" in view.name}
FAMILIES.discard("collection_weekly_kpis")
A_HAS_NOTHING = FAMILIES - {"sponsored_ads_weekly"}
# b has no schedule and no workflow made from a template.
B_HAS_NOTHING = {"stg_workflow_schedules", "stg_schedule_runs", "schedule_reliability", *FAMILIES}
STORED_MART = "collection_weekly_kpis"


def rows_as_text(conn: Conn, view: str) -> list[str]:
    return [row[0] for row in conn.execute(f"select to_jsonb(v)::text from analytics.{view} as v")]


def mentions(rows: list[str], owner: Owner) -> list[str]:
    return [row for row in rows if any(str(key) in row for key in owner.ids)]


def test_the_pipeline_role_is_subject_to_row_level_security_like_any_role(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture
) -> None:
    conn = pipeline_role_conn
    row = conn.execute(
        "select r.rolsuper, r.rolbypassrls from pg_roles as r where r.rolname = current_user"
    ).fetchone()
    assert row == (False, False)
    # It sees every row as the owner of the tables, not by any exemption: the views, the tables
    # and the stored mart are all its own.
    owners = {
        owner
        for (owner,) in conn.execute(
            "select distinct pg_get_userbyid(c.relowner) from pg_class as c "
            "where c.relnamespace in ('public'::regnamespace, 'analytics'::regnamespace, "
            "'analytics_internal'::regnamespace, 'results'::regnamespace) "
            "and c.relkind in ('r', 'v', 'm')"
        )
    }
    assert owners == {one(conn, "select current_user")}


@pytest.mark.parametrize("view", VIEWS)
def test_a_user_sees_none_of_another_users_rows_through_any_view(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture, view: str
) -> None:
    conn, analyst = pipeline_role_conn, owned_analyst
    everything = rows_as_text(conn, view)
    a_rows = mentions(everything, analyst.a)
    b_rows = mentions(everything, analyst.b)
    if view not in A_HAS_NOTHING:
        assert a_rows, f"the pipeline sees user a's rows of {view}"
    if view not in B_HAS_NOTHING:
        assert b_rows, f"the pipeline sees user b's rows of {view}"
    with acting_as(conn, analyst.b.user_id):
        seen = rows_as_text(conn, view)
    assert mentions(seen, analyst.a) == []
    assert all(row in everything for row in seen)
    assert sorted(mentions(seen, analyst.b)) == sorted(b_rows)
    with acting_as(conn, analyst.a.user_id):
        seen_by_a = rows_as_text(conn, view)
    assert mentions(seen_by_a, analyst.b) == []
    assert sorted(mentions(seen_by_a, analyst.a)) == sorted(a_rows)


def test_the_view_over_the_stored_mart_gives_each_user_their_rows_only(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture
) -> None:
    conn, analyst = pipeline_role_conn, owned_analyst
    counts = dict(
        conn.execute(
            f"select user_id, count(*) from analytics_internal.{STORED_MART} group by 1"
        ).fetchall()
    )
    assert set(counts) == {analyst.a.user_id, analyst.b.user_id}
    for owner in (analyst.a, analyst.b):
        with acting_as(conn, owner.user_id):
            for relation in (
                f"analytics.{STORED_MART}",
                f"analytics_internal.{STORED_MART}__owned_rows",
            ):
                users = conn.execute(f"select user_id, count(*) from {relation} group by 1")
                assert dict(users.fetchall()) == {owner.user_id: counts[owner.user_id]}, relation
            # Asking for the other user's rows by name finds nothing either.
            other = analyst.b if owner is analyst.a else analyst.a
            assert (
                one(
                    conn,
                    f"select count(*) from analytics.{STORED_MART} where user_id = %s",
                    (other.user_id,),
                )
                == 0
            )


def test_a_users_own_function_never_sees_rows_of_the_stored_mart_before_the_owner_filter(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture
) -> None:
    """A cheap function in the caller's WHERE clause runs after the owner filter only."""
    conn, analyst = pipeline_role_conn, owned_analyst
    seen: list[str] = []
    conn.add_notice_handler(lambda notice: seen.append(notice.message_primary or ""))
    with acting_as(conn, analyst.b.user_id):
        conn.execute(
            "create function pg_temp.peek(owner uuid) returns boolean language plpgsql "
            "cost 0.0000001 as $$ begin raise notice 'row of %', owner; return true; end $$"
        )
        conn.execute(f"select * from analytics.{STORED_MART} as m where pg_temp.peek(m.user_id)")
    assert seen, "the function ran"
    assert all(str(analyst.b.user_id) in message for message in seen)


def test_the_stored_mart_and_its_query_are_out_of_users_reach(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture
) -> None:
    conn = pipeline_role_conn
    with acting_as(conn, owned_analyst.b.user_id):
        for relation in (STORED_MART, f"{STORED_MART}__source"):
            with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                conn.execute(f"select * from analytics_internal.{relation}")
        with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
            conn.execute(f"delete from analytics_internal.{STORED_MART}")


def test_a_signed_out_caller_sees_nothing(
    pipeline_role_conn: Conn, owned_analyst: AnalystFixture
) -> None:
    with acting_as(pipeline_role_conn, None):
        for view in VIEWS:
            assert rows_as_text(pipeline_role_conn, view) == [], view
