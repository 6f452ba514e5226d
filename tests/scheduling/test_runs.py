"""Schedule runs: taking claims, SKIPPED when paused, counters and auto-pause on failure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from recomamp_pipelines.scheduling.claims import ClaimRef, claim_due_ticks
from recomamp_pipelines.scheduling.manage import set_schedule_active
from recomamp_pipelines.scheduling.runs import (
    PAUSED_BEFORE_START,
    fail_unserved_claim,
    finish_schedule_run,
    take_claim,
)
from tests.scheduling.helpers import Owner, add_owner, add_schedule, only_row, schedule_row

TICK = datetime(2025, 6, 10, 6, tzinfo=UTC)


@pytest.fixture
def owner(db_conn: psycopg.Connection) -> Owner:
    return add_owner(db_conn)


def claim(conn: psycopg.Connection, schedule_id: uuid.UUID, tick: datetime = TICK) -> ClaimRef:
    conn.execute(
        "update workflow_schedules set next_run_at = %s where id = %s", (tick, schedule_id)
    )
    result = claim_due_ticks(conn, tick + timedelta(seconds=1))
    (ref,) = [c for c in result.batches[0].claims]
    return ref


def run_row(conn: psycopg.Connection, schedule_run_id: uuid.UUID) -> dict[str, object]:
    cur = conn.execute(
        "select status, run_number, scheduled_at, started_at, lateness_seconds, window_start, "
        "window_end, dagster_run_id, error_message, duration_seconds from schedule_runs "
        "where id = %s",
        (schedule_run_id,),
    )
    row = cur.fetchone()
    assert row is not None and cur.description is not None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def test_taking_a_claim_starts_a_run_with_its_lateness_and_window(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    # Weekly on Mondays 06:00 New York; 10 June 2025 06:00 EDT is a Tuesday: use a Monday.
    schedule = add_schedule(
        db_conn,
        owner,
        cron="0 6 * * 1",
        timezone="America/New_York",
        next_run_at=datetime(2025, 6, 9, 10, tzinfo=UTC),
    )
    ref = claim(db_conn, schedule, datetime(2025, 6, 9, 10, tzinfo=UTC))
    started = datetime(2025, 6, 9, 10, 0, 42, tzinfo=UTC)

    taken = take_claim(db_conn, ref, "run-1", started)

    assert taken is not None and taken.status == "RUNNING"
    row = run_row(db_conn, taken.schedule_run_id)
    assert row["status"] == "RUNNING"
    assert row["run_number"] == 1
    assert row["lateness_seconds"] == 42
    assert row["dagster_run_id"] == "run-1"
    # Seven days (a weekly cadence) ending at the local midnight 48 hours before the tick.
    assert (row["window_start"], row["window_end"]) == (datetime(2025, 5, 31), datetime(2025, 6, 7))
    # Nobody else takes it: neither another run nor this claim at another attempt.
    assert take_claim(db_conn, ref, "run-2", started) is None
    assert take_claim(db_conn, ClaimRef(ref.claim_id, 2), "run-1", started) is None
    # The same run taking it again (a retried step) resumes the same schedule run.
    again = take_claim(db_conn, ref, "run-1", started)
    assert again is not None and again.schedule_run_id == taken.schedule_run_id


def test_a_schedule_paused_before_its_run_starts_is_skipped(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    schedule = add_schedule(db_conn, owner, next_run_at=TICK)
    ref = claim(db_conn, schedule)
    set_schedule_active(db_conn, schedule, False, TICK + timedelta(seconds=5))

    taken = take_claim(db_conn, ref, "run-1", TICK + timedelta(seconds=10))

    assert taken is not None and taken.status == "SKIPPED"
    row = run_row(db_conn, taken.schedule_run_id)
    assert (row["status"], row["error_message"]) == ("SKIPPED", PAUSED_BEFORE_START)
    counts = schedule_row(db_conn, schedule)
    assert (counts["last_run_status"], counts["total_runs"], counts["failed_runs"]) == (
        "SKIPPED",
        0,
        0,
    )
    (status,) = only_row(
        db_conn.execute("select status from schedule_tick_claims where id = %s", (ref.claim_id,))
    )
    assert status == "SKIPPED"


def test_counters_follow_each_end_and_failures_pause_at_the_threshold(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    """consecutive_failures and auto-pause are kept (never updated in the original: bug 16)."""
    schedule = add_schedule(
        db_conn,
        owner,
        next_run_at=TICK,
        cron="0 * * * *",
        auto_pause_on_failure=True,
        failure_threshold=2,
    )
    ends = []
    for hour, status in enumerate(["FAILED", "SUCCESS", "FAILED", "FAILED"]):
        tick = TICK + timedelta(hours=hour)
        taken = take_claim(db_conn, claim(db_conn, schedule, tick), f"run-{hour}", tick)
        assert taken is not None
        done = tick + timedelta(minutes=3)
        ends.append(
            finish_schedule_run(
                db_conn,
                taken.schedule_run_id,
                status,
                done,
                error="AMC said no" if status == "FAILED" else None,
            )
        )
        # A second report of the same end is not counted twice.
        assert not finish_schedule_run(db_conn, taken.schedule_run_id, status, done).recorded
        assert run_row(db_conn, taken.schedule_run_id)["duration_seconds"] == 180

    assert [end.auto_paused for end in ends] == [False, False, False, True]
    row = schedule_row(db_conn, schedule)
    assert (row["total_runs"], row["successful_runs"], row["failed_runs"]) == (4, 1, 3)
    assert (row["consecutive_failures"], row["last_run_status"]) == (2, "FAILED")
    assert row["last_run_at"] == TICK + timedelta(hours=3)
    assert row["is_active"] is False and row["paused_at"] is not None

    # Resuming starts counting failures again and moves next_run_at past the pause.
    resumed_at = TICK + timedelta(days=2, minutes=10)
    set_schedule_active(db_conn, schedule, True, resumed_at)
    row = schedule_row(db_conn, schedule)
    assert (row["is_active"], row["consecutive_failures"], row["paused_at"]) == (True, 0, None)
    assert row["next_run_at"] == TICK + timedelta(days=2, hours=1)


def test_without_auto_pause_failures_only_count(db_conn: psycopg.Connection, owner: Owner) -> None:
    schedule = add_schedule(db_conn, owner, next_run_at=TICK, cron="0 * * * *")
    for hour in range(4):
        tick = TICK + timedelta(hours=hour)
        taken = take_claim(db_conn, claim(db_conn, schedule, tick), "run", tick)
        assert taken is not None
        finish_schedule_run(db_conn, taken.schedule_run_id, "FAILED", tick, error="no")

    row = schedule_row(db_conn, schedule)
    assert (row["is_active"], row["consecutive_failures"], row["failed_runs"]) == (True, 4, 4)


def test_a_claim_no_run_could_serve_is_recorded_as_failed(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    schedule = add_schedule(db_conn, owner, next_run_at=TICK)
    ref = claim(db_conn, schedule)

    assert fail_unserved_claim(db_conn, ref, "its run never started (5 attempts)", TICK)

    (status, error) = only_row(
        db_conn.execute(
            "select status, error_message from schedule_runs where schedule_id = %s", (schedule,)
        )
    )
    assert (status, error) == ("FAILED", "its run never started (5 attempts)")
    row = schedule_row(db_conn, schedule)
    assert (row["failed_runs"], row["last_run_status"]) == (1, "FAILED")
    assert take_claim(db_conn, ref, "late-run", TICK) is None
