"""Latency and faults the simulator injects, settable per run and changed while it runs.

Every field of `Faults` can come from the settings file (`[faults]`), the `--fault KEY=VALUE`
option, or `POST /_sim/faults` (a JSON object of the fields to change). "next N" faults count
down as they fire; rates are drawn from a generator seeded by the simulator's seed, so a run is
repeatable.

API faults (`rate_limit_*`, `server_error_*`, `unauthorized_*`) hit the AMC endpoints
(`/amc/...`), optionally only those whose path contains `fault_path_contains` and whose method is
`fault_method`; the token endpoint, downloads and `/_sim` are never hit by them. A 429 or 5xx is
answered before the token is looked at; `unauthorized_*` answers 401 {"message": "Unauthorized"}
to a call whose token is valid, as AMC does once the user's grant no longer reaches the account,
and fresh tokens do not help.

Token faults (`token_error_*`) hit Login with Amazon's `POST /auth/o2/token` alone, before the
form is checked: `token_error_status` (503 by default; 429, 5xx, or 400/401 for a refused grant or
client), with the OAuth `error` code `token_error_code` (by default `invalid_grant` for 400,
`invalid_client` for 401, `server_error` for 500, `temporarily_unavailable` otherwise) and, on a
429 or 5xx, `Retry-After: token_error_retry_after` when set. Faulted token requests are counted
like the others (`token_requests`) and issue no token.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FAILED_REASON = "Query execution failed: an internal error occurred in the compute engine."
REJECTED_REASON = (
    "Too many workflows have already been run against the same input data sources in the same "
    "or overlapping time windows."
)


class FaultSettingError(ValueError):
    """A fault name or value the simulator does not understand."""


@dataclass(frozen=True)
class Faults:
    """The fault plan; every default is "no fault"."""

    latency_seconds: float = 0.0
    rate_limit_next: int = 0
    rate_limit_rate: float = 0.0
    rate_limit_retry_after: float | None = 1.0
    server_error_next: int = 0
    server_error_rate: float = 0.0
    server_error_status: int = 503
    unauthorized_next: int = 0
    unauthorized_rate: float = 0.0
    fault_path_contains: str | None = None
    fault_method: str | None = None
    token_error_next: int = 0
    token_error_rate: float = 0.0
    token_error_status: int = 503
    token_error_code: str | None = None
    token_error_retry_after: float | None = None
    expire_tokens_after_calls: int | None = None
    fail_next_executions: int = 0
    fail_status_reason: str = FAILED_REASON
    reject_next_executions: int = 0
    reject_status_reason: str = REJECTED_REASON
    stuck_pending_next_executions: int = 0
    header_only_next_executions: int = 0
    truncate_next_downloads: int = 0
    hold_create_response_seconds: float = 0.0
    execution_seconds: float | None = None
    result_file_max_rows: int | None = None
    download_url_ttl_seconds: int | None = None

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with `changes` applied, each value checked against the field's type."""
        known = {f.name: f for f in fields(self)}
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise FaultSettingError(f"unknown fault {key!r}; known faults: {sorted(known)}")
            values[key] = _coerce(key, value, str(known[key].type))
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(key: str, value: Any, annotation: str) -> Any:
    optional = "None" in annotation
    if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
        if optional:
            return None
        raise FaultSettingError(f"fault {key}: a value is required")
    try:
        if annotation.startswith("int"):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if annotation.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)
    except ValueError as exc:
        raise FaultSettingError(f"fault {key} = {value!r}: expected {annotation}") from exc


@dataclass(frozen=True)
class ApiFault:
    """What to answer instead of the real response."""

    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class TokenFault:
    """What Login with Amazon answers instead of a token: a status and its OAuth error code."""

    status: int
    error: str
    retry_after: float | None = None

    @property
    def body(self) -> dict[str, str]:
        description = _TOKEN_ERROR_DESCRIPTIONS.get(self.error, f"Error: {self.error}")
        return {"error": self.error, "error_description": description}


# Descriptions of OAuth 2.0 error codes (RFC 6749); the first two are also what the simulator
# answers a bad refresh token and a bad client with.
_TOKEN_ERROR_DESCRIPTIONS = {
    "invalid_grant": "The request has an invalid grant parameter : refresh_token",
    "invalid_client": "Client authentication failed",
    "unauthorized_client": "Not authorized for requested operation",
    "invalid_request": "The request is missing a required parameter",
    "server_error": "The authorization server encountered an unexpected error",
    "temporarily_unavailable": "The authorization server is temporarily unavailable",
}


