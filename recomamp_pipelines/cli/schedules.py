"""`recomamp schedules`: workflows run on a cron or every-N-days cadence by the scheduler."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.scheduling.cadence import (
    PRESET_NAMES,
    CadenceError,
    day_of_month_step_problem,
    load_timezone,
)
from recomamp_pipelines.scheduling.manage import (
    ScheduleInputError,
    cadence_from_options,
    create_schedule,
    list_schedules,
    preview_schedules,
    set_schedule_active,
    user_timezone,
)

app = typer.Typer(
    help="Workflow schedules: cron or every-N-days runs over a rolling window.",
    no_args_is_help=True,
)
console = Console()


def _schedule_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"schedule id {value!r}: expected a UUID (see `recomamp schedules list`)")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected a date as YYYY-MM-DD")


def _time(value: str | None) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        fail(f"--at {value!r}: expected a local time as HH:MM")


def _instant(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--from {value!r}: expected an ISO 8601 date and time, e.g. 2025-03-09T00:00Z")
    if moment.utcoffset() is None:
        fail(
            f"--from {value!r} has no UTC offset; add one, e.g. {value}Z or {value}-05:00, "
            "so that it names one instant"
        )
    return moment


def _parameters(pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs; a value that reads as JSON (number, list, true...) is taken as such."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--param {pair!r}: expected NAME=VALUE")
        try:
            values[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[key.strip()] = text
    return values


@app.command()
def create(
    user: str = typer.Option(..., "--user", help="Owner's email."),
    workflow: str = typer.Option(..., "--workflow", help="The owner's workflow: name or id."),
    cron: str | None = typer.Option(
        None, "--cron", help="Cron expression, e.g. '0 6 * * 1' (06:00 local every Monday)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help=f"A named cadence: {', '.join(PRESET_NAMES)}."
    ),
    every_days: int | None = typer.Option(
        None, "--every-days", help="Every N days from --anchor (across month ends)."
    ),
    anchor: str | None = typer.Option(
        None, "--anchor", help="First run date (YYYY-MM-DD) of an every-N-days cadence."
    ),
    at: str | None = typer.Option(None, "--at", help="Local time of day of presets (HH:MM)."),
    weekday: int | None = typer.Option(
        None, "--weekday", help="For --preset weekly: 0=Monday .. 6=Sunday."
    ),
    day_of_month: int | None = typer.Option(
        None, "--day-of-month", help="For --preset monthly: 1-28."
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="IANA time zone of the cadence (default: the user's)."
    ),
    lookback_days: int | None = typer.Option(
        None, "--lookback-days", help="Days each run covers (default: the days between runs)."
    ),
    param: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [], "--param", help="NAME=VALUE overriding the workflow's parameter, repeatable."
    ),
    auto_pause_after: int | None = typer.Option(
        None, "--auto-pause-after", help="Pause the schedule after N consecutive failed runs."
    ),
    name: str | None = typer.Option(None, "--name", help="Schedule name."),
) -> None:
    """Schedule a workflow; each run reads a rolling window that ends before AMC's data lag."""
    config = settings()
    with user_errors(), connect(database_url(config), autocommit=True) as conn:
        try:
            zone = timezone or user_timezone(conn, user)
            cadence = cadence_from_options(
                timezone=zone,
                cron=cron,
                preset_name=preset,
                every_days=every_days,
                anchor=_date(anchor, "--anchor"),
                at=_time(at),
                weekday=weekday,
                day_of_month=day_of_month,
            )
            created = create_schedule(
                conn,
                user_email=user,
                workflow=workflow,
                cadence=cadence,
                now=datetime.now(UTC),
                name=name,
                lookback_days=lookback_days,
                parameters=_parameters(param),
                auto_pause_after=auto_pause_after,
            )
        except (ScheduleInputError, CadenceError) as exc:
            fail(as_typed(str(exc)))
    first = created.next_run_at.astimezone(cadence.zone)
    typer.echo(f"Created schedule {created.schedule_id}; first run {first.isoformat()}.")


