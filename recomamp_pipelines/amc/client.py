"""The AMC API client: accounts, instances, workflows, executions, polling and downloads.

`AmcClient` holds one user's credentials (and optionally the AMC account it acts for);
`AmcClient.instance(instance_id)` gives an `InstanceClient` for the reporting calls under
`/amc/reporting/{instanceId}`. The client is synchronous on purpose: the pipeline runs it in
Dagster's worker threads and processes, where there is no event loop to block.

Every call goes through the account's shared rate limiter, refreshes the access token before
it expires (and once more on a 401), and retries 429, 5xx and transport errors within the
configured `RetryPolicy`; submissions wait out a 429 storm for longer (the configured
`submission_retry_policy`). A 400 is never retried: its `AmcBadRequest` carries AMC's text.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from recomamp_pipelines.amc.auth import AmcConfig, TokenProvider
from recomamp_pipelines.amc.download import DownloadSummary, ResultDownload
from recomamp_pipelines.amc.errors import (
    AmcBadRequest,
    AmcConfigError,
    AmcDownloadNotReady,
    AmcError,
    AmcNotFound,
    AmcRetryableError,
    AmcUnauthorized,
)
from recomamp_pipelines.amc.models import (
    AmcAccount,
    AmcExecution,
    AmcInstance,
    AmcWorkflow,
    DownloadUrls,
    TimeWindow,
    workflow_body,
)
from recomamp_pipelines.amc.ratelimit import bucket_for
from recomamp_pipelines.amc.redaction import install_log_redaction
from recomamp_pipelines.amc.retry import RetryPolicy, error_for_response, send_with_retries
from recomamp_pipelines.settings import Settings

log = logging.getLogger(__name__)

REPORTING_PREFIX = "/amc/reporting"
# Above this size, SQL goes through a saved workflow rather than an ad hoc request.
AD_HOC_SQL_MAX_BYTES = 64 * 1024
# AMC instance ids are short lower-case strings such as "amcibersblt"; a UUID is a row id of
# our own database sent by mistake, and AMC would answer with a puzzling 404.
_UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask AMC about a running execution, and for how long at most.

    Intervals grow from initial_interval by multiplier up to max_interval. max_wait (seconds)
    caps the wait; without it the wait ends at AMC's own expireTime for the execution.
    """

    initial_interval: float = 15.0
    max_interval: float = 120.0
    multiplier: float = 1.5
    max_wait: float | None = None

    def __post_init__(self) -> None:
        if self.initial_interval <= 0 or self.max_interval < self.initial_interval:
            raise AmcConfigError(
                f"PollPolicy intervals: need 0 < initial_interval ({self.initial_interval}) "
                f"<= max_interval ({self.max_interval})"
            )
        if self.multiplier < 1:
            raise AmcConfigError(f"PollPolicy.multiplier={self.multiplier}: must be >= 1")
        if self.max_wait is not None and self.max_wait <= 0:
            raise AmcConfigError(f"PollPolicy.max_wait={self.max_wait}: must be > 0 seconds")


_T = TypeVar("_T")
# How many of the newest executions to look through for one a failed-looking create made.
_RECOVERY_SCAN = 50

# Failures that prove the request never reached AMC, so resending it cannot act twice.
_NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


class _Recovered(Exception):
    """An earlier attempt of a non-idempotent call turned out to have taken effect."""

    def __init__(self, body: Any) -> None:
        super().__init__("recovered")
        self.body = body


# When AMC gives no expireTime, wait as long as AMC itself keeps an execution (24 h), plus slack.
_FALLBACK_WAIT = timedelta(hours=25)


