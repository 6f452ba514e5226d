"""Typed AMC objects, and the one mapping from AMC's execution statuses to the project's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recomamp_pipelines.amc.errors import AmcConfigError, AmcTimeWindowError, AmcUnknownStatus


class AmcStatus(StrEnum):
    """An execution status as AMC reports it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PUBLISHING = "PUBLISHING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class ProjectStatus(StrEnum):
    """An execution status as the project records it (workflow_executions.status)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"


@dataclass(frozen=True)
class StatusOutcome:
    """What an AMC status means for the project: its status, error type, and finality."""

    status: ProjectStatus
    error_type: str | None
    is_terminal: bool


# The only place where AMC's statuses are translated; everything else asks `outcome_of`.
_OUTCOMES: dict[AmcStatus, StatusOutcome] = {
    AmcStatus.PENDING: StatusOutcome(ProjectStatus.PENDING, None, False),
    AmcStatus.RUNNING: StatusOutcome(ProjectStatus.RUNNING, None, False),
    AmcStatus.PUBLISHING: StatusOutcome(ProjectStatus.RUNNING, None, False),
    AmcStatus.SUCCEEDED: StatusOutcome(ProjectStatus.SUCCESS, None, True),
    AmcStatus.FAILED: StatusOutcome(ProjectStatus.FAILED, "FAILED", True),
    AmcStatus.REJECTED: StatusOutcome(ProjectStatus.FAILED, "REJECTED", True),
    AmcStatus.CANCELLED: StatusOutcome(ProjectStatus.CANCELLED, None, True),
}
_TIMEOUT = StatusOutcome(ProjectStatus.TIMEOUT, "TIMEOUT", True)


def parse_amc_status(value: object, *, execution_id: str | None = None) -> AmcStatus:
    """AMC's status string as an AmcStatus; an unknown one is an error, never a guess."""
    try:
        return AmcStatus(str(value).upper())
    except ValueError:
        where = f" for execution {execution_id!r}" if execution_id else ""
        raise AmcUnknownStatus(
            f"AMC reported status {value!r}{where}, which this client does not know "
            f"(known: {', '.join(AmcStatus)})"
        ) from None


def outcome_of(amc_status: AmcStatus | str) -> StatusOutcome:
    """The project status (and error type) for an AMC execution status."""
    status = amc_status if isinstance(amc_status, AmcStatus) else parse_amc_status(amc_status)
    return _OUTCOMES[status]


def timeout_outcome() -> StatusOutcome:
    """The outcome to record when the project's own deadline for an execution has passed."""
    return _TIMEOUT


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    # AMC's own samples send booleans as strings ("True"); accept both in answers.
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _datetime(value: Any) -> datetime | None:
    """AMC timestamps: aware when AMC gives an offset or Z, naive (local) otherwise."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class OutputColumn:
    """One column of an execution's output, as AMC describes it."""

    name: str
    data_type: str | None
    column_type: str | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> OutputColumn:
        return cls(
            name=str(body.get("name", "")),
            data_type=_text(body.get("dataType")),
            column_type=_text(body.get("columnType")),
        )


@dataclass(frozen=True)
class AmcWorkflow:
    """A saved AMC workflow (or the ad hoc one carried by an execution)."""

    workflow_id: str | None
    sql_query: str
    input_parameters: list[dict[str, Any]] = field(default_factory=list)
    output_format: str | None = None
    distinct_user_count_column: str | None = None
    filtered_metrics_discriminator_column: str | None = None
    filtered_reason_column: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> AmcWorkflow:
        return cls(
            workflow_id=_text(body.get("workflowId")),
            sql_query=str(body.get("sqlQuery", "")),
            input_parameters=list(body.get("inputParameters") or []),
            output_format=_text(body.get("outputFormat")),
            distinct_user_count_column=_text(body.get("distinctUserCountColumn")),
            filtered_metrics_discriminator_column=_text(
                body.get("filteredMetricsDiscriminatorColumn")
            ),
            filtered_reason_column=_text(body.get("filteredReasonColumn")),
            create_time=_datetime(body.get("createTime") or body.get("creationTime")),
            update_time=_datetime(body.get("updateTime") or body.get("lastUpdatedTime")),
            raw=dict(body),
        )


