"""The weekly AMC results of report data collections: one partition per collection week.

One run covers a range of weeks (single-run backfills): the weeks run concurrently, bounded by
AMC's slots, and each reports its own materialization and check results as soon as it ends,
so one failed week neither fails nor hides the others.

What a selection in the UI can hold besides a collection's weeks is answered before any AMC
call: a week the collection does not cover is reported as materialized with nothing in it
(`not_covered`, the reason in its description), since Dagster 1.13 counts a targeted partition
without a materialization as a failed partition of the backfill; a key that is no collection
fails the step, naming it, once every collection's weeks are done.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
from dagster import AssetExecutionContext
from psycopg.rows import dict_row

from recomamp_pipelines.amc.client import PollPolicy
from recomamp_pipelines.collections.context import (
    CollectionContext,
    CollectionNotFoundError,
    collection_id_for_partition,
    load_collection,
)
from recomamp_pipelines.defs.collections.checks import (
    AMC_EXECUTION_CHECK,
    amc_evaluation,
    latest_materialization,
    previous_evaluations,
    quality_evaluation,
    week_check_specs,
)
from recomamp_pipelines.defs.collections.metadata import PublishedWeekFigures, week_metadata
from recomamp_pipelines.defs.collections.partitions import (
    collection_weeks_partitions,
    split_partition_key,
)
from recomamp_pipelines.defs.collections.sql import load
from recomamp_pipelines.defs.dagster_private import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.recovery.liveness import record_worker
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.results.load import LoadedWeek
from recomamp_pipelines.results.table import published_columns
from recomamp_pipelines.runs.weeks import OutcomeKind, WeekOutcome, WeekRunner
from recomamp_pipelines.weeks.calendar import Week, week_from_partition_key

__all__ = ["AMC_EXECUTION_CHECK", "REFRESH_TAG", "WEEKLY_RESULTS", "collection_weekly_results"]

WEEKLY_RESULTS = dg.AssetKey(["amc", "collection_weekly_results"])
REFRESH_TAG = "recomamp/refresh"
#: The collection's own name, beside the slug its partition key is made of.
COLLECTION_NAME = "collection"
#: Metadata of a week the collection does not cover: why nothing was fetched for it.
NOT_COVERED = "not_covered"
#: Metadata of a week a run left alone (AMC cannot answer it yet, another run holds it, ...).
REFUSED = "refused"

partitions = collection_weeks_partitions()
check_specs = week_check_specs(WEEKLY_RESULTS, partitions)


@dataclass
class WeekReporter:
    """Turns one week's outcome into the events the UI shows for that week, in order."""

    context: AssetExecutionContext
    database_url: str
    collection: CollectionContext

    @property
    def instance(self) -> dg.DagsterInstance:
        return self.context.instance

    def events(
        self, outcome: WeekOutcome, partition_key: str
    ) -> Iterator[dg.AssetCheckEvaluation | dg.AssetMaterialization | dg.AssetObservation]:
        week = outcome.week.partition_key
        if outcome.kind is OutcomeKind.REFUSED:
            # Shown on the week's partition page, not only in the run log.
            yield dg.AssetObservation(
                asset_key=WEEKLY_RESULTS,
                partition=partition_key,
                description=f"Not run: {outcome.message}",
                metadata={COLLECTION_NAME: self.collection.name, REFUSED: outcome.message},
            )
        if outcome.kind in (OutcomeKind.REUSED, OutcomeKind.REFUSED):
            if outcome.kind is OutcomeKind.REUSED and not _has_result(self.instance, partition_key):
                # Published before this Dagster instance knew of it: say so once, in full.
                figures = self._published_figures(outcome)
                if figures is not None:
                    yield dg.AssetMaterialization(
                        asset_key=WEEKLY_RESULTS,
                        partition=partition_key,
                        description=outcome.message,
                        metadata={COLLECTION_NAME: self.collection.name, **week_metadata(figures)},
                    )
            yield from self._unchanged_week_checks(outcome, partition_key)
            return
        if outcome.published is not None:
            yield dg.AssetMaterialization(
                asset_key=WEEKLY_RESULTS,
                partition=partition_key,
                description=outcome.message,
                metadata={
                    COLLECTION_NAME: self.collection.name,
                    **week_metadata(_figures_of(outcome, outcome.published)),
                },
            )
        # The checks evaluate the week's latest materialization: the one just reported, or
        # when the week was not published, the result it keeps.
        target = latest_materialization(self.instance, WEEKLY_RESULTS, partition_key)
        amc_failed = outcome.kind is OutcomeKind.FAILED and not outcome.checks
        yield amc_evaluation(
            WEEKLY_RESULTS,
            partition_key,
            passed=not amc_failed,
            metadata={
                COLLECTION_NAME: self.collection.name,
                "outcome": outcome.kind.value,
                "message": outcome.message,
                "amc_execution_id": outcome.amc_execution_id or "",
            },
            target=target,
        )
        for check in outcome.checks:
            if check.applicable:
                yield quality_evaluation(WEEKLY_RESULTS, partition_key, check, target)
            else:
                self.context.log.info(
                    f"week {week}: check {check.name} skipped: {check.metadata.get('reason')}"
                )

    def _unchanged_week_checks(
        self, outcome: WeekOutcome, partition_key: str
    ) -> Iterator[dg.AssetCheckEvaluation]:
        """The last real evaluations of a week this run left alone; AMC's says what happened."""
        this_run = {"outcome": outcome.kind.value, "message": outcome.message}
        amc_reported = False
        for evaluation in previous_evaluations(
            self.instance, WEEKLY_RESULTS, partition_key, self.context.run.run_id
        ):
            if evaluation.check_name == AMC_EXECUTION_CHECK:
                amc_reported = True
                evaluation = amc_evaluation(
                    WEEKLY_RESULTS,
                    partition_key,
                    passed=evaluation.passed,
                    metadata={**evaluation.metadata, **this_run},
                    target=evaluation.target_materialization_data,
                )
            yield evaluation
        if outcome.kind is OutcomeKind.REUSED and not amc_reported:
            # The week is published, so AMC produced it, though not in this instance's memory.
            yield amc_evaluation(
                WEEKLY_RESULTS,
                partition_key,
                passed=True,
                metadata=this_run,
                target=latest_materialization(self.instance, WEEKLY_RESULTS, partition_key),
            )

    def _published_figures(self, outcome: WeekOutcome) -> PublishedWeekFigures | None:
        with psycopg.connect(self.database_url) as conn:
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(
                    load("published_week"),
                    {
                        "collection_id": self.collection.collection_id,
                        "week_start_date": outcome.week.start_date,
                    },
                ).fetchone()
            if row is None:
                return None
            columns = published_columns(conn, self.collection.workflow_id)
        return PublishedWeekFigures(
            row_count=row["result_rows"] or 0,
            amc_execution_id=row["amc_execution_id"] or "",
            amc_run_seconds=row["execution_duration"],
            amc_queue_seconds=None,
            results_table=row["results_table"] or "",
            columns=[(column.name, column.postgres_type) for column in columns],
            parquet_path=Path(row["parquet_path"]) if row["parquet_path"] else None,
            checksum=row["data_checksum"] or "",
            summary_stats=row["summary_stats"] or {},
            preview=row["preview"] or [],
        )


