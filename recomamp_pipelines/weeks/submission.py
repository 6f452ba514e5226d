"""What every AMC attempt does the same way, a collection week's or a schedule run's."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from recomamp_pipelines.amc.client import InstanceClient
from recomamp_pipelines.amc.errors import AmcBadRequest
from recomamp_pipelines.amc.models import AmcExecution, TimeWindow
from recomamp_pipelines.quality.loaded_week import check_loaded_week
from recomamp_pipelines.quality.outcomes import CheckOutcome
from recomamp_pipelines.results.load import JsonValue, LoadedWeek, load_week, preview_rows
from recomamp_pipelines.results.target import ResultTarget
from recomamp_pipelines.templates.render import RenderedQuery
from recomamp_pipelines.weeks.queries import load

log = logging.getLogger(__name__)

#: How far before an intent's creation an AMC execution may claim to be created and still be
#: taken for it: clocks of AMC and of this machine disagree a little.
CLOCK_SKEW_MARGIN = timedelta(minutes=5)
#: How often an execution waiting for an AMC slot looks again when no slot was announced free.
SLOT_LOOK_SECONDS = 1.0
#: Rows of a result kept in `workflow_executions.result_data`.
PREVIEW_ROWS = 20

Preview = list[dict[str, JsonValue]]


@dataclass(frozen=True)
class CollectedResult:
    """A finished execution's result, loaded and checked: published, or rolled back."""

    week: LoadedWeek
    checks: tuple[CheckOutcome, ...]
    preview: Preview

    @property
    def blocking(self) -> list[CheckOutcome]:
        """The failed checks that kept the result from being published."""
        return [check for check in self.checks if check.blocks_publish]

    @property
    def failure_reason(self) -> str:
        return "quality check failed: " + "; ".join(
            f"{check.name} ({check.metadata.get('reason', check.description)})"
            for check in self.blocking
        )


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def amc_workflow_id(sql_query: str, input_parameters: Sequence[dict[str, Any]]) -> str:
    """The saved AMC workflow of a query: a full sha256 of its SQL and parameter definitions.

    Definitions are names and data types only: values differ per run and travel as
    parameterValues. The hash is never shortened (short ids collided in the original app).
    """
    definitions = [
        {"name": p["name"], "dataType": p.get("dataType")}
        for p in sorted(input_parameters, key=lambda p: str(p["name"]))
    ]
    return "recomamp-" + _sha256(_canonical({"sql": sql_query, "inputParameters": definitions}))


def request_hash(workflow_id: str, window: TimeWindow, parameter_values: dict[str, Any]) -> str:
    return _sha256(
        _canonical(
            {
                "workflowId": workflow_id,
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "timeZone": window.time_zone,
                "parameterValues": parameter_values,
            }
        )
    )


@dataclass(frozen=True)
class AmcRequest:
    """What one attempt (a collection week's or a schedule run's) sends to AMC, and the hashes
    that identify it."""

    rendered: RenderedQuery
    amc_workflow_id: str
    request_hash: str
    window: TimeWindow

    @classmethod
    def of(cls, rendered: RenderedQuery, window: TimeWindow) -> AmcRequest:
        workflow_id = amc_workflow_id(rendered.sql, rendered.input_parameters)
        return cls(
            rendered=rendered,
            amc_workflow_id=workflow_id,
            request_hash=request_hash(workflow_id, window, rendered.parameter_values),
            window=window,
        )


def collect_result(
    conn: psycopg.Connection,
    instance: InstanceClient,
    execution: AmcExecution,
    target: ResultTarget,
    *,
    results_root: Path | str,
    record: Callable[[LoadedWeek, Preview], None],
    previous_weeks_stats: Sequence[Mapping[str, Any]] = (),
) -> CollectedResult:
    """Download a SUCCEEDED execution's result, load it, check it, and publish it.

    One transaction: the target's rows replaced, checked, and `record` called to write the
    execution's and the week's rows, all committed together; when a check blocks the publish,
    all of it is rolled back (`record` is not called) and the previous rows stay.
    """
    with tempfile.TemporaryDirectory(prefix="recomamp-result-") as tmp:
        csv_path = Path(tmp) / "result.csv"
        instance.download_results(execution.workflow_execution_id, csv_path)
        with load_week(
            conn, [csv_path], execution.output_columns, target, results_root=results_root
        ) as loaded:
            checks = tuple(
                check_loaded_week(conn, loaded, previous_weeks_stats=previous_weeks_stats)
            )
            result = CollectedResult(loaded, checks, preview_rows(conn, loaded, PREVIEW_ROWS))
            if result.blocking:
                loaded.discard()
            else:
                record(loaded, result.preview)
    return result


def save_amc_workflow(instance: InstanceClient, workflow_id: str, rendered: RenderedQuery) -> None:
    """Save the query as AMC workflow `workflow_id`; one saved before is fine."""
    try:
        instance.create_workflow(
            workflow_id,
            rendered.sql,
            input_parameters=[
                {"name": p["name"], "dataType": p["dataType"]} for p in rendered.input_parameters
            ],
        )
    except AmcBadRequest as exc:
        if "already exists" not in str(exc):
            raise


def wait_for_slot(
    conn: psycopg.Connection,
    instance_id: uuid.UUID | None,
    execution_id: uuid.UUID,
    cancelled: threading.Event,
) -> bool:
    """Hold one of the AMC instance's slots, shared by every process; False if cancelled first.

    Slots go to the executions that have waited longest (`claim_amc_instance_slot`). The wait
    wakes as soon as a slot is released anywhere, looks again at least every
    SLOT_LOOK_SECONDS, and keeps the execution's heartbeat fresh so that it keeps its place.
    `conn` must be in autocommit mode, outside any transaction.
    """
    args = {"instance_id": instance_id, "execution_id": execution_id}
    conn.execute(load("listen_for_slots"))
    try:
        while True:
            row = conn.execute(load("claim_slot"), args).fetchone()
            if row is not None and row[0] is not None:
                return True
            conn.execute(load("keep_waiting"), args)
            if cancelled.is_set():
                return False
            for _ in conn.notifies(timeout=SLOT_LOOK_SECONDS, stop_after=1):
                pass
            if cancelled.is_set():
                return False
    finally:
        # Not on a broken connection: the error being handled says more.
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            conn.execute(load("unlisten_for_slots"))


def find_lost_submission(
    instance: InstanceClient,
    *,
    workflow_id: str,
    window: TimeWindow,
    parameter_values: dict[str, Any],
    intent_created_at: datetime,
) -> AmcExecution | None:
    """The AMC execution an earlier process submitted but never recorded, if AMC has it."""
    for candidate in instance.iter_executions(
        workflow_id=workflow_id,
        min_creation_time=intent_created_at - CLOCK_SKEW_MARGIN,
    ):
        start = candidate.time_window_start_original or candidate.time_window_start
        end = candidate.time_window_end_original or candidate.time_window_end
        if (
            (start, end) == (window.start, window.end)
            and (candidate.parameter_values or {}) == parameter_values
            and candidate.amc_status != "CANCELLED"
        ):
            log.info(
                "found AMC execution %s submitted before a restart",
                candidate.workflow_execution_id,
            )
            return candidate
    return None


def live_status(execution: AmcExecution) -> str:
    """The project status of an execution not yet collected (its end is recorded apart)."""
    return "RUNNING" if execution.is_terminal else str(execution.status)


def whole_seconds(value: float | None) -> int | None:
    return None if value is None else round(value)
