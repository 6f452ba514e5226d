"""A scheduled run end to end: take the claim, render the window, submit or resume, publish.

The same care as a collection week (`weeks.run_week`): an intent row is committed before AMC is
asked for anything, AMC's execution id right after AMC answers, and the result is published in
one transaction with the execution's and the schedule run's end. A run that takes over a tick
whose earlier run died finds the intent and resumes it (looking the execution up in AMC when its
id never reached us) instead of submitting again.

One Dagster run serves many schedule runs: `ScheduleRunner.run_claims` runs them in threads, so
their AMC executions are polled side by side (AMC's per-instance slots bound what is in flight),
and a heartbeat thread keeps every in-flight execution visibly alive.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from recomamp_pipelines.amc.client import AmcClient, InstanceClient, PollPolicy
from recomamp_pipelines.amc.errors import AmcAuthError, AmcError
from recomamp_pipelines.amc.models import AmcExecution, ProjectStatus, TimeWindow
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.target import ResultTarget
from recomamp_pipelines.scheduling.claims import ClaimRef
from recomamp_pipelines.scheduling.queries import load
from recomamp_pipelines.scheduling.runs import (
    RunEnd,
    ScheduleContext,
    TakenClaim,
    finish_schedule_run,
    take_claim,
)
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.templates.catalog import template_parameters
from recomamp_pipelines.templates.render import RenderError, RunWindow, render
from recomamp_pipelines.weeks.queries import load as load_week_query
from recomamp_pipelines.weeks.run_week import (
    resolve_mapped_values,
)
from recomamp_pipelines.weeks.submission import (
    AmcRequest,
    Preview,
    collect_result,
    find_lost_submission,
    live_status,
    save_amc_workflow,
    wait_for_slot,
    whole_seconds,
)

log = logging.getLogger(__name__)

#: How often in-flight executions are marked alive, whatever they are doing (downloads too).
HEARTBEAT_SECONDS = 30.0
NOT_TAKEN = "NOT_TAKEN"
CANCELLED_MESSAGE = "the Dagster run was cancelled; its AMC execution was cancelled"


class ScheduleRunCancelled(Exception):
    """The Dagster run was cancelled while a schedule run waited for AMC."""


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


def owner_client(
    settings: Settings,
    *,
    user_email: str | None,
    encrypted_refresh_token: str | None,
    amc_account_id: str | None,
) -> AmcClient:
    """An AMC client acting as a workflow's owner, with the owner's stored refresh token."""
    if not encrypted_refresh_token:
        raise AmcAuthError(
            f"user {user_email} has no stored Amazon refresh token; "
            "set one with `recomamp users add`"
        )
    token = TokenCipher.from_settings(settings).decrypt(
        encrypted_refresh_token, what=f"refresh token of {user_email}"
    )
    return AmcClient.from_settings(settings, token, advertiser_id=amc_account_id)


def default_owner_client_factory(settings: Settings) -> Callable[[ScheduleContext], AmcClient]:
    """AMC clients acting as the schedule's owner."""

    def make(context: ScheduleContext) -> AmcClient:
        return owner_client(
            settings,
            user_email=context.user_email,
            encrypted_refresh_token=context.encrypted_refresh_token,
            amc_account_id=context.amc_account_id,
        )

    return make


