"""The scheduling side as the Dagster code location exposes it."""

from __future__ import annotations

import dagster as dg
import pytest

from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.collections.nightly import (
    NIGHTLY_TIMEZONE_VARIABLE,
    nightly_timezone,
)
from recomamp_pipelines.settings import SettingsError


def test_the_code_location_loads_with_every_sensor_schedule_and_job() -> None:
    dg.Definitions.validate_loadable(defs)
    sensors = {sensor.name for sensor in defs.sensors or []}
    assert {
        "workflow_schedules_sensor",
        "collection_backfill_sensor",
        "dead_run_reconciler",
    } <= sensors
    assert defs.resolve_job_def("scheduled_workflows_job").tags["recomamp/kind"] == "schedule"
    schedule = defs.resolve_schedule_def("nightly_collection_weeks")
    assert schedule.cron_schedule == "0 3 * * *"


def test_the_nightly_runs_in_utc_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NIGHTLY_TIMEZONE_VARIABLE, raising=False)
    assert nightly_timezone() == "UTC"
    monkeypatch.setenv(NIGHTLY_TIMEZONE_VARIABLE, "Europe/Berlin")
    assert nightly_timezone() == "Europe/Berlin"
    monkeypatch.setenv(NIGHTLY_TIMEZONE_VARIABLE, "Berlin")
    with pytest.raises(SettingsError, match="RECOMAMP_NIGHTLY_TIMEZONE: timezone 'Berlin'"):
        nightly_timezone()
