"""The collection backfill sensor: a newly registered collection (or range) is backfilled once.

The collections sensor registers a collection and its weeks; this one then requests a single
run over the weeks it lacks, with a run_key of the collection and its registered range, so the
same range is never requested twice and a changed range is requested anew.
"""

import dagster as dg
from dagster import SensorEvaluationContext

from recomamp_pipelines.collections.plans import missing_weeks, registered_collections
from recomamp_pipelines.db.connection import connect
from recomamp_pipelines.defs.collections.assets import REFRESH_TAG, collection_weeks_job
from recomamp_pipelines.defs.collections.partitions import COLLECTIONS_PARTITIONS_NAME
from recomamp_pipelines.defs.collections.runs import runs_in_flight
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.recovery.liveness import runs_by_tag
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import KIND_TAG
from recomamp_pipelines.defs.schedules.resources import SchedulerClock

BACKFILL_TAG = "recomamp/collection_backfill"
LAUNCHED_BY_TAG = "recomamp/launched_by"
#: A paused collection is left alone; one that completed or failed and got a new range is not.
BACKFILLED_STATUSES = ("ACTIVE", "COMPLETED", "FAILED")


@dg.sensor(
    owners=[OWNER],
    name="collection_backfill_sensor",
    job=collection_weeks_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests, once per collection and registered range, one run over the weeks a "
        "collection (not paused) lacks that AMC can answer now."
    ),
)
def collection_backfill_sensor(
    context: SensorEvaluationContext,
    recomamp: RecomampResource,
    scheduler_clock: SchedulerClock,
) -> dg.SensorResult:
    now = scheduler_clock.now()
    settings = recomamp.settings()
    partitions = set(context.instance.get_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME))
    requests = []
    with connect(recomamp.database_url()) as conn:
        collections = [
            c
            for c in registered_collections(conn, BACKFILLED_STATUSES)
            if c.partition_key in partitions
        ]
        requested = runs_by_tag(
            context.instance, BACKFILL_TAG, [c.backfill_run_key for c in collections]
        )
        # A collection whose weeks a run is already on (the CLI's, the UI's) waits for it.
        busy = runs_in_flight(context.instance)
        for collection in collections:
            if collection.partition_key in busy and collection.backfill_run_key not in requested:
                context.log.info(
                    f"collection {collection.name!r} left to run "
                    f"{busy[collection.partition_key].run_id}, still in flight"
                )
        pending = [
            c
            for c in collections
            if c.backfill_run_key not in requested and c.partition_key not in busy
        ]
        missing = missing_weeks(conn, pending, now, settings.week_start_day)
    for collection in pending:
        weeks = missing[collection.collection_id]
        if not weeks:
            continue
        key = collection.partition_key
        requests.append(
            dg.RunRequest(
                run_key=collection.backfill_run_key,
                job_name=collection_weeks_job.name,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: f"{key}|{weeks[0].partition_key}",
                    ASSET_PARTITION_RANGE_END_TAG: f"{key}|{weeks[-1].partition_key}",
                    BACKFILL_TAG: collection.backfill_run_key,
                    REFRESH_TAG: "false",
                    KIND_TAG: "collection",
                    LAUNCHED_BY_TAG: "collection_backfill_sensor",
                },
            )
        )
        context.log.info(
            f"backfilling collection {collection.name!r}: {len(weeks)} week(s) "
            f"{weeks[0].partition_key} .. {weeks[-1].partition_key}"
        )
    return dg.SensorResult(run_requests=requests)
