"""AMC's own schedules: CRUD, and firing once per period on the simulated clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc

# A Wednesday, 05:30 UTC.
FROZEN_AT = datetime(2025, 3, 5, 5, 30, tzinfo=UTC)


@pytest.fixture
def amc(frozen: Amc) -> Amc:
    """The frozen simulator at 05:30 on a Wednesday, with a workflow to schedule."""
    frozen.sim.set_clock(FROZEN_AT, frozen=True)
    frozen.post("/workflows", {"workflowId": "weekly-dsp", "sqlQuery": DSP_BY_CAMPAIGN})
    return frozen


def scheduled(amc: Amc) -> list[dict]:
    time.sleep(0.3)
    executions = amc.get("/workflowExecutions", workflowId="weekly-dsp").json()["executions"]
    return [e for e in executions if e["executionCategory"] == "SCHEDULED"]


def test_schedule_crud(amc: Amc) -> None:
    body = {
        "scheduleId": "daily-dsp",
        "workflowId": "weekly-dsp",
        "aggregationHourUtc": "6",
        "aggregationPeriod": "Daily",
        "scheduleEnabled": "True",
    }
    assert amc.post("/schedules", body).json() == {}
    assert amc.post("/schedules", body).status_code == 400

    read = amc.get("/schedules/daily-dsp").json()
    assert read == {
        "scheduleId": "daily-dsp",
        "workflowId": "weekly-dsp",
        "aggregationHourUtc": 6,
        "aggregationPeriod": "Daily",
        "aggregationStartDay": "Wednesday",
        "scheduleEnabled": True,
        "disableAggregationControls": False,
        "parameterValues": {},
    }
    assert amc.put("/schedules/daily-dsp", {"scheduleEnabled": False}).json() == {}
    assert amc.get("/schedules").json()["schedules"][0]["scheduleEnabled"] is False

    assert amc.delete("/schedules/daily-dsp").json() == {}
    assert amc.get("/schedules/daily-dsp").status_code == 404


def test_schedules_are_checked(amc: Amc) -> None:
    base = {"scheduleId": "s1", "workflowId": "weekly-dsp", "aggregationHourUtc": 1}
    assert amc.post("/schedules", {**base, "workflowId": "nope"}).status_code == 404
    assert amc.post("/schedules", {**base, "aggregationPeriod": "Hourly"}).status_code == 400
    assert amc.post("/schedules", {**base, "aggregationHourUtc": 24}).status_code == 400
    assert amc.post("/schedules", {**base, "aggregationStartDay": "Caturday"}).status_code == 400


def test_a_daily_schedule_fires_once_a_day_for_the_day_before(amc: Amc) -> None:
    amc.post(
        "/schedules",
        {
            "scheduleId": "daily",
            "workflowId": "weekly-dsp",
            "aggregationHourUtc": 6,
            "aggregationPeriod": "Daily",
        },
    )
    assert scheduled(amc) == []

    amc.sim.advance_clock(1860)
    fired = scheduled(amc)
    amc.sim.advance_clock(600)
    again = scheduled(amc)

    assert len(fired) == len(again) == 1
    assert (fired[0]["timeWindowStart"], fired[0]["timeWindowEnd"]) == (
        "2025-03-04T06:00:00Z",
        "2025-03-05T06:00:00Z",
    )


def test_a_disabled_or_weekly_schedule_waits(amc: Amc) -> None:
    amc.post(
        "/schedules",
        {
            "scheduleId": "weekly",
            "workflowId": "weekly-dsp",
            "aggregationHourUtc": 6,
            "aggregationPeriod": "Weekly",
            "aggregationStartDay": "Monday",
        },
    )
    amc.sim.advance_clock(1860)
    assert scheduled(amc) == []

    amc.sim.set_clock(datetime(2025, 3, 10, 7, tzinfo=UTC), frozen=True)
    amc.token = amc.sim.access_token()
    fired = scheduled(amc)
    assert [(e["timeWindowStart"], e["timeWindowEnd"]) for e in fired] == [
        ("2025-03-03T06:00:00Z", "2025-03-10T06:00:00Z")
    ]