def _has_result(instance: dg.DagsterInstance, partition_key: str) -> bool:
    """Whether the week's latest materialization carries a result (not a `not_covered` one)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=WEEKLY_RESULTS, asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        return False
    materialization = records[0].asset_materialization
    return materialization is not None and NOT_COVERED not in materialization.metadata


def not_covered(
    collection: CollectionContext, partition_key: str, reason: str
) -> dg.AssetMaterialization:
    """The week of the grid that `collection` does not cover, done with nothing in it."""
    return dg.AssetMaterialization(
        asset_key=WEEKLY_RESULTS,
        partition=partition_key,
        description=f"Not run: {reason}; nothing was fetched from AMC or written",
        metadata={COLLECTION_NAME: collection.name, NOT_COVERED: reason},
    )


def _figures_of(outcome: WeekOutcome, published: LoadedWeek) -> PublishedWeekFigures:
    return PublishedWeekFigures(
        row_count=published.row_count,
        amc_execution_id=outcome.amc_execution_id or "",
        amc_run_seconds=outcome.amc_seconds,
        amc_queue_seconds=outcome.amc_queue_seconds,
        results_table=published.results_table,
        columns=[(column.name, column.postgres_type) for column in published.columns],
        parquet_path=published.parquet_path,
        checksum=published.checksum,
        summary_stats=published.summary_stats,
        preview=outcome.preview,
    )


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
    # The weeks come from the tags, not from this process's grid: a run that started before
    # the grid's first week moved on still runs (or refuses) every week it was launched with.
    week, last = date.fromisoformat(first_week), date.fromisoformat(last_week)
    keys = []
    while week <= last:
        keys.append(f"{first_collection}|{week.isoformat()}")
        week += timedelta(days=7)
    return keys


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            WEEKLY_RESULTS,
            partitions_def=partitions,
            description=(
                "AMC query results of each week of each report data collection: a typed table "
                "per workflow in schema `results`, a Parquet file per week, and the week's "
                "summary_stats in `report_data_weeks`. A partition is a collection (its key is "
                "the collection's slug; `recomamp collections list` gives the names) and a week."
            ),
            group_name="collections",
            kinds={"postgres", "parquet"},
            owners=[OWNER],
        )
    ],
    check_specs=check_specs,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def collection_weekly_results(
    context: AssetExecutionContext, recomamp: RecomampResource
) -> Iterator[
    dg.AssetCheckEvaluation | dg.AssetMaterialization | dg.AssetObservation | dg.Output[None]
]:
    """Run the selected weeks of each selected collection against AMC."""
    # A run killed with its process (the command line's, in process) is then told from a live one.
    record_worker(context.instance, context.run.run_id)
    settings = recomamp.settings()
    database_url = recomamp.database_url()
    refresh = context.run.tags.get(REFRESH_TAG, "").lower() == "true"
    by_collection: dict[str, list[str]] = defaultdict(list)
    for key in run_partition_keys(context):
        collection_key, week_key = split_partition_key(key)
        by_collection[collection_key].append(week_key)

    totals: dict[str, int] = defaultdict(int)
    not_collections: dict[str, str] = {}
    for collection_key, week_keys in by_collection.items():
        with psycopg.connect(database_url) as conn:
            try:
                collection_id = collection_id_for_partition(conn, collection_key)
            except CollectionNotFoundError as exc:
                not_collections[collection_key] = str(exc)
                context.log.error(f"{len(week_keys)} week(s) not run: {exc}")
                continue
            collection = load_collection(conn, collection_id)
        selected = sorted(week_from_partition_key(k, settings.week_start_day) for k in week_keys)
        covered = set(collection.weeks(settings.week_start_day))
        weeks = [week for week in selected if week in covered]
        for week in selected:
            if week not in weeks:
                yield _not_covered_week(context, collection, collection_key, week)
                totals["not covered"] += 1
        if not weeks:
            continue
        context.log.info(
            f"collection {collection.name!r}: {len(weeks)} week(s) "
            f"{weeks[0].partition_key} .. {weeks[-1].partition_key}"
            + (" (refresh)" if refresh else "")
        )
        reporter = WeekReporter(context, database_url, collection)
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
            on_progress=lambda target, text: context.log.info(f"{target.describe()}: {text}"),
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
                yield from reporter.events(outcome, str(partition_key))
        finally:
            runner.close()
    context.log.info(
        "weeks: " + ", ".join(f"{count} {kind}" for kind, count in sorted(totals.items()))
    )
    # Each week's checks are reported above, per partition. These close the step's check
    # outputs, which Dagster otherwise reports as missing although every week was reported.
    for check_key in context.selected_asset_check_keys:
        output_name = context.assets_def.get_output_name_for_asset_check_key(check_key)
        yield dg.Output(None, output_name=output_name)
    if not_collections:
        keys = ", ".join(repr(key) for key in sorted(not_collections))
        raise dg.Failure(
            description=(
                f"partition key(s) {keys} name no registered collection, so their weeks were "
                "not run; the collections sensor removes such keys, and a collection gets its "
                "key when it is registered (`recomamp collections list` shows them)"
            ),
            metadata={key: reason for key, reason in sorted(not_collections.items())},
        )


def _not_covered_week(
    context: AssetExecutionContext, collection: CollectionContext, collection_key: str, week: Week
) -> dg.AssetMaterialization:
    reason = (
        f"week {week.partition_key} is outside collection {collection.name!r} "
        f"({collection.start_date} .. {collection.end_date})"
    )
    context.log.warning(f"week {week.partition_key}: not covered: {reason}")
    partition_key = dg.MultiPartitionKey({"collection": collection_key, "week": week.partition_key})
    return not_covered(collection, str(partition_key), reason)


collection_weeks_job = dg.define_asset_job(
    "collection_weeks_job",
    selection=dg.AssetSelection.assets(WEEKLY_RESULTS),
    description=(
        "Runs the selected weeks of report data collections against AMC, in one run per "
        "selected range: each week is submitted, polled, loaded, checked and published."
    ),
)
