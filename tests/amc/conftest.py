"""An AMC client wired to the local simulator, with policies fast enough for tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from recomamp_pipelines.amc import (
    AmcClient,
    AmcConfig,
    InstanceClient,
    PollPolicy,
    RateLimit,
    RetryPolicy,
    TimeWindow,
)
from recomamp_pipelines.amc.ratelimit import forget_buckets
from tests.fixtures.amc_simulator import AmcSimulator

# Small enough to run in a fraction of a second on the simulator, big enough to split.
CAMPAIGN_SQL = (
    "SELECT campaign, device_type, site, SUM(impressions) AS impressions\n"
    "FROM dsp_impressions\n"
    "GROUP BY 1, 2, 3"
)
USERS_SQL = "SELECT COUNT(DISTINCT user_id) AS users FROM dsp_impressions"

FAST_RETRIES = RetryPolicy(max_attempts=6, initial_delay=0.01, max_delay=0.05, deadline=20.0)
FAST_SUBMISSIONS = RetryPolicy(
    max_attempts=6, initial_delay=0.01, max_delay=0.05, deadline=20.0, rate_limit_wait=20.0
)
FAST_POLLS = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5)


def config_for(simulator: AmcSimulator, **changes: Any) -> AmcConfig:
    options: dict[str, Any] = {
        "api_url": simulator.base_url,
        "token_url": simulator.token_url,
        "client_id": simulator.client_id,
        "client_secret": SecretStr(simulator.client_secret),
        "default_marketplace_id": simulator.marketplace_id,
        "rate_limit": RateLimit(requests_per_second=500.0, burst=500),
        "retry_policy": FAST_RETRIES,
        "submission_retry_policy": FAST_SUBMISSIONS,
        "timeout_seconds": 15.0,
    }
    options.update(changes)
    return AmcConfig(**options)


def client_for(
    simulator: AmcSimulator, refresh_token: str | None = None, **changes: Any
) -> AmcClient:
    return AmcClient(
        config_for(simulator, **changes),
        refresh_token or simulator.refresh_tokens[0],
        advertiser_id=simulator.advertiser_id,
        marketplace_id=simulator.marketplace_id,
        poll_policy=FAST_POLLS,
    )


def complete_window(days: int = 1, zone: str = "UTC") -> TimeWindow:
    """A window ending at midnight three days ago: past AMC's 48-hour data lag."""
    end = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    return TimeWindow(end - timedelta(days=days), end, zone)


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Each test starts with unpaused buckets: a 429 storm of one test must not slow the next."""
    forget_buckets()
    yield
    forget_buckets()


@pytest.fixture
def amc_client(amc_simulator: AmcSimulator) -> Iterator[AmcClient]:
    with client_for(amc_simulator) as client:
        yield client


@pytest.fixture
def instance(amc_client: AmcClient, amc_simulator: AmcSimulator) -> InstanceClient:
    return amc_client.instance(amc_simulator.instance_id)


def request_count(simulator: AmcSimulator, route: str) -> int:
    return int(simulator.counters()["requests"].get(route, 0))


EXECUTIONS = "POST /amc/reporting/{instanceId}/workflowExecutions"
EXECUTION = "GET /amc/reporting/{instanceId}/workflowExecutions/{executionId}"
TOKEN = "POST /auth/o2/token"
