"""Fields of AMC's current workflow service: outputColumns, privacyFilteringBehavior,
skipPublish, versioned media types, the account-wide limit and overlapping-window refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

FROZEN_AT = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
DAY = (datetime(2025, 2, 17), datetime(2025, 2, 18))
BY_SITE = (
    "SELECT site, postal_code, SUM(impressions) AS impressions, COUNT(DISTINCT user_id) AS reach "
    "FROM dsp_impressions GROUP BY 1, 2"
)


def window(**extra: Any) -> dict[str, Any]:
    return {
        "timeWindowStart": "2025-02-17T00:00:00",
        "timeWindowEnd": "2025-02-18T00:00:00",
        **extra,
    }


def frozen_sim(factory: Callable[..., AmcSimulator], **options: Any) -> AmcSimulator:
    return factory(clock=FROZEN_AT, freeze_clock=True, execution_seconds=0, **options)


def test_output_columns_are_checked_when_the_workflow_is_created(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    amc = Amc(frozen_sim(amc_simulator_factory))
    try:
        sql = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
        wrong = amc.post(
            "/workflows",
            {"workflowId": "wrong", "sqlQuery": sql, "outputColumns": [{"name": "campaign"}]},
        )
        assert wrong.status_code == 400
        assert wrong.json()["details"] == (
            "Unable to compile the SQL query. outputColumns ['campaign'] do not match the "
            "query's output columns ['campaign', 'impressions']."
        )
        right = amc.post(
            "/workflows",
            {
                "workflowId": "right",
                "sqlQuery": sql,
                "outputColumns": [{"name": "campaign"}, {"name": "impressions"}],
            },
        )
        assert right.status_code == 200, right.text
    finally:
        amc.close()


def test_privacy_filtering_behavior_removes_rows_or_values(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    amc = Amc(frozen_sim(amc_simulator_factory))
    try:
        removed = amc.result(
            BY_SITE, *DAY, workflow_fields={"privacyFilteringBehavior": "REMOVE_ROWS"}
        )
        kept = amc.result(
            BY_SITE, *DAY, workflow_fields={"privacyFilteringBehavior": "REMOVE_VALUES"}
        )
        # Postal codes split sites into groups of few users: most rows fall under the threshold.
        assert len(kept) > len(removed)
        nulled = [r for r in kept if r["reach"] == ""]
        assert nulled and all(r["impressions"] == "" and r["site"] for r in nulled)
        assert all(int(r["reach"]) >= 100 for r in removed)
        refused = amc.post(
            "/workflowExecutions",
            window(workflow={"sqlQuery": BY_SITE, "privacyFilteringBehavior": "DROP"}),
        )
        assert refused.status_code == 400
        assert (
            "privacyFilteringBehavior 'DROP': expected one of REMOVE_ROWS, REMOVE_VALUES"
            in (refused.json()["details"])
        )
    finally:
        amc.close()


def test_skip_publish_and_versioned_media_types(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    amc = Amc(frozen_sim(amc_simulator_factory))
    try:
        media = "application/vnd.amcworkflowexecutions.v1+json"
        response = httpx.post(
            amc.url("/workflowExecutions"),
            headers={**amc.headers, "Accept": media, "Content-Type": media},
            json=window(workflow={"sqlQuery": BY_SITE}, skipPublish=True),
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)
        done = amc.wait(response.json()["workflowExecutionId"])
        assert done["status"] == "SUCCEEDED"
        plain = amc.get("/dataSources/dsp_views")
        assert plain.headers["content-type"].startswith("application/json")
    finally:
        amc.close()


def test_too_many_runs_over_overlapping_windows_are_rejected(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    amc = Amc(frozen_sim(amc_simulator_factory, settings={"max_overlapping_runs": 2}))
    try:
        sql = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
        first = amc.wait(amc.run(sql, *DAY)["workflowExecutionId"])
        second = amc.wait(
            amc.run(sql, datetime(2025, 2, 17, 12), datetime(2025, 2, 19))["workflowExecutionId"]
        )
        elsewhere = amc.wait(
            amc.run(sql, datetime(2025, 2, 10), datetime(2025, 2, 11))["workflowExecutionId"]
        )
        third = amc.wait(amc.run(sql, *DAY)["workflowExecutionId"])
        assert [e["status"] for e in (first, second, elsewhere)] == ["SUCCEEDED"] * 3
        assert third["status"] == "REJECTED"
        assert third["statusReason"] == (
            f'Execution "{third["workflowExecutionId"]}" of workflow "{third["workflowId"]}" '
            "could not be run because too many workflows have already been run against the same "
            "input data sources in the same or overlapping time windows."
        )
    finally:
        amc.close()


def test_the_account_limit_holds_executions_of_all_its_instances(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(
        clock=FROZEN_AT,
        freeze_clock=True,
        execution_seconds=60,
        settings={"max_running_per_account": 1},
    )
    first, second = Amc(sim, sim.instance_ids[0]), Amc(sim, sim.instance_ids[1])
    try:
        sql = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
        running = first.run(sql, *DAY)["workflowExecutionId"]
        queued = second.run(sql, *DAY)["workflowExecutionId"]
        statuses = {
            first.get(f"/workflowExecutions/{running}").json()["status"],
            second.get(f"/workflowExecutions/{queued}").json()["status"],
        }
        assert statuses == {"RUNNING", "PENDING"}
        sim.advance_clock(61)
        assert first.wait(running)["status"] == "SUCCEEDED"
        sim.advance_clock(61)
        assert second.wait(queued)["status"] == "SUCCEEDED"
    finally:
        first.close()
        second.close()
