"""Runs killed with -9 while AMC works, and the reconciler that recovers what they left.

A run is started in a process of its own, killed once its AMC execution is submitted, and the
reconciler is evaluated later (its clock past the heartbeat threshold). What AMC still has is
resumed and collected without a second submission; what AMC lost is recorded FAILED.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from recomamp_pipelines.attempt import executions
from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.recovery.liveness import WORKER_TAG, worker_identity
from recomamp_pipelines.defs.recovery.reconcile import RECOVERS_TAG, dead_run_reconciler
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import JOB_NAME as SCHEDULE_JOB
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor
from recomamp_pipelines.scheduling.cadence import daily
from recomamp_pipelines.scheduling.claims import parse_claims_tag
from recomamp_pipelines.scheduling.runs import take_claim
from tests.defs.conftest import Pipeline
from tests.scheduling.harness import (
    dict_rows,
    evaluate,
    kill_hard,
    latest_fire_time,
    launch,
    schedule_workflow,
    start_run_process,
    submissions,
    wait_for,
)

# Long enough for the kill to land while AMC works; the simulator's clock is then moved on.
EXECUTION_SECONDS = 120
LATER = timedelta(minutes=15)


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    pipeline.simulator.set_faults(execution_seconds=EXECUTION_SECONDS)
    yield pipeline


def now() -> datetime:
    return datetime.now(UTC)


def submitted(sim: Pipeline) -> Any:
    """The execution AMC has accepted (None before)."""
    rows = dict_rows(
        sim.db_url,
        "select id, amc_execution_id, dagster_run_id from workflow_executions "
        "where amc_execution_id is not null",
    )
    return rows[0] if rows else None


def run_status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def kill_a_schedule_run(sim: Pipeline) -> tuple[Any, dict[str, Any]]:
    """Start a schedule's run in its own process, kill it once AMC has the execution."""
    cadence = daily("America/New_York")
    schedule_id = schedule_workflow(
        sim.db_url,
        user_email="ana.analyst@example.com",
        workflow="Weekly DSP performance",
        cadence=cadence,
        now=now(),
        next_run_at=latest_fire_time(cadence, now()),
        lookback_days=7,
    )
    (request,) = evaluate(workflow_schedules_sensor, sim.instance, now()).run_requests or []
    process = start_run_process(sim.instance, SCHEDULE_JOB, dict(request.tags))
    execution = wait_for(lambda: submitted(sim))
    kill_hard(process)
    return schedule_id, execution


def test_a_killed_schedule_run_is_resumed_and_collected_without_resubmitting(
    sim: Pipeline,
) -> None:
    schedule_id, execution = kill_a_schedule_run(sim)

    # Right away nothing is concluded: the heartbeat is fresh.
    assert evaluate(dead_run_reconciler, sim.instance, now()).run_requests == []
    result = evaluate(dead_run_reconciler, sim.instance, now() + LATER)

    (recovery,) = result.run_requests or []
    assert recovery.job_name == SCHEDULE_JOB
    assert recovery.tags["recomamp/schedule_claims"].endswith("@2")
    assert run_status(sim.instance, execution["dagster_run_id"]) is dg.DagsterRunStatus.FAILURE
    # Asked again, the reconciler requests nothing more (the tick waits for its new run).
    assert evaluate(dead_run_reconciler, sim.instance, now() + LATER).run_requests == []

    sim.simulator.advance_clock(EXECUTION_SECONDS + 60)
    (run,) = launch(sim.instance, [recovery], "workflow_schedules_sensor")

    assert run.success
    (row,) = dict_rows(
        sim.db_url,
        "select status, execution_id, dagster_run_id from schedule_runs where schedule_id = %s",
        schedule_id,
    )
    assert row == {
        "status": "SUCCESS",
        "execution_id": execution["id"],
        "dagster_run_id": run.run_id,
    }
    (done,) = dict_rows(
        sim.db_url,
        "select status, amc_execution_id from workflow_executions where id = %s",
        execution["id"],
    )
    assert done == {"status": "SUCCESS", "amc_execution_id": execution["amc_execution_id"]}
    assert submissions(sim.simulator) == 1


def register(sim: Pipeline) -> dict[str, str]:
    context = dg.build_sensor_context(
        instance=sim.instance, resources={"recomamp": RecomampResource()}
    )
    result = collections_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            sim.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
    return {
        row["name"]: row["partition_key"]
        for row in dict_rows(sim.db_url, "select name, partition_key from report_data_collections")
    }


def kill_a_week_run(sim: Pipeline) -> tuple[str, dict[str, Any]]:
    """Start the backfill of one week in its own process, kill it once AMC has the execution."""
    key = register(sim)["DSP weekly 2026"]
    (week,) = dict_rows(
        sim.db_url,
        "select min(wk.week_start_date) as week from report_data_weeks as wk "
        "join report_data_collections as c on c.id = wk.collection_id where c.partition_key = %s",
        key,
    )
    partition = f"{key}|{week['week'].isoformat()}"
    process = start_run_process(
        sim.instance,
        "collection_weeks_job",
        {ASSET_PARTITION_RANGE_START_TAG: partition, ASSET_PARTITION_RANGE_END_TAG: partition},
    )
    execution = wait_for(lambda: submitted(sim))
    kill_hard(process)
    return partition, execution