def workflow_body(
    *,
    sql_query: str,
    workflow_id: str | None = None,
    input_parameters: Sequence[Mapping[str, Any]] | None = None,
    output_format: str | None = None,
    distinct_user_count_column: str | None = None,
    filtered_metrics_discriminator_column: str | None = None,
    filtered_reason_column: str | None = None,
) -> dict[str, Any]:
    """A workflow as AMC expects it in a request body; absent options are left out."""
    if not sql_query or not sql_query.strip():
        raise AmcConfigError(f"workflow {workflow_id!r}: its SQL query is empty")
    body: dict[str, Any] = {"sqlQuery": sql_query}
    optional = {
        "workflowId": workflow_id,
        "inputParameters": [dict(p) for p in input_parameters] if input_parameters else None,
        "outputFormat": output_format,
        "distinctUserCountColumn": distinct_user_count_column,
        "filteredMetricsDiscriminatorColumn": filtered_metrics_discriminator_column,
        "filteredReasonColumn": filtered_reason_column,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def _naive_timestamp(value: datetime | date, what: str) -> datetime:
    if not isinstance(value, datetime):
        if isinstance(value, date):
            return datetime.combine(value, time.min)
        raise AmcTimeWindowError(f"{what}={value!r}: expected a datetime")
    if value.tzinfo is not None:
        raise AmcTimeWindowError(
            f"{what}={value.isoformat()} carries a time zone: AMC takes naive local timestamps "
            "plus timeWindowTimeZone (an offset or a 'Z' silently empties results); pass "
            "value.replace(tzinfo=None) in the zone you name"
        )
    if value.microsecond:
        raise AmcTimeWindowError(
            f"{what}={value.isoformat()}: AMC windows are whole seconds, not microseconds"
        )
    return value


@dataclass(frozen=True)
class TimeWindow:
    """An EXPLICIT AMC time window: naive local start and end in an IANA time zone."""

    start: datetime
    end: datetime
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        start = _naive_timestamp(self.start, "time window start")
        end = _naive_timestamp(self.end, "time window end")
        if start >= end:
            raise AmcTimeWindowError(
                f"time window start {start.isoformat()} is not before its end {end.isoformat()}"
            )
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AmcTimeWindowError(
                f"time zone {self.time_zone!r} is not an IANA time zone "
                "(e.g. 'America/New_York', 'UTC')"
            ) from None
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def as_body(self) -> dict[str, str]:
        """The window's fields of a create-execution body (no offset, no 'Z')."""
        return {
            "timeWindowType": "EXPLICIT",
            "timeWindowStart": self.start.isoformat(timespec="seconds"),
            "timeWindowEnd": self.end.isoformat(timespec="seconds"),
            "timeWindowTimeZone": self.time_zone,
        }


@dataclass(frozen=True)
class AmcExecution:
    """An AMC workflow execution: AMC's flat object, with the project's status beside AMC's."""

    workflow_execution_id: str
    workflow_id: str | None
    amc_status: AmcStatus
    status: ProjectStatus
    error_type: str | None
    status_reason: str | None = None
    create_time: datetime | None = None
    last_updated_time: datetime | None = None
    expire_time: datetime | None = None
    wait_until: datetime | None = None
    time_window_type: str | None = None
    time_window_start: datetime | None = None
    time_window_end: datetime | None = None
    time_window_time_zone: str | None = None
    time_window_start_original: datetime | None = None
    time_window_end_original: datetime | None = None
    time_window_time_zone_original: str | None = None
    parameter_values: dict[str, Any] = field(default_factory=dict)
    data_gaps: list[dict[str, Any]] = field(default_factory=list)
    execution_category: str | None = None
    workflow_execution_timeout_seconds: int | None = None
    ignore_data_gaps: bool | None = None
    disable_aggregation_controls: bool | None = None
    execution_time: float | None = None
    validated_time: datetime | None = None
    output_columns: list[OutputColumn] = field(default_factory=list)
    workflow: AmcWorkflow | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status is ProjectStatus.TIMEOUT or outcome_of(self.amc_status).is_terminal

    @property
    def queue_seconds(self) -> float | None:
        """Seconds AMC held the execution before running it: its life less its run time."""
        if self.create_time is None or self.last_updated_time is None:
            return None
        if self.execution_time is None:
            return None
        lifetime = (self.last_updated_time - self.create_time).total_seconds()
        return max(lifetime - self.execution_time, 0.0)

    @property
    def error_message(self) -> str | None:
        """What to record as the failure's text: AMC's statusReason, word for word."""
        if self.status in (ProjectStatus.FAILED, ProjectStatus.TIMEOUT, ProjectStatus.CANCELLED):
            return self.status_reason
        return None

    def timed_out(self, reason: str | None = None) -> AmcExecution:
        """This execution as recorded when the project's own deadline passed."""
        outcome = timeout_outcome()
        return dataclasses.replace(
            self,
            status=outcome.status,
            error_type=outcome.error_type,
            status_reason=reason or self.status_reason,
        )

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> AmcExecution:
        execution_id = str(body.get("workflowExecutionId") or "")
        amc_status = parse_amc_status(body.get("status"), execution_id=execution_id)
        outcome = outcome_of(amc_status)
        workflow = body.get("workflow")
        return cls(
            workflow_execution_id=execution_id,
            workflow_id=_text(body.get("workflowId")),
            amc_status=amc_status,
            status=outcome.status,
            error_type=outcome.error_type,
            status_reason=_text(body.get("statusReason")),
            create_time=_datetime(body.get("createTime")),
            last_updated_time=_datetime(body.get("lastUpdatedTime")),
            expire_time=_datetime(body.get("expireTime")),
            wait_until=_datetime(body.get("waitUntil")),
            time_window_type=_text(body.get("timeWindowType")),
            time_window_start=_datetime(body.get("timeWindowStart")),
            time_window_end=_datetime(body.get("timeWindowEnd")),
            time_window_time_zone=_text(body.get("timeWindowTimeZone")),
            time_window_start_original=_datetime(body.get("timeWindowStartOriginal")),
            time_window_end_original=_datetime(body.get("timeWindowEndOriginal")),
            time_window_time_zone_original=_text(body.get("timeWindowTimeZoneOriginal")),
            parameter_values=dict(body.get("parameterValues") or {}),
            data_gaps=list(body.get("dataGaps") or []),
            execution_category=_text(body.get("executionCategory")),
            workflow_execution_timeout_seconds=_int(body.get("workflowExecutionTimeoutSeconds")),
            ignore_data_gaps=_bool(body.get("ignoreDataGaps")),
            disable_aggregation_controls=_bool(body.get("disableAggregationControls")),
            execution_time=_float(body.get("executionTime")),
            validated_time=_datetime(body.get("validatedTime")),
            output_columns=[OutputColumn.from_api(c) for c in body.get("outputColumns") or []],
            workflow=AmcWorkflow.from_api(workflow) if isinstance(workflow, Mapping) else None,
            raw=dict(body),
        )


@dataclass(frozen=True)
class DownloadUrls:
    """Pre-signed URLs of an execution's result files; the repr hides their signatures."""

    download_urls: tuple[str, ...]
    metadata_download_urls: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"DownloadUrls({len(self.download_urls)} result file(s), "
            f"{len(self.metadata_download_urls)} metadata file(s))"
        )


