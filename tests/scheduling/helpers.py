"""Schedule rows for tests: an owner with an AMC instance and a workflow, and schedules of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Owner:
    user_id: uuid.UUID
    email: str
    instance_id: uuid.UUID
    workflow_id: uuid.UUID


def only_row(cursor: psycopg.Cursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The row a statement returned; it must return one."""
    row = cursor.fetchone()
    assert row is not None
    return row


def add_owner(conn: psycopg.Connection, email: str = "sam.scheduler@example.com") -> Owner:
    (user_id,) = only_row(
        conn.execute(
            "insert into users (email, timezone) values (%s, 'America/New_York') returning id",
            (email,),
        )
    )
    (account_id,) = only_row(
        conn.execute(
            "insert into amc_accounts (account_id, account_name) "
            "values (%s, 'account') returning id",
            (f"ENTITY{uuid.uuid4().hex[:10].upper()}",),
        )
    )
    (instance_id,) = only_row(
        conn.execute(
            "insert into amc_instances (instance_id, name, user_id, account_id) "
            "values (%s, 'instance', %s, %s) returning id",
            (f"amc{uuid.uuid4().hex[:8]}", user_id, account_id),
        )
    )
    (workflow_id,) = only_row(
        conn.execute(
            "insert into workflows (name, sql_query, user_id, instance_id) "
            "values ('Weekly report', 'select 1', %s, %s) returning id",
            (user_id, instance_id),
        )
    )
    return Owner(user_id, email, instance_id, workflow_id)


def add_schedule(
    conn: psycopg.Connection,
    owner: Owner,
    *,
    next_run_at: datetime,
    cron: str | None = "0 6 * * *",
    timezone: str = "UTC",
    interval_days: int | None = None,
    anchor_date: date | None = None,
    time_of_day: time | None = None,
    name: str | None = None,
    is_active: bool = True,
    workflow_id: uuid.UUID | None = None,
    **columns: Any,
) -> uuid.UUID:
    """Insert a schedule row as stored, without validating it (bad rows are test cases)."""
    values: dict[str, Any] = {
        "name": name or f"schedule {uuid.uuid4().hex[:6]}",
        "workflow_id": workflow_id or owner.workflow_id,
        "user_id": owner.user_id,
        "schedule_type": "interval" if interval_days else "cron",
        "cron_expression": None if interval_days else cron,
        "timezone": timezone,
        "interval_days": interval_days,
        "anchor_date": anchor_date,
        "time_of_day": time_of_day,
        "next_run_at": next_run_at,
        "is_active": is_active,
        **columns,
    }
    values = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in values.items()}
    query = sql.SQL("insert into workflow_schedules ({}) values ({}) returning id").format(
        sql.SQL(", ").join(sql.Identifier(key) for key in values),
        sql.SQL(", ").join(sql.Placeholder(key) for key in values),
    )
    (schedule_id,) = only_row(conn.execute(query, values))
    return schedule_id


def claims(conn: psycopg.Connection, schedule_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(scheduled_at, attempt, status, missed_ticks) of a schedule's claims, oldest first."""
    return conn.execute(
        "select scheduled_at, attempt, status, missed_ticks from schedule_tick_claims "
        "where schedule_id = %s order by scheduled_at",
        (schedule_id,),
    ).fetchall()


def schedule_row(conn: psycopg.Connection, schedule_id: uuid.UUID) -> dict[str, Any]:
    cur = conn.execute("select * from workflow_schedules where id = %s", (schedule_id,))
    row = cur.fetchone()
    assert row is not None and cur.description is not None
    return dict(zip([c.name for c in cur.description], row, strict=True))
