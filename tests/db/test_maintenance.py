"""The maintenance queries of sql/maintenance run on current PostgreSQL and say something true."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.db import document
from tests.db.conftest import Tenants
from tests.db.helpers import MAINTENANCE_DIR, one

Conn = psycopg.Connection[Any]


def run_file(conn: Conn, name: str) -> list[tuple[Any, ...]]:
    """Run a maintenance file; the rows of its last statement."""
    cursor = conn.execute((MAINTENANCE_DIR / name).read_text(encoding="utf-8"))
    rows: list[tuple[Any, ...]] = cursor.fetchall() if cursor.description else []
    while cursor.nextset():
        rows = cursor.fetchall() if cursor.description else []
    return rows


def test_analyze_tables_refreshes_the_statistics(db_conn: Conn, tenants: Tenants) -> None:
    run_file(db_conn, "analyze_tables.sql")

    analyzed = {
        row[0]
        for row in db_conn.execute(
            "select relname from pg_stat_user_tables where last_analyze is not null"
        )
    }
    assert {"workflows", "workflow_executions", "report_data_weeks"} <= analyzed


def unused_indexes(conn: Conn) -> set[str]:
    conn.execute("select pg_stat_clear_snapshot()")
    return {row[2] for row in run_file(conn, "unused_indexes.sql")}


def test_unused_indexes_lists_indexes_never_scanned(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 21: the document's query read column statistics and found no index at all."""
    before = unused_indexes(db_conn)
    assert "idx_asins_brand" in before
    assert "idx_asins_asin_user" not in before  # a unique index is needed even if never read
    assert "users_pkey" not in before

    with db_conn.transaction():
        db_conn.execute("set local enable_seqscan = off")
        db_conn.execute("select count(*) from asins where brand = 'Acme'")
        db_conn.execute("select pg_stat_force_next_flush()")
    assert "idx_asins_brand" not in unused_indexes(db_conn)

    db_conn.execute("analyze asins")
    documented = db_conn.execute(document.statement("FROM pg_stats")).fetchall()
    named = {str(value) for row in documented for value in row}
    assert "brand" in named  # column statistics, not indexes
    assert not named & before


def test_slow_queries_runs_without_pg_stat_statements(db_conn: Conn) -> None:
    """Defect 20: the document's query fails where the extension is absent."""
    assert (
        one(db_conn, "select count(*) from pg_extension where extname = 'pg_stat_statements'") == 0
    )

    assert run_file(db_conn, "slow_queries.sql") == []
    with pytest.raises(errors.UndefinedTable):
        db_conn.execute(document.statement("FROM pg_stat_statements"))


def test_slow_queries_uses_the_current_column_names(db_conn: Conn) -> None:
    """Defect 20: mean_time and total_time were renamed mean_exec_time and total_exec_time (13)."""
    available = one(
        db_conn,
        "select count(*) from pg_available_extensions where name = 'pg_stat_statements'",
    )
    if not available:
        pytest.skip("this server ships no pg_stat_statements (pgserver has no contrib)")
    db_conn.execute("create extension pg_stat_statements")

    # Installed but (here) not preloaded: the file explains itself instead of failing; a wrong
    # column name would fail before that, when the query is planned.
    rows = run_file(db_conn, "slow_queries.sql")
    assert all(len(row) == 4 for row in rows)
    with pytest.raises(errors.UndefinedColumn, match="mean_time"):
        db_conn.execute("explain " + document.statement("FROM pg_stat_statements"))
