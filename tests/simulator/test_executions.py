"""Executions: creating, reading, listing, cancelling, and their life on the simulated clock."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc, last_full_week

EXECUTION_FIELDS = {
    "workflowExecutionId",
    "workflowId",
    "status",
    "statusReason",
    "createTime",
    "lastUpdatedTime",
    "expireTime",
    "waitUntil",
    "timeWindowStart",
    "timeWindowEnd",
    "timeWindowStartOriginal",
    "timeWindowEndOriginal",
    "timeWindowTimeZoneOriginal",
    "parameterValues",
    "dataGaps",
    "executionCategory",
    "workflowExecutionTimeoutSeconds",
    "ignoreDataGaps",
    "disableAggregationControls",
}
ONE_HOUR = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_for(amc: Amc, execution_id: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = amc.get(f"/workflowExecutions/{execution_id}").json()
        if execution["status"] == status or time.monotonic() > deadline:
            return dict(execution)
        time.sleep(0.05)


def finish(amc: Amc, execution_id: str) -> dict:
    """Let a 60-second execution on a frozen clock run to its end."""
    wait_for(amc, execution_id, "RUNNING")
    amc.sim.advance_clock(60)
    return wait_for(amc, execution_id, "SUCCEEDED")


def test_ad_hoc_execution_is_flat_and_succeeds(amc: Amc) -> None:
    start, end = last_full_week(amc.sim.now())

    created = amc.run(DSP_BY_CAMPAIGN, start, end)

    assert set(created) == EXECUTION_FIELDS
    assert created["status"] == "PENDING"
    assert created["workflowId"].startswith("transient_")
    uuid.UUID(created["workflowId"].removeprefix("transient_"))
    assert created["executionCategory"] == "AD_HOC"
    assert created["workflowExecutionTimeoutSeconds"] == 21600
    assert parse(created["expireTime"]) - parse(created["createTime"]) == timedelta(hours=24)
    assert created["timeWindowStart"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created["timeWindowStartOriginal"] == start.strftime("%Y-%m-%dT%H:%M:%S")

    done = amc.wait(created["workflowExecutionId"])

    assert done["status"] == "SUCCEEDED"
    assert done["statusReason"] is None
    assert isinstance(done["executionTime"], int)
    assert done["validatedTime"]
    assert done["outputColumns"] == [
        {"name": "campaign", "dataType": "STRING", "columnType": "DIMENSION"},
        {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
        # total_cost is a DOUBLE in Amazon's reference (millicents).
        {"name": "total_cost", "dataType": "DOUBLE", "columnType": "METRIC"},
        {"name": "reach", "dataType": "LONG", "columnType": "METRIC"},
    ]
    rows = amc.rows(created["workflowExecutionId"])
    assert len(rows) == 12
    assert all(int(r["reach"]) >= 1000 and int(r["impressions"]) > int(r["reach"]) for r in rows)


def test_saved_workflow_execution_can_include_its_workflow(amc: Amc) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:10]}"
    amc.post("/workflows", {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN})
    start, end = last_full_week(amc.sim.now())

    created = amc.post(
        "/workflowExecutions",
        {
            "workflowId": workflow_id,
            "timeWindowType": "EXPLICIT",
            "timeWindowStart": start.isoformat(),
            "timeWindowEnd": end.isoformat(),
            "timeWindowTimeZone": "America/New_York",
        },
    ).json()
    execution_id = created["workflowExecutionId"]

    assert created["workflowId"] == workflow_id
    plain = amc.get(f"/workflowExecutions/{execution_id}", includeWorkflow="false").json()
    assert "sqlQuery" not in plain
    full = amc.get(f"/workflowExecutions/{execution_id}", includeWorkflow="True").json()
    assert full["sqlQuery"] == DSP_BY_CAMPAIGN
    assert full["workflow"]["workflowId"] == workflow_id


def test_numbers_and_booleans_sent_as_strings_are_understood(amc: Amc) -> None:
    start, end = last_full_week(amc.sim.now())
    created = amc.run(
        DSP_BY_CAMPAIGN,
        start,
        end,
        ignoreDataGaps="True",
        workflowExecutionTimeoutSeconds="86400",
        disableAggregationControls="false",
    )
    assert created["ignoreDataGaps"] is True
    assert created["workflowExecutionTimeoutSeconds"] == 86400
    assert created["disableAggregationControls"] is False


def test_execution_bodies_are_checked(amc: Amc) -> None:
    start, end = last_full_week(amc.sim.now())
    window = {
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": start.isoformat(),
        "timeWindowEnd": end.isoformat(),
    }
    cases = [
        {**window},
        {**window, "workflowId": "x", "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}},
        {**window, "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}, "timeWindowTimeZone": "Mars/Base"},
        {**window, "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}, "timeWindowEnd": start.isoformat()},
        {**window, "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}, "timeWindowStart": "yesterday"},
        {**window, "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}, "timeWindowType": "SOMETIME"},
        {**window, "workflow": {"sqlQuery": DSP_BY_CAMPAIGN}, "ignoreDataGaps": "maybe"},
    ]
    for body in cases:
        response = amc.post("/workflowExecutions", body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "400"

    unknown = amc.post("/workflowExecutions", {**window, "workflowId": "never-created"})
    assert unknown.status_code == 404


def test_unknown_executions_are_not_found(amc: Amc) -> None:
    missing = str(uuid.uuid4())
    for response in (
        amc.get(f"/workflowExecutions/{missing}"),
        amc.put(f"/workflowExecutions/{missing}", {"status": "CANCELLED"}),
        amc.get(f"/workflowExecutions/{missing}/downloadUrls"),
    ):
        assert response.status_code == 404
    assert amc.get(f"/workflowExecutions/{missing}").json()["details"] == (
        f"Execution with ID {missing} not found."
    )


def test_lifecycle_follows_the_simulated_clock(frozen: Amc) -> None:
    start = datetime(2025, 2, 24)
    created = frozen.run(ONE_HOUR, start, start + timedelta(hours=1))
    execution_id = created["workflowExecutionId"]

    running = wait_for(frozen, execution_id, "RUNNING")
    assert running["status"] == "RUNNING"
    time.sleep(0.5)
    assert frozen.get(f"/workflowExecutions/{execution_id}").json()["status"] == "RUNNING"

    frozen.sim.advance_clock(60)
    done = wait_for(frozen, execution_id, "SUCCEEDED")

    assert done["status"] == "SUCCEEDED"
    assert done["executionTime"] == 60
    assert frozen.get(f"/workflowExecutions/{execution_id}/downloadUrls").status_code == 200


def test_at_most_ten_executions_run_at_once_per_instance(frozen: Amc) -> None:
    start = datetime(2025, 2, 24)
    ids = [
        frozen.run(ONE_HOUR, start + timedelta(hours=i), start + timedelta(hours=i + 1))[
            "workflowExecutionId"
        ]
        for i in range(12)
    ]
    other = Amc(frozen.sim, frozen.sim.instance_ids[1])
    elsewhere = other.run(ONE_HOUR, start, start + timedelta(hours=1))["workflowExecutionId"]
    wait_for(frozen, ids[9], "RUNNING")
    time.sleep(0.3)

    statuses = [frozen.get(f"/workflowExecutions/{i}").json()["status"] for i in ids]
    assert statuses == ["RUNNING"] * 10 + ["PENDING"] * 2
    assert wait_for(other, elsewhere, "RUNNING")["status"] == "RUNNING"

    frozen.sim.advance_clock(60)
    assert wait_for(frozen, ids[11], "RUNNING")["status"] == "RUNNING"
    frozen.sim.advance_clock(60)
    final = [wait_for(frozen, i, "SUCCEEDED") for i in ids]
    assert [e["status"] for e in final] == ["SUCCEEDED"] * 12, final


def test_cancel_only_while_pending_or_running(frozen: Amc) -> None:
    start = datetime(2025, 2, 24)
    execution_id = frozen.run(ONE_HOUR, start, start + timedelta(hours=1))["workflowExecutionId"]
    path = f"/workflowExecutions/{execution_id}"

    assert frozen.put(path, {"status": "RUNNING"}).status_code == 400
    cancelled = frozen.put(path, {"status": "CANCELLED"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["workflowExecutionId"] == execution_id

    again = frozen.put(path, {"status": "CANCELLED"})
    assert again.status_code == 400
    assert "CANCELLED" in again.json()["details"]
    frozen.sim.advance_clock(120)
    time.sleep(0.3)
    assert frozen.get(path).json()["status"] == "CANCELLED"
    assert frozen.get(f"{path}/downloadUrls").status_code == 404


def test_execution_timeout_fails_the_execution(frozen: Amc) -> None:
    amc = frozen
    amc.sim.set_faults(execution_seconds=600)
    start = datetime(2025, 2, 24)
    execution_id = amc.run(
        ONE_HOUR, start, start + timedelta(hours=1), workflowExecutionTimeoutSeconds=30
    )["workflowExecutionId"]
    wait_for(amc, execution_id, "RUNNING")

    amc.sim.advance_clock(31)
    failed = wait_for(amc, execution_id, "FAILED")

    assert failed["status"] == "FAILED"
    assert failed["statusReason"] == "Workflow execution timed out after 30 seconds."


def test_list_executions_with_filters(frozen: Amc) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:10]}"
    frozen.post("/workflows", {"workflowId": workflow_id, "sqlQuery": ONE_HOUR})
    ids = []
    for hour in range(3):
        if hour:
            frozen.sim.advance_clock(1200)
        body = {
            "workflowId": workflow_id,
            "timeWindowStart": f"2025-02-24T0{hour}:00:00",
            "timeWindowEnd": f"2025-02-24T0{hour + 1}:00:00",
        }
        ids.append(frozen.post("/workflowExecutions", body).json()["workflowExecutionId"])
        if hour == 1:
            cancelled = frozen.put(f"/workflowExecutions/{ids[1]}", {"status": "CANCELLED"})
            assert cancelled.json()["status"] == "CANCELLED"
    frozen.run(ONE_HOUR, datetime(2025, 2, 24), datetime(2025, 2, 25))

    mine = frozen.get("/workflowExecutions", workflowId=workflow_id).json()
    assert [e["workflowExecutionId"] for e in mine["executions"]] == [ids[2], ids[0]]

    everything = frozen.get(
        "/workflowExecutions",
        workflowId=workflow_id,
        includeCancelled="true",
        sortAscending="true",
        minCreationTime="",
        maxCreationTime="",
        timeZone="",
        nextToken="",
    ).json()
    assert [e["workflowExecutionId"] for e in everything["executions"]] == ids

    # Created at 12:00, 12:20 and 12:40 UTC: 07:00 to 07:30 in New York holds the first two.
    windowed = frozen.get(
        "/workflowExecutions",
        workflowId=workflow_id,
        includeCancelled="true",
        minCreationTime="2025-03-05T07:00:00",
        maxCreationTime="2025-03-05T07:30:00",
        timeZone="America/New_York",
    ).json()
    assert {e["workflowExecutionId"] for e in windowed["executions"]} == set(ids[:2])

    first = frozen.get("/workflowExecutions", limit=2, includeCancelled="true").json()
    rest = frozen.get(
        "/workflowExecutions", limit=2, includeCancelled="true", nextToken=first["nextToken"]
    ).json()
    assert len(first["executions"]) == 2 and len(rest["executions"]) == 2
    assert rest["nextToken"] is None


def test_data_gaps_for_windows_ending_within_48_hours(frozen: Amc) -> None:
    recent = frozen.run(ONE_HOUR, datetime(2025, 3, 2), datetime(2025, 3, 5), ignoreDataGaps=True)
    old = frozen.run(ONE_HOUR, datetime(2025, 2, 24), datetime(2025, 3, 3))

    assert old["dataGaps"] == []
    assert [(g["dataSource"], g["gapStartTime"], g["gapEndTime"]) for g in recent["dataGaps"]] == [
        ("dsp_impressions", "2025-03-03T12:00:00Z", "2025-03-05T00:00:00Z")
    ]


def test_naive_windows_are_local_time_in_the_requested_zone(frozen: Amc) -> None:
    sql = (
        "SELECT impression_date, impression_date_utc, SUM(impressions) AS impressions "
        "FROM dsp_impressions GROUP BY 1, 2"
    )
    body = {
        "workflow": {"sqlQuery": sql},
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2025-02-20T00:00:00",
        "timeWindowEnd": "2025-02-21T00:00:00",
        "timeWindowTimeZone": "America/Los_Angeles",
    }
    created = frozen.post("/workflowExecutions", body).json()
    assert created["timeWindowStart"] == "2025-02-20T08:00:00Z"
    assert created["timeWindowTimeZoneOriginal"] == "America/Los_Angeles"
    assert finish(frozen, created["workflowExecutionId"])["status"] == "SUCCEEDED"

    rows = frozen.rows(created["workflowExecutionId"])

    assert {r["impression_date"] for r in rows} == {"2025-02-20"}
    assert {r["impression_date_utc"] for r in rows} == {"2025-02-20", "2025-02-21"}


def test_a_z_suffix_is_read_as_a_utc_instant_not_an_empty_result(frozen: Amc) -> None:
    body = {
        "workflow": {"sqlQuery": ONE_HOUR},
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2025-02-20T00:00:00Z",
        "timeWindowEnd": "2025-02-21T00:00:00Z",
        "timeWindowTimeZone": "America/New_York",
    }
    created = frozen.post("/workflowExecutions", body).json()

    assert created["timeWindowStart"] == "2025-02-20T00:00:00Z"
    assert created["timeWindowStartOriginal"] == "2025-02-20T00:00:00Z"
    assert finish(frozen, created["workflowExecutionId"])["status"] == "SUCCEEDED"
    assert len(frozen.rows(created["workflowExecutionId"])) == 12


def test_relative_window_types_use_the_clock_and_zone(frozen: Amc) -> None:
    def window(kind: str) -> tuple[str, str]:
        body = {"workflow": {"sqlQuery": ONE_HOUR}, "timeWindowType": kind}
        created = frozen.post("/workflowExecutions", {**body, "timeWindowTimeZone": "UTC"}).json()
        return created["timeWindowStart"], created["timeWindowEnd"]

    assert window("MOST_RECENT_DAY") == ("2025-03-04T00:00:00Z", "2025-03-05T00:00:00Z")
    assert window("MOST_RECENT_WEEK") == ("2025-02-26T00:00:00Z", "2025-03-05T00:00:00Z")
    assert window("PREVIOUS_MONTH") == ("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")
    assert window("CURRENT_MONTH") == ("2025-03-01T00:00:00Z", "2025-03-05T12:00:00Z")
    default = frozen.post("/workflowExecutions", {"workflow": {"sqlQuery": ONE_HOUR}}).json()
    assert (default["timeWindowStart"], default["timeWindowTimeZoneOriginal"]) == (
        "2025-03-04T00:00:00Z",
        "UTC",
    )
