"""The run that serves claimed schedule ticks: one op, its schedules' AMC executions in threads.

The claims a run serves travel in its tags (`recomamp/schedule_claims`: `<claim id>@<attempt>`,
comma-separated), so the sensor, the UI and the recovery sensor all see what a run is for.
"""

from collections import Counter
from collections.abc import Iterator

import dagster as dg
from dagster import OpExecutionContext

from recomamp_pipelines.amc.client import PollPolicy
from recomamp_pipelines.defs.recovery.liveness import record_worker
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.runs.schedules import NOT_TAKEN, ScheduleRunner
from recomamp_pipelines.scheduling.claims import parse_claims_tag

JOB_NAME = "scheduled_workflows_job"
CLAIMS_TAG = "recomamp/schedule_claims"
BATCH_TAG = "recomamp/schedule_batch"
#: Every run of this job carries it: a tag concurrency limit can cap schedule runs apart from
#: collection backfills (e.g. `{key: recomamp/kind, value: schedule, limit: 2}`).
KIND_TAG = "recomamp/kind"


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Serve the schedule ticks named in the run's tags: each becomes a schedule run that "
        "executes its workflow over its rolling window in AMC and publishes the result."
    ),
)
def run_scheduled_workflows(
    context: OpExecutionContext, recomamp: RecomampResource
) -> Iterator[dg.Output[None]]:
    refs = parse_claims_tag(context.run.tags.get(CLAIMS_TAG, ""))
    record_worker(context.instance, context.run_id)
    settings = recomamp.settings()
    runner = ScheduleRunner(
        settings=settings,
        database_url=recomamp.database_url(),
        dagster_run_id=context.run_id,
        poll_policy=PollPolicy(
            initial_interval=settings.amc_poll_initial_seconds,
            max_interval=max(settings.amc_poll_max_seconds, settings.amc_poll_initial_seconds),
        ),
    )
    counts: Counter[str] = Counter()
    try:
        for done, outcome in enumerate(runner.run_claims(refs), start=1):
            counts[outcome.status] += 1
            line = (
                f"[{done}/{len(refs)}] {outcome.schedule_name or outcome.ref.key}: "
                f"{outcome.status}: {outcome.message}"
            )
            if outcome.auto_paused:
                line += " (the schedule was paused after repeated failures)"
            if outcome.status == "FAILED":
                context.log.error(line)
            elif outcome.status in ("SKIPPED", NOT_TAKEN):
                context.log.warning(line)
            else:
                context.log.info(line)
    finally:
        runner.close()
    yield dg.Output(
        None,
        metadata={"claims": len(refs), **{status.lower(): n for status, n in counts.items()}},
    )


@dg.job(
    name=JOB_NAME,
    tags={KIND_TAG: "schedule"},
    description="Runs of user schedules, requested by workflow_schedules_sensor.",
)
def scheduled_workflows_job() -> None:
    run_scheduled_workflows()
