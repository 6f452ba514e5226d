"""Faults a client of AMC must survive, and the counters that prove what it did."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc, last_full_week


def submit(amc: Amc) -> dict:
    start, end = last_full_week(amc.sim.now())
    return amc.run(DSP_BY_CAMPAIGN, start, end)


def test_rate_limits_with_retry_after_for_the_next_calls(amc: Amc) -> None:
    amc.sim.set_faults(rate_limit_next=2, rate_limit_retry_after=3)

    answers = [amc.get("/workflows") for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json() == {"code": "429", "details": "Too Many Requests"}


def test_rate_limits_without_retry_after(amc: Amc) -> None:
    amc.sim.set_faults(rate_limit_next=1, rate_limit_retry_after=None)

    answer = amc.get("/workflows")

    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers


def test_a_rate_of_rate_limits(amc: Amc) -> None:
    amc.sim.set_faults(rate_limit_rate=1.0)
    assert {amc.get("/workflows").status_code for _ in range(3)} == {429}
    amc.sim.set_faults(rate_limit_rate=0.5)
    statuses = {amc.get("/workflows").status_code for _ in range(40)}
    assert statuses == {200, 429}


def test_server_errors(amc: Amc) -> None:
    amc.sim.set_faults(server_error_next=1, server_error_status=500)
    assert amc.get("/workflows").status_code == 500
    amc.sim.set_faults(server_error_next=1, server_error_status=503)
    answer = amc.get("/workflows")
    assert (answer.status_code, answer.json()["code"]) == (503, "503")
    assert amc.get("/workflows").status_code == 200


def test_faults_can_target_one_call(amc: Amc) -> None:
    amc.sim.set_faults(
        rate_limit_next=1, fault_path_contains="/workflowExecutions", fault_method="POST"
    )

    assert amc.get("/workflowExecutions").status_code == 200
    start, end = last_full_week(amc.sim.now())
    body = {
        "workflow": {"sqlQuery": DSP_BY_CAMPAIGN},
        "timeWindowStart": start.isoformat(),
        "timeWindowEnd": end.isoformat(),
    }
    assert amc.post("/workflowExecutions", body).status_code == 429
    assert amc.post("/workflowExecutions", body).status_code == 200


def test_unauthorized_for_the_next_calls_whatever_the_token(amc: Amc) -> None:
    before = amc.sim.counters()["responses"].get("401", 0)
    amc.sim.set_faults(unauthorized_next=2)

    first = amc.get("/workflows")
    amc.token = amc.sim.access_token()
    second = amc.get("/workflows")
    third = amc.get("/workflows")

    assert (first.status_code, first.json()) == (401, {"message": "Unauthorized"})
    assert second.status_code == 401
    assert third.status_code == 200
    assert amc.sim.counters()["responses"]["401"] == before + 2
    assert amc.sim.set_faults()["unauthorized_next"] == 0


def test_unauthorized_only_where_aimed_and_at_a_rate(amc: Amc) -> None:
    amc.sim.set_faults(unauthorized_next=1, fault_path_contains="/dataSources")
    assert amc.get("/workflows").status_code == 200
    assert amc.get("/dataSources").status_code == 401
    assert amc.get("/dataSources").status_code == 200

    amc.sim.set_faults(unauthorized_rate=1.0, fault_path_contains=None)
    assert {amc.get("/workflows").status_code for _ in range(3)} == {401}
    # A 429 or 5xx still comes first, before the token is looked at.
    amc.sim.set_faults(server_error_next=1)
    assert amc.get("/workflows").status_code == 503


def token_answer(sim: AmcSimulator) -> httpx.Response:
    return httpx.post(
        sim.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": sim.refresh_tokens[0],
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
    )


def test_token_endpoint_errors_for_the_next_requests(amc_simulator: AmcSimulator) -> None:
    before = amc_simulator.counters()
    amc_simulator.set_faults(token_error_next=2, token_error_retry_after=2)

    answers = [token_answer(amc_simulator) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].json()["error"] == "temporarily_unavailable"
    assert answers[0].json()["error_description"]
    assert "access_token" not in answers[0].json()
    after = amc_simulator.counters()
    assert after["token_requests"] == before["token_requests"] + 3
    assert after["tokens_issued"] == before["tokens_issued"] + 1
    token_route = "POST /auth/o2/token"
    assert after["requests"][token_route] == before["requests"].get(token_route, 0) + 3
    assert after["responses"]["503"] == before["responses"].get("503", 0) + 2


@pytest.mark.parametrize(
    ("status", "code", "error", "retry_after"),
    [
        (429, None, "temporarily_unavailable", "1.5"),
        (500, None, "server_error", "1.5"),
        # A refused grant or client never says when to come back.
        (400, None, "invalid_grant", None),
        (401, None, "invalid_client", None),
        (400, "unauthorized_client", "unauthorized_client", None),
    ],
)
def test_token_endpoint_error_kinds(
    amc_simulator: AmcSimulator, status: int, code: str | None, error: str, retry_after: str | None
) -> None:
    amc_simulator.set_faults(
        token_error_next=1,
        token_error_status=status,
        token_error_code=code,
        token_error_retry_after=1.5,
    )

    answer = token_answer(amc_simulator)

    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.headers.get("Retry-After") == retry_after
    assert token_answer(amc_simulator).status_code == 200


def test_token_endpoint_errors_without_retry_after_by_default(
    amc_simulator: AmcSimulator,
) -> None:
    amc_simulator.set_faults(token_error_next=1, token_error_status=429)
    answer = token_answer(amc_simulator)
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers


def test_token_faults_and_api_faults_keep_to_their_own_endpoints(amc: Amc) -> None:
    amc.sim.set_faults(token_error_next=1, token_error_rate=0.0, unauthorized_next=1)
    assert token_answer(amc.sim).status_code == 503
    assert token_answer(amc.sim).status_code == 200
    assert amc.sim.set_faults()["unauthorized_next"] == 1
    assert amc.get("/workflows").status_code == 401

    amc.sim.set_faults(token_error_rate=1.0, rate_limit_next=1)
    assert {token_answer(amc.sim).status_code for _ in range(3)} == {503}
    assert amc.get("/workflows").status_code == 429
    assert amc.get("/workflows").status_code == 200


def test_failed_execution_with_its_reason(amc: Amc) -> None:
    amc.sim.set_faults(fail_next_executions=1, fail_status_reason="Out of memory in stage 3")

    execution = amc.wait(submit(amc)["workflowExecutionId"])

    assert execution["status"] == "FAILED"
    assert execution["statusReason"] == "Out of memory in stage 3"
    urls = amc.get(f"/workflowExecutions/{execution['workflowExecutionId']}/downloadUrls")
    assert urls.status_code == 404
    assert amc.wait(submit(amc)["workflowExecutionId"])["status"] == "SUCCEEDED"


def test_rejected_execution(amc: Amc) -> None:
    amc.sim.set_faults(reject_next_executions=1)

    execution = amc.wait(submit(amc)["workflowExecutionId"])

    assert execution["status"] == "REJECTED"
    assert "overlapping time windows" in execution["statusReason"]


def test_an_execution_stuck_in_pending(amc: Amc) -> None:
    amc.sim.set_faults(stuck_pending_next_executions=1)
    stuck = submit(amc)["workflowExecutionId"]
    normal = submit(amc)["workflowExecutionId"]

    assert amc.wait(normal)["status"] == "SUCCEEDED"
    time.sleep(0.5)
    assert amc.get(f"/workflowExecutions/{stuck}").json()["status"] == "PENDING"
    cancelled = amc.put(f"/workflowExecutions/{stuck}", {"status": "CANCELLED"})
    assert cancelled.json()["status"] == "CANCELLED"


def test_a_header_only_result(amc: Amc) -> None:
    amc.sim.set_faults(header_only_next_executions=1)

    execution = amc.wait(submit(amc)["workflowExecutionId"])

    assert execution["status"] == "SUCCEEDED"
    urls = amc.get(f"/workflowExecutions/{execution['workflowExecutionId']}/downloadUrls").json()
    texts = [httpx.get(url).text for url in urls["downloadUrls"]]
    assert texts == ["campaign,impressions,total_cost,reach\n"]


def test_a_download_cut_short(amc: Amc) -> None:
    execution = amc.wait(submit(amc)["workflowExecutionId"])
    url = amc.get(f"/workflowExecutions/{execution['workflowExecutionId']}/downloadUrls").json()[
        "downloadUrls"
    ][0]
    amc.sim.set_faults(truncate_next_downloads=1)

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)

    complete = httpx.get(url)
    assert complete.status_code == 200
    assert len(complete.text.splitlines()) == 13


def test_answer_held_back_after_the_execution_was_created(amc: Amc) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:10]}"
    amc.post("/workflows", {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN})
    amc.sim.set_faults(hold_create_response_seconds=3)
    start, end = last_full_week(amc.sim.now())
    body = {
        "workflowId": workflow_id,
        "timeWindowStart": start.isoformat(),
        "timeWindowEnd": end.isoformat(),
    }

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(amc.url("/workflowExecutions"), headers=amc.headers, json=body, timeout=0.5)

    listed = amc.get("/workflowExecutions", workflowId=workflow_id).json()["executions"]
    assert len(listed) == 1
    submissions = [s for s in amc.sim.counters()["submissions"] if s["workflow_id"] == workflow_id]
    assert [s["count"] for s in submissions] == [1]


def test_latency_delays_every_answer(amc: Amc) -> None:
    amc.sim.set_faults(latency_seconds=2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(amc.url("/workflows"), headers=amc.headers, timeout=0.5)
    amc.sim.set_faults(latency_seconds=0)
    assert amc.get("/workflows").status_code == 200


def test_counters_count_submissions_per_workflow_and_window(amc: Amc) -> None:
    workflow_id = f"wf-{uuid.uuid4().hex[:10]}"
    amc.post("/workflows", {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN})
    start, end = last_full_week(amc.sim.now())
    for window_start in (start, start, end):
        amc.post(
            "/workflowExecutions",
            {
                "workflowId": workflow_id,
                "timeWindowStart": window_start.isoformat(),
                "timeWindowEnd": (window_start.replace(hour=1)).isoformat(),
                "timeWindowTimeZone": "Europe/Berlin",
            },
        )

    counters = amc.sim.counters()

    mine = [s for s in counters["submissions"] if s["workflow_id"] == workflow_id]
    assert [(s["time_window_start"], s["count"]) for s in mine] == [
        (start.isoformat(), 2),
        (end.isoformat(), 1),
    ]
    assert {s["time_window_time_zone"] for s in mine} == {"Europe/Berlin"}
    assert counters["requests"]["POST /amc/reporting/{instanceId}/workflowExecutions"] >= 3


def test_unknown_faults_are_refused(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(f"{amc_simulator.base_url}/_sim/faults", json={"explode": 1})
    assert response.status_code == 400
    assert "unknown fault 'explode'" in response.json()["details"]


def test_reset_forgets_executions_and_counters(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    amc = Amc(amc_simulator_factory())
    submit(amc)
    assert amc.sim.counters()["executions_created"] == 1

    amc.sim.reset()

    assert amc.sim.counters()["executions_created"] == 0
    assert amc.get("/workflowExecutions").json()["executions"] == []


def test_faults_from_the_command_line_and_the_settings_file(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(
        faults={"server_error_next": 1},
        settings={"faults": {"rate_limit_next": 1, "rate_limit_retry_after": 7}},
    )
    headers = sim.amc_headers()
    url = sim.reporting_url("/workflows")

    first, second, third = (httpx.get(url, headers=headers) for _ in range(3))

    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert second.status_code == 503
    assert third.status_code == 200
