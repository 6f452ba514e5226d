"""The simulated AMC: workflows, executions, schedules, data sources, accounts and instances."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from recomamp_pipelines.simulator.auth import TokenAuthority
from recomamp_pipelines.simulator.catalog import Table, tables_for
from recomamp_pipelines.simulator.clock import SimClock, iso_z
from recomamp_pipelines.simulator.config import InstanceConfig, SimulatorConfig
from recomamp_pipelines.simulator.data import DataWindow, Warehouse
from recomamp_pipelines.simulator.engine import (
    AmcSqlCompiler,
    AmcSqlError,
    CompiledQuery,
    ParameterSpec,
    QueryRunner,
)
from recomamp_pipelines.simulator.faults import FaultState
from recomamp_pipelines.simulator.requests import (
    ApiError,
    bad_request,
    flag,
    identifier,
    integer,
    not_found,
    page,
    query_value,
)
from recomamp_pipelines.simulator.state import StateStore, state_sql
from recomamp_pipelines.simulator.windows import (
    ResolvedWindow,
    parse_window_time,
    resolve_window,
    zone,
)

ACTIVE = ("PENDING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "REJECTED")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_TIMEOUT_SECONDS = 21600
PRIVACY_FILTERING_BEHAVIORS = ("REMOVE_ROWS", "REMOVE_VALUES")
WORKFLOW_FIELDS = (
    "workflowId",
    "sqlQuery",
    "inputParameters",
    "outputFormat",
    "distinctUserCountColumn",
    "filteredMetricsDiscriminatorColumn",
    "filteredReasonColumn",
    "description",
    "outputColumns",
    "privacyFilteringBehavior",
    "queryType",
)


class RequestCounters:
    """Calls and answers since the last reset, for tests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.downloads = 0
        self.token_requests = 0

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[str(status)] += 1

    def download(self) -> None:
        with self._lock:
            self.downloads += 1

    def token_request(self) -> None:
        with self._lock:
            self.token_requests += 1


