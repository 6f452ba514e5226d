"""The nightly schedule of collections: the newest complete week, and refreshes at fixed ages.

Runs at 03:00 in RECOMAMP_NIGHTLY_TIMEZONE (an IANA name, default UTC). Each requested week is
its own run of the collection weeks job; refreshes carry `recomamp/refresh=true` so that the
week is fetched again even though it has a result.
"""

from datetime import UTC, datetime

import dagster as dg
from dagster import ScheduleEvaluationContext

from recomamp_pipelines.collections.plans import nightly_weeks
from recomamp_pipelines.db.connection import connect
from recomamp_pipelines.defs.collections.assets import REFRESH_TAG, collection_weeks_job
from recomamp_pipelines.defs.collections.backfills import LAUNCHED_BY_TAG
from recomamp_pipelines.defs.collections.partitions import COLLECTION_DIMENSION, WEEK_DIMENSION
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import KIND_TAG
from recomamp_pipelines.settings import RECOMAMP_NIGHTLY_TIMEZONE, load_settings

NIGHTLY_TIMEZONE_VARIABLE = RECOMAMP_NIGHTLY_TIMEZONE
NIGHTLY_CRON = "0 3 * * *"


def nightly_timezone() -> str:
    """The nightly schedule's execution time zone, from the settings (checked there)."""
    return load_settings().nightly_timezone


@dg.schedule(
    owners=[OWNER],
    name="nightly_collection_weeks",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=nightly_timezone(),
    job=collection_weeks_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Each night: the newest week AMC has completed for every ACTIVE collection whose range "
        "reaches it, and refreshes of weeks turning 7, 14 and 30 days old."
    ),
)
def nightly_collection_weeks(
    context: ScheduleEvaluationContext, recomamp: RecomampResource
) -> list[dg.RunRequest] | dg.SkipReason:
    now = context.scheduled_execution_time or datetime.now(UTC)
    settings = recomamp.settings()
    with connect(recomamp.database_url()) as conn:
        planned = nightly_weeks(conn, now, settings.week_start_day)
    if not planned:
        return dg.SkipReason("no collection week is due tonight")
    return [
        dg.RunRequest(
            run_key=item.run_key,
            job_name=collection_weeks_job.name,
            partition_key=dg.MultiPartitionKey(
                {
                    COLLECTION_DIMENSION: item.collection.partition_key,
                    WEEK_DIMENSION: item.week.partition_key,
                }
            ),
            tags={
                REFRESH_TAG: "true" if item.is_refresh else "false",
                KIND_TAG: "collection",
                LAUNCHED_BY_TAG: "nightly_collection_weeks",
            },
        )
        for item in planned
    ]
