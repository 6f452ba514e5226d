"""Retries against the simulator's faults: 429 storms, 5xx, lost answers, the shared limiter."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid

import pytest

from recomamp_pipelines.amc import (
    AmcClient,
    AmcRateLimited,
    AmcServerError,
    InstanceClient,
    RateLimit,
    RetryPolicy,
)
from tests.amc.conftest import USERS_SQL, client_for, complete_window, request_count
from tests.fixtures.amc_simulator import AmcSimulator

WORKFLOWS = "GET /amc/reporting/{instanceId}/workflows"


def statuses(simulator: AmcSimulator) -> dict[str, int]:
    return {k: int(v) for k, v in simulator.counters()["responses"].items()}


def test_a_429_storm_with_retry_after_is_waited_out(
    instance: InstanceClient, amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="recomamp_pipelines.amc")
    before = statuses(amc_simulator).get("429", 0)
    amc_simulator.set_faults(rate_limit_next=4, rate_limit_retry_after=0.05)
    instance.list_workflows()
    assert statuses(amc_simulator).get("429", 0) == before + 4
    waits = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(waits) == 4
    assert all("retrying in 0.05 s (as AMC's Retry-After asked)" in w for w in waits)


def test_a_429_storm_without_retry_after_backs_off_with_jitter(
    instance: InstanceClient, amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="recomamp_pipelines.amc")
    amc_simulator.set_faults(rate_limit_next=3, rate_limit_retry_after=None)
    instance.list_workflows()
    waits = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(waits) == 3
    assert all("HTTP 429" in w and "(backoff)" in w for w in waits)


def test_a_429_storm_longer_than_the_policy_ends_in_a_clear_error(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    before = request_count(amc_simulator, WORKFLOWS)
    amc_simulator.set_faults(rate_limit_next=50, rate_limit_retry_after=None)
    with pytest.raises(AmcRateLimited) as caught:
        instance.list_workflows()
    message = str(caught.value)
    assert "HTTP 429" in message and "Too Many Requests" in message
    assert "gave up after 6 attempts" in message
    assert request_count(amc_simulator, WORKFLOWS) == before + 6


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    before = request_count(amc_simulator, WORKFLOWS)
    amc_simulator.set_faults(rate_limit_next=1, rate_limit_retry_after=3600)
    with pytest.raises(AmcRateLimited, match=r"Retry-After wait of 3600\.0 s would pass the 20 s"):
        instance.list_workflows()
    assert request_count(amc_simulator, WORKFLOWS) == before + 1


EXECUTIONS_CREATED = "POST /amc/reporting/{instanceId}/workflowExecutions"


def storm_policy(limit: float) -> RetryPolicy:
    """A submission policy that waits a 429 storm out for `limit` seconds, 3 attempts else."""
    return RetryPolicy(
        max_attempts=3, initial_delay=0.01, max_delay=0.05, deadline=20.0, rate_limit_wait=limit
    )


def test_a_429_storm_on_submission_is_waited_out_past_the_attempt_count(
    amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A storm was given up after 8 attempts (9.4 s with Retry-After: 1): now it is waited out."""
    caplog.set_level(logging.WARNING, logger="recomamp_pipelines.amc")
    workflow_id = f"storm-{uuid.uuid4().hex}"
    with client_for(amc_simulator, submission_retry_policy=storm_policy(30.0)) as client:
        instance = client.instance(amc_simulator.instance_id)
        instance.create_workflow(workflow_id, USERS_SQL)
        before = request_count(amc_simulator, EXECUTIONS_CREATED)
        amc_simulator.set_faults(
            rate_limit_next=12, rate_limit_retry_after=0.02, fault_method="POST"
        )
        created = instance.create_execution(complete_window(), workflow_id=workflow_id)
        listed = instance.list_executions(workflow_id=workflow_id)

    assert request_count(amc_simulator, EXECUTIONS_CREATED) == before + 13
    assert [e.workflow_execution_id for e in listed] == [created.workflow_execution_id]
    waits = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(waits) == 12
    # Each wait says how many attempts so far, how long, and how long is left of the limit.
    for number, line in enumerate(waits, start=1):
        assert f"retrying in 0.02 s (as AMC's Retry-After asked), attempt {number + 1} " in line
        assert f"({number} rate limited so far)" in line
        assert "s left of the 30 s allowed for the rate limit" in line
    left = [float(line.split(" s left of")[0].rsplit(" ", 1)[1]) for line in waits]
    assert left == sorted(left, reverse=True) and 29.0 < left[0] <= 30.0


