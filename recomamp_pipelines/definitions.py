"""The one entry point: every asset, check, sensor, schedule and resource of the project."""

from __future__ import annotations

import dagster as dg

from recomamp_pipelines.defs.collections.assets import (
    collection_weekly_results,
    collection_weeks_job,
)
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.resources import RecomampResource

defs = dg.Definitions(
    assets=[collection_weekly_results],
    jobs=[collection_weeks_job],
    sensors=[collections_sensor],
    resources={"recomamp": RecomampResource()},
)
