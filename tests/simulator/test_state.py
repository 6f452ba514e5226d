"""State: in memory by default, kept across restarts with a state directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc

FROZEN_AT = datetime(2025, 3, 5, 12, tzinfo=UTC)
WEEK = (datetime(2025, 2, 17), datetime(2025, 2, 24))


def test_a_state_directory_survives_a_restart(
    amc_simulator_factory: Callable[..., AmcSimulator], tmp_path: Path
) -> None:
    sim = amc_simulator_factory(
        state_dir=tmp_path / "state", clock=FROZEN_AT, freeze_clock=True, execution_seconds=0
    )
    amc = Amc(sim)
    amc.post("/workflows", {"workflowId": "kept", "sqlQuery": DSP_BY_CAMPAIGN})
    done = amc.wait(amc.run(DSP_BY_CAMPAIGN, *WEEK)["workflowExecutionId"])
    rows_before = amc.rows(done["workflowExecutionId"])
    assert len(rows_before) == 12
    url = amc.get(f"/workflowExecutions/{done['workflowExecutionId']}/downloadUrls").json()[
        "downloadUrls"
    ][0]

    sim.restart()

    assert amc.get("/workflows/kept").json()["sqlQuery"] == DSP_BY_CAMPAIGN
    again = amc.get(f"/workflowExecutions/{done['workflowExecutionId']}").json()
    assert again["status"] == "SUCCEEDED"
    assert amc.rows(done["workflowExecutionId"]) == rows_before
    assert httpx.get(url).status_code == 200


def test_a_running_execution_finishes_after_a_restart(
    amc_simulator_factory: Callable[..., AmcSimulator], tmp_path: Path
) -> None:
    sim = amc_simulator_factory(
        state_dir=tmp_path / "state", clock=FROZEN_AT, freeze_clock=True, execution_seconds=60
    )
    amc = Amc(sim)
    execution_id = amc.run(DSP_BY_CAMPAIGN, *WEEK)["workflowExecutionId"]
    deadline = time.monotonic() + 30
    while amc.get(f"/workflowExecutions/{execution_id}").json()["status"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    sim.restart()
    assert sim.now() == FROZEN_AT
    sim.advance_clock(60)

    done = amc.wait(execution_id)
    assert done["status"] == "SUCCEEDED"
    assert len(amc.rows(execution_id)) == 12


def test_without_a_state_directory_a_restart_forgets(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory()
    amc = Amc(sim)
    amc.post("/workflows", {"workflowId": "forgotten", "sqlQuery": DSP_BY_CAMPAIGN})

    sim.restart()
    amc.token = sim.access_token()

    assert amc.get("/workflows/forgotten").status_code == 404
