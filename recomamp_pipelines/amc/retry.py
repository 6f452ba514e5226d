"""Retrying AMC and Login with Amazon calls: 429, 5xx and transport errors.

A small loop rather than tenacity: the wait depends on the response (AMC's `Retry-After`,
in seconds or as an HTTP date, wins over the computed backoff), a `Retry-After` beyond the
call's deadline ends the retries at once, and a 429 also pauses the account's shared rate
limiter. Expressing those in tenacity's callbacks would hide them in three places.

Backoff is exponential with full jitter (a uniform wait between 0 and the exponential cap), so
that many workers throttled together do not retry together. Every call is bounded twice: by a
number of attempts and by a deadline counted from its first attempt. A policy with a
`rate_limit_wait` (the submission's: AMC's queue is long, and a busy account is throttled for
minutes) waits a 429 storm out for that long instead, whatever the number of attempts, and logs
each wait with the attempts so far and the time left.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from recomamp_pipelines.amc.errors import (
    AmcApiError,
    AmcBadRequest,
    AmcConfigError,
    AmcForbidden,
    AmcNotFound,
    AmcRateLimited,
    AmcRetryableError,
    AmcServerError,
    AmcTransportError,
    AmcUnauthorized,
)
from recomamp_pipelines.amc.redaction import redact

log = logging.getLogger(__name__)

# Transport failures after which the same request may simply be sent again.
RETRYABLE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

_MAX_AMC_MESSAGE = 4000


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call may keep retrying.

    max_attempts counts every try, the first included; deadline (seconds) bounds the whole call,
    waits included. The n-th retry waits a uniform random time in
    [0, min(max_delay, initial_delay * 2**(n-1))], unless AMC sent Retry-After.

    rate_limit_wait (seconds, or None): how long 429 answers are waited out, counted from the
    first attempt. When set, tries answered 429 do not count against max_attempts and their
    waits do not count against deadline; the call gives up on 429s only when the next wait
    would pass rate_limit_wait.
    """

    max_attempts: int = 8
    initial_delay: float = 1.0
    max_delay: float = 60.0
    deadline: float = 600.0
    rate_limit_wait: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise AmcConfigError(f"RetryPolicy.max_attempts={self.max_attempts}: must be >= 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise AmcConfigError(
                f"RetryPolicy delays must be >= 0, got initial_delay={self.initial_delay}, "
                f"max_delay={self.max_delay}"
            )
        if self.deadline <= 0:
            raise AmcConfigError(f"RetryPolicy.deadline={self.deadline}: must be > 0 seconds")
        if self.rate_limit_wait is not None and self.rate_limit_wait <= 0:
            raise AmcConfigError(
                f"RetryPolicy.rate_limit_wait={self.rate_limit_wait}: must be > 0 seconds or None"
            )

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full-jitter wait before retry `retry_number` (1 for the first retry)."""
        cap = min(self.max_delay, self.initial_delay * (2 ** max(retry_number - 1, 0)))
        return (rng or random).uniform(0.0, cap)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def amc_message(response: httpx.Response) -> str:
    """AMC's own explanation in an error response, word for word (its `details` first)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        for key in ("details", "message", "Message", "errorMessage", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return redact(value)
        if body:
            return redact(json.dumps(body)[:_MAX_AMC_MESSAGE])
    text = response.text.strip()
    return redact(text[:_MAX_AMC_MESSAGE]) if text else response.reason_phrase


