"""check_instances: a new user's first run, per instance, against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime

from recomamp_pipelines.amc import AmcClient, PollPolicy
from recomamp_pipelines.amc.health import (
    HEALTH_QUERY,
    HealthStatus,
    check_instances,
    discover_instances,
    health_window,
)
from tests.amc.conftest import config_for
from tests.fixtures.amc_simulator import AmcSimulator

FAST = PollPolicy(initial_interval=0.05, max_interval=0.2)


def unscoped(simulator: AmcSimulator) -> AmcClient:
    """A client as a new user has it: credentials only, no account chosen yet."""
    return AmcClient(config_for(simulator), simulator.refresh_tokens[0])


def test_health_window_ends_past_the_data_lag() -> None:
    window = health_window(datetime(2024, 3, 10, 15, 30, tzinfo=UTC))
    assert window.as_body() == {
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2024-03-06T00:00:00",
        "timeWindowEnd": "2024-03-07T00:00:00",
        "timeWindowTimeZone": "UTC",
    }
    assert "COUNT(DISTINCT user_id)" in HEALTH_QUERY


def test_every_reachable_instance_is_found_and_healthy(amc_simulator: AmcSimulator) -> None:
    with unscoped(amc_simulator) as client:
        reachable = discover_instances(client)
        assert sorted(i.instance.instance_id for i in reachable) == sorted(
            amc_simulator.instance_ids
        )
        assert {i.account.account_id for i in reachable} == {amc_simulator.advertiser_id}
        verdicts = check_instances(client, reachable=reachable, poll_policy=FAST)
    assert [v.instance_id for v in verdicts] == [i.instance.instance_id for i in reachable]
    assert {v.status for v in verdicts} == {HealthStatus.HEALTHY}
    assert all("test query succeeded" in v.reason for v in verdicts)
    assert all(v.execution_id for v in verdicts)


def test_an_instance_out_of_reach_is_an_error(amc_simulator: AmcSimulator) -> None:
    with unscoped(amc_simulator) as client:
        [verdict] = check_instances(client, ["amcsomeoneelse"], poll_policy=FAST)
    assert verdict.status is HealthStatus.ERROR
    assert "'amcsomeoneelse' is not reachable with these credentials" in verdict.reason
    assert amc_simulator.instance_ids[0] in verdict.reason


def test_a_failing_query_makes_the_instance_unhealthy_with_amc_reason(
    amc_simulator: AmcSimulator,
) -> None:
    amc_simulator.set_faults(reject_next_executions=1)
    with unscoped(amc_simulator) as client:
        [verdict] = check_instances(client, [amc_simulator.instance_id], poll_policy=FAST)
    assert verdict.status is HealthStatus.UNHEALTHY
    assert "ended FAILED (AMC status REJECTED)" in verdict.reason
    assert "Too many workflows" in verdict.reason


def test_a_query_that_never_finishes_is_unhealthy_and_cancelled(
    amc_simulator: AmcSimulator,
) -> None:
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    with unscoped(amc_simulator) as client:
        [verdict] = check_instances(
            client, [amc_simulator.instance_id], poll_policy=FAST, max_wait_seconds=0.5
        )
        scoped = client.for_account(amc_simulator.advertiser_id, amc_simulator.marketplace_id)
        assert verdict.execution_id is not None
        execution = scoped.instance(amc_simulator.instance_id).get_execution(verdict.execution_id)
    assert verdict.status is HealthStatus.UNHEALTHY
    assert "ended TIMEOUT" in verdict.reason
    assert execution.amc_status == "CANCELLED"
