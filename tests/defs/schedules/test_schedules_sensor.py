"""The schedules sensor on its own: DST, catch-up, bad rows, and runs that never served a tick.

No AMC here: the sensor's requests are inspected, and runs are created in the Dagster instance
in the states a daemon, a queue or a crash would leave them.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.recovery.liveness import WORKER_TAG, worker_identity
from recomamp_pipelines.defs.schedules.jobs import CLAIMS_TAG, JOB_NAME
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor
from recomamp_pipelines.scheduling.claims import MAX_ATTEMPTS
from tests.scheduling.harness import dict_rows, evaluate
from tests.scheduling.helpers import Owner, add_owner, add_schedule

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


@pytest.fixture
def owner(recomamp_env: dict[str, str], db_conn: psycopg.Connection) -> Owner:
    return add_owner(db_conn)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def claimed_ticks(db_url: str, schedule_id: uuid.UUID) -> list[datetime]:
    rows = dict_rows(
        db_url,
        "select scheduled_at from schedule_tick_claims where schedule_id = %s "
        "order by scheduled_at",
        schedule_id,
    )
    return [row["scheduled_at"] for row in rows]


def sweep(
    instance: dg.DagsterInstance, start: datetime, end: datetime, step: timedelta
) -> list[dg.RunRequest]:
    """Evaluate the sensor every `step` from `start` to `end`, as the daemon would."""
    requests: list[dg.RunRequest] = []
    moment = start
    while moment <= end:
        requests += evaluate(workflow_schedules_sensor, instance, moment).run_requests or []
        moment += step
    return requests


@pytest.mark.parametrize(
    ("zone", "cron", "start", "expected"),
    [
        # Spring forward: 02:30 does not exist; the run fires at 03:00 local, once.
        (NEW_YORK, "30 2 * * *", utc(2025, 3, 9, 4), [utc(2025, 3, 9, 7)]),
        (BERLIN, "30 2 * * *", utc(2025, 3, 29, 23), [utc(2025, 3, 30, 1)]),
        # Fall back: 01:30 (New York) and 02:30 (Berlin) happen twice; the run fires once, at
        # the second (standard time) occurrence.
        (NEW_YORK, "30 1 * * *", utc(2025, 11, 2, 3), [utc(2025, 11, 2, 6, 30)]),
        (BERLIN, "30 2 * * *", utc(2025, 10, 25, 22), [utc(2025, 10, 26, 1, 30)]),
        # An hourly cron keeps firing every real hour: both passes through 01:30 New York.
        (
            NEW_YORK,
            "30 * * * *",
            utc(2025, 11, 2, 4, 45),
            [utc(2025, 11, 2, hour, 30) for hour in (5, 6, 7, 8)],
        ),
    ],
    ids=["new-york-spring", "berlin-spring", "new-york-fall", "berlin-fall", "hourly-fall"],
)
def test_daylight_saving_changes_through_the_sensor(
    db_url: str,
    db_conn: psycopg.Connection,
    owner: Owner,
    instance: dg.DagsterInstance,
    zone: str,
    cron: str,
    start: datetime,
    expected: list[datetime],
) -> None:
    """Cron is read in the schedule's own zone, as instants (the original's bug 2)."""
    schedule_id = add_schedule(db_conn, owner, cron=cron, timezone=zone, next_run_at=start)

    requests = sweep(instance, start, start + timedelta(hours=4), timedelta(minutes=10))

    assert claimed_ticks(db_url, schedule_id) == expected
    # Each claim is requested under one run_key (resent until a run exists, never changed).
    assert len({request.run_key for request in requests}) == len(expected)


def test_every_n_days_keeps_its_local_time_through_a_dst_change(
    db_url: str, db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    schedule_id = add_schedule(
        db_conn,
        owner,
        interval_days=2,
        anchor_date=date(2025, 3, 28),
        time_of_day=time(9, 0),
        timezone=BERLIN,
        next_run_at=utc(2025, 3, 28, 8),
    )

    sweep(instance, utc(2025, 3, 28, 7), utc(2025, 4, 1, 12), timedelta(hours=3))

    # 09:00 Berlin: 08:00 UTC in winter time, 07:00 UTC in summer time.
    assert claimed_ticks(db_url, schedule_id) == [
        utc(2025, 3, 28, 8),
        utc(2025, 3, 30, 7),
        utc(2025, 4, 1, 7),
    ]


def test_after_downtime_missed_ticks_run_once(
    db_url: str, db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    schedule_id = add_schedule(db_conn, owner, cron="0 6 * * *", next_run_at=utc(2025, 6, 7, 6))

    result = evaluate(workflow_schedules_sensor, instance, utc(2025, 6, 10, 9))

    assert len(result.run_requests or []) == 1
    (claim,) = dict_rows(
        db_url,
        "select scheduled_at, missed_ticks from schedule_tick_claims where schedule_id = %s",
        schedule_id,
    )
    assert claim == {"scheduled_at": utc(2025, 6, 10, 6), "missed_ticks": 3}
    assert evaluate(workflow_schedules_sensor, instance, utc(2025, 6, 10, 9, 1)).run_requests


def test_bad_rows_are_marked_and_every_other_schedule_is_requested(
    db_url: str, db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    due = utc(2025, 6, 10, 6)
    good = [add_schedule(db_conn, owner, next_run_at=due) for _ in range(3)]
    add_schedule(db_conn, owner, cron="0 25 * * *", next_run_at=due, name="hour 25")
    add_schedule(db_conn, owner, timezone="Europe/Atlantis", next_run_at=due, name="atlantis")

    result = evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=1))

    (request,) = result.run_requests or []
    assert len(request.tags[CLAIMS_TAG].split(",")) == 3
    assert {
        tuple(row.values())
        for row in dict_rows(db_url, "select schedule_id from schedule_tick_claims")
    } == {(schedule_id,) for schedule_id in good}
    errors = dict(
        (row["name"], row["last_error"])
        for row in dict_rows(
            db_url,
            "select name, last_error from workflow_schedules where last_error is not null",
        )
    )
    assert set(errors) == {"hour 25", "atlantis"}
    assert "hour must be 0-23, got '25'" in errors["hour 25"]
    assert "'Europe/Atlantis'" in errors["atlantis"]


def create_run(
    instance: dg.DagsterInstance, request: dg.RunRequest, status: dg.DagsterRunStatus
) -> dg.DagsterRun:
    """A run of `request` left in `status`, as a queue, a daemon or a crash would leave it."""
    job = defs.resolve_job_def(JOB_NAME)
    return instance.create_run_for_job(
        job, tags={**request.tags, "dagster/run_key": request.run_key or ""}, status=status
    )


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_request_that_never_became_a_run_is_sent_again_under_its_run_key(
    db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    due = utc(2025, 6, 10, 6)
    add_schedule(db_conn, owner, next_run_at=due)

    (first,) = evaluate(workflow_schedules_sensor, instance, due).run_requests or []
    (again,) = (
        evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=1)).run_requests or []
    )

    assert again.run_key == first.run_key
    assert again.tags == first.tags


def test_a_run_cancelled_before_it_started_hands_its_tick_to_a_new_attempt(
    db_url: str, db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    due = utc(2025, 6, 10, 6)
    add_schedule(db_conn, owner, next_run_at=due)
    (first,) = evaluate(workflow_schedules_sensor, instance, due).run_requests or []
    waiting = create_run(instance, first, dg.DagsterRunStatus.NOT_STARTED)

    assert (
        evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=1)).run_requests == []
    )
    instance.report_run_canceled(waiting)
    (second,) = (
        evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=2)).run_requests or []
    )

    assert second.run_key != first.run_key
    assert second.tags[CLAIMS_TAG] == first.tags[CLAIMS_TAG].replace("@1", "@2")
    (claim,) = dict_rows(db_url, "select attempt, status, batch_run_key from schedule_tick_claims")
    assert claim == {"attempt": 2, "status": "CLAIMED", "batch_run_key": second.run_key}


def test_a_run_killed_before_taking_its_ticks_is_failed_and_its_ticks_retried(
    db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    due = utc(2025, 6, 10, 6)
    add_schedule(db_conn, owner, next_run_at=due)
    (first,) = evaluate(workflow_schedules_sensor, instance, due).run_requests or []
    alive = create_run(instance, first, dg.DagsterRunStatus.STARTED)
    instance.add_run_tags(alive.run_id, {WORKER_TAG: worker_identity()})

    # Its process (this one) is alive: nothing to do.
    assert (
        evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=1)).run_requests == []
    )

    host = worker_identity().split(":")[0]
    instance.add_run_tags(alive.run_id, {WORKER_TAG: f"{host}:{dead_pid()}:"})
    (second,) = (
        evaluate(workflow_schedules_sensor, instance, due + timedelta(minutes=2)).run_requests or []
    )

    assert second.tags[CLAIMS_TAG].endswith("@2")
    killed = instance.get_run_by_id(alive.run_id)
    assert killed is not None and killed.status is dg.DagsterRunStatus.FAILURE


def test_a_tick_no_run_ever_serves_is_recorded_failed_after_the_last_attempt(
    db_url: str, db_conn: psycopg.Connection, owner: Owner, instance: dg.DagsterInstance
) -> None:
    due = utc(2025, 6, 10, 6)
    schedule_id = add_schedule(db_conn, owner, next_run_at=due)
    moment = due
    for _ in range(MAX_ATTEMPTS):
        requests = evaluate(workflow_schedules_sensor, instance, moment).run_requests or []
        (request,) = requests
        instance.report_run_canceled(create_run(instance, request, dg.DagsterRunStatus.NOT_STARTED))
        moment += timedelta(minutes=1)

    assert evaluate(workflow_schedules_sensor, instance, moment).run_requests == []
    (run,) = dict_rows(
        db_url,
        "select status, error_message from schedule_runs where schedule_id = %s",
        schedule_id,
    )
    assert run["status"] == "FAILED"
    assert f"no run served this tick in {MAX_ATTEMPTS} attempts" in run["error_message"]
    assert "CANCELED" in run["error_message"]
    (state,) = dict_rows(
        db_url,
        "select failed_runs, last_run_status from workflow_schedules where id = %s",
        schedule_id,
    )
    assert state == {"failed_runs": 1, "last_run_status": "FAILED"}