def default_token_error(status: int) -> str:
    """The OAuth error code a token fault of `status` carries unless token_error_code is set."""
    return {400: "invalid_grant", 401: "invalid_client", 500: "server_error"}.get(
        status, "temporarily_unavailable"
    )


class FaultState:
    """The live fault plan, its countdowns, and its random draws (thread-safe)."""

    def __init__(self, initial: Faults, seed: int) -> None:
        self._initial = initial
        self._faults = initial
        self._random = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()

    @property
    def current(self) -> Faults:
        return self._faults

    def update(self, changes: dict[str, Any]) -> Faults:
        with self._lock:
            self._faults = self._faults.updated(changes)
            return self._faults

    def clear(self) -> Faults:
        """Back to the faults the simulator started with."""
        with self._lock:
            self._faults = self._initial
            self._random = random.Random(self._seed)
            return self._faults

    def api_fault(self, method: str, path: str) -> ApiFault | None:
        """The 429 or 5xx this AMC call should get, if any (consumes a countdown)."""
        with self._lock:
            f = self._faults
            if f.fault_path_contains and f.fault_path_contains not in path:
                return None
            if f.fault_method and f.fault_method.upper() != method.upper():
                return None
            if f.rate_limit_next > 0:
                self._faults = replace(f, rate_limit_next=f.rate_limit_next - 1)
                return ApiFault(429, f.rate_limit_retry_after)
            if f.rate_limit_rate > 0 and self._random.random() < f.rate_limit_rate:
                return ApiFault(429, f.rate_limit_retry_after)
            if f.server_error_next > 0:
                self._faults = replace(f, server_error_next=f.server_error_next - 1)
                return ApiFault(f.server_error_status)
            if f.server_error_rate > 0 and self._random.random() < f.server_error_rate:
                return ApiFault(f.server_error_status)
            return None

    def take_unauthorized(self, method: str, path: str) -> bool:
        """True when this AMC call, whose token is valid, must be refused with a 401."""
        with self._lock:
            f = self._faults
            if f.fault_path_contains and f.fault_path_contains not in path:
                return False
            if f.fault_method and f.fault_method.upper() != method.upper():
                return False
            if f.unauthorized_next > 0:
                self._faults = replace(f, unauthorized_next=f.unauthorized_next - 1)
                return True
            return f.unauthorized_rate > 0 and self._random.random() < f.unauthorized_rate

    def token_fault(self) -> TokenFault | None:
        """The error Login with Amazon answers this token request with, if any."""
        with self._lock:
            f = self._faults
            if f.token_error_next > 0:
                self._faults = replace(f, token_error_next=f.token_error_next - 1)
            elif not (f.token_error_rate > 0 and self._random.random() < f.token_error_rate):
                return None
            status = f.token_error_status
            transient = status == 429 or status >= 500
            return TokenFault(
                status,
                f.token_error_code or default_token_error(status),
                f.token_error_retry_after if transient else None,
            )

    def count_authorized_call(self) -> bool:
        """Count one authorized call; True when the tokens issued so far must expire now."""
        with self._lock:
            remaining = self._faults.expire_tokens_after_calls
            if remaining is None:
                return False
            if remaining <= 1:
                self._faults = replace(self._faults, expire_tokens_after_calls=None)
                return True
            self._faults = replace(self._faults, expire_tokens_after_calls=remaining - 1)
            return False

    def take_execution_fault(self) -> str | None:
        """The fate of a newly created execution: rejected, failed, stuck, header_only or None."""
        with self._lock:
            f = self._faults
            for name, fate in (
                ("reject_next_executions", "rejected"),
                ("fail_next_executions", "failed"),
                ("stuck_pending_next_executions", "stuck"),
                ("header_only_next_executions", "header_only"),
            ):
                if getattr(f, name) > 0:
                    self._faults = replace(f, **{name: getattr(f, name) - 1})
                    return fate
            return None

    def take_truncated_download(self) -> bool:
        with self._lock:
            if self._faults.truncate_next_downloads > 0:
                self._faults = replace(
                    self._faults, truncate_next_downloads=self._faults.truncate_next_downloads - 1
                )
                return True
            return False
