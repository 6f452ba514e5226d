"""Weeks of one collection: each an AMC attempt at a collection week, run side by side.

A week is held by the process that runs it (another run of the same week leaves it alone),
reused without any AMC call when it is already published with the same query and window (and
no refresh is asked for), and otherwise run as one attempt (`attempt.lifecycle`), whose target,
`CollectionWeek`, records the week's row: RUNNING with its attempt, SUCCESS with its result in
the publishing transaction, or FAILED with the reason (a week with a good result keeps it).
Attempts that a run which died left at the week are adopted, or closed when the week is reused.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.amc.models import AmcExecution
from recomamp_pipelines.attempt.concurrency import RunsAttempts, run_side_by_side
from recomamp_pipelines.attempt.executions import AttemptKey, AttemptOwner, whole_seconds
from recomamp_pipelines.attempt.lifecycle import (
    AttemptEnd,
    AttemptOutcome,
)
from recomamp_pipelines.attempt.owner import AmcOwner
from recomamp_pipelines.attempt.request import AmcRequest, QuerySource, render_request
from recomamp_pipelines.collections.context import CollectionContext
from recomamp_pipelines.collections.registration import ensure_week_row
from recomamp_pipelines.db.sessions import LockSessionError
from recomamp_pipelines.quality.outcomes import CheckOutcome
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.summary_stats import WeekSummary, collection_report_metadata
from recomamp_pipelines.results.target import ResultTarget
from recomamp_pipelines.runs.queries import load
from recomamp_pipelines.weeks.calendar import Week, amc_window, weeks_overlapping

log = logging.getLogger(__name__)

ORPHAN_CLOSED = (
    "left unfinished by a run that died; the week's published result (same query and window) "
    "is kept"
)


class OutcomeKind(StrEnum):
    """What happened to a week in a run, as the run summary names it."""

    REUSED = "reused"
    SUBMITTED = "submitted"
    RESUMED = "resumed"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class WeekOutcome:
    """The result of one week in one run."""

    week: Week
    kind: OutcomeKind
    message: str
    execution_id: uuid.UUID | None = None
    amc_execution_id: str | None = None
    amc_seconds: float | None = None
    amc_queue_seconds: float | None = None
    published: LoadedWeek | None = None
    summary_stats: dict[str, Any] | None = None
    checks: tuple[CheckOutcome, ...] = ()
    preview: list[dict[str, Any]] = field(default_factory=list)
    kept_previous_result: bool = False

    @property
    def succeeded(self) -> bool:
        return self.kind in (OutcomeKind.SUBMITTED, OutcomeKind.RESUMED, OutcomeKind.REUSED) and (
            not self.kept_previous_result
        )

    @classmethod
    def of_attempt(cls, week: Week, attempt: AttemptOutcome) -> WeekOutcome:
        if attempt.end is AttemptEnd.PUBLISHED:
            kind = OutcomeKind.RESUMED if attempt.resumed else OutcomeKind.SUBMITTED
        else:
            kind = OutcomeKind.FAILED
        published = attempt.published
        return cls(
            week,
            kind,
            attempt.message,
            execution_id=attempt.execution_id,
            amc_execution_id=attempt.amc_execution_id,
            amc_seconds=attempt.amc_seconds,
            amc_queue_seconds=attempt.amc_queue_seconds,
            published=published,
            summary_stats=dict(published.summary_stats) if published is not None else None,
            checks=attempt.checks,
            preview=attempt.preview,
            kept_previous_result=attempt.kept_previous_result,
        )


@dataclass(frozen=True)
class CollectionWeek:
    """One week of a collection as the target of an AMC attempt."""

    collection: CollectionContext
    week: Week
    week_start_day: int

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(
            collection_id=self.collection.collection_id, week_start_date=self.week.start_date
        )

    @property
    def owner(self) -> AmcOwner:
        return AmcOwner.of(self.collection)

    @property
    def attempt_owner(self) -> AttemptOwner:
        c = self.collection
        return AttemptOwner(c.workflow_id, c.user_id, c.instance_row_id)

    def describe(self) -> str:
        return f"week {self.week.partition_key} of collection {self.collection.name!r}"

    def _row_key(self) -> dict[str, Any]:
        return {
            "collection_id": self.collection.collection_id,
            "week_start_date": self.week.start_date,
        }

    def request(self, conn: psycopg.Connection, now: datetime) -> AmcRequest:
        c = self.collection
        window = amc_window(self.week, c.timezone)
        return render_request(
            conn,
            QuerySource(
                c.sql_query, c.parameter_definitions, c.workflow_parameters, [c.parameters]
            ),
            start=window.start,
            end=window.end,
            timezone=c.timezone,
            now=now,
            week_start_day=self.week_start_day,
            what=f"week {self.week.partition_key}",
        )

    def result_target(self) -> ResultTarget:
        # The week's own window, whatever AMC echoes back.
        window = amc_window(self.week, self.collection.timezone)
        return ResultTarget(
            workflow_id=self.collection.workflow_id,
            user_id=self.collection.user_id,
            source_kind="collection",
            source_id=self.collection.collection_id,
            window_start=window.start,
            window_end=window.end,
            week_start_date=self.week.start_date,
        )

    def previous_weeks_stats(self, conn: psycopg.Connection) -> Sequence[Mapping[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(load("previous_weeks_stats"), self._row_key()).fetchall()
        return [row["summary_stats"] for row in reversed(rows)]

    def started(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, amc_execution_id: str | None
    ) -> None:
        conn.execute(
            load("mark_week_running"),
            {**self._row_key(), "execution_id": execution_id, "amc_execution_id": amc_execution_id},
        )

    def publish(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        week: LoadedWeek,
    ) -> None:
        conn.execute(
            load("publish_week_row"),
            {
                **self._row_key(),
                "execution_id": execution_id,
                "amc_execution_id": execution.workflow_execution_id,
                "result_rows": week.row_count,
                "result_size_bytes": week.csv_bytes,
                "execution_duration": whole_seconds(execution.execution_time),
                "summary_stats": Jsonb(week.summary_stats),
                "data_checksum": week.checksum,
                "result_location": week.results_table,
            },
        )

    def fail(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID | None,
        reason: str,
        amc_execution_id: str | None,
    ) -> bool:
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                load("fail_week_row"),
                {**self._row_key(), "error_message": reason, "amc_execution_id": amc_execution_id},
            ).fetchone()
        return row is not None and row["status"] == "SUCCESS"


@dataclass(kw_only=True)
class WeekRunner(RunsAttempts):
    """Runs weeks of one collection; shared by the weeks of one Dagster run.

    The AMC client is made on first need, so that a run that only reuses results needs no key
    and no credentials.
    """

    collection: CollectionContext
    refresh: bool = False

    def target(self, week: Week) -> CollectionWeek:
        return CollectionWeek(self.collection, week, self.settings.week_start_day)

    def request_for(self, week: Week, conn: psycopg.Connection) -> AmcRequest:
        return self.target(week).request(conn, self.now())

    # --- the week -----------------------------------------------------------------------------

    def run_week(self, week: Week) -> WeekOutcome:
        """Run one week; never raises: every failure is recorded and returned as an outcome."""
        refusal = self.collection.refusal(
            week, now=self.now(), week_start_day=self.settings.week_start_day
        )
        if refusal:
            return WeekOutcome(week, OutcomeKind.REFUSED, refusal)
        lock_key = self.week_lock_key(week)
        try:
            if not self.sessions.hold(lock_key):
                return WeekOutcome(week, OutcomeKind.REFUSED, self._held_elsewhere(week))
        except (psycopg.Error, LockSessionError) as exc:
            return WeekOutcome(
                week, OutcomeKind.FAILED, f"the database could not be reached to hold it: {exc}"
            )
        try:
            return self._run_held_week(week)
        except psycopg.Error as exc:
            # The database went away (or no pooled connection came) between the attempt's steps;
            # the week is run again later.
            log.warning("%s: %s", self.target(week).describe(), exc)
            return WeekOutcome(week, OutcomeKind.FAILED, f"the database failed: {exc}")
        finally:
            self.sessions.let_go(lock_key)

    def week_lock_key(self, week: Week) -> str:
        """The advisory lock held by the process that runs the week (see weeks_to_retry.sql)."""
        return f"recomamp-week:{self.collection.collection_id}:{week.start_date.isoformat()}"

    def _run_held_week(self, week: Week) -> WeekOutcome:
        target = self.target(week)
        with self.sessions.connection() as conn:
            self._ensure_week_row(conn, week)
            try:
                request: AmcRequest | None = target.request(conn, self.now())
            except ValueError:
                request = None  # the attempt renders it again and records why it cannot
            reused = False
            if request is not None and not self.refresh:
                with conn.transaction():
                    reused = self._published_as(conn, target, request)
                    if reused:
                        self._record_reuse(conn, target, request)
            if reused:
                closed = self.attempts.close_orphans(conn, target, ORPHAN_CLOSED)
                message = "already published with the same query and window"
                if closed:
                    message += f"; {closed} unfinished attempt(s) of a run that died closed"
                return WeekOutcome(week, OutcomeKind.REUSED, message)
        return WeekOutcome.of_attempt(week, self.attempts.run(target, request))

    def _published_as(
        self, conn: psycopg.Connection, target: CollectionWeek, request: AmcRequest | None
    ) -> bool:
        """Whether the week's published result is of the request it would send now."""
        if request is None:
            return False
        with conn.cursor(row_factory=dict_row) as cur:
            state = cur.execute(load("week_state"), target._row_key()).fetchone()
        return (
            state is not None
            and state["week_status"] == "SUCCESS"
            and state["data_checksum"] is not None
            and state["published_request_hash"] == request.request_hash
        )

    def _record_reuse(
        self, conn: psycopg.Connection, target: CollectionWeek, request: AmcRequest
    ) -> None:
        """Record that the week keeps its published result, in the transaction deciding it."""
        conn.execute(
            load("record_week_reuse"),
            {
                **target._row_key(),
                "request_hash": request.request_hash,
                "dagster_run_id": self.dagster_run_id,
            },
        )

    def _held_elsewhere(self, week: Week) -> str:
        """Which run holds the week that this run found held."""
        with self.sessions.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            holder = cur.execute(
                load("week_run_in_flight"),
                {
                    "collection_id": self.collection.collection_id,
                    "week_start_date": week.start_date,
                },
            ).fetchone()
        run_id = holder["dagster_run_id"] if holder is not None else None
        run = f" (Dagster run {run_id})" if run_id else ""
        return (
            f"week {week.partition_key} of collection {self.collection.name!r} is being run by "
            f"another run{run}; left to it"
        )

    def _ensure_week_row(self, conn: psycopg.Connection, week: Week) -> None:
        weeks = self.collection.weeks(self.settings.week_start_day)
        number = weeks.index(week) + 1 if week in weeks else None
        ensure_week_row(conn, self.collection.collection_id, week, number)

    # --- the collection -----------------------------------------------------------------------

    def run_weeks(self, weeks: Iterable[Week]) -> Iterator[WeekOutcome]:
        """Run weeks concurrently (AMC's slots bound what is in flight); yield as each ends."""
        went_past_refusal = False
        side_by_side = run_side_by_side(self.attempts, weeks, self.run_week)
        try:
            for future, _ in side_by_side:
                outcome = future.result()
                went_past_refusal = went_past_refusal or outcome.kind is not OutcomeKind.REFUSED
                yield outcome
        except BaseException:
            # Left early (the run was cancelled): the weeks in flight record it as they stop.
            went_past_refusal = True
            raise
        finally:
            side_by_side.close()
            # A run whose every week was refused leaves the collection as it found it.
            if went_past_refusal:
                self.update_collection()

    def update_collection(self) -> None:
        """Recompute the collection's report_metadata and, when it is done, complete it."""
        with self.sessions.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                load("collection_weeks"), {"collection_id": self.collection.collection_id}
            ).fetchall()
            expected = {
                week.start_date
                for week in weeks_overlapping(
                    self.collection.start_date,
                    self.collection.end_date,
                    self.settings.week_start_day,
                )
            }
            published = [row for row in rows if row["status"] == "SUCCESS"]
            metadata = collection_report_metadata(
                WeekSummary(row["week_start_date"], row["summary_stats"])
                for row in published
                if row["summary_stats"]
            )
            cur.execute(
                load("update_collection_report"),
                {
                    "collection_id": self.collection.collection_id,
                    "report_metadata": Jsonb(metadata),
                    "all_weeks_succeeded": expected
                    <= {row["week_start_date"] for row in published},
                    "today": self.now().date(),
                },
            )


def weeks_to_retry(conn: psycopg.Connection, collection_id: uuid.UUID) -> set[date]:
    """The FAILED weeks of a collection and those whose attempt died."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("weeks_to_retry"), {"collection_id": collection_id}).fetchall()
    return {row["week_start_date"] for row in rows}