def _datetime_or_none(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _bool_param(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _creation_time_param(value: datetime | None, what: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise AmcConfigError(
            f"{what}={value.isoformat()} has no time zone: creation times are instants, pass "
            "an aware datetime"
        )
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class AmcClient:
    """One user's access to AMC, optionally acting for one AMC account (advertiser)."""

    def __init__(
        self,
        config: AmcConfig,
        refresh_token: str | SecretStr,
        *,
        advertiser_id: str | None = None,
        marketplace_id: str | None = None,
        poll_policy: PollPolicy | None = None,
        http: httpx.Client | None = None,
        download_http: httpx.Client | None = None,
        tokens: TokenProvider | None = None,
    ) -> None:
        install_log_redaction()
        self.config = config
        self.advertiser_id = advertiser_id
        self.marketplace_id = marketplace_id
        self.poll_policy = poll_policy or PollPolicy()
        self._owns_http = http is None
        timeout = httpx.Timeout(config.timeout_seconds, connect=min(config.timeout_seconds, 15.0))
        self._http = http or httpx.Client(base_url=config.api_url, timeout=timeout)
        # Pre-signed URLs are fetched with no AMC header: S3 refuses a request that carries
        # both a signature and an Authorization header, and the token must not leave AMC.
        self._download_http = download_http or httpx.Client(timeout=timeout)
        try:
            self.tokens = tokens or TokenProvider(config, refresh_token, self._http)
        except AmcConfigError:
            self.close()
            raise

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        refresh_token: str | SecretStr,
        *,
        advertiser_id: str | None = None,
        marketplace_id: str | None = None,
    ) -> AmcClient:
        """A client configured from the project settings (see AmcConfig.from_settings)."""
        return cls(
            AmcConfig.from_settings(settings),
            refresh_token,
            advertiser_id=advertiser_id,
            marketplace_id=marketplace_id,
        )

    def __repr__(self) -> str:
        return (
            f"AmcClient(api_url={self.config.api_url!r}, advertiser_id={self.advertiser_id!r}, "
            f"marketplace_id={self.marketplace_id!r})"
        )

    def __enter__(self) -> AmcClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
            self._download_http.close()

    def for_account(self, advertiser_id: str, marketplace_id: str | None = None) -> AmcClient:
        """A client acting for another AMC account, sharing connections and tokens."""
        client = copy.copy(self)
        client.advertiser_id = advertiser_id
        client.marketplace_id = marketplace_id or self.marketplace_id
        # Only the client that opened the connections closes them.
        client._owns_http = False
        return client

    def instance(self, instance_id: str) -> InstanceClient:
        """The reporting calls of one AMC instance (AMC's instance id, e.g. 'amcibersblt')."""
        if not instance_id or not instance_id.strip():
            raise AmcConfigError("the AMC instance id is empty")
        if _UUID_PATTERN.match(instance_id):
            raise AmcConfigError(
                f"instance id {instance_id!r} is a UUID, which is a database row id: AMC wants "
                "its own instance id string (amc_instances.instance_id, e.g. 'amcibersblt')"
            )
        if not self.advertiser_id:
            raise AmcConfigError(
                f"instance {instance_id!r}: AMC reporting calls need the AMC account's entity id "
                "(amc_accounts.account_id) as advertiser id; use client.for_account(...)"
            )
        return InstanceClient(self, instance_id)

    def check_credentials(self) -> None:
        """Obtain an access token now, raising AmcAuthError if Login with Amazon refuses."""
        self.tokens.access_token()

    # Administration, outside /amc/reporting.

    def list_accounts(self) -> list[AmcAccount]:
        """The AMC accounts the user's credentials reach."""
        accounts: list[AmcAccount] = []
        for page in self._pages("/amc/accounts", {}):
            accounts.extend(AmcAccount.from_api(a) for a in page.get("amcAccounts") or [])
        return accounts

    def list_instances(self) -> list[AmcInstance]:
        """The AMC instances of this client's account (advertiser id)."""
        self._require_account("GET /amc/instances")
        instances: list[AmcInstance] = []
        for page in self._pages("/amc/instances", {}):
            instances.extend(
                AmcInstance.from_api(i, account_id=self.advertiser_id)
                for i in page.get("instances") or []
            )
        return instances

    def get_instance(self, instance_id: str) -> AmcInstance:
        self._require_account(f"GET /amc/instances/{instance_id}")
        body = self.request("GET", f"/amc/instances/{quote(instance_id, safe='')}")
        return AmcInstance.from_api(body, account_id=self.advertiser_id)

    # The HTTP core shared by every call.

    def _require_account(self, what: str) -> None:
        if not self.advertiser_id:
            raise AmcConfigError(
                f"{what}: needs the AMC account's entity id (amc_accounts.account_id) as "
                "advertiser id; use client.for_account(...)"
            )

    def _headers(self) -> dict[str, str]:
        headers = {
            "Amazon-Advertising-API-ClientId": self.config.client_id,
            "Accept": "application/json",
        }
        if self.advertiser_id:
            headers["Amazon-Advertising-API-AdvertiserId"] = self.advertiser_id
        headers["Amazon-Advertising-API-MarketplaceId"] = (
            self.marketplace_id or self.config.default_marketplace_id
        )
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        recover: Callable[[], Any | None] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Any:
        """Send one AMC call and return its decoded JSON body ({} when empty).

        Raises the typed AmcApiError subclass matching AMC's answer. `recover` makes a
        non-idempotent call safe to retry: after a failure that AMC may have acted on anyway
        (a 5xx, or a connection lost after sending), it is asked first, and a body it returns
        (the effect found already in place) ends the call instead of sending it again.
        `retry_policy` replaces the configured one (submissions wait out a 429 storm).
        """
        bucket = bucket_for(self.config.api_url, self.advertiser_id, self.config.rate_limit)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        sent_with: list[SecretStr] = []
        maybe_applied = False

        def send() -> httpx.Response:
            nonlocal maybe_applied
            if maybe_applied and recover is not None:
                found = recover()
                if found is not None:
                    raise _Recovered(found)
            bucket.acquire()
            token = self.tokens.access_token()
            sent_with.append(token)
            headers = self._headers()
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            try:
                response = self._http.request(
                    method, path, params=query, json=json, headers=headers
                )
            except _NEVER_SENT:
                raise
            except httpx.TransportError:
                maybe_applied = True
                raise
            if response.status_code >= 500:
                maybe_applied = True
            return response

        def send_retrying() -> httpx.Response:
            return send_with_retries(
                send,
                policy=retry_policy or self.config.retry_policy,
                method=method,
                path=path,
                on_throttled=bucket.pause,
            )

        started = time.monotonic()
        try:
            response = send_retrying()
            if response.status_code == 401:
                # Expired early or revoked: one fresh token, one more try.
                log.info("%s %s: AMC answered 401; refreshing the access token", method, path)
                self.tokens.refresh_after_rejection(sent_with[-1])
                response = send_retrying()
        except _Recovered as recovered:
            log.warning(
                "%s %s: an earlier attempt took effect despite its failure; not sent again",
                method,
                path,
            )
            return recovered.body
        log.debug(
            "%s %s -> HTTP %d in %.3f s",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
        )
        if response.is_success:
            if not response.content:
                return {}
            return response.json()
        error = error_for_response(response, method, path)
        if response.status_code == 401:
            reach = (
                f"AMC account {self.advertiser_id!r}"
                if self.advertiser_id
                else "Amazon Marketing Cloud"
            )
            raise AmcUnauthorized(
                f"{error}, even with a fresh access token: the user's Amazon grant may lack "
                f"access to {reach} or have been revoked; check the user's access in Amazon "
                "Ads, or have the user sign in with Amazon again",
                status_code=401,
                method=method,
                path=path,
                amc_message=error.amc_message,
                request_id=error.request_id,
            )
        raise error

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a listing, following AMC's nextToken."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            body = self.request("GET", path, params={**params, "nextToken": token})
            yield body
            token = body.get("nextToken") or None
            if token is None:
                return
            if token in seen:
                raise AmcError(f"GET {path}: AMC returned nextToken {token!r} twice; stopping")
            seen.add(token)


class InstanceClient:
    """Workflows and executions of one AMC instance."""

    def __init__(self, client: AmcClient, instance_id: str) -> None:
        self.client = client
        self.instance_id = instance_id
        self._prefix = f"{REPORTING_PREFIX}/{quote(instance_id, safe='')}"
        self._sleep: Callable[[float], None] = time.sleep
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __repr__(self) -> str:
        return f"InstanceClient(instance_id={self.instance_id!r}, client={self.client!r})"

    def _path(self, *parts: str) -> str:
        return "/".join([self._prefix, *(quote(p, safe="") for p in parts)])

    # Workflows.

    def create_workflow(
        self,
        workflow_id: str,
        sql_query: str,
        *,
        input_parameters: Sequence[Mapping[str, Any]] | None = None,
        output_format: str | None = "CSV",
        distinct_user_count_column: str | None = None,
        filtered_metrics_discriminator_column: str | None = None,
        filtered_reason_column: str | None = None,
    ) -> None:
        """Save a workflow under `workflow_id` (kept whole, never shortened)."""
        body = workflow_body(
            sql_query=sql_query,
            workflow_id=workflow_id,
            input_parameters=input_parameters,
            output_format=output_format,
            distinct_user_count_column=distinct_user_count_column,
            filtered_metrics_discriminator_column=filtered_metrics_discriminator_column,
            filtered_reason_column=filtered_reason_column,
        )

        def already_saved() -> dict[str, Any] | None:
            existing = self._quietly(lambda: self.get_workflow(workflow_id))
            return {} if existing is not None and existing.sql_query == sql_query else None

        self.client.request(
            "POST",
            self._path("workflows"),
            json=body,
            recover=already_saved,
            retry_policy=self.client.config.submission_retry_policy,
        )

    def update_workflow(
        self,
        workflow_id: str,
        sql_query: str,
        *,
        input_parameters: Sequence[Mapping[str, Any]] | None = None,
        output_format: str | None = "CSV",
        distinct_user_count_column: str | None = None,
        filtered_metrics_discriminator_column: str | None = None,
        filtered_reason_column: str | None = None,
    ) -> None:
        """Replace a saved workflow's SQL and options."""
        body = workflow_body(
            sql_query=sql_query,
            workflow_id=workflow_id,
            input_parameters=input_parameters,
            output_format=output_format,
            distinct_user_count_column=distinct_user_count_column,
            filtered_metrics_discriminator_column=filtered_metrics_discriminator_column,
            filtered_reason_column=filtered_reason_column,
        )
        self.client.request("PUT", self._path("workflows", workflow_id), json=body)

    def get_workflow(self, workflow_id: str) -> AmcWorkflow:
        body = self.client.request("GET", self._path("workflows", workflow_id))
        return AmcWorkflow.from_api(body.get("workflow", body))

    def list_workflows(self, *, page_size: int | None = None) -> list[AmcWorkflow]:
        """Every saved workflow of the instance, following nextToken."""
        workflows: list[AmcWorkflow] = []
        for page in self.client._pages(self._path("workflows"), {"limit": page_size}):
            workflows.extend(AmcWorkflow.from_api(w) for w in page.get("workflows") or [])
        return workflows

    def delete_workflow(self, workflow_id: str) -> None:
        def already_deleted() -> dict[str, Any] | None:
            try:
                self.get_workflow(workflow_id)
            except AmcNotFound:
                return {}
            except AmcError:
                return None
            return None

        self.client.request("DELETE", self._path("workflows", workflow_id), recover=already_deleted)

    def _quietly(self, fetch: Callable[[], _T]) -> _T | None:
        """`fetch()`, or None when AMC cannot answer it now (used to look for effects)."""
        try:
            return fetch()
        except AmcError as exc:
            log.info("instance %s: could not look for an earlier effect: %s", self.instance_id, exc)
            return None

    # Executions.

    def create_execution(
        self,
        window: TimeWindow,
        *,
        sql: str | None = None,
        workflow_id: str | None = None,
        parameter_values: Mapping[str, Any] | None = None,
        ignore_data_gaps: bool | None = None,
        timeout_seconds: int | None = None,
        disable_aggregation_controls: bool | None = None,
        dry_run: bool | None = None,
        input_parameters: Sequence[Mapping[str, Any]] | None = None,
        distinct_user_count_column: str | None = None,
        filtered_metrics_discriminator_column: str | None = None,
        filtered_reason_column: str | None = None,
    ) -> AmcExecution:
        """Start an execution over an EXPLICIT window: ad hoc `sql`, or a saved `workflow_id`.

        The returned execution's `workflow_execution_id` is AMC's id: the one to poll.
        """
        if (sql is None) == (workflow_id is None):
            raise AmcConfigError(
                "create_execution needs exactly one of sql (ad hoc) or workflow_id (saved), "
                f"got sql={'set' if sql is not None else None}, workflow_id={workflow_id!r}"
            )
        if not isinstance(window, TimeWindow):
            raise AmcConfigError(f"window={window!r}: expected a TimeWindow")
        body: dict[str, Any] = {}
        if workflow_id is not None:
            body["workflowId"] = workflow_id
        else:
            assert sql is not None
            body["workflow"] = workflow_body(
                sql_query=sql,
                input_parameters=input_parameters,
                distinct_user_count_column=distinct_user_count_column,
                filtered_metrics_discriminator_column=filtered_metrics_discriminator_column,
                filtered_reason_column=filtered_reason_column,
            )
        body.update(window.as_body())
        optional = {
            "parameterValues": dict(parameter_values) if parameter_values else None,
            "ignoreDataGaps": ignore_data_gaps,
            "workflowExecutionTimeoutSeconds": timeout_seconds,
            "disableAggregationControls": disable_aggregation_controls,
            "dryRun": dry_run,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        # The newest execution before ours bounds the search for ours should the create fail
        # in a way AMC may have acted on anyway; clocks play no part in it.
        newest = next(
            self.iter_executions(workflow_id=workflow_id, sort_ascending=False, page_size=1),
            None,
        )
        answer = self.client.request(
            "POST",
            self._path("workflowExecutions"),
            json=body,
            recover=lambda: self._find_created_execution(
                body, newest.workflow_execution_id if newest else None
            ),
            retry_policy=self.client.config.submission_retry_policy,
        )
        execution = AmcExecution.from_api(answer)
        log.info(
            "instance %s: started execution %s (%s) for %s..%s %s",
            self.instance_id,
            execution.workflow_execution_id,
            workflow_id or "ad hoc",
            body["timeWindowStart"],
            body["timeWindowEnd"],
            body["timeWindowTimeZone"],
        )
        return execution

    def dry_run(
        self,
        window: TimeWindow,
        sql: str,
        *,
        parameter_values: Mapping[str, Any] | None = None,
        input_parameters: Sequence[Mapping[str, Any]] | None = None,
        policy: PollPolicy | None = None,
    ) -> AmcExecution:
        """AMC's verdict on `sql` without running it: an ad hoc `dryRun` execution, waited for.

        SQL that does not compile is refused at once (AmcBadRequest carrying AMC's message and
        the position it names); otherwise the returned execution is terminal, SUCCEEDED when
        AMC accepts the query, FAILED or REJECTED with AMC's statusReason when it does not.
        """
        created = self.create_execution(
            window,
            sql=sql,
            parameter_values=parameter_values,
            input_parameters=input_parameters,
            dry_run=True,
        )
        return self.poll_until_terminal(created.workflow_execution_id, policy=policy)

    def create_execution_for_sql(
        self,
        window: TimeWindow,
        sql: str,
        *,
        saved_workflow_id: str,
        parameter_values: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AmcExecution:
        """Run `sql` ad hoc, or through the saved workflow `saved_workflow_id` when too long.

        SQL beyond AD_HOC_SQL_MAX_BYTES is saved (created, or updated when it exists) and
        executed by id, as AMC limits the size of an ad hoc request.
        """
        if len(sql.encode("utf-8")) <= AD_HOC_SQL_MAX_BYTES:
            return self.create_execution(
                window, sql=sql, parameter_values=parameter_values, **options
            )
        try:
            self.get_workflow(saved_workflow_id)
        except AmcNotFound:
            self.create_workflow(saved_workflow_id, sql)
        else:
            self.update_workflow(saved_workflow_id, sql)
        return self.create_execution(
            window, workflow_id=saved_workflow_id, parameter_values=parameter_values, **options
        )

    def get_execution(self, execution_id: str, *, include_workflow: bool = False) -> AmcExecution:
        """AMC's view of an execution, by AMC's workflowExecutionId."""
        try:
            body = self.client.request(
                "GET",
                self._path("workflowExecutions", execution_id),
                params={"includeWorkflow": _bool_param(include_workflow)},
            )
        except AmcNotFound as exc:
            raise AmcNotFound(
                f"{exc}: instance {self.instance_id!r} has no execution {execution_id!r}; "
                "use the workflowExecutionId AMC returned when the execution was created, "
                "not a local id",
                status_code=exc.status_code,
                method=exc.method,
                path=exc.path,
                amc_message=exc.amc_message,
                request_id=exc.request_id,
            ) from None
        return AmcExecution.from_api(body)

    def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        min_creation_time: datetime | None = None,
        max_creation_time: datetime | None = None,
        sort_ascending: bool | None = None,
        include_cancelled: bool | None = None,
        page_size: int | None = None,
    ) -> list[AmcExecution]:
        """Executions of the instance matching the filters, following nextToken.

        Creation-time bounds are aware datetimes; they are sent in UTC.
        """
        return list(
            self.iter_executions(
                workflow_id=workflow_id,
                min_creation_time=min_creation_time,
                max_creation_time=max_creation_time,
                sort_ascending=sort_ascending,
                include_cancelled=include_cancelled,
                page_size=page_size,
            )
        )

    def iter_executions(
        self,
        *,
        workflow_id: str | None = None,
        min_creation_time: datetime | None = None,
        max_creation_time: datetime | None = None,
        sort_ascending: bool | None = None,
        include_cancelled: bool | None = None,
        page_size: int | None = None,
    ) -> Iterator[AmcExecution]:
        """Like list_executions, fetching the next page only when it is reached."""
        min_text = _creation_time_param(min_creation_time, "min_creation_time")
        max_text = _creation_time_param(max_creation_time, "max_creation_time")
        params = {
            "workflowId": workflow_id,
            "minCreationTime": min_text,
            "maxCreationTime": max_text,
            "timeZone": "UTC" if (min_text or max_text) else None,
            "sortAscending": _bool_param(sort_ascending),
            "includeCancelled": _bool_param(include_cancelled),
            "limit": page_size,
        }
        for page in self.client._pages(self._path("workflowExecutions"), params):
            for item in page.get("executions") or []:
                yield AmcExecution.from_api(item)

    def _find_created_execution(
        self, body: Mapping[str, Any], older_than: str | None
    ) -> dict[str, Any] | None:
        """The execution an earlier, failed-looking create made from `body`, if any.

        Looks through the executions newer than `older_than` (the newest one before the
        create), matching what AMC echoes back: saved workflow or ad hoc SQL, original window
        and zone, parameter values. An identical query over an identical window submitted at
        the same moment is a duplicate either way.
        """
        wanted_start = _datetime_or_none(body["timeWindowStart"])
        wanted_end = _datetime_or_none(body["timeWindowEnd"])
        saved_id = body.get("workflowId")
        wanted_sql = None if saved_id else body["workflow"]["sqlQuery"]
        wanted_params = body.get("parameterValues") or {}

        def matches(candidate: AmcExecution) -> bool:
            start = candidate.time_window_start_original or candidate.time_window_start
            end = candidate.time_window_end_original or candidate.time_window_end
            zone = candidate.time_window_time_zone_original or candidate.time_window_time_zone
            if (start, end) != (wanted_start, wanted_end):
                return False
            if zone is not None and zone != body["timeWindowTimeZone"]:
                return False
            if candidate.parameter_values != wanted_params:
                return False
            if saved_id:
                return candidate.workflow_id == saved_id
            full = self.get_execution(candidate.workflow_execution_id, include_workflow=True)
            return full.workflow is not None and full.workflow.sql_query == wanted_sql

        def search() -> dict[str, Any] | None:
            newest = self.iter_executions(workflow_id=saved_id, sort_ascending=False)
            for checked, candidate in enumerate(newest):
                if checked >= _RECOVERY_SCAN or candidate.workflow_execution_id == older_than:
                    return None
                if matches(candidate):
                    return candidate.raw
            return None

        return self._quietly(search)

    def cancel_execution(self, execution_id: str) -> AmcExecution:
        """Ask AMC to cancel a PENDING or RUNNING execution (AMC answers 400 otherwise)."""

        def already_cancelled() -> dict[str, Any] | None:
            current = self._quietly(lambda: self.get_execution(execution_id))
            return (
                current.raw if current is not None and current.amc_status == "CANCELLED" else None
            )

        body = self.client.request(
            "PUT",
            self._path("workflowExecutions", execution_id),
            json={"status": "CANCELLED"},
            recover=already_cancelled,
        )
        if not body:
            return self.get_execution(execution_id)
        return AmcExecution.from_api(body)

    def get_download_urls(self, execution_id: str) -> DownloadUrls:
        """Pre-signed URLs of the result files; AmcDownloadNotReady before output exists."""
        path = self._path("workflowExecutions", execution_id, "downloadUrls")
        urls: list[str] = []
        metadata: list[str] = []
        try:
            for page in self.client._pages(path, {}):
                urls.extend(page.get("downloadUrls") or [])
                metadata.extend(page.get("metadataDownloadUrls") or [])
        except AmcNotFound as exc:
            raise AmcDownloadNotReady(
                f"{exc}: execution {execution_id!r} has no output to download yet; wait until "
                "it SUCCEEDED",
                status_code=exc.status_code,
                method=exc.method,
                path=exc.path,
                amc_message=exc.amc_message,
                request_id=exc.request_id,
            ) from None
        return DownloadUrls(tuple(urls), tuple(metadata))

    # Polling.

    def poll_until_terminal(
        self,
        execution_id: str,
        *,
        deadline: datetime | None = None,
        on_poll: Callable[[AmcExecution], None] | None = None,
        policy: PollPolicy | None = None,
    ) -> AmcExecution:
        """Wait for AMC's verdict on an execution, with growing intervals.

        `execution_id` is AMC's workflowExecutionId. The wait ends at `deadline` (aware), at
        `policy.max_wait`, or else at AMC's expireTime for the execution; then the AMC
        execution is cancelled and the result has status TIMEOUT. `on_poll` sees every
        execution fetched. Transient failures (throttling, 5xx, network) and a 401 (the token
        is refreshed) do not end the wait.
        """
        if deadline is not None and deadline.tzinfo is None:
            raise AmcConfigError(
                f"deadline={deadline.isoformat()} has no time zone: pass an aware datetime"
            )
        policy = policy or self.client.poll_policy
        started = self._now()
        limit = deadline
        if policy.max_wait is not None:
            cap = started + timedelta(seconds=policy.max_wait)
            limit = cap if limit is None else min(limit, cap)
        interval = policy.initial_interval
        last: AmcExecution | None = None
        last_error: AmcRetryableError | None = None
        while True:
            try:
                execution = self.get_execution(execution_id)
            except AmcRetryableError as exc:
                last_error = exc
                log.warning("polling execution %s: %s; will poll again", execution_id, exc)
            else:
                last = execution
                if on_poll is not None:
                    on_poll(execution)
                if execution.is_terminal:
                    return execution
            effective = limit or _expiry(last) or started + _FALLBACK_WAIT
            now = self._now()
            if now >= effective:
                return self._time_out(execution_id, last, last_error, effective)
            self._sleep(min(interval, (effective - now).total_seconds()))
            interval = min(interval * policy.multiplier, policy.max_interval)

    def _time_out(
        self,
        execution_id: str,
        last: AmcExecution | None,
        last_error: AmcRetryableError | None,
        deadline: datetime,
    ) -> AmcExecution:
        reason = f"no final status from AMC by {deadline.isoformat(timespec='seconds')}" + (
            f" (last AMC status {last.amc_status})" if last is not None else ""
        )
        log.warning("execution %s: %s; cancelling it", execution_id, reason)
        try:
            cancelled = self.cancel_execution(execution_id)
        except AmcBadRequest:
            # Already final: AMC refuses to cancel, and its final answer wins over ours.
            final = self.get_execution(execution_id)
            if final.is_terminal:
                return final
            cancelled = final
        except AmcRetryableError as exc:
            if last is None:
                raise exc from last_error
            return last.timed_out(f"{reason}; cancelling it failed: {exc}")
        return cancelled.timed_out(f"{reason}; cancelled")

    # Downloads.

    def iter_result_chunks(
        self, execution_id: str, *, combine_csv_headers: bool = True, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """The execution's results as one stream of bytes, file after file.

        With combine_csv_headers, the header line of every file after the first is dropped
        (after checking that it matches), so the stream is one CSV.
        """
        download = ResultDownload(self, execution_id, chunk_size=chunk_size)
        return download.iter_chunks(combine_csv_headers=combine_csv_headers)

    def download_results(
        self, execution_id: str, destination: str | Path | IO[bytes]
    ) -> DownloadSummary:
        """Stream every result file into one CSV at `destination` (a path or a binary file)."""
        return ResultDownload(self, execution_id).write_to(destination)

    @property
    def download_http(self) -> httpx.Client:
        return self.client._download_http


def _expiry(execution: AmcExecution | None) -> datetime | None:
    if execution is None or execution.expire_time is None:
        return None
    expire = execution.expire_time
    return expire if expire.tzinfo is not None else expire.replace(tzinfo=UTC)
