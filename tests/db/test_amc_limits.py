"""AMC's concurrency limits as AMC counts them: per AMC instance id and per account (0015)."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from recomamp_pipelines.attempt.slots import wait_for_slot
from recomamp_pipelines.db.migrations import upgrade
from recomamp_pipelines.db.sessions import Sessions
from tests.db.conftest import Tenants
from tests.db.helpers import MIGRATIONS_DIR, Tenant, add_user, add_workflow, one

Conn = psycopg.Connection[Any]


def second_row_for(conn: Conn, user_id: uuid.UUID, of: Tenant) -> uuid.UUID:
    """A row of `user_id` for the AMC instance (and account) of tenant `of`'s row."""
    row_id: uuid.UUID = one(
        conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "select instance_id, 'shared', %s, account_id from amc_instances where id = %s "
        "returning id",
        (user_id, of.instance_id),
    )
    return row_id


def another_instance(conn: Conn, tenant: Tenant, amc_instance_id: str) -> uuid.UUID:
    """A second AMC instance of the tenant's account."""
    row_id: uuid.UUID = one(
        conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "values (%s, %s, %s, %s) returning id",
        (amc_instance_id, amc_instance_id, tenant.user_id, tenant.account_id),
    )
    return row_id


def new_execution(
    conn: Conn, user_id: uuid.UUID, instance_row: uuid.UUID, seconds_ago: int = 0
) -> uuid.UUID:
    """A PENDING execution of the user on that instance row, waiting with a fresh heartbeat."""
    workflow = one(
        conn,
        "select id from workflows where user_id = %s and instance_id = %s",
        (user_id, instance_row),
    )
    execution: uuid.UUID = one(
        conn,
        "insert into workflow_executions "
        "(workflow_id, user_id, instance_id, status, created_at, heartbeat_at) "
        "values (%s, %s, %s, 'PENDING', now() - make_interval(secs => %s), now()) returning id",
        (workflow, user_id, instance_row, seconds_ago),
    )
    return execution


def claim(conn: Conn, instance_row: uuid.UUID, execution: uuid.UUID) -> int | None:
    slot: int | None = one(
        conn, "select claim_amc_instance_slot(%s, %s)", (instance_row, execution)
    )
    return slot


def held(conn: Conn, amc_instance_id: str) -> int:
    count: int = one(
        conn,
        "select count(*) from amc_instance_slots where amc_instance_id = %s",
        (amc_instance_id,),
    )
    return count


def test_rows_of_two_users_for_one_amc_instance_share_its_slots(
    db_url: str, tenants: Tenants
) -> None:
    """Two users with rows for one AMC instance got 10 + 10 slots: now they share one cap."""
    a, b = tenants.a, tenants.b
    with psycopg.connect(db_url, autocommit=True) as conn:
        b_row = second_row_for(conn, b.user_id, of=a)
        add_workflow(conn, b.user_id, b_row)
        # The lowest limit of the rows naming the instance applies: a's 4, not b's 10.
        conn.execute(
            "update amc_instances set max_concurrent_executions = 4 where id = %s",
            (a.instance_id,),
        )
        # a's seeded RUNNING execution holds slot 1.
        batches = [
            [(row, new_execution(conn, user, row)) for _ in range(3)]
            for user, row in ((a.user_id, a.instance_id), (b.user_id, b_row)) * 3
        ]
    start = threading.Barrier(len(batches))

    def claim_from_a_process(batch: list[tuple[uuid.UUID, uuid.UUID]]) -> list[int | None]:
        with psycopg.connect(db_url, autocommit=True) as conn:
            start.wait()
            return [claim(conn, row, execution) for row, execution in batch]

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        slots = [s for batch in pool.map(claim_from_a_process, batches) for s in batch]

    # Before, b's row had 10 slots of its own: b's claims would have taken 1 to 9 besides.
    assert sorted(s for s in slots if s is not None) == [2, 3, 4]
    assert slots.count(None) == 15
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert held(conn, "amca") == 4


def test_a_waiter_of_another_user_of_the_instance_keeps_its_place(
    db_conn: Conn, tenants: Tenants
) -> None:
    a, b = tenants.a, tenants.b
    b_row = second_row_for(db_conn, b.user_id, of=a)
    add_workflow(db_conn, b.user_id, b_row)
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 2 where instance_id = 'amca'"
    )
    earlier = new_execution(db_conn, b.user_id, b_row, seconds_ago=30)
    later = new_execution(db_conn, a.user_id, a.instance_id, seconds_ago=10)

    assert claim(db_conn, a.instance_id, later) is None  # b's waiter came first
    assert claim(db_conn, b_row, earlier) == 2
    assert claim(db_conn, a.instance_id, later) is None  # both slots taken


