"""One week of a collection, end to end: render, submit or resume, poll, check, publish, record.

Every step leaves PostgreSQL true if the process dies right after it: an intent row is
committed before AMC is asked for anything, AMC's execution id right after AMC answers, and a
week is published in one transaction together with its row. A run that starts again finds the
intent and resumes it (looking the execution up in AMC when its id never reached us) instead of
submitting again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from recomamp_pipelines.amc.client import AmcClient, InstanceClient, PollPolicy
from recomamp_pipelines.amc.errors import (
    AmcApiError,
    AmcAuthError,
    AmcError,
    AmcNotFound,
    AmcRetryableError,
)
from recomamp_pipelines.amc.models import AmcExecution, ProjectStatus, TimeWindow
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.quality.outcomes import CheckOutcome
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.summary_stats import WeekSummary, collection_report_metadata
from recomamp_pipelines.results.target import ResultTarget, results_table
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.templates.params import MappedSource
from recomamp_pipelines.templates.render import RenderError, RunWindow, render
from recomamp_pipelines.weeks.calendar import Week, amc_window, weeks_overlapping
from recomamp_pipelines.weeks.collection import CollectionContext
from recomamp_pipelines.weeks.queries import load
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

MAPPED_VALUES_LIMIT = 1000


class OutcomeKind(StrEnum):
    """What happened to a week in a run, as the run summary names it."""

    REUSED = "reused"
    SUBMITTED = "submitted"
    RESUMED = "resumed"
    REFUSED = "refused"
    FAILED = "failed"


class WeekCancelled(Exception):
    """The run was cancelled while the week was waiting for AMC."""


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


@dataclass
class WeekRunner:
    """Runs weeks of one collection; shared by the weeks of one Dagster run.

    The AMC client is made on first need, so that a run that only reuses results needs no key
    and no credentials.
    """

    settings: Settings
    database_url: str
    collection: CollectionContext
    dagster_run_id: str | None = None
    refresh: bool = False
    poll_policy: PollPolicy | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    client_factory: Callable[[CollectionContext], AmcClient] | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    #: Told of each week's AMC submission and of every status change AMC reports.
    on_progress: Callable[[Week, str], None] | None = None
    _client: AmcClient | None = field(default=None, init=False, repr=False)
    _client_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _saved_workflows: set[str] = field(default_factory=set, init=False, repr=False)
    _workflow_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # --- AMC access ---------------------------------------------------------------------------

    def instance_client(self) -> InstanceClient:
        with self._client_lock:
            if self._client is None:
                factory = self.client_factory or default_client_factory(self.settings)
                self._client = factory(self.collection)
            return self._client.instance(self.collection.amc_instance_id)

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- the week -----------------------------------------------------------------------------

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    def request_for(self, week: Week, conn: psycopg.Connection) -> AmcRequest:
        window = amc_window(week, self.collection.timezone)
        rendered = render(
            self.collection.sql_query,
            window=RunWindow(window.start, window.end, self.collection.timezone),
            definitions=self.collection.parameter_definitions,
            saved=self.collection.workflow_parameters,
            overrides=[self.collection.parameters],
            now=self.now(),
            week_start_day=self.settings.week_start_day,
            resolve_mapped=lambda source: resolve_mapped_values(conn, source),
        )
        if rendered.clamped:
            raise RenderError(
                f"week {week.partition_key} reaches into AMC's 48-hour data lag; run it later"
            )
        return AmcRequest.of(
            rendered, TimeWindow(window.start, window.end, self.collection.timezone)
        )

    def run_week(self, week: Week) -> WeekOutcome:
        """Run one week; never raises: every failure is recorded and returned as an outcome."""
        refusal = self.collection.refusal(
            week, now=self.now(), week_start_day=self.settings.week_start_day
        )
        if refusal:
            return WeekOutcome(week, OutcomeKind.REFUSED, refusal)
        with self.connect() as conn:
            busy = self._lock_week(conn, week)
            if busy:
                return WeekOutcome(week, OutcomeKind.REFUSED, busy)
            self._ensure_week_row(conn, week)
            try:
                request = self.request_for(week, conn)
            except (RenderError, ValueError) as exc:
                return self._fail_week(conn, week, None, f"cannot render the query: {exc}")
            state = conn.execute(
                load("week_state"),
                {
                    "collection_id": self.collection.collection_id,
                    "week_start_date": week.start_date,
                },
            ).fetchone()
            assert state is not None  # ensured above
            _, week_status, checksum, _, published_hash = state
            if (
                not self.refresh
                and week_status == "SUCCESS"
                and checksum is not None
                and published_hash == request.request_hash
            ):
                return WeekOutcome(
                    week, OutcomeKind.REUSED, "already published with the same query and window"
                )
            try:
                return self._execute(conn, week, request)
            except WeekCancelled:
                # The attempt is already CANCELLED; the week must not stay RUNNING either.
                return self._fail_week(
                    conn, week, None, "the run was cancelled; its AMC execution was cancelled"
                )
            except Exception as exc:
                log.exception("week %s of %s failed", week.partition_key, self.collection.name)
                return self._fail_week(conn, week, None, f"{type(exc).__name__}: {exc}")

    def _lock_week(self, conn: psycopg.Connection, week: Week) -> str | None:
        """Hold the week for this run (until `conn` closes), or say which run holds it."""
        lock_key = f"recomamp-week:{self.collection.collection_id}:{week.start_date.isoformat()}"
        row = conn.execute(load("lock_week"), {"lock_key": lock_key}).fetchone()
        if row is not None and row[0]:
            return None
        holder = conn.execute(
            load("week_run_in_flight"),
            {"collection_id": self.collection.collection_id, "week_start_date": week.start_date},
        ).fetchone()
        run = f" (Dagster run {holder[0]})" if holder is not None and holder[0] else ""
        return (
            f"week {week.partition_key} of collection {self.collection.name!r} is being run by "
            f"another run{run}; left to it"
        )

    def _ensure_week_row(self, conn: psycopg.Connection, week: Week) -> None:
        weeks = self.collection.weeks(self.settings.week_start_day)
        conn.execute(
            load("ensure_week"),
            {
                "collection_id": self.collection.collection_id,
                "week_start_date": week.start_date,
                "week_end_date": week.end_date,
                "week_number": weeks.index(week) + 1 if week in weeks else None,
            },
        )

    def _execute(self, conn: psycopg.Connection, week: Week, request: AmcRequest) -> WeekOutcome:
        # The owner's credentials first: a week that cannot reach AMC leaves no attempt behind.
        self.instance_client()
        key = {"collection_id": self.collection.collection_id, "week_start_date": week.start_date}
        active = conn.execute(load("active_execution"), key).fetchone()
        kind = OutcomeKind.SUBMITTED
        execution: AmcExecution | None = None
        if active is not None and active[2] != request.request_hash:
            # An unfinished attempt at another query or window: it no longer serves this week.
            self._supersede(conn, active[0], active[1])
            active = None
        if active is not None:
            execution_id, amc_id, _, intent_created_at, _, _ = active
            kind = OutcomeKind.RESUMED
            if amc_id is None:
                execution = find_lost_submission(
                    self.instance_client(),
                    workflow_id=request.amc_workflow_id,
                    window=request.window,
                    parameter_values=request.rendered.parameter_values,
                    intent_created_at=intent_created_at,
                )
                if execution is not None:
                    self._record_submission(conn, execution_id, execution)
        else:
            execution_id = self._insert_intent(conn, week, request)
        conn.execute(
            load("mark_week_running"),
            {**key, "execution_id": execution_id, "amc_execution_id": None},
        )
        if execution is None and (active is None or active[1] is None):
            try:
                execution = self._submit(conn, execution_id, request)
            except (AmcApiError, AmcAuthError) as exc:
                if isinstance(exc, AmcRetryableError):
                    raise
                # AMC said no to the request itself, or Login with Amazon to the owner: nothing
                # of it runs in AMC. (Retries that ran out leave the attempt for the next run to
                # look up.)
                error_type = "AMC_AUTH" if isinstance(exc, AmcAuthError) else "AMC_REFUSED"
                return self._end_attempt(conn, week, execution_id, exc, error_type)
        amc_id = execution.workflow_execution_id if execution else active[1]  # type: ignore[index]
        conn.execute(
            load("mark_week_running"),
            {**key, "execution_id": execution_id, "amc_execution_id": amc_id},
        )
        if self.on_progress is not None:
            verb = "submitted" if kind is OutcomeKind.SUBMITTED else "resumed"
            self.on_progress(week, f"{verb}: AMC execution {amc_id}")
        try:
            final = self._poll(conn, week, execution_id, amc_id)
        except AmcNotFound as exc:
            # AMC no longer has the execution (it keeps them for a day): nothing to wait for.
            return self._end_attempt(
                conn, week, execution_id, exc, "AMC_NOT_FOUND", amc_execution_id=amc_id
            )
        conn.execute(load("release_slot"), {"execution_id": execution_id})
        if final.status is not ProjectStatus.SUCCESS:
            reason = final.error_message or f"AMC execution {amc_id} ended {final.amc_status}"
            self._finish_execution(conn, execution_id, final, error=reason)
            return self._fail_week(conn, week, execution_id, reason, amc_execution_id=amc_id)
        return self._collect(conn, week, execution_id, final, kind)

    def _insert_intent(
        self, conn: psycopg.Connection, week: Week, request: AmcRequest
    ) -> uuid.UUID:
        row = conn.execute(
            load("insert_intent"),
            {
                "workflow_id": self.collection.workflow_id,
                "user_id": self.collection.user_id,
                "instance_id": self.collection.instance_row_id,
                "collection_id": self.collection.collection_id,
                "week_start_date": week.start_date,
                "parameters": Jsonb(request.rendered.parameter_values),
                "sql_hash": request.request_hash,
                "amc_workflow_id": request.amc_workflow_id,
                "time_window_start": request.window.start,
                "time_window_end": request.window.end,
                "time_window_time_zone": request.window.time_zone,
                "parameter_values": Jsonb(request.rendered.parameter_values),
                "dagster_run_id": self.dagster_run_id,
                "retry_count": 0,
            },
        ).fetchone()
        assert row is not None
        execution_id: uuid.UUID = row[0]
        return execution_id

    def _supersede(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, amc_id: str | None
    ) -> None:
        if amc_id:
            try:
                self.instance_client().cancel_execution(amc_id)
            except AmcError as exc:
                log.warning("could not cancel superseded AMC execution %s: %s", amc_id, exc)
        self._finish_row(
            conn,
            execution_id,
            status="CANCELLED",
            error_type="SUPERSEDED",
            error="superseded by a run of another query or window for the same week",
        )

    def _submit(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, request: AmcRequest
    ) -> AmcExecution:
        self._claim_slot(conn, execution_id)
        instance = self.instance_client()
        # The weeks of a run share their saved workflow: one of them saves it, the others wait
        # rather than each sending a create that AMC refuses (and spending the rate limit).
        with self._workflow_lock:
            if request.amc_workflow_id not in self._saved_workflows:
                save_amc_workflow(instance, request.amc_workflow_id, request.rendered)
                self._saved_workflows.add(request.amc_workflow_id)
        execution = instance.create_execution(
            request.window,
            workflow_id=request.amc_workflow_id,
            parameter_values=request.rendered.parameter_values or None,
        )
        self._record_submission(conn, execution_id, execution)
        return execution

    def _claim_slot(self, conn: psycopg.Connection, execution_id: uuid.UUID) -> None:
        """Wait for one of the instance's AMC slots, shared by every process (PostgreSQL)."""
        if not wait_for_slot(
            conn, self.collection.instance_row_id, execution_id, self.cancel_event
        ):
            self._finish_row(
                conn,
                execution_id,
                status="CANCELLED",
                error_type="CANCELLED",
                error="run cancelled while waiting for a free AMC slot",
            )
            raise WeekCancelled

    def _record_submission(
        self, conn: psycopg.Connection, execution_id: uuid.UUID, execution: AmcExecution
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

    def _poll(
        self, conn: psycopg.Connection, week: Week, execution_id: uuid.UUID, amc_id: str
    ) -> AmcExecution:
        instance = self.instance_client()
        started, last_status = time.monotonic(), None

        def on_poll(execution: AmcExecution) -> None:
            nonlocal last_status
            if self.on_progress is not None and execution.amc_status != last_status:
                last_status = execution.amc_status
                elapsed = time.monotonic() - started
                self.on_progress(week, f"AMC status {execution.amc_status} after {elapsed:.0f} s")
            conn.execute(
                load("record_poll"),
                {
                    "execution_id": execution_id,
                    "amc_status": str(execution.amc_status),
                    "status": live_status(execution),
                    "dagster_run_id": self.dagster_run_id,
                },
            )
            if self.cancel_event.is_set() and not execution.is_terminal:
                try:
                    instance.cancel_execution(amc_id)
                finally:
                    self._finish_row(
                        conn,
                        execution_id,
                        status="CANCELLED",
                        error_type="CANCELLED",
                        error="the Dagster run was cancelled; the AMC execution was cancelled",
                    )
                raise WeekCancelled

        return instance.poll_until_terminal(amc_id, on_poll=on_poll, policy=self.poll_policy)

    def _collect(
        self,
        conn: psycopg.Connection,
        week: Week,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        kind: OutcomeKind,
    ) -> WeekOutcome:
        instance = self.instance_client()
        # The week's own window, whatever AMC echoes back.
        window = amc_window(week, self.collection.timezone)
        target = ResultTarget(
            workflow_id=self.collection.workflow_id,
            user_id=self.collection.user_id,
            source_kind="collection",
            source_id=self.collection.collection_id,
            window_start=window.start,
            window_end=window.end,
            week_start_date=week.start_date,
        )
        previous = [
            row[0]
            for row in conn.execute(
                load("previous_weeks_stats"),
                {
                    "collection_id": self.collection.collection_id,
                    "week_start_date": week.start_date,
                },
            ).fetchall()
        ][::-1]
        amc_seconds = execution.execution_time

        def record(loaded: LoadedWeek, preview: Preview) -> None:
            self._finish_execution(
                conn,
                execution_id,
                execution,
                error=None,
                rows=loaded.row_count,
                size=loaded.csv_bytes,
                preview=preview,
                location=str(loaded.parquet_path),
            )
            conn.execute(
                load("publish_week_row"),
                {
                    "collection_id": self.collection.collection_id,
                    "week_start_date": week.start_date,
                    "execution_id": execution_id,
                    "amc_execution_id": execution.workflow_execution_id,
                    "result_rows": loaded.row_count,
                    "result_size_bytes": loaded.csv_bytes,
                    "execution_duration": whole_seconds(amc_seconds),
                    "summary_stats": Jsonb(loaded.summary_stats),
                    "data_checksum": loaded.checksum,
                    "result_location": loaded.results_table,
                },
            )

        result = collect_result(
            conn,
            instance,
            execution,
            target,
            results_root=self.settings.results_root,
            record=record,
            previous_weeks_stats=previous,
        )
        published, checks, preview = result.week, result.checks, result.preview
        if result.blocking:
            self._finish_execution(
                conn,
                execution_id,
                execution,
                error=None,
                rows=published.row_count,
                size=published.csv_bytes,
                preview=preview,
            )
            return self._fail_week(
                conn,
                week,
                execution_id,
                result.failure_reason,
                amc_execution_id=execution.workflow_execution_id,
                checks=checks,
            )
        message = f"published {published.row_count} rows"
        if published.replaced_row_count:
            message += f", replacing {published.replaced_row_count}"
        return WeekOutcome(
            week,
            kind,
            message,
            execution_id=execution_id,
            amc_execution_id=execution.workflow_execution_id,
            amc_seconds=amc_seconds,
            amc_queue_seconds=execution.queue_seconds,
            published=published,
            summary_stats=dict(published.summary_stats),
            checks=checks,
            preview=preview,
        )

    # --- recording ----------------------------------------------------------------------------

    def _finish_execution(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        execution: AmcExecution,
        *,
        error: str | None,
        rows: int | None = None,
        size: int | None = None,
        preview: list[dict[str, Any]] | None = None,
        location: str | None = None,
    ) -> None:
        conn.execute(
            load("finish_execution"),
            {
                "execution_id": execution_id,
                "status": str(execution.status),
                "amc_status": str(execution.amc_status),
                "error_type": execution.error_type or (None if error is None else "AMC_FAILED"),
                "error_message": error,
                "result_rows": rows,
                "result_size_bytes": size,
                "result_data": Jsonb(preview) if preview is not None else None,
                "result_location": location,
                "execution_duration": whole_seconds(execution.execution_time),
            },
        )

    def _finish_row(
        self,
        conn: psycopg.Connection,
        execution_id: uuid.UUID,
        *,
        status: str,
        error_type: str,
        error: str,
    ) -> None:
        conn.execute(
            load("finish_execution"),
            {
                "execution_id": execution_id,
                "status": status,
                "amc_status": None,
                "error_type": error_type,
                "error_message": error,
                "result_rows": None,
                "result_size_bytes": None,
                "result_data": None,
                "result_location": None,
                "execution_duration": None,
            },
        )

    def _end_attempt(
        self,
        conn: psycopg.Connection,
        week: Week,
        execution_id: uuid.UUID,
        error: AmcError,
        error_type: str,
        *,
        amc_execution_id: str | None = None,
    ) -> WeekOutcome:
        """Close an attempt that can never finish.

        Its AMC slot is freed, and the next run of the week asks AMC afresh instead of resuming it.
        """
        reason = str(error)
        self._finish_row(conn, execution_id, status="FAILED", error_type=error_type, error=reason)
        return self._fail_week(conn, week, execution_id, reason, amc_execution_id=amc_execution_id)

    def _fail_week(
        self,
        conn: psycopg.Connection,
        week: Week,
        execution_id: uuid.UUID | None,
        reason: str,
        *,
        amc_execution_id: str | None = None,
        checks: tuple[CheckOutcome, ...] = (),
    ) -> WeekOutcome:
        if execution_id is not None:
            status = conn.execute(
                "select status from workflow_executions where id = %s", (execution_id,)
            ).fetchone()
            if status is not None and status[0] in ("PENDING", "RUNNING"):
                self._finish_row(
                    conn, execution_id, status="FAILED", error_type="PIPELINE", error=reason
                )
        row = conn.execute(
            load("fail_week_row"),
            {
                "collection_id": self.collection.collection_id,
                "week_start_date": week.start_date,
                "error_message": reason,
                "amc_execution_id": amc_execution_id,
            },
        ).fetchone()
        kept = row is not None and row[0] == "SUCCESS"
        return WeekOutcome(
            week,
            OutcomeKind.FAILED,
            reason if not kept else f"{reason} (previous result kept)",
            execution_id=execution_id,
            amc_execution_id=amc_execution_id,
            checks=checks,
            kept_previous_result=kept,
        )

    # --- the collection -----------------------------------------------------------------------

    def run_weeks(self, weeks: Iterable[Week], *, max_workers: int = 12) -> Iterator[WeekOutcome]:
        """Run weeks concurrently (AMC's slots bound what is in flight); yield as each ends."""
        weeks = list(weeks)
        if not weeks:
            return
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(weeks), max_workers)), thread_name_prefix="week"
        )
        futures: dict[Future[WeekOutcome], Week] = {}
        try:
            futures = {pool.submit(self.run_week, week): week for week in weeks}
            for future in as_completed(futures):
                yield future.result()
        finally:
            # Leaving early (the run was cancelled): tell the weeks, wait for them to record it.
            if any(not future.done() for future in futures):
                self.cancel_event.set()
            pool.shutdown(wait=True, cancel_futures=True)
            # A run whose every week was refused leaves the collection as it found it.
            if any(_went_past_refusal(future) for future in futures):
                self.update_collection()

    def update_collection(self) -> None:
        """Recompute the collection's report_metadata and, when it is done, complete it."""
        with self.connect() as conn:
            rows = conn.execute(
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
            succeeded = {row[0] for row in rows if row[2] == "SUCCESS"}
            metadata = collection_report_metadata(
                WeekSummary(row[0], row[3]) for row in rows if row[2] == "SUCCESS" and row[3]
            )
            conn.execute(
                load("update_collection_report"),
                {
                    "collection_id": self.collection.collection_id,
                    "report_metadata": Jsonb(metadata),
                    "all_weeks_succeeded": expected <= succeeded,
                    "today": self.now().date(),
                },
            )


def _went_past_refusal(future: Future[WeekOutcome]) -> bool:
    """Whether a finished week's run got past its refusal, and so may have written rows."""
    if future.cancelled():
        return False
    return future.exception() is not None or future.result().kind is not OutcomeKind.REFUSED


def resolve_mapped_values(conn: psycopg.Connection, source: MappedSource) -> list[object]:
    """A column of the source workflow's newest successful week (a mapped_from_node value)."""
    newest = conn.execute(
        """
        select wk.collection_id, wk.week_start_date
        from report_data_weeks as wk
        inner join report_data_collections as c on c.id = wk.collection_id
        where c.workflow_id = %s and wk.status = 'SUCCESS' and wk.data_checksum is not null
        order by wk.week_start_date desc, wk.completed_at desc
        limit 1
        """,
        (source.workflow_id,),
    ).fetchone()
    if newest is None:
        raise RenderError(
            f"workflow {source.workflow_id} has no successful week yet to take "
            f"{source.column!r} from"
        )
    table = results_table(uuid.UUID(str(source.workflow_id)))
    query = sql.SQL(
        "select distinct {column} from {table} "
        "where source_id = %s and week_start_date = %s and {column} is not null limit %s"
    ).format(column=sql.Identifier(source.column), table=table)
    return [row[0] for row in conn.execute(query, (*newest, MAPPED_VALUES_LIMIT)).fetchall()]


def default_client_factory(settings: Settings) -> Callable[[CollectionContext], AmcClient]:
    """AMC clients acting as the collection's owner, with the owner's refresh token."""

    def make(collection: CollectionContext) -> AmcClient:
        if not collection.encrypted_refresh_token:
            raise AmcAuthError(
                f"user {collection.user_email} has no stored Amazon refresh token; "
                "set one with `recomamp users add`"
            )
        token = TokenCipher.from_settings(settings).decrypt(
            collection.encrypted_refresh_token, what=f"refresh token of {collection.user_email}"
        )
        return AmcClient.from_settings(settings, token, advertiser_id=collection.amc_account_id)

    return make