class Simulator:
    """Everything behind the HTTP routes; every method is safe to call from any thread."""

    def __init__(self, config: SimulatorConfig, base_url: str) -> None:
        self.config = config
        self.base_url = base_url
        self.store = StateStore(config.state_dir)
        saved_clock = self.store.meta("clock")
        if isinstance(saved_clock, dict):
            self.clock = SimClock.from_state(saved_clock)
        else:
            self.clock = SimClock(config.clock.now, config.clock.frozen)
        self.faults = FaultState(config.faults, config.seed)
        self.tokens = TokenAuthority(self.store, self.clock)
        self.warehouse = Warehouse(
            config.seed,
            config.data_scale,
            config.engine_threads,
            config.cache_max_rows,
            self.store.scratch_dir,
            config.engine_memory_limit,
        )
        self.compiler = AmcSqlCompiler()
        self.runner = QueryRunner(self.warehouse, self.compiler)
        self.counters = RequestCounters()
        self._signing_key = self.store.signing_key()
        self._lock = threading.RLock()

    def close(self) -> None:
        self.warehouse.close()
        self.store.close()

    # --- clock and admin -----------------------------------------------------------------

    def history_start(self, now: datetime | None = None) -> datetime:
        moment = now or self.clock.now()
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(weeks=self.config.history_weeks)

    def set_clock(self, body: dict[str, Any]) -> dict[str, object]:
        """Move the clock: {"now": ISO, "frozen": bool}, {"advance_seconds": n}, {"real": true}."""
        if flag(body.get("real"), "real"):
            self.clock.set(None, False)
        elif "advance_seconds" in body:
            try:
                self.clock.advance(float(body["advance_seconds"]))
            except (TypeError, ValueError) as exc:
                raise bad_request(f"advance_seconds {body['advance_seconds']!r}: a number") from exc
            if "frozen" in body:
                self.clock.set(self.clock.now(), flag(body["frozen"], "frozen"))
        elif "now" in body:
            try:
                moment = datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))
            except ValueError as exc:
                raise bad_request(f"now {body['now']!r}: expected an ISO timestamp") from exc
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            self.clock.set(moment, flag(body.get("frozen"), "frozen"))
        elif "frozen" in body:
            self.clock.set(self.clock.now(), flag(body["frozen"], "frozen"))
        else:
            raise bad_request('Expected "now", "advance_seconds", "frozen" or "real".')
        self._save_clock()
        return self.clock.snapshot()

    def _save_clock(self) -> None:
        self.store.set_meta("clock", self.clock.state())

    def reset(self) -> None:
        """Forget workflows, executions, schedules, results, faults and counters."""
        with self._lock:
            self.store.reset()
            self.faults.clear()
            self.counters = RequestCounters()
            self.clock.set(self.config.clock.now, self.config.clock.frozen)
            self._save_clock()

    def counter_snapshot(self) -> dict[str, Any]:
        submissions: Counter[tuple[str, str, str, str, str]] = Counter()
        statuses: Counter[str] = Counter()
        for row in self.store.query(state_sql("all_executions")):
            record = json.loads(row["record"])
            sim = record["_sim"]
            submissions[
                (
                    row["instance_id"],
                    sim["workflow_key"],
                    record["timeWindowStartOriginal"],
                    record["timeWindowEndOriginal"],
                    record["timeWindowTimeZoneOriginal"],
                )
            ] += 1
            statuses[row["status"]] += 1
        return {
            "submissions": [
                {
                    "instance_id": key[0],
                    "workflow_id": key[1],
                    "time_window_start": key[2],
                    "time_window_end": key[3],
                    "time_window_time_zone": key[4],
                    "count": count,
                }
                for key, count in sorted(submissions.items())
            ],
            "executions_created": sum(submissions.values()),
            "executions_by_status": dict(statuses),
            "requests": dict(self.counters.requests),
            "responses": dict(self.counters.statuses),
            "downloads": self.counters.downloads,
            "token_requests": self.counters.token_requests,
            "tokens_issued": self.tokens.issued_count(),
            "cached_days": [
                {"kind": kind, "day": day, "rows": rows}
                for kind, day, rows in self.warehouse.cached_days()
            ],
        }

    # --- auth ------------------------------------------------------------------------------

    def issue_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Login with Amazon's refresh-token grant: (status, body)."""
        self.counters.token_request()
        client_ok = hmac.compare_digest(
            form.get("client_id", ""), self.config.client_id
        ) and hmac.compare_digest(form.get("client_secret", ""), self.config.client_secret)
        if not client_ok:
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        if form.get("grant_type") != "refresh_token":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": f"grant_type {form.get('grant_type')!r} is not supported",
            }
        refresh = form.get("refresh_token", "")
        if not any(hmac.compare_digest(refresh, known) for known in self.config.refresh_tokens):
            return 400, {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            }
        issued = self.tokens.issue(refresh, self.config.token_lifetime_seconds)
        return 200, {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }

    def instance(self, instance_id: str, advertiser_id: str) -> InstanceConfig:
        found = self.config.instance(instance_id)
        if found is None:
            raise not_found(f"Instance with ID {instance_id} not found.")
        if not found.accepts(advertiser_id):
            raise ApiError(
                403,
                f"Advertiser {advertiser_id} is not allowed to access instance {instance_id}.",
            )
        return found

    # --- administration --------------------------------------------------------------------

    def accounts(self) -> dict[str, Any]:
        return {
            "amcAccounts": [
                {
                    "accountId": a.account_id,
                    "accountName": a.account_name,
                    "marketplaceId": a.marketplace_id,
                }
                for a in self.config.accounts
            ]
        }

    def _instance_api(self, instance: InstanceConfig) -> dict[str, Any]:
        account = self.config.account(instance.account_id)
        return {
            "instanceId": instance.instance_id,
            "instanceName": instance.instance_name or f"Simulated instance {instance.instance_id}",
            "instanceType": "STANDARD",
            "creationStatus": "COMPLETED",
            "accountId": instance.account_id,
            "marketplaceId": account.marketplace_id if account else None,
            "region": "us-east-1",
        }

    def instances(self, advertiser_id: str | None, params: dict[str, str]) -> dict[str, Any]:
        known_accounts = {a.account_id for a in self.config.accounts}
        listed = [
            self._instance_api(i)
            for i in self.config.instances
            if advertiser_id not in known_accounts or i.account_id == advertiser_id
        ]
        chunk, token = page(listed, params)
        return {"instances": chunk, "nextToken": token}

    def instance_details(self, instance_id: str) -> dict[str, Any]:
        found = self.config.instance(instance_id)
        if found is None:
            raise not_found(f"Instance with ID {instance_id} not found.")
        return self._instance_api(found)

    # --- data sources ----------------------------------------------------------------------

    def tables_of(self, instance_id: str | None) -> dict[str, Table]:
        """The tables an instance sees: every free table, and those of its paid features."""
        instance = self.config.instance(instance_id) if instance_id else None
        return tables_for(frozenset(instance.paid_features if instance else ()))

    def data_sources(self, instance_id: str, params: dict[str, str]) -> dict[str, Any]:
        tables = self.tables_of(instance_id).values()
        chunk, token = page([t.as_api() for t in tables], params)
        return {"dataSources": chunk, "nextToken": token}

    def data_source(self, instance_id: str, data_source_id: str) -> dict[str, Any]:
        table = self.tables_of(instance_id).get(data_source_id.lower())
        if table is None:
            raise not_found(f"Data source with ID {data_source_id} not found.")
        return table.as_api()

    # --- workflows -------------------------------------------------------------------------

    def _workflow_definition(self, body: dict[str, Any], instance_id: str) -> dict[str, Any]:
        """The stored form of a workflow body, after AMC's create-time compile check."""
        sql = body.get("sqlQuery")
        if not isinstance(sql, str) or not sql.strip():
            raise bad_request("sqlQuery is required and must be a non-empty string.")
        raw_parameters = body.get("inputParameters") or []
        if not isinstance(raw_parameters, list) or not all(
            isinstance(p, dict) for p in raw_parameters
        ):
            raise bad_request("inputParameters must be a list of objects.")
        for column in (
            "distinctUserCountColumn",
            "filteredMetricsDiscriminatorColumn",
            "filteredReasonColumn",
        ):
            value = body.get(column)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise bad_request(f"{column} must be a column name, not {value!r}.")
        behavior = body.get("privacyFilteringBehavior")
        if behavior is not None and behavior not in PRIVACY_FILTERING_BEHAVIORS:
            raise bad_request(
                f"privacyFilteringBehavior {behavior!r}: expected one of "
                f"{', '.join(PRIVACY_FILTERING_BEHAVIORS)}."
            )
        try:
            specs = [ParameterSpec.from_api(p) for p in raw_parameters]
            compiled = self.compiler.compile(
                sql, {}, specs, None, require_values=False, tables=self.tables_of(instance_id)
            )
        except AmcSqlError as exc:
            raise bad_request(str(exc)) from exc
        _check_output_columns(body.get("outputColumns"), compiled.names)
        return {k: body[k] for k in WORKFLOW_FIELDS if k in body and body[k] is not None}

    def create_workflow(self, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        workflow_id = identifier(body.get("workflowId"), "workflowId")
        definition = self._workflow_definition(body, instance_id)
        now = iso_z(self.clock.now())
        with self.store.transaction() as db:
            exists = db.execute(
                state_sql("workflow_exists"),
                (instance_id, workflow_id),
            ).fetchone()
            if exists:
                raise bad_request(f"Workflow with ID {workflow_id} already exists.")
            db.execute(
                state_sql("insert_workflow"),
                (instance_id, workflow_id, json.dumps(definition), now, now),
            )
        return {}

    def _workflow_row(self, instance_id: str, workflow_id: str) -> dict[str, Any]:
        rows = self.store.query(
            state_sql("workflow"),
            (instance_id, workflow_id),
        )
        if not rows:
            raise not_found(f"Workflow with ID {workflow_id} does not exist.")
        body = json.loads(rows[0]["body"])
        body["createTime"] = rows[0]["create_time"]
        body["lastUpdatedTime"] = rows[0]["last_updated_time"]
        return body

    def get_workflow(self, instance_id: str, workflow_id: str) -> dict[str, Any]:
        return self._workflow_row(instance_id, workflow_id)

    def list_workflows(self, instance_id: str, params: dict[str, str]) -> dict[str, Any]:
        rows = self.store.query(
            state_sql("workflow_ids"),
            (instance_id,),
        )
        chunk, token = page([r["workflow_id"] for r in rows], params)
        return {
            "workflows": [self._workflow_row(instance_id, w) for w in chunk],
            "nextToken": token,
        }

    def update_workflow(
        self, instance_id: str, workflow_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if body.get("workflowId") not in (None, workflow_id):
            raise bad_request(
                f"workflowId {body.get('workflowId')!r} in the body does not match {workflow_id}."
            )
        definition = self._workflow_definition({**body, "workflowId": workflow_id}, instance_id)
        with self.store.transaction() as db:
            changed = db.execute(
                state_sql("update_workflow"),
                (json.dumps(definition), iso_z(self.clock.now()), instance_id, workflow_id),
            ).rowcount
        if not changed:
            raise not_found(f"Workflow with ID {workflow_id} does not exist.")
        return {}

    def delete_workflow(self, instance_id: str, workflow_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            deleted = db.execute(
                state_sql("delete_workflow"),
                (instance_id, workflow_id),
            ).rowcount
        if not deleted:
            raise not_found(f"Workflow with ID {workflow_id} does not exist.")
        return {}

    # --- executions ------------------------------------------------------------------------

    def create_execution(
        self, instance_id: str, body: dict[str, Any], category: str = "AD_HOC"
    ) -> dict[str, Any]:
        """Validate and record an execution; it starts PENDING and the lifecycle runs it."""
        workflow_id, definition = self._execution_workflow(instance_id, body)
        parameter_values = body.get("parameterValues") or {}
        if not isinstance(parameter_values, dict):
            raise bad_request("parameterValues must be an object of parameter names to values.")
        now = self.clock.now()
        window = resolve_window(body, now, self.history_start(now))
        timeout = integer(
            body.get("workflowExecutionTimeoutSeconds"),
            "workflowExecutionTimeoutSeconds",
            DEFAULT_TIMEOUT_SECONDS,
            1,
            86400 * 2,
        )
        ignore_gaps = flag(body.get("ignoreDataGaps"), "ignoreDataGaps")
        disable_controls = flag(
            body.get("disableAggregationControls"), "disableAggregationControls"
        )
        dry_run = flag(body.get("dryRun"), "dryRun")
        skip_publish = flag(body.get("skipPublish"), "skipPublish")
        compiled = self.compile_for(definition, parameter_values, window, now, instance_id)
        fate = self.faults.take_execution_fault()
        workflow_key = (
            workflow_id
            if not workflow_id.startswith("transient_")
            else "adhoc:" + hashlib.sha256(definition["sqlQuery"].encode()).hexdigest()[:16]
        )
        if (
            not dry_run
            and self._overlapping_runs(instance_id, workflow_key, window)
            >= max(1, self.config.max_overlapping_runs)
            and self.config.max_overlapping_runs > 0
        ):
            fate = "overlapping"
        execution_id = str(uuid.uuid4())
        duration = self.faults.current.execution_seconds
        record: dict[str, Any] = {
            "workflowExecutionId": execution_id,
            "workflowId": workflow_id,
            "status": "PENDING",
            "statusReason": None,
            "createTime": iso_z(now),
            "lastUpdatedTime": iso_z(now),
            "expireTime": iso_z(now + timedelta(hours=24)),
            "waitUntil": iso_z(now - timedelta(hours=1)),
            "timeWindowStart": iso_z(window.start),
            "timeWindowEnd": iso_z(window.end),
            "timeWindowStartOriginal": window.start_original,
            "timeWindowEndOriginal": window.end_original,
            "timeWindowTimeZoneOriginal": window.time_zone,
            "timeWindowType": window.window_type,
            "parameterValues": parameter_values,
            "dataGaps": self._data_gaps(window, compiled, now),
            "executionCategory": category,
            "workflowExecutionTimeoutSeconds": timeout,
            "ignoreDataGaps": ignore_gaps,
            "disableAggregationControls": disable_controls,
            "dryRun": dry_run,
            "skipPublish": skip_publish,
            "_sim": {
                "definition": definition,
                "fate": fate,
                "duration": self.config.execution_seconds if duration is None else duration,
                "pending_seconds": self.config.pending_seconds,
                "workflow_key": workflow_key,
                "result_file_max_rows": self.faults.current.result_file_max_rows
                or self.config.result_file_max_rows,
            },
        }
        with self.store.transaction() as db:
            seq = db.execute(state_sql("next_execution_seq")).fetchone()[0]
            record["_sim"]["seq"] = seq
            db.execute(
                state_sql("insert_execution"),
                (
                    execution_id,
                    instance_id,
                    seq,
                    workflow_id,
                    "PENDING",
                    record["createTime"],
                    json.dumps(record),
                ),
            )
        return public_execution(record, include_workflow=False)

    def _execution_workflow(
        self, instance_id: str, body: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        saved, inline = body.get("workflowId"), body.get("workflow")
        if saved and inline:
            raise bad_request("Give either workflowId or workflow, not both.")
        if saved:
            if not isinstance(saved, str):
                raise bad_request(f"workflowId must be a string, not {saved!r}.")
            definition = self._workflow_row(instance_id, saved)
            definition.pop("createTime", None)
            definition.pop("lastUpdatedTime", None)
            return saved, definition
        if isinstance(inline, dict):
            definition = self._workflow_definition(
                {**inline, "workflowId": "transient"}, instance_id
            )
            definition.pop("workflowId", None)
            return f"transient_{uuid.uuid4()}", definition
        raise bad_request("Either workflowId or workflow (with its sqlQuery) is required.")

    def _overlapping_runs(self, instance_id: str, workflow_key: str, window: ResolvedWindow) -> int:
        """Executions of the same workflow whose windows overlap `window` (not failed ones)."""
        rows = self.store.query(state_sql("instance_executions"), (instance_id,))
        count = 0
        for row in rows:
            other = json.loads(row["record"])
            if other["_sim"].get("workflow_key") != workflow_key or other.get("dryRun"):
                continue
            if other["status"] in ("FAILED", "CANCELLED", "REJECTED"):
                continue
            start = datetime.fromisoformat(other["timeWindowStart"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(other["timeWindowEnd"].replace("Z", "+00:00"))
            if start < window.end and window.start < end:
                count += 1
        return count

    def compile_for(
        self,
        definition: dict[str, Any],
        parameter_values: dict[str, Any],
        window: ResolvedWindow,
        now: datetime,
        instance_id: str,
    ) -> CompiledQuery:
        specs = [ParameterSpec.from_api(p) for p in definition.get("inputParameters") or []]
        try:
            return self.compiler.compile(
                definition["sqlQuery"],
                parameter_values,
                specs,
                self.data_window(window, now),
                tables=self.tables_of(instance_id),
            )
        except AmcSqlError as exc:
            raise bad_request(str(exc)) from exc

    def data_window(self, window: ResolvedWindow, now: datetime) -> DataWindow:
        return DataWindow(window.start, window.end, window.time_zone, now, self.history_start(now))

    def _data_gaps(
        self, window: ResolvedWindow, compiled: CompiledQuery, now: datetime
    ) -> list[dict[str, str]]:
        complete_until = now - timedelta(hours=self.config.data_lag_hours)
        if window.end <= complete_until:
            return []
        gap_start = max(window.start, complete_until)
        return [
            {
                "dataSource": table,
                "gapStartTime": iso_z(gap_start),
                "gapEndTime": iso_z(window.end),
                "reason": f"Data lands within {self.config.data_lag_hours} hours.",
            }
            for table in sorted(compiled.tables)
        ]

    def load_execution(self, instance_id: str, execution_id: str) -> dict[str, Any]:
        rows = self.store.query(
            state_sql("execution"),
            (instance_id, execution_id),
        )
        if not rows:
            raise not_found(f"Execution with ID {execution_id} not found.")
        return dict(json.loads(rows[0]["record"]))

    def save_execution(self, record: dict[str, Any], db: Any) -> None:
        db.execute(
            state_sql("update_execution"),
            (record["status"], json.dumps(record), record["workflowExecutionId"]),
        )

    def get_execution(
        self, instance_id: str, execution_id: str, include_workflow: bool
    ) -> dict[str, Any]:
        return public_execution(self.load_execution(instance_id, execution_id), include_workflow)

    def list_executions(self, instance_id: str, params: dict[str, str]) -> dict[str, Any]:
        rows = self.store.query(state_sql("instance_executions"), (instance_id,))
        records = [json.loads(r["record"]) for r in rows]
        workflow_id = query_value(params, "workflowId")
        tz = zone(query_value(params, "timeZone") or "UTC")
        low = query_value(params, "minCreationTime")
        high = query_value(params, "maxCreationTime")
        low_at = parse_window_time(low, "minCreationTime", tz) if low else None
        high_at = parse_window_time(high, "maxCreationTime", tz) if high else None
        include_cancelled = flag(query_value(params, "includeCancelled"), "includeCancelled")
        ascending = flag(query_value(params, "sortAscending"), "sortAscending")
        chosen = []
        for record in records:
            created = datetime.fromisoformat(record["createTime"].replace("Z", "+00:00"))
            if workflow_id and record["workflowId"] != workflow_id:
                continue
            if low_at and created < low_at:
                continue
            if high_at and created > high_at:
                continue
            if record["status"] == "CANCELLED" and not include_cancelled:
                continue
            chosen.append(record)
        if not ascending:
            chosen.reverse()
        chunk, token = page(chosen, params)
        return {
            "executions": [public_execution(r, include_workflow=False) for r in chunk],
            "nextToken": token,
        }

    def cancel_execution(
        self, instance_id: str, execution_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        status = body.get("status")
        if status != "CANCELLED":
            raise bad_request(f'Only {{"status": "CANCELLED"}} can be set, not {status!r}.')
        with self.store.transaction() as db:
            row = db.execute(
                state_sql("execution"),
                (instance_id, execution_id),
            ).fetchone()
            if row is None:
                raise not_found(f"Execution with ID {execution_id} not found.")
            record = json.loads(row["record"])
            if record["status"] not in ACTIVE:
                raise bad_request(
                    f"Execution with ID {execution_id} cannot be cancelled: its status is "
                    f"{record['status']}."
                )
            record["status"] = "CANCELLED"
            record["statusReason"] = "Cancelled by request."
            record["lastUpdatedTime"] = iso_z(self.clock.now())
            self.save_execution(record, db)
        self.runner.interrupt(execution_id)
        return public_execution(record, include_workflow=False)

    # --- AMC's own schedules ---------------------------------------------------------------

    def _schedule_body(
        self, instance_id: str, body: dict[str, Any], schedule_id: str
    ) -> dict[str, Any]:
        workflow_id = body.get("workflowId")
        if not isinstance(workflow_id, str):
            raise bad_request("workflowId is required.")
        self._workflow_row(instance_id, workflow_id)
        period = body.get("aggregationPeriod", "Daily")
        if period not in ("Daily", "Weekly"):
            raise bad_request(f"aggregationPeriod {period!r} must be Daily or Weekly.")
        hour = integer(body.get("aggregationHourUtc"), "aggregationHourUtc", 0, 0, 23)
        start_day = body.get("aggregationStartDay") or day_name(self.clock.now())
        if start_day not in DAYS:
            raise bad_request(
                f"aggregationStartDay {start_day!r} must be one of {', '.join(DAYS)}."
            )
        parameters = body.get("parameterValues") or {}
        if not isinstance(parameters, dict):
            raise bad_request("parameterValues must be an object.")
        return {
            "scheduleId": schedule_id,
            "workflowId": workflow_id,
            "aggregationHourUtc": hour,
            "aggregationPeriod": period,
            "aggregationStartDay": start_day,
            "scheduleEnabled": flag(body.get("scheduleEnabled"), "scheduleEnabled", True),
            "disableAggregationControls": flag(
                body.get("disableAggregationControls"), "disableAggregationControls"
            ),
            "parameterValues": parameters,
        }

    def create_schedule(self, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        schedule_id = identifier(body.get("scheduleId"), "scheduleId")
        stored = self._schedule_body(instance_id, body, schedule_id)
        stored["_createTime"] = iso_z(self.clock.now())
        with self.store.transaction() as db:
            if db.execute(
                state_sql("schedule_exists"),
                (instance_id, schedule_id),
            ).fetchone():
                raise bad_request(f"Schedule with ID {schedule_id} already exists.")
            db.execute(
                state_sql("insert_schedule"),
                (instance_id, schedule_id, json.dumps(stored)),
            )
        return {}

    def _schedule_row(self, instance_id: str, schedule_id: str) -> dict[str, Any]:
        rows = self.store.query(
            state_sql("schedule"),
            (instance_id, schedule_id),
        )
        if not rows:
            raise not_found(f"Schedule with ID {schedule_id} does not exist.")
        return dict(json.loads(rows[0]["body"]))

    def get_schedule(self, instance_id: str, schedule_id: str) -> dict[str, Any]:
        return public_schedule(self._schedule_row(instance_id, schedule_id))

    def list_schedules(self, instance_id: str, params: dict[str, str]) -> dict[str, Any]:
        rows = self.store.query(
            state_sql("instance_schedules"),
            (instance_id,),
        )
        chunk, token = page([public_schedule(json.loads(r["body"])) for r in rows], params)
        return {"schedules": chunk, "nextToken": token}

    def update_schedule(
        self, instance_id: str, schedule_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        current = self._schedule_row(instance_id, schedule_id)
        merged = {**public_schedule(current), **body}
        stored = self._schedule_body(instance_id, merged, schedule_id)
        stored["_createTime"] = current["_createTime"]
        if "_lastFired" in current:
            stored["_lastFired"] = current["_lastFired"]
        with self.store.transaction() as db:
            db.execute(
                state_sql("update_schedule"),
                (json.dumps(stored), instance_id, schedule_id),
            )
        return {}

    def delete_schedule(self, instance_id: str, schedule_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            deleted = db.execute(
                state_sql("delete_schedule"),
                (instance_id, schedule_id),
            ).rowcount
        if not deleted:
            raise not_found(f"Schedule with ID {schedule_id} does not exist.")
        return {}

    # --- results ---------------------------------------------------------------------------

    def download_urls(self, instance_id: str, execution_id: str) -> dict[str, Any]:
        record = self.load_execution(instance_id, execution_id)
        result = record["_sim"].get("result")
        if record["status"] != "SUCCEEDED" or not result:
            raise not_found(f"Execution with ID {execution_id} is unavailable for download.")
        ttl = self.faults.current.download_url_ttl_seconds or self.config.download_url_ttl_seconds
        return {
            "downloadUrls": [self.sign(instance_id, execution_id, f, ttl) for f in result["files"]],
            "metadataDownloadUrls": [self.sign(instance_id, execution_id, "metadata.json", ttl)],
            "nextToken": None,
        }

    def _signature(self, path: str, date: str, expires: int) -> str:
        message = f"{path}\n{date}\n{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def sign(self, instance_id: str, execution_id: str, file_name: str, ttl: int) -> str:
        """A pre-signed URL (S3 style): no header needed, valid `ttl` simulated seconds."""
        path = f"/s3/amc-results/{quote(instance_id)}/{quote(execution_id)}/{quote(file_name)}"
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        signature = self._signature(path, date, ttl)
        return (
            f"{self.base_url}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}"
            f"&X-Amz-Expires={ttl}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )

    def resolve_download(
        self, instance_id: str, execution_id: str, file_name: str, params: dict[str, str]
    ) -> tuple[Path | None, str | None]:
        """The file a signed URL names, or (None, S3-style error code)."""
        path = f"/s3/amc-results/{quote(instance_id)}/{quote(execution_id)}/{quote(file_name)}"
        date, expires, signature = (
            params.get("X-Amz-Date", ""),
            params.get("X-Amz-Expires", ""),
            params.get("X-Amz-Signature", ""),
        )
        try:
            expires_seconds = int(expires)
            signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None, "AuthorizationQueryParametersError"
        if not hmac.compare_digest(self._signature(path, date, expires_seconds), signature):
            return None, "SignatureDoesNotMatch"
        if self.clock.now() > signed_at + timedelta(seconds=expires_seconds):
            return None, "AccessDenied"
        if "/" in file_name or file_name.startswith("."):
            return None, "NoSuchKey"
        target = self.store.result_dir(instance_id, execution_id) / file_name
        if not target.is_file():
            return None, "NoSuchKey"
        self.counters.download()
        return target, None


def overlap_reason(record: dict[str, Any]) -> str:
    """AMC's words for an execution refused for too many runs over overlapping windows."""
    return (
        f'Execution "{record["workflowExecutionId"]}" of workflow "{record["workflowId"]}" '
        "could not be run because too many workflows have already been run against the same "
        "input data sources in the same or overlapping time windows."
    )


def _check_output_columns(declared: Any, names: tuple[str, ...]) -> None:
    """A workflow's `outputColumns`, when given, must name the query's output columns."""
    if declared is None:
        return
    if not isinstance(declared, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in declared
    ):
        raise bad_request("outputColumns must be a list of objects with a name.")
    wanted = [str(c["name"]).lower() for c in declared]
    found = [n.lower() for n in names]
    if wanted != found:
        raise bad_request(
            f"Unable to compile the SQL query. outputColumns {wanted} do not match the "
            f"query's output columns {found}."
        )


def public_execution(record: dict[str, Any], include_workflow: bool) -> dict[str, Any]:
    """The execution as AMC answers it: flat, without the simulator's bookkeeping."""
    shown = {
        k: v
        for k, v in record.items()
        if not k.startswith("_") and k not in ("timeWindowType", "dryRun", "skipPublish")
    }
    sim = record["_sim"]
    if record["status"] in TERMINAL and "result" in sim:
        shown["outputColumns"] = sim["result"]["columns"]
    if include_workflow:
        definition = sim["definition"]
        shown["workflow"] = {"workflowId": record["workflowId"], **definition}
        shown["sqlQuery"] = definition.get("sqlQuery")
    return shown


def public_schedule(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stored.items() if not k.startswith("_")}


def day_name(moment: datetime) -> str:
    return DAYS[moment.weekday()]
