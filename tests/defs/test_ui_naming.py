"""What the Dagster UI names: the code location, and every job, sensor, schedule and asset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from recomamp_pipelines.definitions import defs
from recomamp_pipelines.services import LOCATION_NAME

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"
DEPLOYED_WORKSPACE = WORKSPACE.parent / "deploy" / "workspace.yaml"


def test_the_code_location_has_one_readable_name_in_every_deployment() -> None:
    workspace = yaml.safe_load(WORKSPACE.read_text())
    (entry,) = workspace["load_from"]
    assert entry["python_module"]["location_name"] == LOCATION_NAME == "recomamp-pipelines"
    deployed = yaml.safe_load(DEPLOYED_WORKSPACE.read_text())
    (served,) = deployed["load_from"]
    assert served["grpc_server"]["location_name"] == LOCATION_NAME


def test_every_job_sensor_and_schedule_says_what_it_does_and_who_owns_it() -> None:
    repository = defs.get_repository_def()
    jobs = [job for job in repository.get_all_jobs() if not job.name.startswith("__")]
    assert jobs
    for job in jobs:
        assert job.description, job.name
    for sensor in repository.sensor_defs:
        assert sensor.description, sensor.name
        # Dagster 1.13's automation condition sensors take no owners; their assets have them.
        if not isinstance(sensor, dg.AutomationConditionSensorDefinition):
            assert sensor.owners, sensor.name
    for schedule in repository.schedule_defs:
        assert schedule.description, schedule.name
    for asset in repository.asset_graph.asset_nodes:
        assert asset.owners, asset.key
        assert asset.description, asset.key