def error_for_response(
    response: httpx.Response, method: str, path: str, *, note: str = "", service: str = "AMC"
) -> AmcApiError:
    """The typed error for an error response of `service`, with its text in the message."""
    status = response.status_code
    message = amc_message(response)
    request_id = response.headers.get("x-amzn-RequestId")
    cls: type[AmcApiError]
    if status == 400:
        cls = AmcBadRequest
    elif status == 401:
        cls = AmcUnauthorized
    elif status == 403:
        cls = AmcForbidden
    elif status == 404:
        cls = AmcNotFound
    elif status == 429:
        cls = AmcRateLimited
    elif status >= 500:
        cls = AmcServerError
    else:
        cls = AmcApiError
    text = f"{service} refused {method} {path} (HTTP {status}): {message}"
    if note:
        text = f"{text} ({note})"
    if request_id:
        text = f"{text} [request id {request_id}]"
    return cls(
        text,
        status_code=status,
        method=method,
        path=path,
        amc_message=message,
        request_id=request_id,
    )


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy,
    method: str,
    path: str,
    on_throttled: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    service: str = "AMC",
) -> httpx.Response:
    """Call `send` until it answers something other than 429/5xx, within `policy`.

    Returns the first non-retryable response (the caller interprets 2xx/4xx). Raises
    AmcRateLimited, AmcServerError or AmcTransportError when the policy runs out, naming
    `service` (AMC, or Login with Amazon for the token endpoint) as the party that failed.
    `on_throttled(seconds)` is told of every 429 about to be retried, so that a shared rate
    limiter can pause the account's other callers.
    """
    started = clock()
    attempt = 0
    # With a rate_limit_wait, 429s are bounded by it alone: the other bounds count the rest.
    throttled_attempts = 0
    throttled_seconds = 0.0
    while True:
        attempt += 1
        response: httpx.Response | None = None
        failure: Exception | None = None
        try:
            response = send()
        except RETRYABLE_TRANSPORT_ERRORS as exc:
            failure = exc
        if response is not None and not is_retryable_status(response.status_code):
            return response

        retry_after = None
        if response is not None:
            # The body must be read before the connection can serve the retry.
            response.read()
            response.close()
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        storm = (
            response is not None
            and response.status_code == 429
            and policy.rate_limit_wait is not None
        )
        wait = retry_after if retry_after is not None else policy.backoff(attempt)
        elapsed = clock() - started
        reason = _describe(response, failure)
        asked = f" {service}'s Retry-After" if retry_after is not None else ""
        give_up = None
        if storm:
            assert policy.rate_limit_wait is not None
            if elapsed + wait > policy.rate_limit_wait:
                give_up = (
                    f"{attempt} attempt(s) in {elapsed:.1f} s ({throttled_attempts + 1} answered "
                    f"HTTP 429); the next{asked} wait of {wait:.1f} s would pass the "
                    f"{policy.rate_limit_wait:.0f} s allowed for waiting out the rate limit"
                )
        elif attempt - throttled_attempts >= policy.max_attempts:
            give_up = f"{attempt} attempts in {elapsed:.1f} s"
        elif elapsed - throttled_seconds + wait > policy.deadline:
            give_up = (
                f"{attempt} attempt(s) in {elapsed:.1f} s; the next{asked} wait of {wait:.1f} s "
                f"would pass the {policy.deadline:.0f} s deadline"
            )
        if give_up is not None:
            raise _exhausted(response, failure, method, path, give_up, service)
        if response is not None and response.status_code == 429 and on_throttled is not None:
            # The account's other callers hold back too, though never longer than max_delay.
            on_throttled(min(wait, policy.max_delay))
        source = f"as {service}'s Retry-After asked" if retry_after is not None else "backoff"
        if storm:
            assert policy.rate_limit_wait is not None
            throttled_attempts += 1
            throttled_seconds += wait
            log.warning(
                "%s %s: %s; retrying in %.2f s (%s), attempt %d (%d rate limited so far); "
                "waited %.1f s, %.1f s left of the %.0f s allowed for the rate limit",
                method,
                path,
                reason,
                wait,
                source,
                attempt + 1,
                throttled_attempts,
                elapsed,
                policy.rate_limit_wait - elapsed - wait,
                policy.rate_limit_wait,
            )
        else:
            log.warning(
                "%s %s: %s; retrying in %.2f s (%s), attempt %d of %d",
                method,
                path,
                reason,
                wait,
                source,
                attempt + 1,
                policy.max_attempts + throttled_attempts,
            )
        sleep(wait)


def _describe(response: httpx.Response | None, failure: Exception | None) -> str:
    if response is not None:
        return f"HTTP {response.status_code} {response.reason_phrase}"
    return f"{type(failure).__name__}: {redact(str(failure)) or 'no detail'}"


def _exhausted(
    response: httpx.Response | None,
    failure: Exception | None,
    method: str,
    path: str,
    give_up: str,
    service: str,
) -> AmcRetryableError:
    if response is not None:
        error = error_for_response(
            response, method, path, note=f"gave up after {give_up}", service=service
        )
        assert isinstance(error, AmcRetryableError)
        return error
    return AmcTransportError(
        f"{service} unreachable for {method} {path}: {_describe(None, failure)} "
        f"(gave up after {give_up})",
        status_code=None,
        method=method,
        path=path,
    )
