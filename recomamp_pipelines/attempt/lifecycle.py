"""The life of one AMC attempt, whoever it serves: a collection week or a schedule run.

Every step leaves PostgreSQL true if the process dies right after it: an intent row is
committed before AMC is asked for anything, AMC's execution id right after AMC answers, and the
result is published in one transaction together with the attempt's end and its target's row.
An attempt started again finds the intent and adopts it (looking the execution up in AMC when
its id never reached us) instead of submitting again.

One owner: `AttemptRunner.run` holds the attempt from its intent to its end, and every way out
of it (AMC's verdict, retries run out, the owner's grant refused, a download that keeps
failing, a cancelled run, a bug) ends the attempt in a terminal status, which frees its AMC
slot. What differs between a collection week and a schedule run is behind `AttemptTarget`.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import psycopg

from recomamp_pipelines.amc.client import InstanceClient, PollPolicy
from recomamp_pipelines.amc.errors import (
    AmcApiError,
    AmcAuthError,
    AmcDownloadError,
    AmcError,
    AmcNotFound,
    AmcRetryableError,
)
from recomamp_pipelines.amc.models import AmcExecution, ProjectStatus
from recomamp_pipelines.attempt import executions
from recomamp_pipelines.attempt.executions import AttemptKey, AttemptOwner, AttemptRow
from recomamp_pipelines.attempt.owner import AmcOwner, OwnerClients
from recomamp_pipelines.attempt.request import AmcRequest
from recomamp_pipelines.attempt.slots import HOLDER_SILENCE, release_slot, wait_for_slot
from recomamp_pipelines.db.sessions import Sessions
from recomamp_pipelines.quality.expectations import prepare_in_background
from recomamp_pipelines.quality.loaded_week import check_loaded_week
from recomamp_pipelines.quality.outcomes import CheckOutcome
from recomamp_pipelines.results.load import JsonValue, LoadedWeek, finish_load, load_into
from recomamp_pipelines.results.load import preview_rows as loaded_preview
from recomamp_pipelines.results.target import ResultTarget
from recomamp_pipelines.templates.render import RenderError

log = logging.getLogger(__name__)

#: Rows of a result kept in `workflow_executions.result_data`.
PREVIEW_ROWS = 20
CANCELLED_WAITING = "the run was cancelled while waiting for a free AMC slot"
CANCELLED_POLLING = "the run was cancelled; its AMC execution was cancelled"

Preview = list[dict[str, JsonValue]]


class AttemptCancelled(Exception):
    """The run was cancelled while the attempt waited for AMC."""


class AttemptEnd(StrEnum):
    """How an attempt ended in this run."""

    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AttemptOutcome:
    """The end of one attempt, as its target's run reports it."""

    end: AttemptEnd
    message: str
    resumed: bool = False
    execution_id: uuid.UUID | None = None
    amc_execution_id: str | None = None
    amc_seconds: float | None = None
    amc_queue_seconds: float | None = None
    published: LoadedWeek | None = None
    checks: tuple[CheckOutcome, ...] = ()
    preview: Preview = field(default_factory=list)
    kept_previous_result: bool = False

    @property
    def succeeded(self) -> bool:
        return self.end is AttemptEnd.PUBLISHED


class AttemptTarget(Protocol):
    """What an attempt serves, and how its own rows record the attempt's progress and end."""

    @property
    def key(self) -> AttemptKey: ...

    @property
    def owner(self) -> AmcOwner: ...

    @property
    def attempt_owner(self) -> AttemptOwner: ...

    def describe(self) -> str:
        """The target in words, for logs and messages."""
        ...

    def request(self, conn: psycopg.Connection, now: datetime) -> AmcRequest:
        """The rendered request; raises RenderError or ValueError when it cannot be rendered."""
        ...

    def result_target(self) -> ResultTarget:
        """Where the result's rows go."""
        ...

    def previous_weeks_stats(self, conn: psycopg.Connection) -> Sequence[Mapping[str, Any]]:
        """The summary_stats the result is compared with (trailing weeks), newest last."""
        ...

    def started(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, amc_execution_id: str | None
    ) -> None:
        """The attempt works on the target (called at its intent, then with AMC's id)."""
        ...

    def publish(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        week: LoadedWeek,
    ) -> None:
        """Record the published result, inside the transaction that publishes it."""
        ...

    def fail(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID | None,
        reason: str,
        amc_execution_id: str | None,
    ) -> bool:
        """Record the target failed with `reason`; True when a previous result was kept."""
        ...


