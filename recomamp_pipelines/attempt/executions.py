"""Every write to `workflow_executions`: an attempt's intent, adoption, AMC's answers, its end.

One module, so that the life of an attempt row can be read in one place. Rows are read by
name (`AttemptRow`); every update of a live attempt is guarded by its status, so that an
attempt that has ended is never written again, whoever comes late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.amc.models import AmcExecution
from recomamp_pipelines.attempt.queries import load
from recomamp_pipelines.attempt.request import AmcRequest

LIVE_STATUSES = ("PENDING", "RUNNING")
#: Ends that leave AMC's verdict or result uncollected while AMC knows the execution: the next
#: attempt at the same request opens the attempt again and collects it without submitting.
REOPENABLE_ERRORS = ("DOWNLOAD_FAILED", "ABANDONED", "AMC_AUTH", "AMC_UNAVAILABLE")


@dataclass(frozen=True)
class AttemptKey:
    """What an attempt serves: one collection week, or one schedule run."""

    collection_id: uuid.UUID | None = None
    week_start_date: date | None = None
    schedule_run_id: uuid.UUID | None = None

    def params(self) -> dict[str, Any]:
        return {
            "collection_id": self.collection_id,
            "week_start_date": self.week_start_date,
            "schedule_run_id": self.schedule_run_id,
        }


@dataclass(frozen=True)
class AttemptRow:
    """An attempt's row as the attempt reads it."""

    id: uuid.UUID
    amc_execution_id: str | None
    sql_hash: str | None
    created_at: datetime
    status: str
    error_type: str | None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_reopenable(self) -> bool:
        return (
            self.status == "FAILED"
            and self.error_type in REOPENABLE_ERRORS
            and self.amc_execution_id is not None
        )


@dataclass(frozen=True)
class AttemptOwner:
    """Who the attempt's AMC execution is for: the workflow, its owner and AMC instance."""

    workflow_id: uuid.UUID
    user_id: uuid.UUID
    instance_row_id: uuid.UUID


def insert_intent(
    conn: psycopg.Connection,
    key: AttemptKey,
    owner: AttemptOwner,
    request: AmcRequest,
    dagster_run_id: str | None,
) -> AttemptRow:
    """The attempt's intent, committed before AMC is asked for anything."""
    with conn.cursor(row_factory=class_row(AttemptRow)) as cur:
        row = cur.execute(
            load("insert_intent"),
            {
                **key.params(),
                "workflow_id": owner.workflow_id,
                "user_id": owner.user_id,
                "instance_id": owner.instance_row_id,
                "sql_hash": request.request_hash,
                "amc_workflow_id": request.amc_workflow_id,
                "time_window_start": request.window.start,
                "time_window_end": request.window.end,
                "time_window_time_zone": request.window.time_zone,
                "parameter_values": Jsonb(request.rendered.parameter_values),
                "dagster_run_id": dagster_run_id,
            },
        ).fetchone()
    assert row is not None
    return row


def attempts_of(conn: psycopg.Connection, key: AttemptKey) -> list[AttemptRow]:
    """The unfinished attempts of `key` and its newest one, newest first."""
    with conn.cursor(row_factory=class_row(AttemptRow)) as cur:
        return cur.execute(load("attempts_of_target"), key.params()).fetchall()


def adopt(
    conn: psycopg.Connection, execution_id: uuid.UUID, dagster_run_id: str | None
) -> AttemptRow | None:
    """Take over a live attempt, or open again one that ended without AMC's verdict."""
    with conn.cursor(row_factory=class_row(AttemptRow)) as cur:
        return cur.execute(
            load("adopt_attempt"),
            {
                "execution_id": execution_id,
                "dagster_run_id": dagster_run_id,
                "reopenable": list(REOPENABLE_ERRORS),
            },
        ).fetchone()


def recorded_amc_executions(conn: psycopg.Connection, amc_execution_ids: Sequence[str]) -> set[str]:
    """Which of these AMC executions an attempt already recorded."""
    if not amc_execution_ids:
        return set()
    rows = conn.execute(
        load("recorded_amc_executions"), {"amc_execution_ids": list(amc_execution_ids)}
    ).fetchall()
    return {row[0] for row in rows}


def live_status(execution: AmcExecution) -> str:
    """The project status of an execution not yet collected (its end is recorded apart)."""
    return "RUNNING" if execution.is_terminal else str(execution.status)


def record_submission(
    conn: psycopg.Connection, execution_id: uuid.UUID, execution: AmcExecution
) -> None:
    conn.execute(
        load("record_submission"),
        {
            "execution_id": execution_id,
            "amc_execution_id": execution.workflow_execution_id,
            "amc_status": str(execution.amc_status),
            "status": live_status(execution),
        },
    )


def record_poll(
    conn: psycopg.Connection,
    execution_id: uuid.UUID,
    execution: AmcExecution,
    dagster_run_id: str | None,
) -> None:
    conn.execute(
        load("record_poll"),
        {
            "execution_id": execution_id,
            "amc_status": str(execution.amc_status),
            "status": live_status(execution),
            "dagster_run_id": dagster_run_id,
        },
    )


def heartbeat(conn: psycopg.Connection, execution_ids: Iterable[uuid.UUID]) -> None:
    conn.execute(load("heartbeat"), {"execution_ids": list(execution_ids)})


def whole_seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def end(
    conn: psycopg.Connection,
    execution_id: uuid.UUID,
    *,
    status: str,
    error_type: str | None = None,
    error: str | None = None,
    execution: AmcExecution | None = None,
    rows: int | None = None,
    size: int | None = None,
    preview: list[dict[str, Any]] | None = None,
    location: str | None = None,
) -> bool:
    """End a live attempt (its slot is freed with it); False when it had ended already."""
    row = conn.execute(
        load("end_attempt"),
        {
            "execution_id": execution_id,
            "status": status,
            "amc_status": str(execution.amc_status) if execution is not None else None,
            "error_type": error_type,
            "error_message": error,
            "result_rows": rows,
            "result_size_bytes": size,
            "result_data": Jsonb(preview) if preview is not None else None,
            "result_location": location,
            "execution_duration": whole_seconds(execution.execution_time) if execution else None,
        },
    ).fetchone()
    return row is not None


def status_of(conn: psycopg.Connection, execution_id: uuid.UUID) -> str | None:
    row = conn.execute(load("attempt_status"), {"execution_id": execution_id}).fetchone()
    return None if row is None else str(row[0])


def mark_lost(conn: psycopg.Connection, execution_id: uuid.UUID, reason: str) -> bool:
    """Record an attempt nobody can finish as FAILED (LOST); False when it had ended."""
    row = conn.execute(
        load("mark_attempt_lost"), {"execution_id": execution_id, "error_message": reason}
    ).fetchone()
    return row is not None


def lock_key(execution_id: uuid.UUID) -> str:
    """The advisory lock held by the process that works on the attempt, for as long as it does:
    a slot whose attempt no session holds has lost its process (reclaim_gone_slot_holders)."""
    return f"recomamp-attempt:{execution_id}"


def reclaim_gone_slot_holders(
    conn: psycopg.Connection, instance_row_id: uuid.UUID, silence: timedelta
) -> list[uuid.UUID]:
    """End the slot holders of an instance whose process is gone; their ids."""
    rows = conn.execute(
        load("reclaim_gone_slot_holders"),
        {"instance_id": instance_row_id, "silence": silence},
    ).fetchall()
    return [row[0] for row in rows]