#: The columns the scheduler's messages name, and the options a user types for them.
OPTION_OF_COLUMN = {
    "cron_expression": "--cron",
    "interval_days": "--every-days",
    "anchor_date": "--anchor",
}


def as_typed(message: str) -> str:
    """A scheduler message naming the options as the user typed them, not their columns."""
    for column, option in OPTION_OF_COLUMN.items():
        message = re.sub(rf"\b{column}\b", option, message)
    return message


@app.command("list")
def list_command(
    user: str | None = typer.Option(None, "--user", help="Only this user's schedules."),
) -> None:
    """List schedules with their cadence, next run, last run and counts."""
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        rows = list_schedules(conn, user)
    table = Table("id", "name", "owner", "cadence", "next run", "state", "last run", "runs")
    for row in rows:
        zone = row.timing.zone_name
        try:
            next_run = row.next_run_at.astimezone(load_timezone(zone)).strftime("%Y-%m-%d %H:%M %Z")
        except CadenceError:
            next_run = row.next_run_at.isoformat()
        state = "active" if row.is_active else "paused"
        if row.last_error:
            state = f"[red]invalid: {row.last_error}[/red]"
        table.add_row(
            str(row.schedule_id),
            row.name,
            row.owner or "",
            f"{row.timing.describe()} {zone}",
            next_run,
            state,
            row.last_run_status or "",
            f"{row.successful_runs} ok, {row.failed_runs} failed",
        )
    console.print(table)
    # Rows created before such crons were refused (or written by another client) are kept.
    for row in rows:
        if row.timing.schedule_type == "cron" and row.timing.cron_expression:
            problem = day_of_month_step_problem(row.timing.cron_expression)
            if problem is not None:
                typer.echo(f"warning: schedule {row.schedule_id} ({row.name}): {problem}", err=True)


def _set_active(schedule: str, active: bool) -> None:
    config = settings()
    with user_errors(), connect(database_url(config), autocommit=True) as conn:
        try:
            was_active = set_schedule_active(
                conn, _schedule_id(schedule), active, datetime.now(UTC)
            )
        except ScheduleInputError as exc:
            fail(str(exc))
    words = {True: "active", False: "paused"}
    typer.echo(f"Schedule {schedule}: {words[was_active]} -> {words[active]}.")


@app.command()
def pause(schedule: str = typer.Argument(..., help="Schedule id.")) -> None:
    """Pause a schedule: no new tick runs, and a queued run of it is skipped."""
    _set_active(schedule, False)


@app.command()
def resume(schedule: str = typer.Argument(..., help="Schedule id.")) -> None:
    """Resume a paused schedule from its next fire time (ticks of the pause are not run)."""
    _set_active(schedule, True)


@app.command()
def preview(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    start: str | None = typer.Option(
        None, "--from", help="ISO 8601 instant with a UTC offset (default: now)."
    ),
    count: int = typer.Option(5, "--count", min=1, help="Run times per schedule."),
) -> None:
    """The next run times of every active schedule, in its own time zone.

    Computed by the scheduler's own code; a schedule it cannot run is named with its error.
    """
    after = _instant(start)
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        try:
            previews = preview_schedules(conn, after, count)
        except ScheduleInputError as exc:
            fail(str(exc))
    if as_json:
        typer.echo(json.dumps([item.as_json() for item in previews], indent=2))
        return
    if not previews:
        typer.echo("no active schedule: nothing to preview (`recomamp schedules create` adds one)")
        return
    for item in previews:
        console.print(f"[bold]{item.name}[/bold] ({item.schedule_id}, {item.timezone})")
        if item.error:
            console.print(f"  [red]error: {item.error}[/red]")
        for moment in item.next_runs:
            console.print(f"  {moment.isoformat()}")
