"""`recomamp collections` and `recomamp backfill`: report data collections and their weeks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recomamp_pipelines.cli.common import (
    JSON_OPTION,
    WIDE_OPTION,
    fail,
    print_rows,
    settings,
    user_errors,
)
from recomamp_pipelines.collections.management import (
    CollectionInputError,
    create_collection,
    list_collections,
    set_collection_status,
)
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.db.listing import collection_weeks
from recomamp_pipelines.weeks.calendar import WeekCalendarError

if TYPE_CHECKING:
    from recomamp_pipelines.defs.collections.launch import BackfillReport

app = typer.Typer(help="Report data collections: a workflow run for every week of a range.")
console = Console()


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected a date as YYYY-MM-DD")


def _collection_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"collection id {value!r}: expected a UUID (see `recomamp collections list`)")


@app.command()
def create(
    user: str = typer.Option(..., "--user", help="Owner's email."),
    workflow: str = typer.Option(..., "--workflow", help="The owner's workflow: name or id."),
    start: str = typer.Option(..., "--from", help="First day of the range (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last day of the range (YYYY-MM-DD)."),
    name: str | None = typer.Option(None, "--name", help="Collection name."),
) -> None:
    """Create a collection: the workflow run for every week overlapping the range."""
    first, last = _date(start, "--from"), _date(end, "--to")
    assert first is not None and last is not None
    config = settings()
    with user_errors(), connect(database_url(config), autocommit=True) as conn:
        try:
            collection_id = create_collection(
                conn,
                user_email=user,
                workflow=workflow,
                start_date=first,
                end_date=last,
                name=name,
            )
        except (CollectionInputError, WeekCalendarError) as exc:
            fail(str(exc))
    typer.echo(f"Created collection {collection_id}.")


@app.command("list")
def list_command(
    user: str | None = typer.Option(None, "--user", help="Only this user's collections."),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """List collections with their progress."""
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        rows = [
            {
                "collection_id": row.collection_id,
                "name": row.name,
                "owner": row.owner,
                "start_date": row.start_date,
                "end_date": row.end_date,
                "status": row.status,
                "completed_weeks": row.completed_weeks,
                "failed_weeks": row.failed_weeks,
                "total_weeks": row.total_weeks,
                "progress_percentage": row.progress_percentage,
                "range": f"{row.start_date} .. {row.end_date}",
                "weeks": f"{row.completed_weeks}/{row.total_weeks} ok, {row.failed_weeks} failed",
                "progress": f"{row.progress_percentage:.0f}%",
            }
            for row in list_collections(conn, user)
        ]
    columns = [
        ("collection_id", "id"),
        ("name", "name"),
        ("owner", "owner"),
        ("range", "range"),
        ("status", "status"),
        ("weeks", "weeks"),
        ("progress", "progress"),
    ]
    print_rows(rows, columns, as_json=as_json, wide=wide, empty="no collections yet")


@app.command()
def show(
    collection: str = typer.Argument(..., help="Collection id."),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Every week of a collection: status, rows, AMC execution id and error."""
    collection_id = _collection_id(collection)
    with user_errors(), connect(database_url(settings())) as conn:
        weeks = collection_weeks(conn, collection_id)
    if not weeks:
        fail(f"collection {collection}: no such collection, or it has no week yet")
    columns = [
        ("week_start_date", "week"),
        ("status", "status"),
        ("result_rows", "rows"),
        ("amc_execution_id", "AMC execution"),
        ("error_message", "error"),
    ]
    print_rows(weeks, columns, as_json=as_json, wide=wide, title=f"Collection {collection}")


def _set_status(collection: str, status: str) -> None:
    config = settings()
    with user_errors(), connect(database_url(config), autocommit=True) as conn:
        try:
            old = set_collection_status(conn, _collection_id(collection), status)
        except CollectionInputError as exc:
            fail(str(exc))
    typer.echo(f"Collection {collection}: {old} -> {status}.")


@app.command()
def pause(collection: str = typer.Argument(..., help="Collection id.")) -> None:
    """Pause a collection: its weeks are refused until it is resumed."""
    _set_status(collection, "PAUSED")


@app.command()
def resume(collection: str = typer.Argument(..., help="Collection id.")) -> None:
    """Resume a paused collection."""
    _set_status(collection, "ACTIVE")