@dataclass(frozen=True)
class _Failure:
    status: str
    error_type: str
    reason: str


def failure_of(exc: BaseException) -> _Failure:
    """The attempt's end for an error that stopped it, in the terms AMC and the owner set."""
    if isinstance(exc, AttemptCancelled):
        return _Failure("CANCELLED", "CANCELLED", str(exc))
    if isinstance(exc, AmcAuthError):
        return _Failure("FAILED", "AMC_AUTH", str(exc))
    if isinstance(exc, AmcRetryableError):
        return _Failure("FAILED", "AMC_UNAVAILABLE", str(exc))
    if isinstance(exc, AmcNotFound):
        return _Failure("FAILED", "AMC_NOT_FOUND", str(exc))
    if isinstance(exc, AmcApiError):
        return _Failure("FAILED", "AMC_REFUSED", str(exc))
    if isinstance(exc, AmcDownloadError):
        return _Failure("FAILED", "DOWNLOAD_FAILED", str(exc))
    return _Failure("FAILED", "PIPELINE", f"{type(exc).__name__}: {exc}")


@dataclass
class AttemptRunner:
    """Runs the attempts of one Dagster run (or command), each from its intent to its end."""

    clients: OwnerClients
    sessions: Sessions
    results_root: Path | str
    dagster_run_id: str | None = None
    poll_policy: PollPolicy | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    holder_silence: timedelta = HOLDER_SILENCE
    #: Told of each attempt's AMC submission and of every status change AMC reports.
    on_progress: Callable[[AttemptTarget, str], None] | None = None
    _in_flight: set[uuid.UUID] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def in_flight(self) -> list[uuid.UUID]:
        """The attempts being worked on now, for the heartbeat."""
        with self._lock:
            return list(self._in_flight)

    # --- one attempt --------------------------------------------------------------------------

    def run(self, target: AttemptTarget, request: AmcRequest | None = None) -> AttemptOutcome:
        """Run one attempt at `target`; never raises: every failure is recorded and returned.

        The attempt borrows a connection from `sessions` for each of its steps and holds none
        while it waits on AMC; `request`, when the caller rendered it already, is the target's.
        """
        if request is None:
            try:
                with self.sessions.connection() as conn:
                    request = target.request(conn, self.now())
            except (RenderError, ValueError) as exc:
                return self._fail_unstarted(target, f"cannot render the query: {exc}")
        try:
            # The owner's credentials first: a target that cannot reach AMC leaves no attempt.
            instance = self.clients.instance(target.owner)
            with self.sessions.connection() as conn:
                attempt, resumed = self._take(conn, target, request, instance)
        except Exception as exc:
            log.exception("%s could not start", target.describe())
            return self._fail_unstarted(target, failure_of(exc).reason)
        return self._drive(target, request, instance, attempt, resumed)

    def close_orphans(self, conn: psycopg.Connection, target: AttemptTarget, reason: str) -> int:
        """End every unfinished attempt at `target` (a run that died left them); how many."""
        orphans = [row for row in executions.attempts_of(conn, target.key) if row.is_live]
        for orphan in orphans:
            self._supersede(conn, target, None, orphan, reason)
        return len(orphans)

    def _take(
        self,
        conn: psycopg.Connection,
        target: AttemptTarget,
        request: AmcRequest,
        instance: InstanceClient,
    ) -> tuple[AttemptRow, bool]:
        """Adopt the attempt at the same request that a run left, or start a new one.

        Unfinished attempts at another request (the query or window changed since) no longer
        serve the target: they are cancelled in AMC and closed.
        """
        chosen: AttemptRow | None = None
        for row in executions.attempts_of(conn, target.key):
            same = row.sql_hash == request.request_hash
            if chosen is None and same and (row.is_live or row.is_reopenable):
                chosen = row
            elif row.is_live:
                self._supersede(
                    conn,
                    target,
                    instance,
                    row,
                    f"superseded by a run of another query or window for {target.describe()}",
                )
        if chosen is not None:
            adopted = executions.adopt(conn, chosen.id, self.dagster_run_id)
            if adopted is not None and self.sessions.hold(executions.lock_key(adopted.id)):
                return adopted, True
        with conn.transaction():
            row = executions.insert_intent(
                conn, target.key, target.attempt_owner, request, self.dagster_run_id
            )
            target.started(conn, row.id, None)
        self.sessions.hold(executions.lock_key(row.id))
        return row, False

    def _supersede(
        self,
        conn: psycopg.Connection,
        target: AttemptTarget,
        instance: InstanceClient | None,
        row: AttemptRow,
        reason: str,
    ) -> None:
        if row.amc_execution_id:
            try:
                (instance or self.clients.instance(target.owner)).cancel_execution(
                    row.amc_execution_id
                )
            except AmcError as exc:
                log.warning(
                    "could not cancel superseded AMC execution %s: %s", row.amc_execution_id, exc
                )
        executions.end(conn, row.id, status="CANCELLED", error_type="SUPERSEDED", error=reason)

    def _drive(
        self,
        target: AttemptTarget,
        request: AmcRequest,
        instance: InstanceClient,
        attempt: AttemptRow,
        resumed: bool,
    ) -> AttemptOutcome:
        execution_id = attempt.id
        amc_id = attempt.amc_execution_id
        with self._lock:
            self._in_flight.add(execution_id)
        try:
            if resumed:
                with self.sessions.connection() as conn:
                    target.started(conn, execution_id, amc_id)
            if amc_id is None and resumed:
                found = self._find_lost_submission(instance, request, attempt.created_at)
                if found is not None:
                    with self.sessions.connection() as conn:
                        executions.record_submission(conn, execution_id, found)
                    amc_id = found.workflow_execution_id
            if amc_id is None:
                amc_id = self._submit(target, instance, request, execution_id)
            with self.sessions.connection() as conn:
                target.started(conn, execution_id, amc_id)
            verb = "resumed" if resumed else "submitted"
            self._tell(target, f"{verb}: AMC execution {amc_id}")
            final = self._poll(target, instance, execution_id, amc_id)
            with self.sessions.connection() as conn:
                release_slot(conn, execution_id)
            if final.status is not ProjectStatus.SUCCESS:
                reason = final.error_message or f"AMC execution {amc_id} ended {final.amc_status}"
                with self.sessions.connection() as conn:
                    return self._end(
                        conn,
                        target,
                        execution_id,
                        _Failure(str(final.status), final.error_type or "AMC_FAILED", reason),
                        amc_id=amc_id,
                        resumed=resumed,
                        execution=final,
                    )
            return self._collect(target, instance, execution_id, final, resumed)
        except Exception as exc:
            failure = failure_of(exc)
            if failure.error_type == "PIPELINE":
                log.exception("%s failed", target.describe())
            else:
                log.warning("%s: %s", target.describe(), failure.reason)
            with self.sessions.connection() as conn:
                return self._end(
                    conn, target, execution_id, failure, amc_id=amc_id, resumed=resumed
                )
        finally:
            with self._lock:
                self._in_flight.discard(execution_id)
            self._ensure_ended(execution_id)
            self.sessions.let_go(executions.lock_key(execution_id))

    def _ensure_ended(self, execution_id: uuid.UUID) -> None:
        """Whatever stopped the attempt (an interrupt too), it does not stay PENDING/RUNNING."""
        try:
            with self.sessions.connection() as conn:
                executions.end(
                    conn,
                    execution_id,
                    status="FAILED",
                    error_type="PIPELINE",
                    error="the attempt was stopped before it ended",
                )
        except psycopg.Error as exc:  # a pool timeout too
            log.warning("could not record the end of attempt %s: %s", execution_id, exc)

    def _find_lost_submission(
        self,
        instance: InstanceClient,
        request: AmcRequest,
        intent_created_at: datetime,
    ) -> AmcExecution | None:
        """The AMC execution this attempt submitted but never recorded, if AMC has it.

        Only an execution of the same request created at or after the attempt's intent, and
        one no other attempt recorded: an older run's execution is never taken for this one.
        """
        # AMC gives creation times in whole seconds.
        since = intent_created_at.astimezone(UTC).replace(microsecond=0)
        candidates = [
            candidate
            for candidate in instance.iter_executions(
                workflow_id=request.amc_workflow_id, min_creation_time=since
            )
            if _same_request(candidate, request)
            and candidate.amc_status != "CANCELLED"
            and _created_since(candidate, since)
        ]
        with self.sessions.connection() as conn:
            taken = executions.recorded_amc_executions(
                conn, [candidate.workflow_execution_id for candidate in candidates]
            )
        for candidate in candidates:
            if candidate.workflow_execution_id not in taken:
                log.info(
                    "found AMC execution %s submitted before a restart",
                    candidate.workflow_execution_id,
                )
                return candidate
        return None

    def _submit(
        self,
        target: AttemptTarget,
        instance: InstanceClient,
        request: AmcRequest,
        execution_id: uuid.UUID,
    ) -> str:
        """Wait for a slot of the instance, then submit; AMC's execution id, recorded."""
        if not wait_for_slot(
            self.sessions,
            target.attempt_owner.instance_row_id,
            execution_id,
            self.cancel_event,
            holder_silence=self.holder_silence,
        ):
            raise AttemptCancelled(CANCELLED_WAITING)
        self.clients.save_workflow(instance, request.amc_workflow_id, request.rendered)
        execution = instance.create_execution(
            request.window,
            workflow_id=request.amc_workflow_id,
            parameter_values=request.rendered.parameter_values or None,
        )
        with self.sessions.connection() as conn:
            executions.record_submission(conn, execution_id, execution)
        # The result is checked when AMC answers: the checks' library loads meanwhile.
        prepare_in_background()
        return execution.workflow_execution_id

    def _tell(self, target: AttemptTarget, text: str) -> None:
        if self.on_progress is not None:
            self.on_progress(target, text)

    def _poll(
        self,
        target: AttemptTarget,
        instance: InstanceClient,
        execution_id: uuid.UUID,
        amc_id: str,
    ) -> AmcExecution:
        last_status: list[str] = []
        started = time.monotonic()

        def on_poll(execution: AmcExecution) -> None:
            with self.sessions.connection() as conn:
                executions.record_poll(conn, execution_id, execution, self.dagster_run_id)
            status = str(execution.amc_status)
            if not last_status or last_status[-1] != status:
                log.info("AMC execution %s is %s", amc_id, status)
                last_status.append(status)
                elapsed = time.monotonic() - started
                self._tell(target, f"AMC status {status} after {elapsed:.0f} s")
            if self.cancel_event.is_set() and not execution.is_terminal:
                try:
                    instance.cancel_execution(amc_id)
                except AmcError as exc:
                    log.warning("could not cancel AMC execution %s: %s", amc_id, exc)
                raise AttemptCancelled(CANCELLED_POLLING)

        return instance.poll_until_terminal(amc_id, on_poll=on_poll, policy=self.poll_policy)

    def _collect(
        self,
        target: AttemptTarget,
        instance: InstanceClient,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        resumed: bool,
    ) -> AttemptOutcome:
        """Download, load, check and publish the result: one transaction, committed or not."""
        result_target = target.result_target()
        amc_id = execution.workflow_execution_id
        with tempfile.TemporaryDirectory(prefix="recomamp-result-") as tmp:
            csv_path = Path(tmp) / "result.csv"
            instance.download_results(amc_id, csv_path)
            with self.sessions.connection() as conn:
                return self._publish(
                    conn, target, execution_id, execution, resumed, csv_path, result_target
                )

    def _publish(
        self,
        conn: psycopg.Connection,
        target: AttemptTarget,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        resumed: bool,
        csv_path: Path,
        result_target: ResultTarget,
    ) -> AttemptOutcome:
        """Load, check and publish a downloaded result on one connection, in one transaction."""
        amc_id = execution.workflow_execution_id
        previous = target.previous_weeks_stats(conn)
        week: LoadedWeek | None = None
        published = False
        try:
            with conn.transaction() as transaction:
                week = load_into(
                    conn,
                    [csv_path],
                    execution.output_columns,
                    result_target,
                    results_root=self.results_root,
                )
                checks = tuple(check_loaded_week(conn, week, previous_weeks_stats=previous))
                preview = loaded_preview(conn, week, PREVIEW_ROWS)
                blocking = [check for check in checks if check.blocks_publish]
                if blocking or week.drifts:
                    raise psycopg.Rollback(transaction)
                executions.end(
                    conn,
                    execution_id,
                    status=str(execution.status),
                    execution=execution,
                    rows=week.row_count,
                    size=week.csv_bytes,
                    preview=preview,
                    location=str(week.parquet_path),
                )
                target.publish(conn, execution_id, execution, week)
                published = True
        finally:
            if week is not None:
                finish_load(conn, week, committed=published)
        assert week is not None
        if not published:
            reason = "quality check failed: " + "; ".join(
                f"{check.name} ({check.metadata.get('reason', check.description)})"
                for check in blocking
            )
            outcome = self._end(
                conn,
                target,
                execution_id,
                _Failure("FAILED", "PIPELINE", reason),
                amc_id=amc_id,
                resumed=resumed,
                execution=execution,
                rows=week.row_count,
                size=week.csv_bytes,
                preview=preview,
            )
            return dataclasses.replace(outcome, checks=checks, preview=preview)
        message = f"published {week.row_count} rows"
        if week.replaced_row_count:
            message += f", replacing {week.replaced_row_count}"
        return AttemptOutcome(
            AttemptEnd.PUBLISHED,
            message,
            resumed=resumed,
            execution_id=execution_id,
            amc_execution_id=amc_id,
            amc_seconds=execution.execution_time,
            amc_queue_seconds=execution.queue_seconds,
            published=week,
            checks=checks,
            preview=preview,
        )

    # --- ends ---------------------------------------------------------------------------------

    def _end(
        self,
        conn: psycopg.Connection,
        target: AttemptTarget,
        execution_id: uuid.UUID,
        failure: _Failure,
        *,
        amc_id: str | None,
        resumed: bool,
        execution: AmcExecution | None = None,
        rows: int | None = None,
        size: int | None = None,
        preview: Preview | None = None,
    ) -> AttemptOutcome:
        """End the attempt and fail its target, in one transaction."""
        with conn.transaction():
            executions.end(
                conn,
                execution_id,
                status=failure.status,
                error_type=failure.error_type,
                error=failure.reason,
                execution=execution,
                rows=rows,
                size=size,
                preview=preview,
            )
            kept = target.fail(conn, execution_id, failure.reason, amc_id)
        return AttemptOutcome(
            AttemptEnd.CANCELLED if failure.status == "CANCELLED" else AttemptEnd.FAILED,
            failure.reason if not kept else f"{failure.reason} (previous result kept)",
            resumed=resumed,
            execution_id=execution_id,
            amc_execution_id=amc_id,
            kept_previous_result=kept,
        )

    def _fail_unstarted(self, target: AttemptTarget, reason: str) -> AttemptOutcome:
        with self.sessions.connection() as conn, conn.transaction():
            kept = target.fail(conn, None, reason, None)
        return AttemptOutcome(
            AttemptEnd.FAILED,
            reason if not kept else f"{reason} (previous result kept)",
            kept_previous_result=kept,
        )


def _created_since(candidate: AmcExecution, since: datetime) -> bool:
    created = candidate.create_time
    if created is None:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created >= since


def _same_request(candidate: AmcExecution, request: AmcRequest) -> bool:
    start = candidate.time_window_start_original or candidate.time_window_start
    end = candidate.time_window_end_original or candidate.time_window_end
    return (start, end) == (request.window.start, request.window.end) and (
        candidate.parameter_values or {}
    ) == request.rendered.parameter_values
