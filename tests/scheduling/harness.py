"""Driving the schedule sensors as Dagster's daemon would, at a chosen instant.

`evaluate` runs one sensor evaluation with a frozen clock; `launch` starts the requested runs
the way the daemon does: a run_key Dagster has seen for that sensor is never launched again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from psycopg.rows import dict_row

from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.resources import SchedulerClock
from recomamp_pipelines.scheduling.cadence import Cadence
from recomamp_pipelines.scheduling.manage import create_schedule


def resources(at: datetime) -> dict[str, Any]:
    return {"recomamp": RecomampResource(), "scheduler_clock": SchedulerClock.at(at)}


def evaluate(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, at: datetime
) -> dg.SensorResult:
    """One evaluation of `sensor` at instant `at`."""
    context = dg.build_sensor_context(instance=instance, resources=resources(at))
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def launch(
    instance: dg.DagsterInstance,
    requests: Sequence[dg.RunRequest],
    sensor_name: str,
    *,
    honour_run_keys: bool = True,
) -> list[dg.ExecuteInProcessResult]:
    """Run each request in this process, as the daemon would start it."""
    results = []
    for request in requests:
        if (
            honour_run_keys
            and request.run_key
            and instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: request.run_key}))
        ):
            continue
        assert request.job_name is not None
        job = defs.resolve_job_def(request.job_name)
        tags = {**request.tags, SENSOR_NAME_TAG: sensor_name}
        if request.run_key:
            tags[RUN_KEY_TAG] = request.run_key
        results.append(
            job.execute_in_process(
                instance=instance,
                tags=tags,
                partition_key=request.partition_key,
                raise_on_error=False,
            )
        )
    return results


def schedule_workflow(
    db_url: str,
    *,
    user_email: str,
    workflow: str,
    cadence: Cadence,
    now: datetime,
    next_run_at: datetime | None = None,
    **options: Any,
) -> uuid.UUID:
    """Create a schedule through the product's own code, optionally due since `next_run_at`."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        created = create_schedule(
            conn, user_email=user_email, workflow=workflow, cadence=cadence, now=now, **options
        )
        if next_run_at is not None:
            conn.execute(
                "update workflow_schedules set next_run_at = %s where id = %s",
                (next_run_at, created.schedule_id),
            )
    return created.schedule_id


def latest_fire_time(cadence: Cadence, now: datetime) -> datetime:
    fired = cadence.previous_fire_time(now)
    assert fired is not None
    return fired.astimezone(UTC)


def submissions(simulator: Any) -> int:
    """How many executions AMC (the simulator) has been asked to create."""
    return sum(row["count"] for row in simulator.counters()["submissions"])


def dict_rows(db_url: str, query: str, *args: object) -> list[dict[str, Any]]:
    """Rows of `query` as dicts keyed by column name."""
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, args).fetchall()


RUN_IN_SUBPROCESS = """
import json, sys, warnings
import dagster as dg
from dagster._core.instance.ref import InstanceRef
warnings.filterwarnings("ignore")
from recomamp_pipelines.definitions import defs
instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(sys.argv[1]))
job = defs.resolve_job_def(sys.argv[2])
job.execute_in_process(instance=instance, tags=json.loads(sys.argv[3]), raise_on_error=False)
"""


def start_run_process(
    instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start a run of `job_name` in a process of its own (to be killed), on `instance`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_IN_SUBPROCESS,
            str(instance.root_directory),
            job_name,
            json.dumps(tags),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting after {timeout} s")


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """kill -9, and reap the process so that its pid is gone."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
