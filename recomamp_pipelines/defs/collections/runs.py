"""Runs of collection weeks still in flight, whoever launched them (UI, sensor, CLI)."""

from __future__ import annotations

import dagster as dg

from recomamp_pipelines.defs.collections.partitions import COLLECTION_DIMENSION
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_START_TAG,
    MULTIDIMENSIONAL_PARTITION_PREFIX,
)

COLLECTION_WEEKS_JOB = "collection_weeks_job"
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def collection_of_run(run: dg.DagsterRun) -> str | None:
    """The collection partition key a run of collection weeks covers, if its tags say."""
    start = run.tags.get(ASSET_PARTITION_RANGE_START_TAG)
    if start:
        return start.partition("|")[0]
    return run.tags.get(f"{MULTIDIMENSIONAL_PARTITION_PREFIX}{COLLECTION_DIMENSION}")


def runs_in_flight(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRun]:
    """Collection partition key -> an unfinished run of its weeks."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=COLLECTION_WEEKS_JOB, statuses=UNFINISHED)
    )
    found: dict[str, dg.DagsterRun] = {}
    for run in runs:
        key = collection_of_run(run)
        if key is not None:
            found.setdefault(key, run)
    return found