def print_report(report: BackfillReport) -> None:
    table = Table("week", "outcome", "details", title=f"Collection {report.collection.name}")
    colours = {"failed": "red", "refused": "yellow", "reused": "cyan"}
    for week in report.weeks:
        colour = colours.get(week.outcome, "green")
        table.add_row(
            week.week_start_date.isoformat(), f"[{colour}]{week.outcome}[/{colour}]", week.message
        )
    console.print(table)
    counts: dict[str, int] = {}
    for week in report.weeks:
        counts[week.outcome] = counts.get(week.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    runs = "runs" if report.run_id and "," in report.run_id else "run"
    run = f" (Dagster {runs} {report.run_id})" if report.run_id else ""
    console.print(f"{len(report.weeks)} week(s): {summary}{run}")


def _weeks_progress() -> Progress:
    """The weeks done out of the run's, one bar per collection; gone once the command ends."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _failed(report: BackfillReport) -> bool:
    return any(week.outcome == "failed" for week in report.weeks) or not report.succeeded


def backfill_command(
    collection: str,
    start: str | None,
    end: str | None,
    refresh: bool,
    only_failed: bool = False,
) -> None:
    # Dagster loads only for the commands that run it.
    from recomamp_pipelines.defs.collections.launch import BackfillRequestError, run_backfill

    config = settings()
    first, last = _date(start, "--from"), _date(end, "--to")
    with user_errors(), _weeks_progress() as progress:
        task = progress.add_task("weeks", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = run_backfill(
                config,
                collection,
                first=first,
                last=last,
                refresh=refresh,
                only_failed=only_failed,
                on_progress=on_progress,
            )
        except BackfillRequestError as exc:
            fail(str(exc))
    print_report(report)
    if _failed(report):
        raise typer.Exit(1)


@app.command("retry-failed")
def retry_failed(collection: str = typer.Argument(..., help="Collection id.")) -> None:
    """Run the collection's FAILED weeks again, and those whose run died; no other week."""
    backfill_command(str(_collection_id(collection)), None, None, False, only_failed=True)


COLLECTIONS_OPTION = typer.Option(
    ...,
    "--collection",
    help="Collection id or partition key; repeat it to backfill several at once.",
)


def backfill(
    collections: list[str] = COLLECTIONS_OPTION,
    start: str | None = typer.Option(None, "--from", help="First week to include (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--to", help="Last week to include (YYYY-MM-DD)."),
    refresh: bool = typer.Option(
        False, "--refresh", help="Run weeks again even when their result is up to date."
    ),
) -> None:
    """Backfill collections' weeks through Dagster, without the daemon.

    Weeks already published with the same query and window are reused (no AMC call) unless
    --refresh is given. Ends with a summary naming every week's outcome. Several collections
    run at once, each in a process of its own (AMC's limits still bound what is in flight).
    """
    if len(collections) == 1:
        backfill_command(collections[0], start, end, refresh)
    else:
        backfills_command(collections, start, end, refresh)


def backfills_command(
    references: list[str], start: str | None, end: str | None, refresh: bool
) -> None:
    from recomamp_pipelines.defs.collections.launch import BackfillRequestError, run_backfills

    config = settings()
    first, last = _date(start, "--from"), _date(end, "--to")
    with user_errors(), _weeks_progress() as progress:
        tasks = {ref: progress.add_task(ref, total=None) for ref in references}

        def on_progress(reference: str, done: int, total: int) -> None:
            progress.update(tasks[reference], completed=done, total=total)

        try:
            outcomes = run_backfills(
                config,
                references,
                first=first,
                last=last,
                refresh=refresh,
                on_progress=on_progress,
            )
        except BackfillRequestError as exc:
            fail(str(exc))
    failed = 0
    for outcome in outcomes:
        if outcome.report is None:
            failed += 1
            typer.secho(
                f"error: collection {outcome.reference}: {outcome.error}", fg="red", err=True
            )
            continue
        print_report(outcome.report)
        if _failed(outcome.report):
            failed += 1
    console.print(
        f"{len(outcomes)} collection(s): {len(outcomes) - failed} succeeded, {failed} failed"
    )
    if failed:
        raise typer.Exit(1)
