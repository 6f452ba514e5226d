"""Schedule runs: a run takes its claims, records a schedule_runs row, and ends it once.

A `schedule_runs` row exists from the moment a run takes a claim (RUNNING), so a crash leaves
a visible RUNNING row rather than nothing. Its end (SUCCESS, FAILED, SKIPPED) is written once,
together with the schedule's counters (total, successful and failed runs, last run, consecutive
failures) and, when the schedule asks for it, its auto-pause.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.scheduling.claims import ClaimRef
from recomamp_pipelines.scheduling.queries import load
from recomamp_pipelines.scheduling.timing import (
    ScheduleDefinitionError,
    ScheduleTiming,
    cadence_of,
    run_window,
)
from recomamp_pipelines.timekeeping import to_utc

log = logging.getLogger(__name__)

#: Consecutive failures that pause a schedule with auto_pause_on_failure and no threshold.
DEFAULT_FAILURE_THRESHOLD = 3
PAUSED_BEFORE_START = "the schedule was paused before its run started; this tick was skipped"


@dataclass(frozen=True)
class ScheduleContext:
    """Everything about a schedule that its run reads, loaded when the run takes its claim."""

    schedule_id: uuid.UUID
    name: str
    is_active: bool
    timing: ScheduleTiming
    lookback_days: int | None
    parameters: dict[str, Any]
    user_id: uuid.UUID
    workflow_id: uuid.UUID | None
    workflow_name: str | None
    sql_query: str | None
    workflow_parameters: dict[str, Any]
    template_id: uuid.UUID | None
    user_email: str | None
    encrypted_refresh_token: str | None
    instance_row_id: uuid.UUID | None
    amc_instance_id: str | None
    amc_account_id: str | None

    def __repr__(self) -> str:
        return f"ScheduleContext({self.name!r}, {self.schedule_id})"

    @property
    def timezone(self) -> str:
        return self.timing.zone_name


def load_schedule_context(conn: psycopg.Connection, schedule_id: uuid.UUID) -> ScheduleContext:
    """The schedule with its workflow, owner and AMC instance; locks the schedule row."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(load("schedule_context"), {"schedule_id": schedule_id}).fetchone()
    if row is None:
        raise ScheduleDefinitionError(f"schedule {schedule_id} no longer exists")
    return ScheduleContext(
        schedule_id=row["schedule_id"],
        name=row["schedule_name"],
        is_active=bool(row["is_active"]),
        timing=ScheduleTiming.of_row(row),
        lookback_days=row["lookback_days"],
        parameters=row["schedule_parameters"] or {},
        user_id=row["user_id"],
        workflow_id=row["workflow_id"],
        workflow_name=row["workflow_name"],
        sql_query=row["sql_query"],
        workflow_parameters=row["workflow_parameters"] or {},
        template_id=row["template_id"],
        user_email=row["user_email"],
        encrypted_refresh_token=row["encrypted_refresh_token"],
        instance_row_id=row["instance_row_id"],
        amc_instance_id=row["amc_instance_id"],
        amc_account_id=row["amc_account_id"],
    )


def _window_or_error(
    context: ScheduleContext, scheduled_at: datetime
) -> tuple[tuple[datetime, datetime] | None, str | None]:
    if context.workflow_id is None or context.sql_query is None:
        return None, f"schedule {context.schedule_id}: its workflow no longer exists"
    if context.amc_instance_id is None or context.amc_account_id is None:
        return None, (
            f"workflow {context.workflow_id} of schedule {context.schedule_id} has no AMC "
            "instance with an account"
        )
    try:
        return run_window(cadence_of(context.timing), scheduled_at, context.lookback_days), None
    except (ScheduleDefinitionError, ValueError) as exc:
        return None, str(exc)


@dataclass(frozen=True)
class TakenClaim:
    """A claim this run now serves, and the schedule run recording it."""

    ref: ClaimRef
    schedule_run_id: uuid.UUID
    context: ScheduleContext
    scheduled_at: datetime
    started_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    #: RUNNING: to execute. SKIPPED or FAILED: already recorded as ended.
    status: str
    message: str
    #: True when the schedule run existed already (an earlier run of this tick died).
    resumed: bool


