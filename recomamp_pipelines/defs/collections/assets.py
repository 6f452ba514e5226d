"""The weekly AMC results of report data collections: one partition per collection week.

One run covers a range of weeks (single-run backfills): the weeks run concurrently, bounded by
AMC's slots, and each reports its own materialization and check results as soon as it ends,
so one failed week neither fails nor hides the others.
"""

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
from dagster import AssetExecutionContext

from recomamp_pipelines.amc.client import PollPolicy
from recomamp_pipelines.collections.context import collection_id_for_partition, load_collection
from recomamp_pipelines.defs.collections.partitions import (
    WEEK_DIMENSION,
    collection_weeks_partitions,
    split_partition_key,
)
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.quality.loaded_week import CHECKS
from recomamp_pipelines.runs.weeks import OutcomeKind, WeekOutcome, WeekRunner
from recomamp_pipelines.weeks.calendar import week_from_partition_key

WEEKLY_RESULTS = dg.AssetKey(["amc", "collection_weekly_results"])
REFRESH_TAG = "recomamp/refresh"
#: Not a data check: whether AMC produced the week at all, with AMC's own words when not.
AMC_EXECUTION_CHECK = "amc_execution_succeeded"
PREVIEW_METADATA_ROWS = 10

partitions = collection_weeks_partitions()

check_specs = [
    dg.AssetCheckSpec(
        AMC_EXECUTION_CHECK,
        asset=WEEKLY_RESULTS,
        partitions_def=partitions,
        description="The week's AMC execution succeeded (AMC's error text when it did not).",
    ),
    *(
        dg.AssetCheckSpec(
            spec.name,
            asset=WEEKLY_RESULTS,
            partitions_def=partitions,
            description=f"[{spec.severity}] {spec.description}",
        )
        for spec in CHECKS
    ),
]


def _severity(name: str) -> dg.AssetCheckSeverity:
    for spec in CHECKS:
        if spec.name == name:
            return dg.AssetCheckSeverity(spec.severity)
    return dg.AssetCheckSeverity.ERROR


def _preview_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:PREVIEW_METADATA_ROWS]:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _events(
    outcome: WeekOutcome, partition_key: str, reused_metadata: dict[str, Any] | None
) -> Iterator[dg.AssetCheckEvaluation | dg.AssetMaterialization]:
    if outcome.kind is OutcomeKind.REFUSED:
        return
    amc_failed = outcome.kind is OutcomeKind.FAILED and not outcome.checks
    yield dg.AssetCheckEvaluation(
        asset_key=WEEKLY_RESULTS,
        check_name=AMC_EXECUTION_CHECK,
        partition=partition_key,
        passed=not amc_failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "outcome": outcome.kind.value,
            "message": outcome.message,
            "amc_execution_id": outcome.amc_execution_id or "",
        },
    )
    for check in outcome.checks:
        yield dg.AssetCheckEvaluation(
            asset_key=WEEKLY_RESULTS,
            check_name=check.name,
            partition=partition_key,
            passed=check.passed,
            severity=_severity(check.name),
            description=check.description,
            metadata={
                key: dg.MetadataValue.json(value) if isinstance(value, (dict, list)) else value
                for key, value in check.metadata.items()
                if isinstance(value, (str, int, float, bool, dict, list))
            },
        )
    if outcome.published is not None:
        published = outcome.published
        yield dg.AssetMaterialization(
            asset_key=WEEKLY_RESULTS,
            partition=partition_key,
            description=outcome.message,
            metadata={
                "outcome": outcome.kind.value,
                "dagster/row_count": published.row_count,
                "amc_execution_id": outcome.amc_execution_id or "",
                "amc_run_seconds": outcome.amc_seconds or 0.0,
                "results_table": published.results_table,
                "parquet_path": dg.MetadataValue.path(str(published.parquet_path)),
                "data_checksum": published.checksum,
                "replaced_rows": published.replaced_row_count,
                "summary_stats": dg.MetadataValue.json(outcome.summary_stats or {}),
                "preview": dg.MetadataValue.md(_preview_markdown(outcome.preview)),
            },
        )
    elif outcome.kind is OutcomeKind.REUSED and reused_metadata is not None:
        yield dg.AssetMaterialization(
            asset_key=WEEKLY_RESULTS,
            partition=partition_key,
            description=outcome.message,
            metadata={"outcome": outcome.kind.value, **reused_metadata},
        )