@dataclass
class ScheduleRunner:
    """Runs the claimed ticks of one Dagster run."""

    settings: Settings
    database_url: str
    dagster_run_id: str
    poll_policy: PollPolicy | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    client_factory: Callable[[ScheduleContext], AmcClient] | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _clients: dict[tuple[uuid.UUID, str | None], AmcClient] = field(
        default_factory=dict, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _saved_workflows: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    _in_flight: set[uuid.UUID] = field(default_factory=set, init=False, repr=False)

    # --- AMC access ---------------------------------------------------------------------------

    def instance_client(self, context: ScheduleContext) -> InstanceClient:
        assert context.amc_instance_id is not None
        key = (context.user_id, context.amc_account_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                factory = self.client_factory or default_owner_client_factory(self.settings)
                client = self._clients[key] = factory(context)
        return client.instance(context.amc_instance_id)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    # --- many claims --------------------------------------------------------------------------

    def run_claims(
        self, refs: Iterable[ClaimRef], *, max_workers: int = 12
    ) -> Iterator[ScheduleRunOutcome]:
        """Serve claims concurrently; yield each outcome as it ends."""
        refs = list(refs)
        if not refs:
            return
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True)
        beat.start()
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(refs), max_workers)), thread_name_prefix="schedule"
        )
        futures: dict[Future[ScheduleRunOutcome], ClaimRef] = {}
        try:
            futures = {pool.submit(self.run_claim, ref): ref for ref in refs}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except ScheduleRunCancelled:
                    yield ScheduleRunOutcome(futures[future], "FAILED", "cancelled with the run")
        finally:
            if any(not future.done() for future in futures):
                self.cancel_event.set()
            pool.shutdown(wait=True, cancel_futures=True)
            stop.set()
            beat.join(timeout=5)

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                ids = list(self._in_flight)
            if not ids:
                continue
            try:
                with self.connect() as conn:
                    conn.execute(load("heartbeat_executions"), {"execution_ids": ids})
            except psycopg.Error as exc:
                log.warning("could not record the heartbeat of %d executions: %s", len(ids), exc)

    # --- one claim ----------------------------------------------------------------------------

    def run_claim(self, ref: ClaimRef) -> ScheduleRunOutcome:
        """Serve one claimed tick; every failure is recorded and returned, never raised."""
        with self.connect() as conn:
            taken = take_claim(conn, ref, self.dagster_run_id, self.now())
            if taken is None:
                return ScheduleRunOutcome(
                    ref, NOT_TAKEN, "served by another run, or handed to a newer attempt"
                )
            if taken.status != "RUNNING":
                return self._outcome(taken, taken.status, taken.message)
            try:
                return self._execute(conn, taken)
            except ScheduleRunCancelled:
                raise
            except Exception as exc:
                log.exception("schedule run %s of %r failed", taken.schedule_run_id, taken.context)
                return self._fail(conn, taken, None, f"{type(exc).__name__}: {exc}")

    def request_for(self, conn: psycopg.Connection, taken: TakenClaim) -> AmcRequest:
        context = taken.context
        assert context.sql_query is not None
        if taken.window_start is None or taken.window_end is None:
            raise RenderError(f"schedule run {taken.schedule_run_id} has no window")
        definitions = template_parameters(conn, context.template_id) if context.template_id else ()
        rendered = render(
            context.sql_query,
            window=RunWindow(taken.window_start, taken.window_end, context.timezone),
            definitions=definitions,
            saved=context.workflow_parameters,
            overrides=[context.parameters],
            now=self.now(),
            week_start_day=self.settings.week_start_day,
            resolve_mapped=lambda source: resolve_mapped_values(conn, source),
        )
        if rendered.clamped:
            raise RenderError(
                f"window {taken.window_start} .. {taken.window_end} reaches into AMC's 48-hour "
                "data lag"
            )
        return AmcRequest.of(
            rendered, TimeWindow(taken.window_start, taken.window_end, context.timezone)
        )

    def _execute(self, conn: psycopg.Connection, taken: TakenClaim) -> ScheduleRunOutcome:
        try:
            request = self.request_for(conn, taken)
        except (RenderError, ValueError) as exc:
            return self._fail(conn, taken, None, f"cannot render the query: {exc}")
        active = conn.execute(
            load("active_schedule_execution"), {"schedule_run_id": taken.schedule_run_id}
        ).fetchone()
        if active is not None and active[2] != request.request_hash:
            # The workflow or its parameters changed since: that attempt no longer serves this run.
            self._supersede(conn, taken.context, active[0], active[1])
            active = None
        execution: AmcExecution | None = None
        if active is not None:
            execution_id, amc_id, _, intent_created_at = active
            conn.execute(
                load("adopt_execution"),
                {"execution_id": execution_id, "dagster_run_id": self.dagster_run_id},
            )
            if amc_id is None:
                execution = find_lost_submission(
                    self.instance_client(taken.context),
                    workflow_id=request.amc_workflow_id,
                    window=request.window,
                    parameter_values=request.rendered.parameter_values,
                    intent_created_at=intent_created_at,
                )
                if execution is not None:
                    self._record_submission(conn, execution_id, execution)
        else:
            execution_id, amc_id = self._insert_intent(conn, taken, request), None
        with self._lock:
            self._in_flight.add(execution_id)
        try:
            if amc_id is None and execution is None:
                execution = self._submit(conn, taken.context, execution_id, request)
            amc_id = execution.workflow_execution_id if execution is not None else amc_id
            assert amc_id is not None
            final = self._poll(conn, taken.context, execution_id, amc_id)
            if final.status is not ProjectStatus.SUCCESS:
                reason = final.error_message or f"AMC execution {amc_id} ended {final.amc_status}"
                return self._fail(conn, taken, execution_id, reason, final=final)
            return self._collect(conn, taken, execution_id, final)
        except ScheduleRunCancelled:
            with conn.transaction():
                self._finish_execution(
                    conn,
                    execution_id,
                    status="CANCELLED",
                    error_type="CANCELLED",
                    error=CANCELLED_MESSAGE,
                )
                finish_schedule_run(
                    conn,
                    taken.schedule_run_id,
                    "FAILED",
                    self.now(),
                    error=CANCELLED_MESSAGE,
                    execution_id=execution_id,
                )
            raise
        finally:
            with self._lock:
                self._in_flight.discard(execution_id)

    def _insert_intent(
        self, conn: psycopg.Connection, taken: TakenClaim, request: AmcRequest
    ) -> uuid.UUID:
        context = taken.context
        with conn.transaction():
            row = conn.execute(
                load("insert_schedule_intent"),
                {
                    "workflow_id": context.workflow_id,
                    "user_id": context.user_id,
                    "instance_id": context.instance_row_id,
                    "schedule_run_id": taken.schedule_run_id,
                    "parameters": Jsonb(request.rendered.parameter_values),
                    "sql_hash": request.request_hash,
                    "amc_workflow_id": request.amc_workflow_id,
                    "time_window_start": request.window.start,
                    "time_window_end": request.window.end,
                    "time_window_time_zone": request.window.time_zone,
                    "parameter_values": Jsonb(request.rendered.parameter_values),
                    "dagster_run_id": self.dagster_run_id,
                },
            ).fetchone()
            assert row is not None
            execution_id: uuid.UUID = row[0]
            conn.execute(
                load("link_schedule_execution"),
                {"execution_id": execution_id, "schedule_run_id": taken.schedule_run_id},
            )
        return execution_id

    def _supersede(
        self,
        conn: psycopg.Connection,
        context: ScheduleContext,
        execution_id: uuid.UUID,
        amc_id: str | None,
    ) -> None:
        if amc_id:
            try:
                self.instance_client(context).cancel_execution(amc_id)
            except AmcError as exc:
                log.warning("could not cancel superseded AMC execution %s: %s", amc_id, exc)
        self._finish_execution(
            conn,
            execution_id,
            status="CANCELLED",
            error_type="SUPERSEDED",
            error="superseded by a run of another query or window for the same schedule run",
        )

    def _submit(
        self,
        conn: psycopg.Connection,
        context: ScheduleContext,
        execution_id: uuid.UUID,
        request: AmcRequest,
    ) -> AmcExecution:
        self._claim_slot(conn, context, execution_id)
        instance = self.instance_client(context)
        saved = (str(context.amc_instance_id), request.amc_workflow_id)
        if saved not in self._saved_workflows:
            save_amc_workflow(instance, request.amc_workflow_id, request.rendered)
            with self._lock:
                self._saved_workflows.add(saved)
        execution = instance.create_execution(
            request.window,
            workflow_id=request.amc_workflow_id,
            parameter_values=request.rendered.parameter_values or None,
        )
        self._record_submission(conn, execution_id, execution)
        return execution

    def _claim_slot(
        self, conn: psycopg.Connection, context: ScheduleContext, execution_id: uuid.UUID
    ) -> None:
        """Wait for one of the instance's AMC slots, shared by every process (PostgreSQL)."""
        if not wait_for_slot(conn, context.instance_row_id, execution_id, self.cancel_event):
            raise ScheduleRunCancelled

    def _record_submission(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, execution: AmcExecution
    ) -> None:
        conn.execute(
            load_week_query("record_submission"),
            {
                "execution_id": execution_id,
                "amc_execution_id": execution.workflow_execution_id,
                "amc_status": str(execution.amc_status),
                "status": live_status(execution),
            },
        )

    def _poll(
        self,
        conn: psycopg.Connection,
        context: ScheduleContext,
        execution_id: uuid.UUID,
        amc_id: str,
    ) -> AmcExecution:
        instance = self.instance_client(context)

        def on_poll(execution: AmcExecution) -> None:
            conn.execute(
                load("record_execution_poll"),
                {
                    "execution_id": execution_id,
                    "amc_status": str(execution.amc_status),
                    "status": live_status(execution),
                    "dagster_run_id": self.dagster_run_id,
                },
            )
            if self.cancel_event.is_set() and not execution.is_terminal:
                instance.cancel_execution(amc_id)
                raise ScheduleRunCancelled

        return instance.poll_until_terminal(amc_id, on_poll=on_poll, policy=self.poll_policy)

    def _collect(
        self,
        conn: psycopg.Connection,
        taken: TakenClaim,
        execution_id: uuid.UUID,
        execution: AmcExecution,
    ) -> ScheduleRunOutcome:
        context = taken.context
        assert context.workflow_id is not None
        assert taken.window_start is not None and taken.window_end is not None
        target = ResultTarget(
            workflow_id=context.workflow_id,
            user_id=context.user_id,
            source_kind="schedule",
            source_id=taken.schedule_run_id,
            window_start=taken.window_start,
            window_end=taken.window_end,
            week_start_date=None,
        )
        instance = self.instance_client(context)
        ends: list[RunEnd] = []

        def record(loaded: LoadedWeek, preview: Preview) -> None:
            self._finish_execution(
                conn,
                execution_id,
                execution=execution,
                rows=loaded.row_count,
                size=loaded.csv_bytes,
                preview=preview,
                location=str(loaded.parquet_path),
            )
            ends.append(
                finish_schedule_run(
                    conn,
                    taken.schedule_run_id,
                    "SUCCESS",
                    self.now(),
                    execution_id=execution_id,
                    result_location=loaded.results_table,
                )
            )

        result = collect_result(
            conn,
            instance,
            execution,
            target,
            results_root=self.settings.results_root,
            record=record,
        )
        published = result.week
        if result.blocking:
            return self._fail(
                conn,
                taken,
                execution_id,
                result.failure_reason,
                final=execution,
                rows=published.row_count,
            )
        (end,) = ends
        return self._outcome(
            taken,
            "SUCCESS",
            f"published {published.row_count} rows to {published.results_table}",
            end=end,
            execution_id=execution_id,
            amc_execution_id=execution.workflow_execution_id,
            row_count=published.row_count,
            results_table=published.results_table,
            parquet_path=str(published.parquet_path),
        )

    # --- recording ----------------------------------------------------------------------------

    def _finish_execution(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        *,
        execution: AmcExecution | None = None,
        status: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
        rows: int | None = None,
        size: int | None = None,
        preview: list[dict[str, Any]] | None = None,
        location: str | None = None,
    ) -> None:
        conn.execute(
            load("finish_execution"),
            {
                "execution_id": execution_id,
                "status": status or (str(execution.status) if execution else "FAILED"),
                "amc_status": str(execution.amc_status) if execution else None,
                "error_type": error_type
                or (execution.error_type if execution else None)
                or (None if error is None else "PIPELINE"),
                "error_message": error,
                "result_rows": rows,
                "result_size_bytes": size,
                "result_data": Jsonb(preview) if preview is not None else None,
                "result_location": location,
                "execution_duration": whole_seconds(execution.execution_time)
                if execution
                else None,
            },
        )

    def _fail(
        self,
        conn: psycopg.Connection,
        taken: TakenClaim,
        execution_id: uuid.UUID | None,
        reason: str,
        *,
        final: AmcExecution | None = None,
        rows: int | None = None,
    ) -> ScheduleRunOutcome:
        """Record the run FAILED with `reason` (AMC's own text when AMC failed it)."""
        with conn.transaction():
            if execution_id is not None:
                if final is not None and final.status is not ProjectStatus.SUCCESS:
                    self._finish_execution(conn, execution_id, execution=final, error=reason)
                else:
                    # AMC succeeded but the pipeline could not use the result (e.g. a check).
                    self._finish_execution(
                        conn,
                        execution_id,
                        execution=final,
                        status="FAILED",
                        error_type="PIPELINE",
                        error=reason,
                        rows=rows,
                    )
            end = finish_schedule_run(
                conn,
                taken.schedule_run_id,
                "FAILED",
                self.now(),
                error=reason,
                execution_id=execution_id,
            )
        return self._outcome(
            taken,
            "FAILED",
            reason,
            end=end,
            execution_id=execution_id,
            amc_execution_id=final.workflow_execution_id if final else None,
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
