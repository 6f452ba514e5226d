"""Executions against the simulator: create (ad hoc, saved), get, list, cancel, statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from recomamp_pipelines.amc import (
    AmcBadRequest,
    AmcClient,
    AmcConfigError,
    AmcNotFound,
    AmcStatus,
    AmcTimeWindowError,
    InstanceClient,
    ProjectStatus,
    TimeWindow,
)
from recomamp_pipelines.amc.client import AD_HOC_SQL_MAX_BYTES
from tests.amc.conftest import (
    EXECUTIONS,
    USERS_SQL,
    complete_window,
    config_for,
    request_count,
)
from tests.fixtures.amc_simulator import AmcSimulator


def test_ad_hoc_execution_sends_a_naive_local_window_and_succeeds(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    window = complete_window(days=7, zone="America/New_York")
    created = instance.create_execution(
        window,
        sql=USERS_SQL,
        ignore_data_gaps=True,
        timeout_seconds=3600,
        parameter_values={"note": "weekly"},
    )
    assert created.amc_status is AmcStatus.PENDING
    assert created.status is ProjectStatus.PENDING
    assert created.workflow_id is not None and created.workflow_id.startswith("transient_")
    assert created.time_window_start_original == window.start
    assert created.time_window_end_original == window.end
    assert created.time_window_time_zone_original == "America/New_York"
    assert created.ignore_data_gaps is True
    assert created.workflow_execution_timeout_seconds == 3600
    assert created.parameter_values == {"note": "weekly"}
    assert created.expire_time is not None and created.expire_time.tzinfo is not None

    # AMC recorded the window exactly as local naive times with the zone beside them.
    submitted = [
        s
        for s in amc_simulator.counters()["submissions"]
        if s["time_window_time_zone"] == "America/New_York"
        and s["time_window_start"] == window.start.isoformat()
    ]
    assert submitted and all(not s["time_window_end"].endswith("Z") for s in submitted)

    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.status is ProjectStatus.SUCCESS
    assert final.amc_status is AmcStatus.SUCCEEDED
    assert [c.name for c in final.output_columns] == ["users"]
    assert final.is_terminal


def test_aware_datetimes_are_refused_before_anything_is_sent(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    before = request_count(amc_simulator, EXECUTIONS)
    with pytest.raises(AmcTimeWindowError, match="carries a time zone"):
        instance.create_execution(
            TimeWindow(datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 1, 27), "UTC"),
            sql=USERS_SQL,
        )
    assert request_count(amc_simulator, EXECUTIONS) == before


def test_sql_that_does_not_compile_reaches_the_user_word_for_word(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    sql = (
        "SELECT campaign,\n       SUM(impressions) AS impressions\nFROM dsp_impresions\nGROUP BY 1"
    )
    window = complete_window()
    # What AMC itself answers to the same body, asked directly.
    raw = httpx.post(
        amc_simulator.reporting_url("/workflowExecutions"),
        json={"workflow": {"sqlQuery": sql}, **window.as_body()},
        headers=amc_simulator.amc_headers(),
        timeout=30,
    )
    assert raw.status_code == 400
    details = raw.json()["details"]
    assert "line 3" in details.lower()

    before = request_count(amc_simulator, EXECUTIONS)
    with pytest.raises(AmcBadRequest) as caught:
        instance.create_execution(window, sql=sql)
    assert details in str(caught.value)
    assert caught.value.amc_message == details
    assert caught.value.status_code == 400
    # A 400 is final: sent once, never retried.
    assert request_count(amc_simulator, EXECUTIONS) == before + 1


def test_saved_workflow_execution_with_parameters(instance: InstanceClient) -> None:
    workflow_id = f"campaign-impressions-{uuid.uuid4().hex}"
    instance.create_workflow(
        workflow_id,
        "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions\n"
        "WHERE ARRAY_CONTAINS(CUSTOM_PARAMETER('device_types'), device_type)\nGROUP BY 1",
        input_parameters=[
            {
                "name": "device_types",
                "dataType": {"type": "ARRAY", "elementDataType": "STRING"},
                "defaultValue": ["PC"],
            }
        ],
    )
    created = instance.create_execution(
        complete_window(days=7),
        workflow_id=workflow_id,
        parameter_values={"device_types": ["PC", "Phone"]},
    )
    assert created.workflow_id == workflow_id
    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.status is ProjectStatus.SUCCESS
    with_workflow = instance.get_execution(final.workflow_execution_id, include_workflow=True)
    assert with_workflow.workflow is not None
    assert "CUSTOM_PARAMETER('device_types')" in with_workflow.workflow.sql_query
    assert with_workflow.parameter_values == {"device_types": ["PC", "Phone"]}
    assert instance.get_execution(final.workflow_execution_id).workflow is None


def test_create_execution_needs_exactly_one_of_sql_and_workflow(instance: InstanceClient) -> None:
    with pytest.raises(AmcConfigError, match="exactly one of sql"):
        instance.create_execution(complete_window())
    with pytest.raises(AmcConfigError, match="exactly one of sql"):
        instance.create_execution(complete_window(), sql=USERS_SQL, workflow_id="w")


def test_list_executions_filters_and_follows_next_token(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    # Held in PENDING so that they can all be cancelled at the end.
    amc_simulator.set_faults(stuck_pending_next_executions=3)
    workflow_id = f"listing-{uuid.uuid4().hex}"
    instance.create_workflow(workflow_id, USERS_SQL)
    window = complete_window()
    started = datetime.now(UTC) - timedelta(minutes=5)
    ids = [
        instance.create_execution(window, workflow_id=workflow_id).workflow_execution_id
        for _ in range(3)
    ]
    listed = instance.list_executions(workflow_id=workflow_id, page_size=1)
    assert sorted(e.workflow_execution_id for e in listed) == sorted(ids)
    ascending = instance.list_executions(
        workflow_id=workflow_id, sort_ascending=True, page_size=2, min_creation_time=started
    )
    assert [e.workflow_execution_id for e in ascending] == ids
    assert (
        instance.list_executions(
            workflow_id=workflow_id, max_creation_time=started - timedelta(days=1)
        )
        == []
    )
    for execution_id in ids:
        instance.cancel_execution(execution_id)
    assert instance.list_executions(workflow_id=workflow_id) == []
    cancelled = instance.list_executions(workflow_id=workflow_id, include_cancelled=True)
    assert {e.status for e in cancelled} == {ProjectStatus.CANCELLED}


def test_creation_time_filters_must_be_aware(instance: InstanceClient) -> None:
    with pytest.raises(AmcConfigError, match="min_creation_time=2024-01-01T00:00:00 has no"):
        instance.list_executions(min_creation_time=datetime(2024, 1, 1))


def test_cancel_a_pending_execution_then_cancelling_again_is_refused(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    cancelled = instance.cancel_execution(created.workflow_execution_id)
    assert cancelled.amc_status is AmcStatus.CANCELLED
    assert cancelled.status is ProjectStatus.CANCELLED
    with pytest.raises(AmcBadRequest, match="cannot be cancelled: its status is CANCELLED"):
        instance.cancel_execution(created.workflow_execution_id)


@pytest.mark.parametrize(
    ("fault", "amc_status", "error_type", "reason"),
    [
        ("fail_next_executions", AmcStatus.FAILED, "FAILED", "internal error"),
        ("reject_next_executions", AmcStatus.REJECTED, "REJECTED", "Too many workflows"),
    ],
)
def test_failed_and_rejected_executions_map_with_amc_reason(
    instance: InstanceClient,
    amc_simulator: AmcSimulator,
    fault: str,
    amc_status: AmcStatus,
    error_type: str,
    reason: str,
) -> None:
    amc_simulator.set_faults(**{fault: 1})
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.amc_status is amc_status
    assert final.status is ProjectStatus.FAILED
    assert final.error_type == error_type
    assert final.error_message is not None and reason in final.error_message


def test_a_database_uuid_is_refused_as_instance_id(amc_client: AmcClient) -> None:
    row_id = str(uuid.uuid4())
    with pytest.raises(AmcConfigError, match=f"instance id '{row_id}' is a UUID"):
        amc_client.instance(row_id)


def test_reporting_calls_need_the_account_entity_id(amc_simulator: AmcSimulator) -> None:
    with AmcClient(config_for(amc_simulator), amc_simulator.refresh_tokens[0]) as client:
        with pytest.raises(AmcConfigError, match=r"amc_accounts.account_id"):
            client.instance(amc_simulator.instance_id)
        scoped = client.for_account(amc_simulator.advertiser_id, amc_simulator.marketplace_id)
        # Reachable once scoped.
        assert isinstance(scoped.instance(amc_simulator.instance_id), InstanceClient)


def test_unknown_instance_is_a_not_found(amc_client: AmcClient) -> None:
    with pytest.raises(AmcNotFound, match="amcnosuchinstance"):
        amc_client.instance("amcnosuchinstance").list_workflows()


def test_sql_beyond_the_ad_hoc_limit_runs_through_a_saved_workflow(
    instance: InstanceClient,
) -> None:
    padding = "-- " + "x" * 1000 + "\n"
    sql = padding * (AD_HOC_SQL_MAX_BYTES // len(padding) + 1) + USERS_SQL
    workflow_id = f"large-{uuid.uuid4().hex}"
    created = instance.create_execution_for_sql(
        complete_window(), sql, saved_workflow_id=workflow_id
    )
    assert created.workflow_id == workflow_id
    assert instance.get_workflow(workflow_id).sql_query == sql
    small = instance.create_execution_for_sql(
        complete_window(), USERS_SQL, saved_workflow_id=workflow_id
    )
    assert small.workflow_id is not None and small.workflow_id.startswith("transient_")