def test_an_account_holds_at_most_its_limit_across_its_instances(
    db_conn: Conn, tenants: Tenants
) -> None:
    a = tenants.a
    assert (
        one(
            db_conn,
            "select max_concurrent_executions from amc_accounts where id = %s",
            (a.account_id,),
        )
        == 200
    )
    db_conn.execute(
        "update amc_accounts set max_concurrent_executions = 3 where id = %s", (a.account_id,)
    )
    second = another_instance(db_conn, a, "amcasecond")
    add_workflow(db_conn, a.user_id, second)
    on_second = [new_execution(db_conn, a.user_id, second, ago) for ago in (40, 30, 20)]
    on_first = new_execution(db_conn, a.user_id, a.instance_id, seconds_ago=10)

    # a's seeded execution holds one of the account's 3 slots, on the first instance.
    assert [claim(db_conn, second, e) for e in on_second] == [1, 2, None]
    assert claim(db_conn, a.instance_id, on_first) is None  # the account is full
    assert (
        one(
            db_conn,
            "select count(*) from amc_instance_slots where account_id = %s",
            (a.account_id,),
        )
        == 3
    )

    db_conn.execute(
        "update workflow_executions set status = 'SUCCESS' where id = %s", (on_second[0],)
    )
    # One account slot free: the oldest live waiter of the account gets it, not the newer one.
    assert claim(db_conn, a.instance_id, on_first) is None
    assert claim(db_conn, second, on_second[2]) == 1
    with pytest.raises(errors.CheckViolation, match="already has 3 executions in flight"):
        db_conn.execute(
            "insert into amc_instance_slots (instance_id, slot, execution_id) values (%s, 2, %s)",
            (a.instance_id, on_first),
        )


def test_limits_stay_within_amcs(db_conn: Conn, tenants: Tenants) -> None:
    with pytest.raises(errors.CheckViolation, match="within_amc"):
        db_conn.execute(
            "update amc_instances set max_concurrent_executions = 11 where id = %s",
            (tenants.a.instance_id,),
        )
    with pytest.raises(errors.CheckViolation, match="chk_account_max_concurrent_executions"):
        db_conn.execute(
            "update amc_accounts set max_concurrent_executions = 201 where id = %s",
            (tenants.a.account_id,),
        )


def test_slots_held_through_two_rows_are_renumbered_by_the_migration(
    empty_db_url: str, tmp_path: Path
) -> None:
    """Before 0015 each row had its own 10 slots; after it, the AMC instance's 20 are over cap."""
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0015":
            shutil.copy(path, before / path.name)
    upgrade(empty_db_url, migrations_dir=before)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        account = one(
            conn,
            "insert into amc_accounts (account_id, account_name) values ('E1', 'e') returning id",
        )
        rows = []
        for label in ("a", "b"):
            user = add_user(conn, f"{label}@example.com")
            row = one(
                conn,
                "insert into amc_instances (instance_id, name, user_id, account_id) "
                "values ('amcshared', 'shared', %s, %s) returning id",
                (user, account),
            )
            add_workflow(conn, user, row)
            for _ in range(10):
                assert claim(conn, row, new_execution(conn, user, row)) is not None
            rows.append((user, row))

    assert "0015_amc_caps_and_pipeline_columns" in upgrade(empty_db_url)

    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        numbers = [
            r[0]
            for r in conn.execute(
                "select slot from amc_instance_slots where amc_instance_id = 'amcshared' "
                "order by slot"
            )
        ]
        assert numbers == list(range(1, 21))
        user, row = rows[0]
        assert claim(conn, row, new_execution(conn, user, row)) is None


def test_the_pipelines_slot_wait_shares_the_instance_across_users(
    db_url: str, tenants: Tenants
) -> None:
    """wait_for_slot, unchanged, waits on b's row while a's execution holds the only slot."""
    a, b = tenants.a, tenants.b
    with psycopg.connect(db_url, autocommit=True) as conn:
        b_row = second_row_for(conn, b.user_id, of=a)
        add_workflow(conn, b.user_id, b_row)
        conn.execute(
            "update amc_instances set max_concurrent_executions = 1 where instance_id = 'amca'"
        )
        waiting = new_execution(conn, b.user_id, b_row)
    got: list[bool] = []

    def wait() -> None:
        sessions = Sessions(db_url)
        try:
            got.append(wait_for_slot(sessions, b_row, waiting, threading.Event()))
        finally:
            sessions.close()

    waiter = threading.Thread(target=wait)
    waiter.start()
    with psycopg.connect(db_url, autocommit=True) as conn:
        # b waits: a's seeded RUNNING execution holds the instance's one slot.
        beats, deadline = 0, time.monotonic() + 60
        while beats == 0:
            assert time.monotonic() < deadline, "the waiter never looked for a slot"
            time.sleep(0.05)
            beats = one(
                conn,
                "select count(*) from workflow_executions where id = %s and heartbeat_at > "
                "(select created_at from workflow_executions where id = %s)",
                (waiting, waiting),
            )
        assert got == [] and held(conn, "amca") == 1
        conn.execute(
            "update workflow_executions set status = 'SUCCESS' where id = %s", (a.execution_id,)
        )
        waiter.join(timeout=60)
        assert got == [True]
        assert (
            one(
                conn,
                "select instance_id from amc_instance_slots where execution_id = %s",
                (waiting,),
            )
            == b_row
        )
