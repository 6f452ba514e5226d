"""User schedules through Dagster: the sensor claims, the run executes the window in AMC.

Everything is read back where a user would look: schedule_runs and its schedule's counters,
workflow_executions, the results table and Parquet file, and what AMC (the simulator) received.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from recomamp_pipelines.defs.schedules.jobs import BATCH_TAG, CLAIMS_TAG
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor
from recomamp_pipelines.results.target import results_table
from recomamp_pipelines.scheduling.cadence import Cadence, daily
from recomamp_pipelines.scheduling.manage import set_schedule_active
from recomamp_pipelines.scheduling.runs import PAUSED_BEFORE_START
from tests.defs.conftest import Pipeline
from tests.scheduling.harness import (
    dict_rows,
    evaluate,
    latest_fire_time,
    launch,
    schedule_workflow,
    submissions,
)

ANA = "ana.analyst@example.com"
DSP = "Weekly DSP performance"
SENSOR = "workflow_schedules_sensor"
NEW_YORK = ZoneInfo("America/New_York")
AMC_FAILURE = "Query execution failed: Column 'impresions' not found in any table"


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    yield pipeline


def now() -> datetime:
    return datetime.now(UTC)


def ana_schedule(
    sim: Pipeline, cadence: Cadence | None = None, **options: Any
) -> tuple[uuid.UUID, datetime]:
    """A schedule of Ana's DSP workflow, due since its latest fire time."""
    cadence = cadence or daily("America/New_York")
    tick = latest_fire_time(cadence, now())
    schedule_id = schedule_workflow(
        sim.db_url,
        user_email=ANA,
        workflow=DSP,
        cadence=cadence,
        now=now(),
        next_run_at=options.pop("due_since", tick),
        lookback_days=options.pop("lookback_days", 7),
        **options,
    )
    return schedule_id, tick


def schedule_runs(sim: Pipeline, schedule_id: uuid.UUID) -> list[dict[str, Any]]:
    return dict_rows(
        sim.db_url,
        "select id, status, scheduled_at, started_at, completed_at, lateness_seconds, "
        "duration_seconds, window_start, window_end, error_message, execution_id, "
        "result_location, dagster_run_id, run_number from schedule_runs "
        "where schedule_id = %s order by run_number",
        schedule_id,
    )


def counters(sim: Pipeline, schedule_id: uuid.UUID) -> dict[str, Any]:
    (row,) = dict_rows(
        sim.db_url,
        "select total_runs as total, successful_runs as successful, failed_runs as failed, "
        "last_run_status as last_status, consecutive_failures, is_active, last_run_at "
        "from workflow_schedules where id = %s",
        schedule_id,
    )
    return row


def test_a_due_schedule_runs_its_window_once_and_publishes_it(sim: Pipeline) -> None:
    schedule_id, tick = ana_schedule(sim)
    evaluated_at = now()

    result = evaluate(workflow_schedules_sensor, sim.instance, evaluated_at)

    (request,) = result.run_requests or []
    assert request.run_key == request.tags[BATCH_TAG]
    (claim,) = sim.query(
        "select id, attempt from schedule_tick_claims where schedule_id = %s", schedule_id
    )
    assert request.tags[CLAIMS_TAG] == f"{claim[0]}@1"
    (run,) = launch(sim.instance, [request], SENSOR)
    assert run.success

    (row,) = schedule_runs(sim, schedule_id)
    assert row["status"] == "SUCCESS"
    assert row["scheduled_at"] == tick
    assert row["lateness_seconds"] >= (evaluated_at - tick).total_seconds()
    assert row["dagster_run_id"] == run.run_id
    assert row["completed_at"] >= row["started_at"]
    assert row["duration_seconds"] is not None and row["error_message"] is None
    # Seven days ending at the New York midnight at least 48 hours before the tick.
    window_end = (tick - timedelta(hours=48)).astimezone(NEW_YORK).replace(tzinfo=None)
    assert row["window_end"] == window_end.replace(hour=0, minute=0, second=0, microsecond=0)
    assert row["window_start"] == row["window_end"] - timedelta(days=7)
    workflow_id = sim.query(
        "select workflow_id from workflow_schedules where id = %s", schedule_id
    )[0][0]
    assert row["result_location"] == f"results.workflow_{workflow_id.hex}"

    (execution,) = sim.query(
        "select id, status, amc_status, schedule_run_id, time_window_start, time_window_end, "
        "time_window_time_zone, result_location, dagster_run_id from workflow_executions "
        "where schedule_run_id = %s",
        row["id"],
    )
    assert execution[0] == row["execution_id"]
    assert execution[1:4] == ("SUCCESS", "SUCCEEDED", row["id"])
    assert execution[4:7] == (row["window_start"], row["window_end"], "America/New_York")
    assert Path(execution[7]).is_file()
    assert execution[8] == run.run_id

    query = sql.SQL(
        "select count(*), min(window_start), max(window_end) from {} "
        "where source_kind = 'schedule' and source_id = %s"
    ).format(results_table(workflow_id))
    ((rows, start, end),) = sim.query(query.as_string(), row["id"])
    assert rows > 0 and (start, end) == (row["window_start"], row["window_end"])

    assert counters(sim, schedule_id) == {
        "total": 1,
        "successful": 1,
        "failed": 0,
        "last_status": "SUCCESS",
        "consecutive_failures": 0,
        "is_active": True,
        "last_run_at": row["started_at"],
    }
    assert submissions(sim.simulator) == 1

    # The next evaluation finds nothing to do; the same run started again serves nothing.
    assert evaluate(workflow_schedules_sensor, sim.instance, now()).run_requests == []
    launch(sim.instance, [request], SENSOR, honour_run_keys=False)
    assert len(schedule_runs(sim, schedule_id)) == 1
    assert submissions(sim.simulator) == 1


