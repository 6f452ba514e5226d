"""The schedules sensor: claims due ticks of `workflow_schedules` and requests their runs.

Each evaluation first claims what is due (exactly once, see `scheduling.claims`), then looks at
every claim that no run has taken yet and finds its run by tag:
- no run: the request is (re)sent under the same run_key, which Dagster launches at most once;
- a run queued or running: nothing to do;
- a run that ended, or died, without taking its claims: they are handed back with their attempt
  raised (a new run_key), after MAX_ATTEMPTS they are recorded as FAILED schedule runs.
"""

from datetime import datetime, timedelta

import dagster as dg
import psycopg
from dagster import SensorEvaluationContext

from recomamp_pipelines.db.connection import connect
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.recovery.liveness import (
    fail_dead_run,
    run_is_dead,
    runs_by_tag,
)
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.defs.schedules.jobs import (
    BATCH_TAG,
    CLAIMS_TAG,
    JOB_NAME,
    KIND_TAG,
    scheduled_workflows_job,
)
from recomamp_pipelines.defs.schedules.resources import SchedulerClock
from recomamp_pipelines.scheduling.claims import (
    MAX_ATTEMPTS,
    ClaimBatch,
    WaitingBatch,
    claim_due_ticks,
    hand_back,
    waiting_batches,
)
from recomamp_pipelines.scheduling.runs import fail_unserved_claim

#: A request still without a run after this long is worth an operator's attention.
UNANSWERED_REQUEST_WARNING = timedelta(minutes=10)


def schedule_run_request(batch: ClaimBatch) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=batch.run_key,
        job_name=JOB_NAME,
        tags={CLAIMS_TAG: batch.tag_value, BATCH_TAG: batch.run_key, KIND_TAG: "schedule"},
    )


def _retry(
    context: SensorEvaluationContext,
    conn: psycopg.Connection,
    waiting: WaitingBatch,
    run: dg.DagsterRun,
    now: datetime,
) -> ClaimBatch | None:
    reason = f"run {run.run_id} ended {run.status.value} without serving its schedule ticks"
    if fail_dead_run(context.instance, run, f"its process is gone; {reason}"):
        reason = f"run {run.run_id} died before serving its schedule ticks"
    exhausted = [ref for ref in waiting.batch.claims if ref.attempt >= MAX_ATTEMPTS]
    if exhausted:
        for ref in exhausted:
            fail_unserved_claim(
                conn,
                ref,
                f"no run served this tick in {MAX_ATTEMPTS} attempts; last: {reason}",
                now,
            )
        context.log.error(f"{len(exhausted)} tick(s) recorded FAILED: {reason}")
        remaining = ClaimBatch(
            tuple(ref for ref in waiting.batch.claims if ref.attempt < MAX_ATTEMPTS)
        )
        if not remaining.claims:
            return None
        waiting = WaitingBatch(remaining.run_key, remaining, waiting.first_claimed_at)
    raised = hand_back(conn, waiting.batch)
    if raised is not None:
        context.log.warning(f"{reason}; handed {len(raised.claims)} tick(s) to a new attempt")
    return raised


@dg.sensor(
    owners=[OWNER],
    name="workflow_schedules_sensor",
    job=scheduled_workflows_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Claims the due ticks of every active workflow schedule exactly once (cron or every N "
        "days, in the schedule's time zone; missed ticks catch up with one run) and requests "
        "runs of up to 25 schedules each."
    ),
)
def workflow_schedules_sensor(
    context: SensorEvaluationContext,
    recomamp: RecomampResource,
    scheduler_clock: SchedulerClock,
) -> dg.SensorResult:
    now = scheduler_clock.now()
    requests: list[dg.RunRequest] = []
    with connect(recomamp.database_url(), autocommit=True) as conn:
        claimed = claim_due_ticks(conn, now)
        waiting = waiting_batches(conn)
        runs = runs_by_tag(context.instance, BATCH_TAG, [item.run_key for item in waiting])
        for item in waiting:
            run = runs.get(item.run_key)
            if run is None:
                requests.append(schedule_run_request(item.batch))
                if now - item.first_claimed_at > UNANSWERED_REQUEST_WARNING:
                    context.log.warning(
                        f"no run yet for {len(item.batch.claims)} tick(s) claimed at "
                        f"{item.first_claimed_at:%Y-%m-%d %H:%M} UTC (run_key {item.run_key}): "
                        "is the Dagster daemon running?"
                    )
            elif run_is_dead(context.instance, run, now=now):
                with conn.transaction():
                    retried = _retry(context, conn, item, run, now)
                if retried is not None:
                    requests.append(schedule_run_request(retried))
    for invalid in claimed.newly_invalid:
        context.log.error(f"schedule {invalid.name!r} cannot run: {invalid.error}")
    missed = sum(claim.missed_ticks for claim in claimed.claimed)
    if claimed.claimed:
        context.log.info(
            f"claimed {len(claimed.claimed)} tick(s)"
            + (f", standing in for {missed} missed earlier" if missed else "")
            + f"; requesting {len(requests)} run(s)"
        )
    return dg.SensorResult(run_requests=requests)
