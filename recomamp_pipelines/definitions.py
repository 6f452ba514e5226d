"""The one entry point: every asset, check, sensor, schedule and resource of the project."""

from __future__ import annotations

import dagster as dg

from recomamp_pipelines.defs.analytics.assets import analytics_views
from recomamp_pipelines.defs.analytics.reports import collection_reports
from recomamp_pipelines.defs.analytics.sensors import analytics_automation_sensor
from recomamp_pipelines.defs.collections.assets import (
    collection_weekly_results,
    collection_weeks_job,
)
from recomamp_pipelines.defs.collections.backfills import collection_backfill_sensor
from recomamp_pipelines.defs.collections.nightly import nightly_collection_weeks
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.recovery.reconcile import dead_run_reconciler
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import scheduled_workflows_job
from recomamp_pipelines.defs.schedules.resources import SchedulerClock
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor

defs = dg.Definitions(
    assets=[collection_weekly_results, analytics_views, collection_reports],
    jobs=[collection_weeks_job, scheduled_workflows_job],
    schedules=[nightly_collection_weeks],
    sensors=[
        collections_sensor,
        collection_backfill_sensor,
        workflow_schedules_sensor,
        dead_run_reconciler,
        analytics_automation_sensor,
    ],
    resources={"recomamp": RecomampResource(), "scheduler_clock": SchedulerClock()},
)
