"""The migrations on top of a Supabase-like database: its auth.uid(), roles and default grants."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from recomamp_pipelines.db.migrations import status, upgrade
from tests.db.helpers import add_guide, attempt, one, seed_tenant

Conn = psycopg.Connection[Any]

BOOKKEEPING = [
    "_yoyo_migration",
    "_yoyo_log",
    "_yoyo_version",
    "yoyo_lock",
    "schema_migration_checksums",
]


def auth_uid_definition(conn: Conn) -> tuple[str, str]:
    row = conn.execute(
        "select pg_get_functiondef('auth.uid()'::regprocedure), "
        "obj_description('auth.uid()'::regprocedure, 'pg_proc')"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.fixture
def migrated_supabase(supabase_db_url: str) -> tuple[Conn, str]:
    with psycopg.connect(supabase_db_url, autocommit=True) as conn:
        before = auth_uid_definition(conn)
    applied = upgrade(supabase_db_url)
    assert applied and all(s.applied for s in status(supabase_db_url))
    conn = psycopg.connect(supabase_db_url, autocommit=True)
    assert auth_uid_definition(conn) == before
    return conn, supabase_db_url


def test_migrations_keep_supabases_auth_uid_and_policies_use_it(
    migrated_supabase: tuple[Conn, str],
) -> None:
    conn, _ = migrated_supabase
    with conn:
        assert (
            one(
                conn,
                "select count(*) from pg_proc "
                "where proname = 'uid' and pronamespace = 'auth'::regnamespace",
            )
            == 1
        )
        guide = add_guide(conn)
        a = seed_tenant(conn, "a", guide)
        seed_tenant(conn, "b", guide)

        # This auth.uid() reads request.jwt.claim.sub only: policies answer to that setting.
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(a.user_id),))
            assert [row[0] for row in conn.execute("select id from workflows")] == [a.workflow_id]
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)", (f'{{"sub": "{a.user_id}"}}',)
            )
            assert one(conn, "select count(*) from workflows") == 0


def test_anon_reaches_nothing_despite_supabases_default_grants(
    migrated_supabase: tuple[Conn, str],
) -> None:
    conn, _ = migrated_supabase
    with conn:
        guide = add_guide(conn)
        a = seed_tenant(conn, "a", guide)
        conn.execute("update collection_report_snapshots set is_public = true")
        tables = [
            row[0]
            for row in conn.execute(
                "select relname from pg_class where relnamespace = 'public'::regnamespace "
                "and relkind = 'r' order by 1"
            )
        ]
        assert len(tables) >= 30

        with conn.transaction(force_rollback=True):
            conn.execute("set local role anon")
            conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(a.user_id),))
            for table in tables:
                # Supabase granted anon everything; row-level security leaves it nothing.
                assert (
                    one(conn, sql.SQL("select count(*) from {}").format(sql.Identifier(table))) == 0
                ), table
                deleted = conn.execute(sql.SQL("delete from {}").format(sql.Identifier(table)))
                assert deleted.rowcount == 0, table
            with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                conn.execute("insert into users (email) values ('anon@example.com')")
            for table in BOOKKEEPING:
                with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                    conn.execute(
                        sql.SQL("insert into {} default values").format(sql.Identifier(table))
                    )


def test_service_role_bypasses_row_level_security(migrated_supabase: tuple[Conn, str]) -> None:
    conn, _ = migrated_supabase
    with conn:
        guide = add_guide(conn)
        seed_tenant(conn, "a", guide)
        seed_tenant(conn, "b", guide)

        with conn.transaction(force_rollback=True):
            conn.execute("set local role service_role")
            assert one(conn, "select count(*) from workflows") == 2
            assert one(conn, "select count(*) from collection_report_summary") == 2


def test_signed_in_users_cannot_touch_the_migration_records(
    migrated_supabase: tuple[Conn, str],
) -> None:
    conn, url = migrated_supabase
    with conn, conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(uuid.uuid4()),))
        for table in BOOKKEEPING:
            name = sql.Identifier(table)
            assert one(conn, sql.SQL("select count(*) from {}").format(name)) == 0, table
            assert conn.execute(sql.SQL("delete from {}").format(name)).rowcount == 0, table
    assert upgrade(url) == []


def test_signed_in_users_cannot_write_reference_data_despite_default_grants(
    migrated_supabase: tuple[Conn, str],
) -> None:
    """Defect 26: Supabase grants every table to authenticated; RLS must keep these read-only."""
    conn, _ = migrated_supabase
    with conn:
        guide = add_guide(conn)
        a = seed_tenant(conn, "a", guide)
        conn.execute(
            "insert into amc_data_sources (name, display_name, category) "
            "values ('dsp_impressions', 'DSP impressions', 'impressions')"
        )
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(a.user_id),))
            assert one(conn, "select count(*) from amc_data_sources") == 1
            assert one(conn, "select count(*) from build_guides") == 1
            for table in ("amc_data_sources", "amc_schema_fields", "build_guides", "amc_accounts"):
                name = sql.Identifier(table)
                assert conn.execute(sql.SQL("delete from {}").format(name)).rowcount == 0, table
            with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                conn.execute(
                    "insert into amc_data_sources (name, display_name, category) "
                    "values ('fake', 'Fake', 'x')"
                )
            with pytest.raises(errors.InsufficientPrivilege), attempt(conn):
                conn.execute(
                    "insert into query_templates (name, category, sql_template, author_id, "
                    "is_official) values ('fake official', 'library', 'select 1', %s, true)",
                    (a.user_id,),
                )
