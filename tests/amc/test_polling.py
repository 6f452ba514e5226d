"""poll_until_terminal: backoff, deadlines ending in TIMEOUT + cancel, 401s and wrong ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from recomamp_pipelines.amc import (
    AmcConfigError,
    AmcExecution,
    AmcNotFound,
    AmcStatus,
    InstanceClient,
    PollPolicy,
    ProjectStatus,
)
from tests.amc.conftest import EXECUTION, TOKEN, USERS_SQL, complete_window, request_count
from tests.fixtures.amc_simulator import AmcSimulator


def test_on_poll_sees_every_status_until_success(instance: InstanceClient) -> None:
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    seen: list[AmcExecution] = []
    final = instance.poll_until_terminal(created.workflow_execution_id, on_poll=seen.append)
    assert final.status is ProjectStatus.SUCCESS
    assert seen[-1] == final
    assert all(not e.is_terminal for e in seen[:-1])
    assert {e.workflow_execution_id for e in seen} == {created.workflow_execution_id}


def test_stuck_pending_times_out_at_the_deadline_and_is_cancelled(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    deadline = datetime.now(UTC) + timedelta(seconds=1)
    seen: list[AmcExecution] = []
    result = instance.poll_until_terminal(
        created.workflow_execution_id, deadline=deadline, on_poll=seen.append
    )
    assert result.status is ProjectStatus.TIMEOUT
    assert result.error_type == "TIMEOUT"
    assert result.error_message is not None
    assert "no final status from AMC by" in result.error_message
    assert "last AMC status PENDING" in result.error_message
    assert seen and all(e.amc_status is AmcStatus.PENDING for e in seen)
    # AMC was told to stop: the execution is CANCELLED there, not left running.
    assert instance.get_execution(created.workflow_execution_id).amc_status is (AmcStatus.CANCELLED)


def test_configured_limit_caps_the_wait_without_a_deadline(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    result = instance.poll_until_terminal(
        created.workflow_execution_id,
        policy=PollPolicy(initial_interval=0.05, max_interval=0.1, max_wait=0.5),
    )
    assert result.status is ProjectStatus.TIMEOUT
    assert result.amc_status is AmcStatus.CANCELLED


def test_without_deadline_the_wait_lasts_until_amc_expire_time(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    # AMC's clock a day (less two seconds) behind: its expireTime (create + 24 h) is two
    # seconds from now on ours.
    amc_simulator.set_clock(datetime.now(UTC) - timedelta(hours=24) + timedelta(seconds=2))
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    assert created.expire_time is not None
    assert created.expire_time - datetime.now(UTC) < timedelta(seconds=3)
    polls: list[AmcExecution] = []
    result = instance.poll_until_terminal(created.workflow_execution_id, on_poll=polls.append)
    assert polls and all(p.amc_status is AmcStatus.PENDING for p in polls)
    assert result.status is ProjectStatus.TIMEOUT
    assert result.amc_status is AmcStatus.CANCELLED
    assert datetime.now(UTC) >= created.expire_time


def test_a_401_mid_poll_refreshes_the_token_and_polling_continues(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    # Long enough for a second poll to come before AMC is done, on a busy machine too: the
    # first poll spends the token, the second is refused and refreshes it.
    amc_simulator.set_faults(execution_seconds=4.0)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    tokens_before = request_count(amc_simulator, TOKEN)
    # Every access token issued so far stops working after the next authorized call.
    amc_simulator.set_faults(expire_tokens_after_calls=1)
    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.status is ProjectStatus.SUCCESS
    assert request_count(amc_simulator, TOKEN) == tokens_before + 1
    assert amc_simulator.counters()["responses"].get("401", 0) >= 1


def test_transient_errors_mid_poll_do_not_end_the_wait(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    polls_before = request_count(amc_simulator, EXECUTION)
    # More 503s in a row than one call's retry policy allows.
    amc_simulator.set_faults(server_error_next=8, fault_method="GET")
    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.status is ProjectStatus.SUCCESS
    assert request_count(amc_simulator, EXECUTION) > polls_before + 8


def test_polling_a_local_id_fails_clearly_instead_of_looking_stuck(
    instance: InstanceClient,
) -> None:
    local_id = str(uuid.uuid4())
    with pytest.raises(AmcNotFound, match="use the workflowExecutionId AMC returned") as caught:
        instance.poll_until_terminal(local_id)
    assert local_id in str(caught.value)


def test_deadline_must_be_aware(instance: InstanceClient) -> None:
    with pytest.raises(AmcConfigError, match="has no time zone"):
        instance.poll_until_terminal("x", deadline=datetime(2030, 1, 1))