def test_a_429_storm_on_submission_beyond_the_limit_ends_in_a_clear_error(
    amc_simulator: AmcSimulator,
) -> None:
    workflow_id = f"long-storm-{uuid.uuid4().hex}"
    with client_for(amc_simulator, submission_retry_policy=storm_policy(1.0)) as client:
        instance = client.instance(amc_simulator.instance_id)
        instance.create_workflow(workflow_id, USERS_SQL)
        before = request_count(amc_simulator, EXECUTIONS_CREATED)
        amc_simulator.set_faults(
            rate_limit_next=10_000, rate_limit_retry_after=0.1, fault_method="POST"
        )
        with pytest.raises(AmcRateLimited) as caught:
            instance.create_execution(complete_window(), workflow_id=workflow_id)
        amc_simulator.clear_faults()
        listed = instance.list_executions(workflow_id=workflow_id)

    message = str(caught.value)
    assert "HTTP 429" in message
    assert "would pass the 1 s allowed for waiting out the rate limit" in message
    sent = request_count(amc_simulator, EXECUTIONS_CREATED) - before
    # About ten tries of 0.1 s: far more than the 3 attempts other failures get, and none ran.
    assert 5 <= sent <= 11, sent
    assert listed == []


def test_other_calls_keep_their_attempt_count_in_a_429_storm(
    amc_simulator: AmcSimulator,
) -> None:
    with client_for(amc_simulator, submission_retry_policy=storm_policy(30.0)) as client:
        instance = client.instance(amc_simulator.instance_id)
        before = request_count(amc_simulator, WORKFLOWS)
        amc_simulator.set_faults(rate_limit_next=50, rate_limit_retry_after=0.01)
        with pytest.raises(AmcRateLimited, match="gave up after 6 attempts"):
            instance.list_workflows()
        amc_simulator.clear_faults()
    assert request_count(amc_simulator, WORKFLOWS) == before + 6


def test_server_errors_are_retried(instance: InstanceClient, amc_simulator: AmcSimulator) -> None:
    before = statuses(amc_simulator)
    amc_simulator.set_faults(server_error_next=3, server_error_status=502)
    assert isinstance(instance.list_workflows(), list)
    assert statuses(amc_simulator).get("502", 0) == before.get("502", 0) + 3


