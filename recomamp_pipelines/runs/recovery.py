"""Executions whose run died: found by their heartbeat, judged by AMC, then resumed or failed.

An execution is PENDING or RUNNING for as long as a run works on it, and that run refreshes its
heartbeat. When the heartbeat is old and the run is gone, AMC is asked before anything is
concluded: an execution AMC still runs or has finished is resumed by a new run (which finds the
intent and collects it without submitting again); only one AMC no longer has is marked FAILED,
with the reason. No failure goes unrecorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.amc.client import AmcClient
from recomamp_pipelines.amc.errors import AmcError, AmcNotFound
from recomamp_pipelines.attempt import executions
from recomamp_pipelines.attempt.owner import AmcOwner, default_client_factory
from recomamp_pipelines.runs.queries import load
from recomamp_pipelines.scheduling.claims import ClaimRef
from recomamp_pipelines.scheduling.runs import finish_schedule_run
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.timekeeping import to_utc

#: Heartbeats come at least every 30 s from a live run; ten minutes of silence is suspicious.
STALE_AFTER = timedelta(minutes=10)
STALE_LIMIT = 500


class AmcVerdict(StrEnum):
    """What AMC says about an execution whose run died."""

    RUNNING = "running"
    FINISHED = "finished"
    GONE = "gone"
    NOT_SUBMITTED = "not submitted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StaleExecution:
    """An unfinished execution nobody has heard of lately, and how to reach its AMC instance."""

    execution_id: uuid.UUID
    amc_execution_id: str | None
    dagster_run_id: str | None
    last_heard_at: datetime
    collection_id: uuid.UUID | None
    partition_key: str | None
    week_start_date: date | None
    schedule_run_id: uuid.UUID | None
    user_id: uuid.UUID | None
    user_email: str | None
    encrypted_refresh_token: str | None
    amc_instance_id: str | None
    amc_account_id: str | None
    #: Ended ABANDONED by a slot waiter, its week FAILED, AMC's result not collected.
    abandoned: bool = False

    def __repr__(self) -> str:
        return f"StaleExecution({self.execution_id}, amc={self.amc_execution_id})"

    @property
    def owner(self) -> AmcOwner:
        """Who the execution runs as, to ask AMC about it."""
        return AmcOwner(
            user_id=self.user_id or self.execution_id,
            user_email=self.user_email,
            encrypted_refresh_token=self.encrypted_refresh_token,
            amc_account_id=self.amc_account_id,
            amc_instance_id=self.amc_instance_id,
        )

    @property
    def partition(self) -> str | None:
        """The collection-week partition key of a week's execution."""
        if self.partition_key is None or self.week_start_date is None:
            return None
        return f"{self.partition_key}|{self.week_start_date.isoformat()}"


def stale_executions(
    conn: psycopg.Connection,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    limit: int = STALE_LIMIT,
) -> list[StaleExecution]:
    """Executions nobody has been heard of for `stale_after`, oldest first: PENDING or RUNNING
    ones, and ABANDONED ones whose week still waits for AMC's result (`abandoned`)."""
    before = to_utc(now, "now") - stale_after
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("stale_executions"), {"before": before, "limit": limit}).fetchall()
    return [StaleExecution(**row) for row in rows]


@dataclass(frozen=True)
class StaleClaim:
    """A claim taken by a run that left no unfinished execution behind."""

    ref: ClaimRef
    dagster_run_id: str | None
    schedule_run_id: uuid.UUID


def stale_claims(
    conn: psycopg.Connection,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    limit: int = STALE_LIMIT,
) -> list[StaleClaim]:
    before = to_utc(now, "now") - stale_after
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("stale_claims"), {"before": before, "limit": limit}).fetchall()
    return [
        StaleClaim(
            ClaimRef(row["id"], row["attempt"]), row["dagster_run_id"], row["schedule_run_id"]
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ScheduleRunClaim:
    ref: ClaimRef
    status: str
    dagster_run_id: str | None


def claim_of_schedule_run(
    conn: psycopg.Connection, schedule_run_id: uuid.UUID
) -> ScheduleRunClaim | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            load("claim_of_schedule_run"), {"schedule_run_id": schedule_run_id}
        ).fetchone()
    if row is None:
        return None
    return ScheduleRunClaim(
        ClaimRef(row["id"], row["attempt"]), row["status"], row["dagster_run_id"]
    )


def default_stale_client_factory(settings: Settings) -> Callable[[StaleExecution], AmcClient]:
    """AMC clients acting as each stale execution's owner."""
    make = default_client_factory(settings)
    return lambda execution: make(execution.owner)


def ask_amc(
    execution: StaleExecution, client_for: Callable[[StaleExecution], AmcClient]
) -> tuple[AmcVerdict, str]:
    """AMC's verdict on the execution, with AMC's status or error in words."""
    if execution.amc_execution_id is None:
        return AmcVerdict.NOT_SUBMITTED, "its submission never reached this database"
    if execution.amc_instance_id is None:
        return AmcVerdict.UNKNOWN, "its AMC instance is no longer known"
    try:
        with client_for(execution) as client:
            found = client.instance(execution.amc_instance_id).get_execution(
                execution.amc_execution_id
            )
    except AmcNotFound:
        return AmcVerdict.GONE, (
            f"AMC no longer has execution {execution.amc_execution_id} on instance "
            f"{execution.amc_instance_id}"
        )
    except AmcError as exc:
        return AmcVerdict.UNKNOWN, f"AMC could not be asked: {exc}"
    verdict = AmcVerdict.FINISHED if found.is_terminal else AmcVerdict.RUNNING
    return verdict, f"AMC reports {found.amc_status}"


def mark_lost(
    conn: psycopg.Connection, execution: StaleExecution, reason: str, now: datetime
) -> bool:
    """Record an execution nobody can finish as FAILED, with its week or schedule run."""
    with conn.transaction():
        if not executions.mark_lost(conn, execution.execution_id, reason):
            return False
        if execution.collection_id is not None and execution.week_start_date is not None:
            conn.execute(
                load("fail_week_row"),
                {
                    "collection_id": execution.collection_id,
                    "week_start_date": execution.week_start_date,
                    "error_message": reason,
                    "amc_execution_id": execution.amc_execution_id,
                },
            )
        if execution.schedule_run_id is not None:
            finish_schedule_run(
                conn,
                execution.schedule_run_id,
                "FAILED",
                now,
                error=reason,
                execution_id=execution.execution_id,
            )
    return True
