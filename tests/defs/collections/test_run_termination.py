"""Terminating a launched run, as the UI's "Terminate" button does, while its week waits for AMC.

The run is launched the way the run queue launches a dequeued run: through the instance's
DefaultRunLauncher, on a code server started from the project's workspace.yaml, so that the run
worker and its step are processes of their own. Terminating goes through the run coordinator's
`cancel_run` (what the UI's terminate mutation calls), which asks the run launcher to
`terminate` the run: the code server interrupts the run worker, which interrupts the step.
The outcome is read where a user would: the Dagster run, PostgreSQL rows and the AMC
simulator's own counters.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import dagster as dg
import psutil
import pytest
from dagster._core.remote_representation.external import RemoteJob
from dagster._core.workspace.context import BaseWorkspaceRequestContext, WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    JOB_NAME,
    REPO_ROOT,
    executions,
    prepare,
    range_tags,
    week_rows,
)

#: How long the code server, the run worker and its step may take to reach what a wait expects.
LAUNCH_TIMEOUT_SECONDS = 45.0
CANCELLED_WEEK = "the run was cancelled; its AMC execution was cancelled"


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    """The pipeline, on a simulator that remembers nothing of earlier tests."""
    pipeline.simulator.reset()
    yield pipeline


@contextlib.contextmanager
def project_workspace(instance: dg.DagsterInstance) -> Iterator[BaseWorkspaceRequestContext]:
    """The project's code location, served by a code server process (workspace.yaml).

    The code server, and the run workers it starts, inherit this process's environment: the
    test's database, settings, encryption keys, AMC endpoints and DAGSTER_HOME.
    """
    target = WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")])
    with WorkspaceProcessContext(instance, target) as process_context:
        yield process_context.create_request_context()


def collection_job(workspace: BaseWorkspaceRequestContext) -> tuple[str, RemoteJob]:
    """The code location's name and its collection job, as the code server reports them."""
    for name, entry in workspace.get_code_location_entries().items():
        assert entry.code_location is not None, entry.load_error
        for repository in entry.code_location.get_repositories().values():
            if repository.has_job(JOB_NAME):
                return name, repository.get_full_job(JOB_NAME)
    raise AssertionError(f"no code location serves {JOB_NAME}")


def create_backfill_run(
    instance: dg.DagsterInstance,
    workspace: BaseWorkspaceRequestContext,
    tags: dict[str, str],
) -> dg.DagsterRun:
    """A run of the collection job, made from the code server's job and plan as the UI makes it."""
    location_name, remote_job = collection_job(workspace)
    plan = workspace.get_code_location(location_name).get_execution_plan(
        remote_job, {}, step_keys_to_execute=None, known_state=None, instance=instance
    )
    return instance.create_run(
        job_name=JOB_NAME,
        run_id=None,
        run_config={},
        status=dg.DagsterRunStatus.NOT_STARTED,
        tags={**remote_job.tags, **tags},
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=None,
        asset_check_selection=None,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=workspace.asset_graph,
    )


def run_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run


def run_log(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's event log, one line per event, for failure messages."""
    lines = []
    for record in instance.all_logs(run_id)[-40:]:
        event = record.dagster_event
        kind = event.event_type_value if event is not None else "LOG"
        lines.append(f"{kind}: {record.message or record.user_message}"[:300])
    return "\n".join(lines)


def stop_run_processes(instance: dg.DagsterInstance, run_id: str) -> None:
    """Kill what is left of a run that did not end (its worker and step), and record it failed.

    Only processes started under this one (through its code server) that the run's own events
    name are killed; the code server can then shut down at once.
    """
    pids = {
        record.dagster_event.pid
        for record in instance.all_logs(run_id)
        if record.dagster_event is not None and record.dagster_event.pid is not None
    }
    left = [child for child in psutil.Process().children(recursive=True) if child.pid in pids]
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(left, timeout=10)
    run = run_of(instance, run_id)
    if not run.is_finished:
        instance.report_run_failed(run, message="did not end after termination; killed")


def wait_until(
    instance: dg.DagsterInstance, run_id: str, what: str, reached: Callable[[], bool]
) -> None:
    """Poll `reached` every 50 ms; fail, with the run's log, if the run ends first or it is late.

    Reaching it wins over the run having ended: the last wait is for the run's own end.
    """
    deadline = time.monotonic() + LAUNCH_TIMEOUT_SECONDS
    while not reached():
        run = run_of(instance, run_id)
        if run.is_finished:
            if reached():
                return
            pytest.fail(
                f"the run ended ({run.status.value}) before {what}:\n{run_log(instance, run_id)}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in time:\n{run_log(instance, run_id)}")
        time.sleep(0.05)


@pytest.mark.slow
def test_terminating_a_launched_run_cancels_its_amc_execution_and_fails_the_week(
    sim: Pipeline,
) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week_key,) = collection.weeks
    # An execution that would stay PENDING for the whole test: only a cancel ends it.
    sim.simulator.set_faults(stuck_pending_next_executions=1)
    instance = sim.instance

    with project_workspace(instance) as workspace:
        run = create_backfill_run(
            instance, workspace, range_tags(collection.key, week_key, week_key)
        )
        try:
            instance.launch_run(run.run_id, workspace)

            def submitted() -> bool:
                return any(
                    row["amc_execution_id"] is not None
                    for row in executions(sim, collection.collection_id)
                )

            wait_until(instance, run.run_id, "the week's AMC submission", submitted)
            assert run_of(instance, run.run_id).status is dg.DagsterRunStatus.STARTED

            # What the UI's "Terminate" does with a run that has left the queue.
            assert instance.run_coordinator.cancel_run(run.run_id)

            wait_until(
                instance,
                run.run_id,
                "the end of the run",
                lambda: run_of(instance, run.run_id).is_finished,
            )
        finally:
            if not run_of(instance, run.run_id).is_finished:
                stop_run_processes(instance, run.run_id)

    assert run_of(instance, run.run_id).status is dg.DagsterRunStatus.CANCELED, run_log(
        instance, run.run_id
    )
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["error_type"]) == ("CANCELLED", "CANCELLED")
    assert execution["dagster_run_id"] == run.run_id
    assert sim.simulator.counters()["executions_by_status"] == {"CANCELLED": 1}
    row = week_rows(sim, collection.collection_id)[week_key]
    assert (row["status"], row["error_message"]) == ("FAILED", CANCELLED_WEEK)
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]
