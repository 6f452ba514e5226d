"""Workflow schedules as a user manages them: create, list, pause, resume, preview."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.scheduling import cadence as cadences
from recomamp_pipelines.scheduling.cadence import Cadence, to_utc
from recomamp_pipelines.scheduling.queries import load
from recomamp_pipelines.scheduling.timing import (
    ScheduleDefinitionError,
    ScheduleTiming,
    cadence_of,
    upcoming_runs,
)


class ScheduleInputError(ValueError):
    """A schedule cannot be created or changed as asked."""


@dataclass(frozen=True)
class CreatedSchedule:
    schedule_id: uuid.UUID
    next_run_at: datetime


def create_schedule(
    conn: psycopg.Connection,
    *,
    user_email: str,
    workflow: str,
    cadence: Cadence,
    now: datetime,
    name: str | None = None,
    description: str | None = None,
    lookback_days: int | None = None,
    parameters: Mapping[str, Any] | None = None,
    auto_pause_after: int | None = None,
) -> CreatedSchedule:
    """Schedule a user's workflow (by name or id); its first run is the cadence's next fire time.

    A cron whose day-of-month has a step (`*/14`) is refused: it restarts every month, and the
    message names the preset that does what was probably meant.
    """
    if cadence.kind == "cron" and cadence.cron_expression is not None:
        problem = cadences.day_of_month_step_problem(cadence.cron_expression)
        if problem is not None:
            raise ScheduleInputError(problem)
    if lookback_days is not None and lookback_days < 1:
        raise ScheduleInputError(f"lookback_days {lookback_days}: expected 1 or more")
    if auto_pause_after is not None and auto_pause_after < 1:
        raise ScheduleInputError(
            f"auto-pause after {auto_pause_after} failures: expected 1 or more"
        )
    try:
        workflow_id: uuid.UUID | None = uuid.UUID(workflow)
    except ValueError:
        workflow_id = None
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            load("find_owner_workflow"),
            {"email": user_email.strip().lower(), "workflow_id": workflow_id, "workflow": workflow},
        ).fetchall()
        if not rows:
            raise ScheduleInputError(f"no user with email {user_email!r}")
        found = [row for row in rows if row["workflow_id"] is not None]
        if not found:
            raise ScheduleInputError(f"user {user_email} has no workflow {workflow!r}")
        if len(found) > 1:
            raise ScheduleInputError(
                f"user {user_email} has {len(found)} workflows named {workflow!r}; "
                "give the workflow id instead"
            )
        (owner,) = found
        first = cadence.next_fire_time(to_utc(now, "now"))
        if first is None:
            raise ScheduleInputError("the cadence never fires")
        row = cur.execute(
            load("insert_schedule"),
            {
                "name": name or f"{owner['workflow_name']} ({_describe(cadence)})",
                "description": description,
                "workflow_id": owner["workflow_id"],
                "user_id": owner["user_id"],
                "schedule_type": cadence.kind,
                "cron_expression": cadence.cron_expression,
                "timezone": cadence.timezone,
                "interval_days": cadence.interval_days,
                "anchor_date": cadence.anchor_date,
                "time_of_day": cadence.time_of_day if cadence.kind == "interval" else None,
                "day_of_week": None,
                "day_of_month": None,
                "lookback_days": lookback_days,
                "parameters": Jsonb(dict(parameters or {})),
                "auto_pause_on_failure": auto_pause_after is not None,
                "failure_threshold": auto_pause_after,
                "next_run_at": first,
            },
        ).fetchone()
        assert row is not None
    return CreatedSchedule(row["id"], first)


def _describe(cadence: Cadence) -> str:
    if cadence.kind == "interval":
        return f"every {cadence.interval_days} days"
    return f"cron {cadence.cron_expression}"


@dataclass(frozen=True)
class ScheduleListing:
    """A schedule as `recomamp schedules list` shows it."""

    schedule_id: uuid.UUID
    name: str
    owner: str | None
    workflow_name: str | None
    timing: ScheduleTiming
    next_run_at: datetime
    is_active: bool
    last_run_at: datetime | None
    last_run_status: str | None
    total_runs: int
    successful_runs: int
    failed_runs: int
    consecutive_failures: int
    last_error: str | None
    has_workflow: bool


def list_schedules(
    conn: psycopg.Connection, user_email: str | None = None, *, active_only: bool = False
) -> list[ScheduleListing]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            load("list_schedules"),
            {
                "email": user_email.strip().lower() if user_email else None,
                "active_only": active_only,
            },
        ).fetchall()
    return [
        ScheduleListing(
            schedule_id=row["schedule_id"],
            name=row["name"],
            owner=row["owner"],
            workflow_name=row["workflow_name"],
            timing=ScheduleTiming.of_row(row),
            next_run_at=row["next_run_at"],
            is_active=bool(row["is_active"]),
            last_run_at=row["last_run_at"],
            last_run_status=row["last_run_status"],
            total_runs=row["total_runs"],
            successful_runs=row["successful_runs"],
            failed_runs=row["failed_runs"],
            consecutive_failures=row["consecutive_failures"],
            last_error=row["last_error"],
            has_workflow=bool(row["has_workflow"]),
        )
        for row in rows
    ]


def set_schedule_active(
    conn: psycopg.Connection, schedule_id: uuid.UUID, active: bool, now: datetime
) -> bool:
    """Pause or resume a schedule; returns whether it was active before.

    A resumed schedule starts again at its next fire time after `now`: ticks that fell in the
    pause are not run, and its count of consecutive failures starts from zero.
    """
    now = to_utc(now, "now")
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(load("lock_schedule_timing"), {"schedule_id": schedule_id}).fetchone()
        if row is None:
            raise ScheduleInputError(f"no schedule with id {schedule_id}")
        was_active = bool(row["is_active"])
        next_run_at = None
        if active:
            timing = ScheduleTiming.of_row(row, "id")
            try:
                next_run_at = cadence_of(timing).next_fire_time(now)
            except ScheduleDefinitionError as exc:
                raise ScheduleInputError(f"cannot resume: {exc}") from None
        conn.execute(
            load("set_schedule_active"),
            {
                "schedule_id": schedule_id,
                "is_active": active,
                "now": now,
                "next_run_at": next_run_at,
            },
        )
    return was_active


@dataclass(frozen=True)
class SchedulePreview:
    """The next run times of one active schedule, or why it cannot run."""

    schedule_id: uuid.UUID
    name: str
    timezone: str
    next_runs: list[datetime]
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "schedule_id": str(self.schedule_id),
            "name": self.name,
            "timezone": self.timezone,
            "next_runs": [moment.isoformat() for moment in self.next_runs],
            "error": self.error,
        }


def preview_schedules(
    conn: psycopg.Connection, after: datetime, count: int
) -> list[SchedulePreview]:
    """The next `count` run times after `after` of every active schedule, in its own zone.

    Computed by the sensor's own functions (cadence_of, upcoming_runs); rows the sensor would
    mark invalid carry the same error and no run time.
    """
    if count < 1:
        raise ScheduleInputError(f"count {count}: expected 1 or more")
    previews = []
    for listing in list_schedules(conn, active_only=True):
        timing = listing.timing
        try:
            if not listing.has_workflow:
                raise ScheduleDefinitionError(
                    f"schedule {listing.schedule_id}: its workflow no longer exists"
                )
            runs = upcoming_runs(cadence_of(timing), listing.next_run_at, after, count)
            error = None
        except ScheduleDefinitionError as exc:
            runs, error = [], str(exc)
        previews.append(
            SchedulePreview(listing.schedule_id, listing.name, timing.zone_name, runs, error)
        )
    return previews


def cadence_from_options(
    *,
    timezone: str,
    cron: str | None = None,
    preset_name: str | None = None,
    every_days: int | None = None,
    anchor: date | None = None,
    at: time | None = None,
    weekday: int | None = None,
    day_of_month: int | None = None,
) -> Cadence:
    """The cadence named by the command's options: a cron expression, a preset, or every N days."""
    options = (("cron", cron), ("preset", preset_name), ("every-days", every_days))
    chosen = [name for name, value in options if value is not None]
    if len(chosen) != 1:
        raise ScheduleInputError(
            "give exactly one of --cron, --preset or --every-days"
            + (f" (got {', '.join('--' + c for c in chosen)})" if chosen else "")
        )
    moment = at or cadences.MIDNIGHT
    if cron is not None:
        if at is not None or anchor is not None:
            raise ScheduleInputError("--at and --anchor do not apply to --cron")
        return Cadence.cron(cron, timezone)
    if every_days is not None:
        if anchor is None:
            raise ScheduleInputError("--every-days needs --anchor, the date of the first run")
        return cadences.every_n_days(every_days, anchor, timezone, moment)
    assert preset_name is not None
    if preset_name == "weekly" and weekday is not None:
        return cadences.weekly(timezone, moment, weekday)
    if preset_name == "monthly" and day_of_month is not None:
        return cadences.monthly(timezone, moment, day_of_month)
    if weekday is not None or day_of_month is not None:
        raise ScheduleInputError(
            "--weekday applies to --preset weekly, --day-of-month to --preset monthly"
        )
    return cadences.preset(preset_name, timezone=timezone, at=moment, anchor_date=anchor)


def user_timezone(conn: psycopg.Connection, user_email: str) -> str:
    """The user's own time zone (schedules default to it), UTC when unset."""
    row = conn.execute(
        "select coalesce(timezone, 'UTC') from users where email = %s",
        (user_email.strip().lower(),),
    ).fetchone()
    if row is None:
        raise ScheduleInputError(f"no user with email {user_email!r}")
    zone: str = row[0]
    return zone
