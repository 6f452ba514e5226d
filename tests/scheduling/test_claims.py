"""Claiming due ticks: exactly once, in the schedule's time zone, with catch-up and bad rows."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from recomamp_pipelines.scheduling.claims import (
    ClaimBatch,
    ClaimRef,
    claim_due_ticks,
    hand_back,
    parse_claims_tag,
    waiting_batches,
)
from tests.scheduling.helpers import (
    Owner,
    add_owner,
    add_schedule,
    claims,
    only_row,
    schedule_row,
)

NEW_YORK = "America/New_York"


@pytest.fixture
def owner(db_conn: psycopg.Connection) -> Owner:
    return add_owner(db_conn)


def test_a_due_tick_is_claimed_once_and_next_run_at_moves_on(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    """next_run_at moves on with the claim, not after the run (the original's bug 14)."""
    # 06:00 in New York in June is 10:00 UTC.
    schedule = add_schedule(
        db_conn,
        owner,
        cron="0 6 * * *",
        timezone=NEW_YORK,
        next_run_at=datetime(2025, 6, 10, 10, tzinfo=UTC),
    )
    now = datetime(2025, 6, 10, 10, 0, 30, tzinfo=UTC)

    first = claim_due_ticks(db_conn, now)
    second = claim_due_ticks(db_conn, now)

    assert [c.scheduled_at for c in first.claimed] == [datetime(2025, 6, 10, 10, tzinfo=UTC)]
    assert second.claimed == []
    assert claims(db_conn, schedule) == [(datetime(2025, 6, 10, 10, tzinfo=UTC), 1, "CLAIMED", 0)]
    assert schedule_row(db_conn, schedule)["next_run_at"] == datetime(2025, 6, 11, 10, tzinfo=UTC)


def test_a_schedule_not_yet_due_or_paused_is_not_claimed(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    now = datetime(2025, 6, 10, 12, tzinfo=UTC)
    add_schedule(db_conn, owner, next_run_at=now + timedelta(seconds=1))
    add_schedule(db_conn, owner, next_run_at=now - timedelta(hours=1), is_active=False)

    assert claim_due_ticks(db_conn, now).claimed == []


def test_two_evaluations_at_once_claim_every_tick_exactly_once(
    db_url: str, db_conn: psycopg.Connection, owner: Owner
) -> None:
    """Claims are atomic (the original ran up to 8 copies of a tick: its bug 1)."""
    now = datetime(2025, 6, 10, 6, 0, 5, tzinfo=UTC)
    schedules = {
        add_schedule(db_conn, owner, cron="0 6 * * *", next_run_at=now - timedelta(seconds=5))
        for _ in range(300)
    }
    start = threading.Barrier(2)
    results = []

    def evaluate() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            start.wait()
            results.append(claim_due_ticks(conn, now))

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [c.schedule_id for result in results for c in result.claimed]
    assert sorted(claimed) == sorted(schedules)
    (count,) = only_row(
        db_conn.execute(
            "select count(*) from schedule_tick_claims where scheduled_at = '2025-06-10 06:00Z'"
        )
    )
    assert count == 300
    batches = [batch for result in results for batch in result.batches]
    assert all(len(batch.claims) <= 25 for batch in batches)
    assert sum(len(batch.claims) for batch in batches) == 300
    # A later evaluation (or one after a crash) finds the same runs to request, by the same keys.
    assert {w.run_key for w in waiting_batches(db_conn)} == {b.run_key for b in batches}
    assert claim_due_ticks(db_conn, now + timedelta(minutes=1)).claimed == []


def test_ticks_missed_while_down_run_once_at_the_latest_fire_time(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    schedule = add_schedule(
        db_conn, owner, cron="0 6 * * *", next_run_at=datetime(2025, 6, 7, 6, tzinfo=UTC)
    )

    result = claim_due_ticks(db_conn, datetime(2025, 6, 10, 7, tzinfo=UTC))

    # 7, 8 and 9 June are folded into the run of 10 June.
    assert [(c.scheduled_at, c.missed_ticks) for c in result.claimed] == [
        (datetime(2025, 6, 10, 6, tzinfo=UTC), 3)
    ]
    assert claims(db_conn, schedule) == [(datetime(2025, 6, 10, 6, tzinfo=UTC), 1, "CLAIMED", 3)]
    assert schedule_row(db_conn, schedule)["next_run_at"] == datetime(2025, 6, 11, 6, tzinfo=UTC)


def test_every_n_days_fires_at_its_local_time_across_month_ends(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    """Every 14 days is not cron's */14, which restarts each month (the original's bug 15)."""
    # Every 14 days from 20 Jan at 09:30 Berlin time: 3 Feb, 17 Feb, 3 Mar (not the 14th).
    schedule = add_schedule(
        db_conn,
        owner,
        interval_days=14,
        anchor_date=date(2025, 1, 20),
        time_of_day=time(9, 30),
        timezone="Europe/Berlin",
        next_run_at=datetime(2025, 2, 3, 8, 30, tzinfo=UTC),
    )
    fired = []
    moment = datetime(2025, 2, 3, 9, tzinfo=UTC)
    while moment < datetime(2025, 3, 5, tzinfo=UTC):
        fired += [c.scheduled_at for c in claim_due_ticks(db_conn, moment).claimed]
        moment += timedelta(hours=12)

    assert fired == [
        datetime(2025, 2, 3, 8, 30, tzinfo=UTC),
        datetime(2025, 2, 17, 8, 30, tzinfo=UTC),
        datetime(2025, 3, 3, 8, 30, tzinfo=UTC),
    ]
    assert len(claims(db_conn, schedule)) == 3


def test_bad_rows_are_marked_once_and_never_stop_the_others(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    now = datetime(2025, 6, 10, 6, 1, tzinfo=UTC)
    due = now - timedelta(minutes=1)
    good = add_schedule(db_conn, owner, next_run_at=due, name="good")
    bad_cron = add_schedule(db_conn, owner, cron="61 * * * *", next_run_at=due, name="bad cron")
    bad_zone = add_schedule(db_conn, owner, timezone="Mars/Olympus_Mons", next_run_at=due)
    # A dangling workflow id cannot be inserted through the foreign key; replicas skip it.
    db_conn.execute("set session_replication_role = replica")
    orphan = add_schedule(db_conn, owner, next_run_at=due, workflow_id=owner.user_id)
    db_conn.execute("set session_replication_role = default")

    result = claim_due_ticks(db_conn, now)

    assert [c.schedule_id for c in result.claimed] == [good]
    errors = {item.schedule_id: item.error for item in result.newly_invalid}
    assert "minute must be 0-59, got '61'" in errors[bad_cron]
    assert "timezone 'Mars/Olympus_Mons'" in errors[bad_zone]
    assert "workflow no longer exists" in errors[orphan]
    for schedule_id, error in errors.items():
        assert schedule_row(db_conn, schedule_id)["last_error"] == error
        assert claims(db_conn, schedule_id) == []
    # Reported once: the next evaluation leaves them marked and says nothing new.
    later = claim_due_ticks(db_conn, now + timedelta(seconds=30))
    assert later.newly_invalid == [] and later.claimed == []

    # Fixed, the row runs at its next evaluation and its error is cleared.
    db_conn.execute(
        "update workflow_schedules set cron_expression = '0 6 * * *' where id = %s", (bad_cron,)
    )
    fixed = claim_due_ticks(db_conn, now + timedelta(minutes=1))
    assert [c.schedule_id for c in fixed.claimed] == [bad_cron]
    assert schedule_row(db_conn, bad_cron)["last_error"] is None


def test_a_claim_handed_back_gets_a_new_attempt_and_run_key_once(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    now = datetime(2025, 6, 10, 6, 1, tzinfo=UTC)
    schedule = add_schedule(db_conn, owner, next_run_at=now - timedelta(minutes=1))
    (batch,) = claim_due_ticks(db_conn, now).batches

    raised = hand_back(db_conn, batch)
    again = hand_back(db_conn, batch)

    assert raised is not None and again is None
    assert raised.run_key != batch.run_key
    assert [ref.attempt for ref in raised.claims] == [2]
    assert claims(db_conn, schedule)[0][1:3] == (2, "CLAIMED")
    (waiting,) = waiting_batches(db_conn)
    assert waiting.run_key == raised.run_key
    assert parse_claims_tag(raised.tag_value) == list(raised.claims)


def test_run_keys_follow_the_claims_and_their_attempts() -> None:
    a = ClaimRef.parse("7b0cbbf4-8d33-4b43-9a1b-0d9f0b9b4c11@1")
    b = ClaimRef.parse("1f7c8c1e-3a3c-4f55-8f0c-8f7d3e0e5a22@1")

    assert ClaimBatch((a, b)).run_key == ClaimBatch((b, a)).run_key
    assert ClaimBatch((a, b)).run_key != ClaimBatch((a, b)).raised().run_key
    assert ClaimBatch((a,)).run_key != ClaimBatch((a, b)).run_key


def test_handing_back_a_batch_moves_only_the_claims_no_run_took(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    now = datetime(2025, 6, 10, 6, 1, tzinfo=UTC)
    for _ in range(2):
        add_schedule(db_conn, owner, next_run_at=now - timedelta(minutes=1))
    (batch,) = claim_due_ticks(db_conn, now).batches
    taken, left = batch.claims
    db_conn.execute(
        "update schedule_tick_claims set status = 'RUNNING', dagster_run_id = 'run-1' "
        "where id = %s",
        (taken.claim_id,),
    )

    moved = hand_back(db_conn, batch)

    assert moved is not None
    assert moved.claims == (ClaimRef(left.claim_id, 2),)
    (waiting,) = waiting_batches(db_conn)
    assert (waiting.run_key, waiting.batch) == (moved.run_key, moved)
    (status,) = only_row(
        db_conn.execute("select status from schedule_tick_claims where id = %s", (taken.claim_id,))
    )
    assert status == "RUNNING"