def take_claim(
    conn: psycopg.Connection, ref: ClaimRef, dagster_run_id: str, now: datetime
) -> TakenClaim | None:
    """Take a claim for run `dagster_run_id`; None when it is not this run's to take.

    A claim is taken when it still waits (CLAIMED) at the attempt the run names, or is already
    held by this very run. The schedule run is created RUNNING, or SKIPPED when the schedule
    was paused meanwhile, or FAILED when it can no longer run (e.g. its workflow is gone).
    """
    now = to_utc(now, "now")
    with conn.transaction():
        claim = conn.execute(load("lock_claim"), {"claim_id": ref.claim_id}).fetchone()
        if claim is None:
            return None
        schedule_id, scheduled_at, attempt, status, holder, schedule_run_id = claim
        if attempt != ref.attempt:
            return None
        if not (status == "CLAIMED" or (status == "RUNNING" and holder == dagster_run_id)):
            return None
        context = load_schedule_context(conn, schedule_id)
        if schedule_run_id is not None:
            return _resume(conn, ref, context, scheduled_at, schedule_run_id, dagster_run_id)
        window, error = _window_or_error(context, scheduled_at)
        if not context.is_active:
            run_status, message = "SKIPPED", PAUSED_BEFORE_START
        elif error is not None:
            run_status, message = "FAILED", error
        else:
            run_status, message = "RUNNING", ""
        row = conn.execute(
            load("insert_schedule_run"),
            {
                "schedule_id": schedule_id,
                "status": run_status,
                "scheduled_at": scheduled_at,
                "started_at": now,
                "dagster_run_id": dagster_run_id,
                "window_start": window[0] if window else None,
                "window_end": window[1] if window else None,
                "error_message": message or None,
            },
        ).fetchone()
        assert row is not None
        new_run_id: uuid.UUID = row[0]
        conn.execute(
            load("take_claim"),
            {
                "claim_id": ref.claim_id,
                "status": run_status,
                "dagster_run_id": dagster_run_id,
                "schedule_run_id": new_run_id,
            },
        )
        if run_status == "SKIPPED":
            conn.execute(load("record_skipped_run"), {"schedule_id": schedule_id})
        elif run_status == "FAILED":
            _record_outcome(conn, schedule_id, "FAILED", now, now)
    return TakenClaim(
        ref=ref,
        schedule_run_id=new_run_id,
        context=context,
        scheduled_at=scheduled_at,
        started_at=now,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        status=run_status,
        message=message,
        resumed=False,
    )


def _resume(
    conn: psycopg.Connection,
    ref: ClaimRef,
    context: ScheduleContext,
    scheduled_at: datetime,
    schedule_run_id: uuid.UUID,
    dagster_run_id: str,
) -> TakenClaim | None:
    state = conn.execute(
        load("schedule_run_state"), {"schedule_run_id": schedule_run_id}
    ).fetchone()
    assert state is not None  # the claim's foreign key
    run_status, started_at, window_start, window_end = state
    if run_status != "RUNNING":
        # The run had ended before its process died; the claim only missed the news.
        conn.execute(
            load("finish_claims_of_run"),
            {"schedule_run_id": schedule_run_id, "status": run_status},
        )
        return None
    conn.execute(
        load("resume_schedule_run"),
        {"schedule_run_id": schedule_run_id, "dagster_run_id": dagster_run_id},
    )
    conn.execute(
        load("take_claim"),
        {
            "claim_id": ref.claim_id,
            "status": "RUNNING",
            "dagster_run_id": dagster_run_id,
            "schedule_run_id": schedule_run_id,
        },
    )
    return TakenClaim(
        ref=ref,
        schedule_run_id=schedule_run_id,
        context=context,
        scheduled_at=scheduled_at,
        started_at=started_at,
        window_start=window_start,
        window_end=window_end,
        status="RUNNING",
        message="",
        resumed=True,
    )