def test_two_evaluations_at_once_run_each_tick_exactly_once(sim: Pipeline) -> None:
    """No duplicate runs of a tick, whatever runs at once (the original's bug 1)."""
    schedules = [ana_schedule(sim)[0] for _ in range(3)]
    at = now()
    barrier = threading.Barrier(2)
    results: list[dg.SensorResult] = []

    def evaluate_together() -> None:
        barrier.wait()
        results.append(evaluate(workflow_schedules_sensor, sim.instance, at))

    threads = [threading.Thread(target=evaluate_together) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    requests = [request for result in results for request in result.run_requests or []]
    assert len({request.run_key for request in requests}) == 1
    # Even two daemons launching everything they were asked for run each tick once.
    launch(sim.instance, requests, SENSOR, honour_run_keys=False)

    for schedule_id in schedules:
        assert [row["status"] for row in schedule_runs(sim, schedule_id)] == ["SUCCESS"]
    assert submissions(sim.simulator) == 3


def test_amc_failure_is_recorded_with_amcs_text_and_pauses_at_the_threshold(
    sim: Pipeline,
) -> None:
    schedule_id, _ = ana_schedule(sim, auto_pause_after=1)
    sim.simulator.set_faults(fail_next_executions=1, fail_status_reason=AMC_FAILURE)

    result = evaluate(workflow_schedules_sensor, sim.instance, now())
    (run,) = launch(sim.instance, result.run_requests or [], SENSOR)

    assert run.success
    (row,) = schedule_runs(sim, schedule_id)
    assert (row["status"], row["error_message"]) == ("FAILED", AMC_FAILURE)
    assert row["completed_at"] is not None and row["duration_seconds"] is not None
    (execution,) = sim.query(
        "select status, amc_status, error_message from workflow_executions where id = %s",
        row["execution_id"],
    )
    assert execution == ("FAILED", "FAILED", AMC_FAILURE)
    state = counters(sim, schedule_id)
    assert (state["total"], state["failed"], state["successful"]) == (1, 1, 0)
    assert (state["last_status"], state["consecutive_failures"]) == ("FAILED", 1)
    assert state["is_active"] is False


def test_a_schedule_paused_while_its_run_is_queued_is_skipped(sim: Pipeline) -> None:
    schedule_id, _ = ana_schedule(sim)
    result = evaluate(workflow_schedules_sensor, sim.instance, now())
    with psycopg.connect(sim.db_url, autocommit=True) as conn:
        set_schedule_active(conn, schedule_id, False, now())

    launch(sim.instance, result.run_requests or [], SENSOR)

    (row,) = schedule_runs(sim, schedule_id)
    assert (row["status"], row["error_message"]) == ("SKIPPED", PAUSED_BEFORE_START)
    assert row["execution_id"] is None
    assert submissions(sim.simulator) == 0
    assert counters(sim, schedule_id)["last_status"] == "SKIPPED"


def test_after_downtime_one_run_catches_up_and_records_how_late_it_started(
    sim: Pipeline,
) -> None:
    tick = latest_fire_time(daily("America/New_York"), now())
    schedule_id, _ = ana_schedule(sim, due_since=tick - timedelta(days=3))

    result = evaluate(workflow_schedules_sensor, sim.instance, now())
    launch(sim.instance, result.run_requests or [], SENSOR)

    (row,) = schedule_runs(sim, schedule_id)
    assert (row["status"], row["scheduled_at"]) == ("SUCCESS", tick)
    assert row["lateness_seconds"] == (row["started_at"] - tick).total_seconds()
    (claim,) = dict_rows(
        sim.db_url,
        "select missed_ticks, status from schedule_tick_claims where schedule_id = %s",
        schedule_id,
    )
    assert claim == {"missed_ticks": 3, "status": "SUCCESS"}
    assert submissions(sim.simulator) == 1


def test_the_schedules_parameters_overlay_the_workflows_and_dates_are_the_runs(
    sim: Pipeline,
) -> None:
    """Fixed dates saved in a workflow never replace a run's window (the original's bug 7)."""
    sim.query(
        "update workflows set parameters = parameters || %s::jsonb where name = %s returning id",
        '{"split_by_device": true, "min_impressions": 1, "start_date": "2020-01-01"}',
        DSP,
    )
    schedule_id, _ = ana_schedule(sim, parameters={"min_impressions": 5})

    launch(
        sim.instance,
        evaluate(workflow_schedules_sensor, sim.instance, now()).run_requests or [],
        SENSOR,
    )

    (row,) = schedule_runs(sim, schedule_id)
    assert row["status"] == "SUCCESS", row["error_message"]
    (execution,) = dict_rows(
        sim.db_url,
        "select parameter_values, time_window_start, time_window_end from workflow_executions "
        "where id = %s",
        row["execution_id"],
    )
    assert execution["parameter_values"]["split_by_device"] is True
    assert execution["parameter_values"]["min_impressions"] == 5
    assert (execution["time_window_start"], execution["time_window_end"]) == (
        row["window_start"],
        row["window_end"],
    )
    (sent,) = sim.simulator.counters()["submissions"]
    assert (sent["time_window_start"], sent["time_window_end"]) == (
        row["window_start"].isoformat(),
        row["window_end"].isoformat(),
    )
