"""Refusals that a fresh token does not cure, and Login with Amazon itself failing.

A 401 that persists after one refresh ends the call with AmcUnauthorized after exactly two
tries; a refresh token Login with Amazon no longer honours ends it with AmcAuthError. A token
endpoint answering 429 or 5xx is retried like AMC (backoff with full jitter, Retry-After,
bounded attempts and deadline); one answering 400/401 (`invalid_grant`, `invalid_client`) is
final at once. No message and no log record shows a token or the client secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from recomamp_pipelines.amc import (
    AmcAuthError,
    AmcClient,
    AmcRateLimited,
    AmcServerError,
    AmcUnauthorized,
    RetryPolicy,
)
from tests.amc.conftest import EXECUTION, client_for, config_for
from tests.fixtures.amc_simulator import AmcSimulator

ACCOUNTS = "GET /amc/accounts"
WORKFLOWS = "GET /amc/reporting/{instanceId}/workflows"
# More refusals than any bounded client would ever use up: "for good".
FOR_GOOD = 1000


@dataclass
class Calls:
    """Token requests, tokens issued and calls per route, since the start of a test."""

    simulator: AmcSimulator
    start: dict[str, Any]

    def now(self) -> dict[str, Any]:
        return self.simulator.counters()

    def token_requests(self) -> int:
        return int(self.now()["token_requests"]) - int(self.start["token_requests"])

    def tokens_issued(self) -> int:
        return int(self.now()["tokens_issued"]) - int(self.start["tokens_issued"])

    def requests(self, route: str) -> int:
        return int(self.now()["requests"].get(route, 0)) - int(self.start["requests"].get(route, 0))


@pytest.fixture
def calls(amc_simulator: AmcSimulator) -> Calls:
    return Calls(amc_simulator, amc_simulator.counters())


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the client and of the HTTP stack, down to DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "recomamp_pipelines"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def assert_no_secret(
    simulator: AmcSimulator,
    error: BaseException,
    logs: pytest.LogCaptureFixture,
    *extra: str,
) -> None:
    """Neither the error nor any log record shows the client secret, a refresh or access token."""
    secrets = [*simulator.refresh_tokens, simulator.client_secret, *extra]
    shown = [str(error), repr(error), logs.text]
    for record in logs.records:
        shown.append(record.getMessage() + repr(record.args) + (record.exc_text or ""))
    for text in shown:
        for secret in secrets:
            assert secret not in text
        # Every access token the simulator issues starts so; none may be shown.
        assert "Atza|" not in text
        assert "Atzr|" not in text


def retries_logged(logs: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in logs.records if "retrying in" in r.getMessage()]


# --- a 401 that a fresh token does not cure ---------------------------------------------------


def test_a_persistent_401_refreshes_once_retries_once_then_fails(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    # No account chosen yet, as when listing the accounts a user reaches.
    with AmcClient(config_for(amc_simulator), amc_simulator.refresh_tokens[0]) as client:
        client.check_credentials()
        first_token = client.tokens.access_token().get_secret_value()
        amc_simulator.set_faults(unauthorized_next=FOR_GOOD)

        with pytest.raises(AmcUnauthorized) as caught:
            client.list_accounts()

        second_token = client.tokens.access_token().get_secret_value()
    assert second_token != first_token
    # The token of the start, then exactly one refresh; the call, then exactly one retry.
    assert calls.token_requests() == 2
    assert calls.tokens_issued() == 2
    assert calls.requests(ACCOUNTS) == 2
    assert amc_simulator.set_faults()["unauthorized_next"] == FOR_GOOD - 2
    error = caught.value
    assert error.status_code == 401
    assert (error.method, error.path) == ("GET", "/amc/accounts")
    message = str(error)
    assert message.startswith("AMC refused GET /amc/accounts (HTTP 401): Unauthorized")
    assert "even with a fresh access token" in message
    assert "lack access to Amazon Marketing Cloud or have been revoked" in message
    assert "sign in with Amazon again" in message
    # No account was chosen: the message must not name one.
    assert "None" not in message and "AMC account" not in message
    assert [r.getMessage() for r in logs.records if "refreshing the access token" in r.getMessage()]
    assert retries_logged(logs) == []
    assert_no_secret(amc_simulator, error, logs, first_token, second_token)


def test_a_persistent_401_names_the_account_the_user_cannot_reach(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    amc_simulator.set_faults(unauthorized_next=FOR_GOOD, fault_path_contains="/workflows")
    with client_for(amc_simulator) as client:
        instance = client.instance(amc_simulator.instance_id)
        with pytest.raises(AmcUnauthorized) as caught:
            instance.list_workflows()
        # Every further call costs the same two tries and one refresh: nothing loops.
        with pytest.raises(AmcUnauthorized):
            instance.list_workflows()
    assert calls.token_requests() == 1 + 1 + 1
    assert calls.requests(WORKFLOWS) == 2 + 2
    message = str(caught.value)
    assert f"access to AMC account {amc_simulator.advertiser_id!r}" in message
    assert_no_secret(amc_simulator, caught.value, logs)


def test_a_persistent_401_while_polling_ends_the_wait(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    amc_simulator.set_faults(unauthorized_next=FOR_GOOD, fault_path_contains="/workflowExecutions")
    with client_for(amc_simulator) as client:
        instance = client.instance(amc_simulator.instance_id)
        with pytest.raises(AmcUnauthorized, match="even with a fresh access token"):
            instance.poll_until_terminal("amc-execution-0001")
    assert calls.token_requests() == 2
    assert calls.requests(EXECUTION) == 2


def test_a_revoked_refresh_token_after_a_401_fails_at_once(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    with client_for(amc_simulator) as client:
        client.check_credentials()
        # The user withdrew the application's access: the token AMC had stops working, and
        # Login with Amazon no longer honours the refresh token.
        amc_simulator.set_faults(
            invalidate_tokens=True, token_error_next=FOR_GOOD, token_error_status=400
        )
        with pytest.raises(AmcAuthError) as caught:
            client.list_accounts()
    assert calls.token_requests() == 1 + 1
    assert calls.tokens_issued() == 1
    assert calls.requests(ACCOUNTS) == 1
    error = caught.value
    assert (error.error, error.status_code) == ("invalid_grant", 400)
    assert "(invalid_grant)" in str(error) and "must sign in with Amazon again" in str(error)
    assert retries_logged(logs) == []
    assert_no_secret(amc_simulator, error, logs)


# --- Login with Amazon refusing for good: never retried ----------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (400, "invalid_grant", "the user's refresh token is invalid, revoked"),
        (401, "invalid_client", "the application's client id or secret is wrong"),
        (400, "unauthorized_client", "the application's client id or secret is wrong"),
    ],
)
def test_a_refused_grant_or_client_fails_at_once(
    amc_simulator: AmcSimulator,
    calls: Calls,
    logs: pytest.LogCaptureFixture,
    status: int,
    code: str,
    hint: str,
) -> None:
    amc_simulator.set_faults(
        token_error_next=FOR_GOOD, token_error_status=status, token_error_code=code
    )
    with client_for(amc_simulator) as client, pytest.raises(AmcAuthError) as caught:
        client.list_accounts()
    assert calls.token_requests() == 1
    assert calls.tokens_issued() == 0
    assert calls.requests(ACCOUNTS) == 0
    error = caught.value
    assert (error.error, error.status_code) == (code, status)
    message = str(error)
    assert f"refused the token refresh with HTTP {status} ({code})" in message
    assert hint in message
    assert amc_simulator.token_url in message
    assert retries_logged(logs) == []
    assert_no_secret(amc_simulator, error, logs)


# --- Login with Amazon failing for a while: retried like AMC -----------------------------------


def test_a_few_token_endpoint_5xx_are_retried_with_backoff(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    amc_simulator.set_faults(token_error_next=3, token_error_status=503)
    with client_for(amc_simulator) as client:
        accounts = client.list_accounts()
    assert [a.account_id for a in accounts] == [amc_simulator.advertiser_id]
    assert calls.token_requests() == 4
    assert calls.tokens_issued() == 1
    assert calls.requests(ACCOUNTS) == 1
    waits = retries_logged(logs)
    assert len(waits) == 3
    assert all("HTTP 503" in w and "(backoff)" in w for w in waits)
    assert all(amc_simulator.token_url in w for w in waits)


def test_token_endpoint_throttling_honours_retry_after(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    amc_simulator.set_faults(
        token_error_next=2, token_error_status=429, token_error_retry_after=0.05
    )
    with client_for(amc_simulator) as client:
        client.check_credentials()
    assert calls.token_requests() == 3
    waits = retries_logged(logs)
    assert len(waits) == 2
    assert all(
        "HTTP 429" in w and "retrying in 0.05 s (as Login with Amazon's Retry-After asked)" in w
        for w in waits
    )


@pytest.mark.parametrize(
    ("status", "error_type", "reason"),
    [
        (503, AmcServerError, "The authorization server is temporarily unavailable"),
        (500, AmcServerError, "The authorization server encountered an unexpected error"),
        (429, AmcRateLimited, "The authorization server is temporarily unavailable"),
    ],
)
def test_a_token_endpoint_failing_for_good_ends_after_the_policy(
    amc_simulator: AmcSimulator,
    calls: Calls,
    logs: pytest.LogCaptureFixture,
    status: int,
    error_type: type[Exception],
    reason: str,
) -> None:
    amc_simulator.set_faults(token_error_next=FOR_GOOD, token_error_status=status)
    with client_for(amc_simulator) as client, pytest.raises(error_type) as caught:
        client.list_accounts()
    # FAST_RETRIES allows 6 attempts; no AMC call goes out without a token.
    assert calls.token_requests() == 6
    assert calls.tokens_issued() == 0
    assert calls.requests(ACCOUNTS) == 0
    message = str(caught.value)
    assert message.startswith(
        f"Login with Amazon refused POST {amc_simulator.token_url} (HTTP {status}): {reason}"
    )
    assert "gave up after 6 attempts" in message
    assert "AMC" not in message
    assert len(retries_logged(logs)) == 5
    assert_no_secret(amc_simulator, caught.value, logs)


def test_a_token_endpoint_retry_after_beyond_the_deadline_gives_up_at_once(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    amc_simulator.set_faults(
        token_error_next=FOR_GOOD, token_error_status=503, token_error_retry_after=3600
    )
    with client_for(amc_simulator) as client, pytest.raises(AmcServerError) as caught:
        client.check_credentials()
    assert calls.token_requests() == 1
    message = str(caught.value)
    assert "Login with Amazon's Retry-After wait of 3600.0 s would pass the 20 s deadline" in (
        message
    )
    assert_no_secret(amc_simulator, caught.value, logs)


def test_token_endpoint_retries_stop_at_the_deadline(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    policy = RetryPolicy(max_attempts=1000, initial_delay=0.3, max_delay=0.3, deadline=0.9)
    amc_simulator.set_faults(
        token_error_next=FOR_GOOD, token_error_status=502, token_error_retry_after=0.3
    )
    with (
        client_for(amc_simulator, retry_policy=policy) as client,
        pytest.raises(AmcServerError, match="would pass the 1 s deadline") as caught,
    ):
        client.check_credentials()
    # Waits of 0.3 s within 0.9 s: the third try comes after 0.6 s, and a third wait would
    # end past the deadline.
    assert calls.token_requests() == 3
    assert_no_secret(amc_simulator, caught.value, logs)


def test_a_token_endpoint_outage_after_a_401_is_retried_then_fails_clearly(
    amc_simulator: AmcSimulator, calls: Calls, logs: pytest.LogCaptureFixture
) -> None:
    with client_for(amc_simulator) as client:
        client.check_credentials()
        amc_simulator.set_faults(
            invalidate_tokens=True, token_error_next=FOR_GOOD, token_error_status=503
        )
        with pytest.raises(AmcServerError, match=r"^Login with Amazon refused POST"):
            client.list_accounts()
        # Login with Amazon is back: the next call is refused with the old token, refreshes
        # and goes through.
        amc_simulator.set_faults(token_error_next=0)
        client.list_accounts()
    assert calls.token_requests() == 1 + 6 + 1
    assert calls.tokens_issued() == 2
    assert calls.requests(ACCOUNTS) == 1 + 2


def test_each_call_after_a_refused_grant_asks_once_and_is_never_retried(
    amc_simulator: AmcSimulator, calls: Calls
) -> None:
    amc_simulator.set_faults(token_error_next=FOR_GOOD, token_error_status=400)
    with client_for(amc_simulator) as client:
        for _ in range(3):
            with pytest.raises(AmcAuthError):
                client.list_accounts()
    # One token request per call, none retried, no AMC call.
    assert calls.token_requests() == 3
    assert calls.requests(ACCOUNTS) == 0