def test_server_errors_beyond_the_policy_end_in_a_clear_error(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(server_error_next=50, server_error_status=500)
    with pytest.raises(AmcServerError, match=r"HTTP 500\).*gave up after 6 attempts"):
        instance.list_workflows()


def test_a_create_refused_with_5xx_is_sent_again_and_runs_once(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    workflow_id = f"retried-{uuid.uuid4().hex}"
    instance.create_workflow(workflow_id, USERS_SQL)
    amc_simulator.set_faults(server_error_next=2, fault_method="POST")
    created = instance.create_execution(complete_window(), workflow_id=workflow_id)
    assert [e.workflow_execution_id for e in instance.list_executions(workflow_id=workflow_id)] == [
        created.workflow_execution_id
    ]


def test_a_create_whose_answer_is_lost_is_not_submitted_twice(
    amc_simulator: AmcSimulator,
) -> None:
    workflow_id = f"lost-answer-{uuid.uuid4().hex}"
    with client_for(amc_simulator, timeout_seconds=0.5) as client:
        instance = client.instance(amc_simulator.instance_id)
        instance.create_workflow(workflow_id, USERS_SQL)
        before = amc_simulator.counters()["executions_created"]
        # AMC creates the execution, then its answer arrives after the client gave up on it.
        amc_simulator.set_faults(hold_create_response_seconds=1.5)
        created = instance.create_execution(complete_window(), workflow_id=workflow_id)
        amc_simulator.clear_faults()
        assert amc_simulator.counters()["executions_created"] == before + 1
        listed = instance.list_executions(workflow_id=workflow_id)
        assert [e.workflow_execution_id for e in listed] == [created.workflow_execution_id]


def test_an_ad_hoc_create_whose_answer_is_lost_is_found_by_its_sql(
    amc_simulator: AmcSimulator,
) -> None:
    sql = f"SELECT COUNT(DISTINCT user_id) AS users_{uuid.uuid4().hex[:8]} FROM dsp_impressions"
    window = complete_window()
    with client_for(amc_simulator, timeout_seconds=0.5) as client:
        instance = client.instance(amc_simulator.instance_id)
        amc_simulator.set_faults(hold_create_response_seconds=1.5)
        created = instance.create_execution(window, sql=sql)
        amc_simulator.clear_faults()
        full = instance.get_execution(created.workflow_execution_id, include_workflow=True)
        assert full.workflow is not None and full.workflow.sql_query == sql
        key = "adhoc:" + hashlib.sha256(sql.encode()).hexdigest()[:16]
        submitted = [
            s["count"] for s in amc_simulator.counters()["submissions"] if s["workflow_id"] == key
        ]
        assert submitted == [1]


def test_clients_of_one_account_share_its_rate_limit(
    amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="recomamp_pipelines.amc.ratelimit")
    # Slow enough that no call, however loaded the machine, lasts as long as a refill.
    limit = RateLimit(requests_per_second=2.0, burst=2)
    clients: list[AmcClient] = [client_for(amc_simulator, rate_limit=limit) for _ in range(2)]
    try:
        for client in clients:
            client.check_credentials()

        def work(client: AmcClient) -> None:
            for _ in range(3):
                client.instance(amc_simulator.instance_id).list_workflows(page_size=1000)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        waits = [r for r in caplog.records if "waiting" in r.getMessage()]
        # 6 calls through one bucket of 2: at least 4 of them had to wait their turn.
        assert len(waits) >= 4
        assert {r.threadName for r in waits} == {t.name for t in threads}
    finally:
        for client in clients:
            client.close()


def test_a_429_to_one_client_pauses_the_others_of_the_account(
    amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="recomamp_pipelines.amc.ratelimit")
    limit = RateLimit(requests_per_second=100.0, burst=100)
    # The pause lasts AMC's Retry-After, up to max_delay: long enough here (1 s) for the other
    # client to start while it holds, even on a loaded machine.
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=2.0, deadline=20)
    throttled = client_for(amc_simulator, rate_limit=limit, retry_policy=policy)
    other = client_for(amc_simulator, rate_limit=limit, retry_policy=policy)
    try:
        other.check_credentials()
        before = statuses(amc_simulator).get("429", 0)
        amc_simulator.set_faults(rate_limit_next=1, rate_limit_retry_after=1.0)
        worker = threading.Thread(
            target=lambda: throttled.instance(amc_simulator.instance_id).list_workflows()
        )
        worker.start()
        while statuses(amc_simulator).get("429", 0) == before:
            time.sleep(0.01)
        other.instance(amc_simulator.instance_id).list_workflows()
        worker.join()
        paused = [
            r
            for r in caplog.records
            if "waiting" in r.getMessage() and r.threadName == threading.current_thread().name
        ]
        assert paused, "the other client went ahead while the account was throttled"
    finally:
        throttled.close()
        other.close()
