"""What the UI shows for a selection beyond a collection's weeks, read as the UI reads it.

Backfills are launched with the UI's own GraphQL mutation and carried out by Dagster's backfill
daemon loop in this process (its runs executed as they are launched); what is asserted is what
the backfill page, the run page, the partition pages and the sensor's tick log show.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.instigation_logger import get_instigation_log_records
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.backfill import execute_backfill_iteration

from recomamp_pipelines.defs.collections.assets import NOT_COVERED, WEEKLY_RESULTS
from recomamp_pipelines.defs.collections.partitions import COLLECTIONS_PARTITIONS_NAME
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.ui_backfill import LAUNCH_BACKFILL, asset_page_params
from recomamp_pipelines.weeks.calendar import Week
from tests.defs.conftest import Pipeline
from tests.defs.graphql import graphql

DSP = "DSP weekly 2026"
TERMINAL = (
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
)


@pytest.fixture
def ui(
    pipeline: Pipeline, tmp_path: Path
) -> Iterator[tuple[dg.DagsterInstance, WorkspaceProcessContext]]:
    """A Dagster instance whose runs execute as launched, and the code location as the UI has it."""
    (tmp_path / "ui").mkdir()
    with dg.instance_for_test(
        temp_dir=str(tmp_path / "ui"),
        synchronous_run_coordinator=True,
        synchronous_run_launcher=True,
    ) as instance:
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name="recomamp_pipelines.definitions",
                attribute="defs",
            ),
            location_name="recomamp_pipelines",
        )
        with WorkspaceProcessContext(
            instance, InProcessTestWorkspaceLoadTarget(origin)
        ) as workspace:
            yield instance, workspace


def register(instance: dg.DagsterInstance) -> tuple[dg.SensorResult, Sequence[str]]:
    """Evaluate the collections sensor and apply its requests; its result and tick log key."""
    # As the daemon evaluates it: the tick's log captured under a log key, which the UI shows.
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        repository_name="__repository__",
        sensor_name="collections_sensor",
        resources={"recomamp": RecomampResource()},
    ) as context:
        result = collections_sensor(context)
        log_key = context.log_key
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        elif isinstance(request, dg.DeleteDynamicPartitionsRequest):
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    assert log_key is not None
    return result, log_key


def launch_from_asset_page(workspace: WorkspaceProcessContext, partition_names: list[str]) -> str:
    """The UI's launch dialog: `launchPartitionBackfill` with what the asset page sends."""
    result = graphql(
        workspace.create_request_context(),
        LAUNCH_BACKFILL,
        {"backfillParams": asset_page_params(partition_names)},
    )
    launched = result.data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return str(launched["backfillId"])


def run_backfill_daemon(workspace: WorkspaceProcessContext, backfill_id: str) -> BulkActionStatus:
    instance = workspace.instance
    status = None
    for _ in range(10):
        # On a thread of its own: the iteration runs event loops, and Playwright's may already
        # run on this one (the browser tests of this worker).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(
                lambda: list(
                    execute_backfill_iteration(workspace, logging.getLogger("backfill daemon"))
                )
            ).result()
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        status = backfill.status
        if status in TERMINAL:
            return status
    raise AssertionError(f"backfill {backfill_id} still {status} after 10 iterations")


def latest(instance: dg.DagsterInstance, partition: str) -> dg.AssetMaterialization | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=WEEKLY_RESULTS, asset_partitions=[partition]), limit=1
    ).records
    return records[0].asset_materialization if records else None


def test_a_range_beyond_the_collection_succeeds_and_says_which_weeks_it_does_not_cover(
    pipeline: Pipeline, ui: tuple[dg.DagsterInstance, WorkspaceProcessContext]
) -> None:
    instance, workspace = ui
    register(instance)
    collection = pipeline.collection(DSP)
    (key,) = pipeline.query(
        "select partition_key from report_data_collections where name = %s", DSP
    )[0]
    first = Week(collection.start_date)
    weeks = [Week(first.start_date + timedelta(days=7 * n)) for n in range(-2, 3)]
    outside = [w.partition_key for w in weeks[:2]]
    inside = [w.partition_key for w in weeks[2:]]
    backfill_id = launch_from_asset_page(workspace, [f"{key}|{w.partition_key}" for w in weeks])

    # The backfill page: succeeded, every week of it done.
    assert run_backfill_daemon(workspace, backfill_id) is BulkActionStatus.COMPLETED_SUCCESS
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert run.status is dg.DagsterRunStatus.SUCCESS
    # The weeks of the collection hold its results; the others say why they hold nothing.
    for week in inside:
        found = latest(instance, f"{key}|{week}")
        assert found is not None and NOT_COVERED not in found.metadata
        rows = found.metadata["dagster/row_count"].value
        assert isinstance(rows, int) and rows > 0
    for week in outside:
        found = latest(instance, f"{key}|{week}")
        assert found is not None
        reason = found.metadata[NOT_COVERED].value
        assert reason == (
            f"week {week} is outside collection {DSP!r} "
            f"({collection.start_date} .. {collection.end_date})"
        )
        assert found.description == (f"Not run: {reason}; nothing was fetched from AMC or written")
    # Nothing was asked of AMC or stored for the weeks the collection does not cover.
    stored = pipeline.query(
        "select w.week_start_date::text from report_data_weeks as w join report_data_collections"
        " as c on c.id = w.collection_id where c.name = %s and w.status = 'SUCCESS'",
        DSP,
    )
    assert sorted(row[0] for row in stored) == inside


def test_a_key_that_names_no_collection_fails_its_run_naming_it(
    pipeline: Pipeline, ui: tuple[dg.DagsterInstance, WorkspaceProcessContext]
) -> None:
    instance, workspace = ui
    register(instance)
    instance.add_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME, ["typed-by-hand"])
    week = Week(pipeline.collection(DSP).start_date).partition_key
    backfill_id = launch_from_asset_page(workspace, [f"typed-by-hand|{week}"])

    assert run_backfill_daemon(workspace, backfill_id) is BulkActionStatus.COMPLETED_FAILED
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert run.status is dg.DagsterRunStatus.FAILURE
    # The run page: the step's failure names the key and what to do.
    failures = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records
    ]
    (failure,) = failures
    assert failure is not None
    error = failure.step_failure_data.error
    assert error is not None
    assert "partition key(s) 'typed-by-hand' name no registered collection" in error.message
    assert latest(instance, f"typed-by-hand|{week}") is None


def test_a_key_added_by_hand_is_removed_with_a_warning_in_the_sensor_tick_log(
    pipeline: Pipeline, ui: tuple[dg.DagsterInstance, WorkspaceProcessContext]
) -> None:
    instance, _ = ui
    register(instance)
    instance.add_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME, ["typed-by-hand"])

    result, log_key = register(instance)
    deleted = [
        key
        for request in result.dynamic_partitions_requests or []
        if isinstance(request, dg.DeleteDynamicPartitionsRequest)
        for key in request.partition_keys
    ]
    assert deleted == ["typed-by-hand"]
    assert "typed-by-hand" not in instance.get_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME)
    records = get_instigation_log_records(instance, log_key)
    warnings = [r for r in records if r["levelname"] == "WARNING"]
    assert [w["dagster_meta"]["orig_message"] for w in warnings] == [
        "removed partition key 'typed-by-hand' of 'collections': no registered collection has "
        "it (a collection's key is made when the collection is registered; "
        "`recomamp collections list` shows them)"
    ]
