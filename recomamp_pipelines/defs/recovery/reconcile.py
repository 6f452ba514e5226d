"""The dead-run reconciler: no execution is left PENDING or RUNNING by a run that died.

An execution whose heartbeat is older than STALE_AFTER, and whose Dagster run is not alive
(ended, or its process gone), is judged by AMC:
- AMC still runs it or has finished it (or it was never submitted): a run is requested that
  resumes and collects it. For a collection week that is the backfill of that one partition
  (the week runner resumes the intent), run_key `recover-<execution id>-<attempt>`; for a
  schedule run, its claim handed back with its attempt raised;
- AMC no longer has it: it is marked FAILED with the reason, with its week or schedule run.
The dead Dagster run is marked FAILURE so that it stops holding a slot of the run queue.

A week whose attempt a slot waiter ended ABANDONED (its process gone) is FAILED with AMC's
execution uncollected; once its run is dead too, the backfill of that week is requested the same
way, and collects AMC's result without submitting again.
"""

from datetime import datetime

import dagster as dg
import psycopg
from dagster import SensorEvaluationContext

from recomamp_pipelines.db.connection import connect
from recomamp_pipelines.defs.collections.assets import REFRESH_TAG, collection_weeks_job
from recomamp_pipelines.defs.collections.backfills import LAUNCHED_BY_TAG
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    FINISHED_STATUSES,
)
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.recovery.liveness import (
    UNCHECKABLE_RUN_GRACE,
    fail_dead_run,
    run_is_dead,
)
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import KIND_TAG, scheduled_workflows_job
from recomamp_pipelines.defs.schedules.resources import SchedulerClock
from recomamp_pipelines.defs.schedules.sensors import schedule_run_request
from recomamp_pipelines.runs.recovery import (
    STALE_AFTER,
    AmcVerdict,
    StaleExecution,
    ask_amc,
    claim_of_schedule_run,
    default_stale_client_factory,
    mark_lost,
    stale_claims,
    stale_executions,
)
from recomamp_pipelines.scheduling.claims import MAX_ATTEMPTS, ClaimBatch, hand_back
from recomamp_pipelines.scheduling.runs import fail_unserved_claim

RECOVERS_TAG = "recomamp/recovers_execution"
#: Recovery runs tried for one execution before it is marked FAILED.
MAX_RECOVERIES = 3
SENSOR_NAME = "dead_run_reconciler"


def _dead(
    context: SensorEvaluationContext, run_id: str | None, silent_since: datetime, now: datetime
) -> tuple[bool, dg.DagsterRun | None]:
    if run_id is None:
        # Not worked on by a Dagster run: only a long silence tells that nobody works on it.
        return now - silent_since > UNCHECKABLE_RUN_GRACE, None
    run = context.instance.get_run_by_id(run_id)
    return run_is_dead(context.instance, run, silent_since=silent_since, now=now), run


def _week_recovery(
    context: SensorEvaluationContext,
    conn: psycopg.Connection,
    execution: StaleExecution,
    reason: str,
    now: datetime,
) -> dg.RunRequest | None:
    """The backfill of the execution's one week, unless one is under way or too many failed."""
    partition = execution.partition
    if partition is None:
        mark_lost(
            conn,
            execution,
            f"{reason}; it belongs to no collection week or schedule run a new run could resume",
            now,
        )
        return None
    previous = context.instance.get_runs(
        filters=dg.RunsFilter(tags={RECOVERS_TAG: str(execution.execution_id)})
    )
    for run in previous:
        if run.status in FINISHED_STATUSES:
            continue
        if not run_is_dead(context.instance, run, now=now):
            return None  # a recovery run is queued or running
        fail_dead_run(context.instance, run, f"its process is gone; {reason}")
    attempt = len(previous) + 1
    if attempt > MAX_RECOVERIES:
        mark_lost(
            conn,
            execution,
            f"{reason}; {MAX_RECOVERIES} recovery runs ended without collecting it",
            now,
        )
        return None
    return dg.RunRequest(
        run_key=f"recover-{execution.execution_id}-{attempt}",
        job_name=collection_weeks_job.name,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: partition,
            ASSET_PARTITION_RANGE_END_TAG: partition,
            RECOVERS_TAG: str(execution.execution_id),
            REFRESH_TAG: "false",
            KIND_TAG: "collection",
            LAUNCHED_BY_TAG: SENSOR_NAME,
        },
    )


