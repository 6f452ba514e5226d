"""One process's sessions: a small pool for statements, one lock session for what lasts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from recomamp_pipelines.db.sessions import Sessions

HELD = (
    "select count(*) from pg_locks where locktype = 'advisory' and granted and objsubid = 1 "
    "and ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)"
)
OURS = "select count(*) from pg_stat_activity where datname = current_database() and pid <> %s"


@pytest.fixture
def sessions(db_url: str) -> Iterator[Sessions]:
    made = Sessions(db_url)
    yield made
    made.close()


def held(conn: psycopg.Connection[Any], key: str) -> int:
    row = conn.execute(HELD, (key,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_lock_is_held_once_across_processes_and_within_one(
    db_url: str, db_conn: psycopg.Connection[Any], sessions: Sessions
) -> None:
    other = Sessions(db_url)
    try:
        assert sessions.hold("recomamp-week:a") is True
        assert sessions.hold("recomamp-week:a") is False  # another run in the same process
        assert other.hold("recomamp-week:a") is False  # another process
        assert held(db_conn, "recomamp-week:a") == 1
        sessions.let_go("recomamp-week:a")
        assert held(db_conn, "recomamp-week:a") == 0
        assert other.hold("recomamp-week:a") is True
    finally:
        other.close()
    # Closing a process's sessions releases what it held, as a process that dies does.
    assert held(db_conn, "recomamp-week:a") == 0


def test_many_threads_in_flight_use_the_pool_and_one_lock_session(
    db_conn: psycopg.Connection[Any], sessions: Sessions
) -> None:
    keys = [f"recomamp-attempt:{n}" for n in range(40)]
    seen: list[int] = []
    gate = threading.Barrier(len(keys), timeout=60)

    def one(key: str) -> None:
        assert sessions.hold(key)
        gate.wait()  # all 40 held at once
        with sessions.connection() as conn:
            row = conn.execute(OURS, (db_conn.info.backend_pid,)).fetchone()
            assert row is not None
            seen.append(int(row[0]))
        sessions.let_go(key)

    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(one, keys))
    assert len(seen) == len(keys)
    assert max(seen) <= sessions.pool_size + 1, seen
    assert all(held(db_conn, key) == 0 for key in keys)


def test_locks_are_taken_again_when_the_lock_session_breaks(
    db_conn: psycopg.Connection[Any], sessions: Sessions
) -> None:
    assert sessions.hold("recomamp-week:kept")
    (pid,) = db_conn.execute(
        "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 "
        "and ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
        ("recomamp-week:kept",),
    ).fetchone() or (None,)
    assert pid is not None
    db_conn.execute("select pg_terminate_backend(%s, 10000)", (pid,))
    deadline = time.monotonic() + 30
    while held(db_conn, "recomamp-week:kept") == 0:
        assert time.monotonic() < deadline, "the lock session never took its lock again"
        time.sleep(0.1)
    assert held(db_conn, "recomamp-week:kept") == 1
    assert sessions.hold("recomamp-week:kept") is False


def test_a_released_slot_wakes_the_waiters_of_the_process(
    db_conn: psycopg.Connection[Any], sessions: Sessions
) -> None:
    with sessions.slot_announcements() as released:
        started = time.monotonic()
        db_conn.execute("notify amc_instance_slots, 'any'")
        assert released.wait(timeout=10) is True
        assert time.monotonic() - started < 5
        # Nothing announced since: the wait ends at its timeout.
        started = time.monotonic()
        assert released.wait(timeout=0.3) is False
        assert time.monotonic() - started >= 0.3