def week_row(sim: Pipeline, partition: str) -> dict[str, Any]:
    key, week = partition.split("|")
    (row,) = dict_rows(
        sim.db_url,
        "select wk.status, wk.error_message from report_data_weeks as wk "
        "join report_data_collections as c on c.id = wk.collection_id "
        "where c.partition_key = %s and wk.week_start_date = %s::date",
        key,
        week,
    )
    return row


def test_a_killed_week_run_is_resumed_by_the_backfill_of_that_week(sim: Pipeline) -> None:
    partition, execution = kill_a_week_run(sim)

    result = evaluate(dead_run_reconciler, sim.instance, now() + LATER)

    (recovery,) = result.run_requests or []
    assert recovery.run_key == f"recover-{execution['id']}-1"
    assert recovery.tags[ASSET_PARTITION_RANGE_START_TAG] == partition
    assert recovery.tags[ASSET_PARTITION_RANGE_END_TAG] == partition
    assert run_status(sim.instance, execution["dagster_run_id"]) is dg.DagsterRunStatus.FAILURE
    sim.simulator.advance_clock(EXECUTION_SECONDS + 60)
    (run,) = launch(sim.instance, [recovery], "dead_run_reconciler")

    assert run.success
    assert week_row(sim, partition)["status"] == "SUCCESS"
    (done,) = dict_rows(
        sim.db_url, "select status from workflow_executions where id = %s", execution["id"]
    )
    assert done["status"] == "SUCCESS"
    assert submissions(sim.simulator) == 1
    assert sim.instance.get_runs(filters=dg.RunsFilter(tags={RECOVERS_TAG: str(execution["id"])}))


def test_a_week_whose_slot_a_waiter_reclaimed_is_collected_without_resubmitting(
    sim: Pipeline,
) -> None:
    partition, execution = kill_a_week_run(sim)
    # What the next waiter for a slot of the account does once the holder is silent.
    (holder,) = dict_rows(
        sim.db_url, "select instance_id from workflow_executions where id = %s", execution["id"]
    )
    with psycopg.connect(sim.db_url, autocommit=True) as conn:
        reclaimed = executions.reclaim_gone_slot_holders(conn, holder["instance_id"], timedelta(0))
    assert reclaimed == [execution["id"]]
    week = week_row(sim, partition)
    assert week["status"] == "FAILED"
    assert execution["amc_execution_id"] in week["error_message"]

    result = evaluate(dead_run_reconciler, sim.instance, now() + LATER)

    (recovery,) = result.run_requests or []
    assert recovery.run_key == f"recover-{execution['id']}-1"
    assert recovery.tags[ASSET_PARTITION_RANGE_START_TAG] == partition
    assert run_status(sim.instance, execution["dagster_run_id"]) is dg.DagsterRunStatus.FAILURE
    sim.simulator.advance_clock(EXECUTION_SECONDS + 60)
    (run,) = launch(sim.instance, [recovery], "dead_run_reconciler")

    assert run.success
    assert week_row(sim, partition)["status"] == "SUCCESS"
    (done,) = dict_rows(
        sim.db_url,
        "select status, amc_execution_id from workflow_executions where id = %s",
        execution["id"],
    )
    assert (done["status"], done["amc_execution_id"]) == ("SUCCESS", execution["amc_execution_id"])
    assert submissions(sim.simulator) == 1
    # Collected: nothing more to recover.
    assert evaluate(dead_run_reconciler, sim.instance, now() + LATER).run_requests == []


def test_an_execution_amc_no_longer_has_is_recorded_failed_with_the_reason(
    sim: Pipeline,
) -> None:
    partition, execution = kill_a_week_run(sim)
    sim.simulator.reset()  # AMC forgets every execution

    result = evaluate(dead_run_reconciler, sim.instance, now() + LATER)

    assert result.run_requests == []
    (lost,) = dict_rows(
        sim.db_url,
        "select status, error_type, error_message from workflow_executions where id = %s",
        execution["id"],
    )
    assert (lost["status"], lost["error_type"]) == ("FAILED", "LOST")
    assert f"AMC no longer has execution {execution['amc_execution_id']}" in lost["error_message"]
    week = week_row(sim, partition)
    assert week["status"] == "FAILED"
    assert week["error_message"] == lost["error_message"]
    assert run_status(sim.instance, execution["dagster_run_id"]) is dg.DagsterRunStatus.FAILURE


def test_a_tick_taken_over_by_a_live_run_is_left_to_it(sim: Pipeline) -> None:
    kill_a_schedule_run(sim)
    (recovery,) = evaluate(dead_run_reconciler, sim.instance, now() + LATER).run_requests or []
    # The new run has taken the tick but not yet touched the execution (still the dead run's).
    (ref,) = parse_claims_tag(recovery.tags["recomamp/schedule_claims"])
    new_run = sim.instance.create_run_for_job(
        defs.resolve_job_def(SCHEDULE_JOB),
        tags=dict(recovery.tags),
        status=dg.DagsterRunStatus.STARTED,
    )
    sim.instance.add_run_tags(new_run.run_id, {WORKER_TAG: worker_identity()})
    with psycopg.connect(sim.db_url, autocommit=True) as conn:
        assert take_claim(conn, ref, new_run.run_id, now()) is not None

    assert evaluate(dead_run_reconciler, sim.instance, now() + LATER).run_requests == []
    (claim,) = dict_rows(
        sim.db_url, "select attempt, status, dagster_run_id from schedule_tick_claims"
    )
    assert claim == {"attempt": 2, "status": "RUNNING", "dagster_run_id": new_run.run_id}
    assert run_status(sim.instance, new_run.run_id) is dg.DagsterRunStatus.STARTED