def _schedule_recovery(
    context: SensorEvaluationContext,
    conn: psycopg.Connection,
    execution: StaleExecution,
    reason: str,
    now: datetime,
) -> dg.RunRequest | None:
    """The schedule run's claim, handed to a new attempt that resumes the execution."""
    assert execution.schedule_run_id is not None
    claim = claim_of_schedule_run(conn, execution.schedule_run_id)
    if claim is None or claim.status != "RUNNING":
        return None  # handed back already: the schedules sensor requests its run
    if claim.dagster_run_id != execution.dagster_run_id:
        # Another run took the tick over; it is that run's life that matters.
        holder = context.instance.get_run_by_id(claim.dagster_run_id or "")
        if not run_is_dead(context.instance, holder, now=now):
            return None
        fail_dead_run(context.instance, holder, f"its process is gone; {reason}")
    if claim.ref.attempt >= MAX_ATTEMPTS:
        mark_lost(conn, execution, f"{reason}; {MAX_ATTEMPTS} attempts ended without it", now)
        return None
    with conn.transaction():
        raised = hand_back(
            conn,
            ClaimBatch((claim.ref,)),
            from_statuses=("RUNNING",),
            from_run_id=claim.dagster_run_id,
        )
    return schedule_run_request(raised) if raised is not None else None


def _abandoned_week_recovery(
    context: SensorEvaluationContext,
    conn: psycopg.Connection,
    execution: StaleExecution,
    run: dg.DagsterRun | None,
    now: datetime,
) -> dg.RunRequest | None:
    """The backfill of a week whose attempt a slot waiter ended ABANDONED: it collects AMC's
    result (the attempt is opened again, nothing is submitted)."""
    reason = (
        f"execution {execution.execution_id} was abandoned by run {execution.dagster_run_id} "
        f"(its AMC slot reclaimed at {execution.last_heard_at:%Y-%m-%d %H:%M} UTC)"
    )
    fail_dead_run(context.instance, run, f"its process is gone; {reason}")
    request = _week_recovery(context, conn, execution, reason, now)
    if request is not None:
        context.log.warning(
            f"{reason}: collecting AMC execution {execution.amc_execution_id} of week "
            f"{execution.partition}"
        )
    return request


@dg.sensor(
    owners=[OWNER],
    name=SENSOR_NAME,
    jobs=[collection_weeks_job, scheduled_workflows_job],
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Finds executions left PENDING or RUNNING by a run that died, asks AMC, and resumes "
        "them (or marks FAILED what AMC no longer has); marks the dead run failed."
    ),
)
def dead_run_reconciler(
    context: SensorEvaluationContext,
    recomamp: RecomampResource,
    scheduler_clock: SchedulerClock,
) -> dg.SensorResult:
    now = scheduler_clock.now()
    client_for = default_stale_client_factory(recomamp.settings())
    requests: list[dg.RunRequest] = []
    with connect(recomamp.database_url(), autocommit=True) as conn:
        for execution in stale_executions(conn, now, STALE_AFTER):
            dead, run = _dead(context, execution.dagster_run_id, execution.last_heard_at, now)
            if not dead:
                continue
            if execution.abandoned:
                request = _abandoned_week_recovery(context, conn, execution, run, now)
                if request is not None:
                    requests.append(request)
                continue
            reason = (
                f"run {execution.dagster_run_id} stopped working on execution "
                f"{execution.execution_id} (last heard of {execution.last_heard_at:%Y-%m-%d %H:%M} "
                "UTC)"
            )
            fail_dead_run(context.instance, run, f"its process is gone; {reason}")
            verdict, detail = ask_amc(execution, client_for)
            context.log.warning(f"{reason}: {detail}")
            if verdict is AmcVerdict.UNKNOWN:
                continue  # asked again at the next evaluation; nothing is concluded
            if verdict is AmcVerdict.GONE:
                mark_lost(conn, execution, f"{reason}; {detail}", now)
                continue
            if execution.schedule_run_id is not None:
                request = _schedule_recovery(context, conn, execution, reason, now)
            else:
                request = _week_recovery(context, conn, execution, reason, now)
            if request is not None:
                requests.append(request)
        for claim in stale_claims(conn, now, STALE_AFTER):
            run = context.instance.get_run_by_id(claim.dagster_run_id or "")
            if not run_is_dead(context.instance, run, now=now):
                continue
            reason = f"run {claim.dagster_run_id} died while serving a schedule run"
            fail_dead_run(context.instance, run, f"its process is gone; {reason}")
            if claim.ref.attempt >= MAX_ATTEMPTS:
                fail_unserved_claim(conn, claim.ref, f"{reason} ({MAX_ATTEMPTS} attempts)", now)
                continue
            with conn.transaction():
                raised = hand_back(
                    conn,
                    ClaimBatch((claim.ref,)),
                    from_statuses=("RUNNING",),
                    from_run_id=claim.dagster_run_id,
                )
            if raised is not None:
                context.log.warning(
                    f"{reason}; its tick goes to attempt {raised.claims[0].attempt}"
                )
                requests.append(schedule_run_request(raised))
    return dg.SensorResult(run_requests=requests)
