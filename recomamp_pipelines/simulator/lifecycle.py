"""Executions moving through PENDING -> RUNNING -> SUCCEEDED/FAILED (or REJECTED, CANCELLED).

Time is the simulator's clock: an execution waits `pending_seconds` in PENDING, takes a slot
(at most `max_running_per_instance` RUNNING per instance, the rest stay queued PENDING), runs
for its `execution_seconds`, and succeeds once that time has passed and its query has finished
on a worker thread. A frozen clock holds every execution where it is. Faults decide some fates
at creation: REJECTED at once, FAILED after running, stuck in PENDING forever, or a header-only
result. AMC's own schedules fire here too, once per period, without backfill or retry.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from recomamp_pipelines.simulator.clock import iso_z
from recomamp_pipelines.simulator.engine import (
    PrivacyRules,
    QueryResult,
    QueryRuntimeError,
)
from recomamp_pipelines.simulator.faults import FAILED_REASON
from recomamp_pipelines.simulator.requests import ApiError
from recomamp_pipelines.simulator.service import DAYS, Simulator, overlap_reason
from recomamp_pipelines.simulator.state import state_sql
from recomamp_pipelines.simulator.windows import ResolvedWindow

log = logging.getLogger(__name__)


def parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Outcome:
    """What a worker reports: a result or an error, at a simulated time."""

    result: QueryResult | None
    error: str | None
    finished_at: datetime


class Lifecycle:
    """Advances executions and schedules; `tick()` may be called from any thread, often."""

    def __init__(self, sim: Simulator, workers: int = 2) -> None:
        self._sim = sim
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="amc-query")
        self._in_flight: dict[str, Future[None]] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def forget_all(self) -> None:
        """Drop every query in flight (after a reset: their executions are gone)."""
        with self._lock:
            running = list(self._in_flight)
            self._in_flight.clear()
            self._outcomes.clear()
        for execution_id in running:
            self._sim.runner.interrupt(execution_id)

    def tick(self) -> None:
        with self._tick_lock:
            now = self._sim.clock.now()
            self._fire_schedules(now)
            running = self._running_per_account()
            for instance in self._sim.config.instances:
                self._advance(instance.instance_id, now, running)

    def _running_per_account(self) -> Counter[str]:
        """RUNNING executions per AMC account, for the account-wide limit."""
        running: Counter[str] = Counter()
        for instance in self._sim.config.instances:
            rows = self._sim.store.query(state_sql("active_executions"), (instance.instance_id,))
            running[instance.account_id] += sum(
                json.loads(r["record"])["status"] == "RUNNING" for r in rows
            )
        return running

    def _advance(self, instance_id: str, now: datetime, account_running: Counter[str]) -> None:
        sim = self._sim
        instance = sim.config.instance(instance_id)
        account = instance.account_id if instance else ""
        rows = sim.store.query(
            state_sql("active_executions"),
            (instance_id,),
        )
        records = [json.loads(r["record"]) for r in rows]
        running = 0
        for record in records:
            if record["status"] != "RUNNING":
                continue
            if self._advance_running(record, now):
                # Its account slot is free for the PENDING executions of this same tick.
                account_running[account] -= 1
            else:
                running += 1
        for record in records:
            if record["status"] != "PENDING":
                continue
            fate = record["_sim"]["fate"]
            created = parse_z(record["createTime"])
            if fate == "stuck":
                continue
            if now < created + timedelta(seconds=record["_sim"]["pending_seconds"]):
                continue
            if fate == "rejected":
                self._finish(record, "REJECTED", sim.faults.current.reject_status_reason, now)
                continue
            if fate == "overlapping":
                self._finish(record, "REJECTED", overlap_reason(record), now)
                continue
            if record.get("dryRun"):
                self._finish(record, "SUCCEEDED", None, now)
                continue
            if running >= sim.config.max_running_per_instance:
                continue
            if account_running[account] >= sim.config.max_running_per_account:
                continue
            record["status"] = "RUNNING"
            record["lastUpdatedTime"] = iso_z(now)
            record["_sim"]["started_at"] = iso_z(now)
            with sim.store.transaction() as db:
                if not self._still(db, record, "PENDING"):
                    continue
                sim.save_execution(record, db)
            running += 1
            account_running[account] += 1
            self._submit(record)

    def _advance_running(self, record: dict[str, Any], now: datetime) -> bool:
        """Move a RUNNING execution on; True when it left RUNNING."""
        sim_state = record["_sim"]
        execution_id = record["workflowExecutionId"]
        started = parse_z(sim_state["started_at"])
        due = started + timedelta(seconds=sim_state["duration"])
        timeout = record["workflowExecutionTimeoutSeconds"]
        if now >= started + timedelta(seconds=timeout) and sim_state["duration"] > timeout:
            self._forget(execution_id)
            self._finish(
                record, "FAILED", f"Workflow execution timed out after {timeout} seconds.", now
            )
            return True
        with self._lock:
            outcome = self._outcomes.get(execution_id)
            in_flight = execution_id in self._in_flight
        if outcome is None:
            if not in_flight:
                # Restarted with a RUNNING execution: its query runs again.
                self._submit(record)
            return False
        if now < due:
            return False
        self._forget(execution_id)
        finished = max(due, outcome.finished_at)
        if sim_state["fate"] == "failed":
            reason = self._sim.faults.current.fail_status_reason or FAILED_REASON
            self._finish(record, "FAILED", reason, finished)
        elif outcome.error is not None:
            self._finish(record, "FAILED", outcome.error, finished)
        else:
            assert outcome.result is not None
            sim_state["result"] = {
                "files": list(outcome.result.files),
                "row_count": outcome.result.row_count,
                "columns": [c.as_api() for c in outcome.result.columns],
            }
            self._write_metadata(record, outcome.result)
            self._finish(record, "SUCCEEDED", None, finished)
        return True

    def _forget(self, execution_id: str) -> None:
        with self._lock:
            self._outcomes.pop(execution_id, None)
            self._in_flight.pop(execution_id, None)

    def _still(self, db: Any, record: dict[str, Any], status: str) -> bool:
        row = db.execute(
            state_sql("execution_status"),
            (record["workflowExecutionId"],),
        ).fetchone()
        return row is not None and row["status"] == status

    def _finish(
        self, record: dict[str, Any], status: str, reason: str | None, at: datetime
    ) -> None:
        previous = record["status"]
        record["status"] = status
        record["statusReason"] = reason
        record["lastUpdatedTime"] = iso_z(at)
        started = record["_sim"].get("started_at")
        if status in ("SUCCEEDED", "FAILED"):
            record["validatedTime"] = record["createTime"]
            if started:
                record["executionTime"] = max(0, round((at - parse_z(started)).total_seconds()))
        with self._sim.store.transaction() as db:
            if self._still(db, record, previous):
                self._sim.save_execution(record, db)

    def _submit(self, record: dict[str, Any]) -> None:
        execution_id = record["workflowExecutionId"]
        with self._lock:
            if execution_id in self._in_flight:
                return
            self._in_flight[execution_id] = self._pool.submit(self._run, dict(record))

    def _run(self, record: dict[str, Any]) -> None:
        sim = self._sim
        execution_id = record["workflowExecutionId"]
        sim_state = record["_sim"]
        result: QueryResult | None = None
        error: str | None = None
        try:
            if sim_state["fate"] != "failed":
                result = self._query(record)
        except (ApiError, QueryRuntimeError) as exc:
            error = f"Query execution failed: {exc}"
        except Exception as exc:  # a worker must always report back
            log.exception("execution %s failed in the simulator", execution_id)
            error = f"Query execution failed: internal error ({type(exc).__name__})."
        with self._lock:
            if execution_id in self._in_flight:
                self._outcomes[execution_id] = Outcome(result, error, sim.clock.now())

    def _query(self, record: dict[str, Any]) -> QueryResult:
        sim = self._sim
        sim_state = record["_sim"]
        definition = sim_state["definition"]
        created = parse_z(record["createTime"])
        window = ResolvedWindow(
            parse_z(record["timeWindowStart"]),
            parse_z(record["timeWindowEnd"]),
            record["timeWindowTimeZoneOriginal"],
            record.get("timeWindowType", "EXPLICIT"),
            record["timeWindowStartOriginal"],
            record["timeWindowEndOriginal"],
        )
        # Data is read as of the creation time: the answer does not drift with the queue.
        compiled = sim.compile_for(
            definition,
            record["parameterValues"],
            window,
            created,
            self._instance_of(record["workflowExecutionId"]),
        )
        rules = None
        if not record["disableAggregationControls"]:
            rules = PrivacyRules(
                threshold=sim.config.aggregation_threshold,
                discriminator_column=definition.get("filteredMetricsDiscriminatorColumn"),
                user_count_column=definition.get("distinctUserCountColumn"),
                reason_column=definition.get("filteredReasonColumn"),
                keep_rows=bool(definition.get("filteredMetricsDiscriminatorColumn"))
                or definition.get("privacyFilteringBehavior") == "REMOVE_VALUES",
            )
        out_dir = sim.store.result_dir(
            self._instance_of(record["workflowExecutionId"]), record["workflowExecutionId"]
        )
        return sim.runner.run(
            record["workflowExecutionId"],
            compiled,
            sim.data_window(window, created),
            rules,
            out_dir,
            sim_state["result_file_max_rows"],
            header_only=sim_state["fate"] == "header_only",
        )

    def _instance_of(self, execution_id: str) -> str:
        rows = self._sim.store.query(state_sql("execution_instance"), (execution_id,))
        return str(rows[0]["instance_id"])

    def _write_metadata(self, record: dict[str, Any], result: QueryResult) -> None:
        execution_id = record["workflowExecutionId"]
        out_dir = self._sim.store.result_dir(self._instance_of(execution_id), execution_id)
        metadata = {
            "workflowExecutionId": execution_id,
            "workflowId": record["workflowId"],
            "rowCount": result.row_count,
            "outputColumns": [c.as_api() for c in result.columns],
            "files": [{"name": f, "sizeBytes": (out_dir / f).stat().st_size} for f in result.files],
        }
        (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")

    # --- AMC's own schedules ---------------------------------------------------------------

    def _fire_schedules(self, now: datetime) -> None:
        sim = self._sim
        for row in sim.store.query(state_sql("all_schedules")):
            body = json.loads(row["body"])
            if not body.get("scheduleEnabled", True):
                continue
            due = last_due(body, now)
            created = parse_z(body["_createTime"])
            if due <= created or body.get("_lastFired") == iso_z(due):
                continue
            period = timedelta(days=7 if body["aggregationPeriod"] == "Weekly" else 1)
            request = {
                "workflowId": body["workflowId"],
                "timeWindowType": "EXPLICIT",
                "timeWindowStart": (due - period).replace(tzinfo=None).isoformat(),
                "timeWindowEnd": due.replace(tzinfo=None).isoformat(),
                "timeWindowTimeZone": "UTC",
                "parameterValues": body.get("parameterValues") or {},
                "disableAggregationControls": body.get("disableAggregationControls", False),
                "ignoreDataGaps": True,
            }
            body["_lastFired"] = iso_z(due)
            with sim.store.transaction() as db:
                db.execute(
                    state_sql("update_schedule"),
                    (json.dumps(body), row["instance_id"], row["schedule_id"]),
                )
            try:
                sim.create_execution(row["instance_id"], request, category="SCHEDULED")
            except ApiError as exc:
                # AMC's schedules do not retry: the period is simply missed.
                log.warning("schedule %s could not fire: %s", row["schedule_id"], exc.details)


def last_due(schedule: dict[str, Any], now: datetime) -> datetime:
    """The latest time at or before `now` at which a Daily/Weekly schedule is due (UTC)."""
    hour = int(schedule["aggregationHourUtc"])
    due = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    if due > now:
        due -= timedelta(days=1)
    if schedule["aggregationPeriod"] == "Weekly":
        start_day = DAYS.index(schedule["aggregationStartDay"])
        while due.weekday() != start_day:
            due -= timedelta(days=1)
    return due