# Amazon's marketplace ids and their countries (amc_accounts.country_code).
MARKETPLACE_COUNTRIES: dict[str, str] = {
    "ATVPDKIKX0DER": "US",
    "A2EUQ1WTGCTBG2": "CA",
    "A1AM78C64UM0Y8": "MX",
    "A2Q3Y263D00KWC": "BR",
    "A1F83G8C2ARO7P": "UK",
    "A1PA6795UKMFR9": "DE",
    "A13V1IB3VIYZZH": "FR",
    "APJ6JRA9NG5V4": "IT",
    "A1RKKUPIHCS9HS": "ES",
    "A1805IZSGTT6HS": "NL",
    "A2NODRKZP88ZB9": "SE",
    "A1C3SOZRARQ6R3": "PL",
    "A33AVAJ2PDY3EV": "TR",
    "AMEN7PMS3EDWL": "BE",
    "A2VIGQ35RCS4UG": "AE",
    "A17E79C6D8DWNP": "SA",
    "ARBP9OOSHTCHU": "EG",
    "A21TJRUUN4KGV": "IN",
    "A1VC38T7YXB528": "JP",
    "A39IBJ37TRP1C6": "AU",
    "A19VAU5U5O7RUS": "SG",
}


@dataclass(frozen=True)
class AmcAccount:
    """An AMC account (entity) reachable with the user's credentials."""

    account_id: str
    account_name: str | None
    marketplace_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def country_code(self) -> str | None:
        """The marketplace's country, when Amazon's marketplace id is a known one."""
        return MARKETPLACE_COUNTRIES.get(self.marketplace_id or "")

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> AmcAccount:
        return cls(
            account_id=str(body.get("accountId") or ""),
            account_name=_text(body.get("accountName")),
            marketplace_id=_text(body.get("marketplaceId")),
            raw=dict(body),
        )


@dataclass(frozen=True)
class AmcInstance:
    """An AMC instance, with the account (advertiser id) it was listed under."""

    instance_id: str
    instance_name: str | None
    account_id: str | None
    region: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Mapping[str, Any], *, account_id: str | None = None) -> AmcInstance:
        return cls(
            instance_id=str(body.get("instanceId") or ""),
            instance_name=_text(body.get("instanceName")),
            account_id=account_id or _text(body.get("accountId") or body.get("entityId")),
            region=_text(body.get("region")),
            raw=dict(body),
        )