@dataclass(frozen=True)
class RunEnd:
    """How a schedule run ended, as recorded."""

    status: str
    recorded: bool
    auto_paused: bool = False


def finish_schedule_run(
    conn: psycopg.Connection,
    schedule_run_id: uuid.UUID,
    status: str,
    now: datetime,
    *,
    error: str | None = None,
    execution_id: uuid.UUID | None = None,
    result_location: str | None = None,
) -> RunEnd:
    """End a RUNNING schedule run as SUCCESS or FAILED, with the schedule's counters.

    Call inside the transaction that writes the run's result, so that both are seen together.
    A run that already ended is left as it was (`recorded` False).
    """
    if status not in ("SUCCESS", "FAILED"):
        raise ValueError(f"schedule run status {status!r}: expected 'SUCCESS' or 'FAILED'")
    now = to_utc(now, "now")
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                load("finish_schedule_run"),
                {
                    "schedule_run_id": schedule_run_id,
                    "status": status,
                    "error_message": error,
                    "execution_id": execution_id,
                    "result_location": result_location,
                    "now": now,
                },
            ).fetchone()
        if row is None:
            return RunEnd(status, recorded=False)
        schedule_id, started_at = row["schedule_id"], row["started_at"]
        conn.execute(
            load("finish_claims_of_run"), {"schedule_run_id": schedule_run_id, "status": status}
        )
        auto_paused = _record_outcome(conn, schedule_id, status, started_at, now)
    if auto_paused:
        log.warning("schedule %s paused after consecutive failures", schedule_id)
    return RunEnd(status, recorded=True, auto_paused=auto_paused)


def _record_outcome(
    conn: psycopg.Connection,
    schedule_id: uuid.UUID,
    status: str,
    started_at: datetime,
    now: datetime,
) -> bool:
    row = conn.execute(
        load("record_run_outcome"),
        {
            "schedule_id": schedule_id,
            "status": status,
            "started_at": started_at,
            "now": now,
            "default_threshold": DEFAULT_FAILURE_THRESHOLD,
        },
    ).fetchone()
    return bool(row and row[0])


def fail_unserved_claim(
    conn: psycopg.Connection, ref: ClaimRef, reason: str, now: datetime
) -> bool:
    """Record a claim no run could serve as a FAILED schedule run; False if it moved on."""
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            claim = cur.execute(load("lock_claim"), {"claim_id": ref.claim_id}).fetchone()
        if (
            claim is None
            or claim["attempt"] != ref.attempt
            or claim["status"] not in ("CLAIMED", "RUNNING")
        ):
            return False
        schedule_id, scheduled_at = claim["schedule_id"], claim["scheduled_at"]
        holder, schedule_run_id = claim["dagster_run_id"], claim["schedule_run_id"]
        if schedule_run_id is not None:
            finish_schedule_run(conn, schedule_run_id, "FAILED", now, error=reason)
            return True
        row = conn.execute(
            load("insert_schedule_run"),
            {
                "schedule_id": schedule_id,
                "status": "FAILED",
                "scheduled_at": scheduled_at,
                "started_at": to_utc(now, "now"),
                "dagster_run_id": holder,
                "window_start": None,
                "window_end": None,
                "error_message": reason,
            },
        ).fetchone()
        assert row is not None
        conn.execute(
            load("take_claim"),
            {
                "claim_id": ref.claim_id,
                "status": "FAILED",
                "dagster_run_id": holder,
                "schedule_run_id": row[0],
            },
        )
        _record_outcome(conn, schedule_id, "FAILED", now, now)
    return True


def link_execution(
    conn: psycopg.Connection, schedule_run_id: uuid.UUID, execution_id: uuid.UUID
) -> None:
    """Record the AMC attempt working on a schedule run."""
    conn.execute(
        load("link_schedule_execution"),
        {"execution_id": execution_id, "schedule_run_id": schedule_run_id},
    )