def _reused_metadata(database_url: str, collection_id: Any, week_start: Any) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select result_rows, amc_execution_id, data_checksum, summary_stats, result_location "
            "from report_data_weeks where collection_id = %s and week_start_date = %s",
            (collection_id, week_start),
        ).fetchone()
    if row is None:
        return {}
    return {
        "dagster/row_count": row[0] or 0,
        "amc_execution_id": row[1] or "",
        "data_checksum": row[2] or "",
        "summary_stats": dg.MetadataValue.json(row[3] or {}),
        "results_table": row[4] or "",
    }


def run_partition_keys(context: AssetExecutionContext) -> list[str]:
    """The collection weeks a run covers.

    A backfill launched from the job's page carries a partition range in its tags and, next to
    it, the single-partition tags of the range's first key (Dagster issue 28861), so that the
    context reports one key: the range tags win.
    """
    tags = context.run.tags
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if not start or not end:
        return [str(key) for key in context.partition_keys]
    first_collection, first_week = split_partition_key(start)
    last_collection, last_week = split_partition_key(end)
    if first_collection != last_collection:
        return [str(key) for key in context.partition_keys]
    week_dimension = next(d for d in partitions.partitions_defs if d.name == WEEK_DIMENSION)
    weeks = week_dimension.partitions_def.get_partition_keys_in_range(
        dg.PartitionKeyRange(first_week, last_week)
    )
    return [f"{first_collection}|{week}" for week in weeks]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            WEEKLY_RESULTS,
            partitions_def=partitions,
            description=(
                "AMC query results of each week of each report data collection: a typed table "
                "per workflow in schema `results`, a Parquet file per week, and the week's "
                "summary_stats in `report_data_weeks`."
            ),
            group_name="collections",
            kinds={"postgres", "parquet"},
        )
    ],
    check_specs=check_specs,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def collection_weekly_results(
    context: AssetExecutionContext, recomamp: RecomampResource
) -> Iterator[dg.AssetCheckEvaluation | dg.AssetMaterialization]:
    """Run the selected weeks of each selected collection against AMC."""
    settings = recomamp.settings()
    database_url = recomamp.database_url()
    refresh = context.run.tags.get(REFRESH_TAG, "").lower() == "true"
    by_collection: dict[str, list[str]] = defaultdict(list)
    for key in run_partition_keys(context):
        collection_key, week_key = split_partition_key(key)
        by_collection[collection_key].append(week_key)

    totals: dict[str, int] = defaultdict(int)
    for collection_key, week_keys in by_collection.items():
        with psycopg.connect(database_url) as conn:
            collection = load_collection(conn, collection_id_for_partition(conn, collection_key))
        weeks = sorted(week_from_partition_key(k, settings.week_start_day) for k in week_keys)
        context.log.info(
            f"collection {collection.name!r}: {len(weeks)} week(s) "
            f"{weeks[0].partition_key} .. {weeks[-1].partition_key}"
            + (" (refresh)" if refresh else "")
        )
        runner = WeekRunner(
            settings=settings,
            database_url=database_url,
            collection=collection,
            dagster_run_id=context.run.run_id,
            refresh=refresh,
            poll_policy=PollPolicy(
                initial_interval=settings.amc_poll_initial_seconds,
                max_interval=max(settings.amc_poll_max_seconds, settings.amc_poll_initial_seconds),
            ),
        )
        try:
            for done, outcome in enumerate(runner.run_weeks(weeks), start=1):
                partition_key = dg.MultiPartitionKey(
                    {"collection": collection_key, "week": outcome.week.partition_key}
                )
                totals[outcome.kind.value] += 1
                line = (
                    f"[{done}/{len(weeks)}] week {outcome.week.partition_key}: "
                    f"{outcome.kind.value}: {outcome.message}"
                )
                if outcome.kind is OutcomeKind.FAILED:
                    context.log.error(line)
                elif outcome.kind is OutcomeKind.REFUSED:
                    context.log.warning(line)
                else:
                    context.log.info(line)
                reused = (
                    _reused_metadata(
                        database_url, collection.collection_id, outcome.week.start_date
                    )
                    if outcome.kind is OutcomeKind.REUSED
                    else None
                )
                yield from _events(outcome, str(partition_key), reused)
        finally:
            runner.close()
    context.log.info(
        "weeks: " + ", ".join(f"{count} {kind}" for kind, count in sorted(totals.items()))
    )


collection_weeks_job = dg.define_asset_job(
    "collection_weeks_job",
    selection=dg.AssetSelection.assets(WEEKLY_RESULTS),
)
