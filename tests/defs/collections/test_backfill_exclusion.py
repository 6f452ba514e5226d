"""The collection backfill sensor and `recomamp backfill` never both run a collection's weeks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from recomamp_pipelines.defs.collections.backfills import collection_backfill_sensor
from recomamp_pipelines.defs.collections.launch import BackfillRequestError, run_backfill
from recomamp_pipelines.settings import load_settings
from tests.defs.conftest import Pipeline
from tests.defs.helpers import DSP, prepare
from tests.scheduling.harness import evaluate


def run_in_flight(pipeline: Pipeline, key: str, first: str, last: str) -> dg.DagsterRun:
    """A run of the collection's weeks as another process left it: started, not finished."""
    run = dg.DagsterRun(
        job_name="collection_weeks_job",
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{key}|{first}",
            ASSET_PARTITION_RANGE_END_TAG: f"{key}|{last}",
        },
    )
    return pipeline.instance.add_run(run)


def requested_collections(pipeline: Pipeline) -> set[str]:
    result = evaluate(collection_backfill_sensor, pipeline.instance, datetime.now(UTC))
    return {
        request.tags[ASSET_PARTITION_RANGE_START_TAG].partition("|")[0]
        for request in result.run_requests or []
    }


def test_a_collection_in_flight_is_left_to_its_run(pipeline: Pipeline) -> None:
    collection = prepare(pipeline, DSP, weeks=2)
    assert collection.key in requested_collections(pipeline)
    running = run_in_flight(pipeline, collection.key, collection.weeks[0], collection.weeks[-1])

    # The sensor waits for the run...
    assert collection.key not in requested_collections(pipeline)
    # ... and so does the command, with the run it would collide with.
    with pytest.raises(BackfillRequestError, match=running.run_id):
        run_backfill(load_settings(), collection.key, instance=pipeline.instance)
    assert pipeline.query(
        "select count(*) from workflow_executions where collection_id = %s",
        collection.collection_id,
    ) == [(0,)]

    pipeline.instance.report_run_failed(running, message="ended elsewhere")
    assert collection.key in requested_collections(pipeline)
