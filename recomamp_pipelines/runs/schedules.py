"""Scheduled runs end to end: take the claim, then one AMC attempt over the run's window.

A run takes a claimed tick (`runs.take_claim`), which records its `schedule_runs` row, and runs
one AMC attempt (`attempt.lifecycle`) whose target, `ScheduleRun`, renders the workflow over the
run's rolling window and records the schedule run's end with the schedule's counters: SUCCESS
in the transaction that publishes the result, or FAILED with the reason (AMC's own text when
AMC failed it). A run that takes over a tick whose earlier run died adopts its attempt.

One Dagster run serves many schedule runs: `ScheduleRunner.run_claims` runs them side by side,
so their AMC executions are polled together (AMC's per-instance slots bound what is in flight).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from recomamp_pipelines.amc.models import AmcExecution
from recomamp_pipelines.attempt.concurrency import RunsAttempts, run_side_by_side
from recomamp_pipelines.attempt.executions import AttemptKey, AttemptOwner
from recomamp_pipelines.attempt.lifecycle import AttemptEnd
from recomamp_pipelines.attempt.owner import AmcOwner
from recomamp_pipelines.attempt.request import AmcRequest, QuerySource, render_request
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.target import ResultTarget
from recomamp_pipelines.scheduling.claims import ClaimRef
from recomamp_pipelines.scheduling.runs import (
    RunEnd,
    TakenClaim,
    finish_schedule_run,
    link_execution,
    take_claim,
)
from recomamp_pipelines.templates.catalog import template_parameters
from recomamp_pipelines.templates.render import RenderError

NOT_TAKEN = "NOT_TAKEN"


@dataclass(frozen=True)
class ScheduleRunOutcome:
    """How one claimed tick ended in this run."""

    ref: ClaimRef
    status: str
    message: str
    schedule_name: str | None = None
    schedule_run_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    amc_execution_id: str | None = None
    row_count: int | None = None
    results_table: str | None = None
    parquet_path: str | None = None
    resumed: bool = False
    auto_paused: bool = False


@dataclass
class ScheduleRun:
    """A schedule run (a taken claim) as the target of an AMC attempt."""

    taken: TakenClaim
    week_start_day: int
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: The schedule run's end as recorded, once the attempt ended it.
    end: RunEnd | None = None

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(schedule_run_id=self.taken.schedule_run_id)

    @property
    def owner(self) -> AmcOwner:
        return AmcOwner.of(self.taken.context)

    @property
    def attempt_owner(self) -> AttemptOwner:
        context = self.taken.context
        assert context.workflow_id is not None and context.instance_row_id is not None
        return AttemptOwner(context.workflow_id, context.user_id, context.instance_row_id)

    def describe(self) -> str:
        return f"schedule run {self.taken.schedule_run_id} of {self.taken.context.name!r}"

    def _window(self) -> tuple[datetime, datetime]:
        if self.taken.window_start is None or self.taken.window_end is None:
            raise RenderError(f"schedule run {self.taken.schedule_run_id} has no window")
        return self.taken.window_start, self.taken.window_end

    def request(self, conn: psycopg.Connection, now: datetime) -> AmcRequest:
        context = self.taken.context
        assert context.sql_query is not None
        start, end = self._window()
        definitions = template_parameters(conn, context.template_id) if context.template_id else ()
        return render_request(
            conn,
            QuerySource(
                context.sql_query, definitions, context.workflow_parameters, [context.parameters]
            ),
            start=start,
            end=end,
            timezone=context.timezone,
            now=now,
            week_start_day=self.week_start_day,
            what=f"window {start} .. {end}",
        )

    def result_target(self) -> ResultTarget:
        context = self.taken.context
        assert context.workflow_id is not None
        start, end = self._window()
        return ResultTarget(
            workflow_id=context.workflow_id,
            user_id=context.user_id,
            source_kind="schedule",
            source_id=self.taken.schedule_run_id,
            window_start=start,
            window_end=end,
            week_start_date=None,
        )

    def previous_weeks_stats(self, conn: psycopg.Connection) -> Sequence[Mapping[str, Any]]:
        return ()

    def started(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, amc_execution_id: str | None
    ) -> None:
        link_execution(conn, self.taken.schedule_run_id, execution_id)

    def publish(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        week: LoadedWeek,
    ) -> None:
        self.end = finish_schedule_run(
            conn,
            self.taken.schedule_run_id,
            "SUCCESS",
            self.now(),
            execution_id=execution_id,
            result_location=week.results_table,
        )

    def fail(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID | None,
        reason: str,
        amc_execution_id: str | None,
    ) -> bool:
        self.end = finish_schedule_run(
            conn,
            self.taken.schedule_run_id,
            "FAILED",
            self.now(),
            error=reason,
            execution_id=execution_id,
        )
        return False


@dataclass(kw_only=True)
class ScheduleRunner(RunsAttempts):
    """Runs the claimed ticks of one Dagster run."""

    dagster_run_id: str

    def run_claims(self, refs: Iterable[ClaimRef]) -> Iterator[ScheduleRunOutcome]:
        """Serve claims concurrently; yield each outcome as it ends."""
        side_by_side = run_side_by_side(self.attempts, refs, self.run_claim)
        try:
            for future, _ in side_by_side:
                yield future.result()
        finally:
            side_by_side.close()

    def run_claim(self, ref: ClaimRef) -> ScheduleRunOutcome:
        """Serve one claimed tick; every failure is recorded and returned, never raised."""
        with self.sessions.connection() as conn:
            taken = take_claim(conn, ref, self.dagster_run_id, self.now())
        if taken is None:
            return ScheduleRunOutcome(
                ref, NOT_TAKEN, "served by another run, or handed to a newer attempt"
            )
        if taken.status != "RUNNING":
            return self._outcome(taken, taken.status, taken.message)
        target = ScheduleRun(taken, self.settings.week_start_day, self.now)
        attempt = self.attempts.run(target)
        published = attempt.published
        if attempt.end is AttemptEnd.PUBLISHED and published is not None:
            return self._outcome(
                taken,
                "SUCCESS",
                f"published {published.row_count} rows to {published.results_table}",
                end=target.end,
                execution_id=attempt.execution_id,
                amc_execution_id=attempt.amc_execution_id,
                row_count=published.row_count,
                results_table=published.results_table,
                parquet_path=str(published.parquet_path),
            )
        return self._outcome(
            taken,
            "FAILED",
            attempt.message,
            end=target.end,
            execution_id=attempt.execution_id,
            amc_execution_id=attempt.amc_execution_id,
        )

    def _outcome(
        self,
        taken: TakenClaim,
        status: str,
        message: str,
        *,
        end: RunEnd | None = None,
        **details: Any,
    ) -> ScheduleRunOutcome:
        return ScheduleRunOutcome(
            ref=taken.ref,
            status=status,
            message=message,
            schedule_name=taken.context.name,
            schedule_run_id=taken.schedule_run_id,
            resumed=taken.resumed,
            auto_paused=bool(end and end.auto_paused),
            **details,
        )
