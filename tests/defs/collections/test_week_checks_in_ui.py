"""What the Dagster UI shows for each week: check statuses, blocking checks, rich metadata.

Statuses are read as the UI reads them (the per-partition check state Dagster keeps from its
event log), after a real run against the AMC simulator and after a run that reuses the weeks.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.asset_check_state import (
    AssetCheckState,
    bulk_update_asset_check_state,
)

from recomamp_pipelines.defs.collections.assets import (
    WEEKLY_RESULTS,
    check_specs,
    collection_weekly_results,
    partitions,
)
from recomamp_pipelines.defs.collections.checks import AMC_EXECUTION_CHECK, EVALUATED_IN_RUN
from recomamp_pipelines.quality.loaded_week import CHECKS, FUNNEL_CONSISTENT
from tests.defs.collections.test_week_faults import swap_clicks_and_impressions
from tests.defs.conftest import Pipeline
from tests.defs.helpers import DSP, SPONSORED, backfill, prepare

#: Checks that apply to every week of the DSP sample collection, whatever ran before.
ALWAYS_APPLY = {
    AMC_EXECUTION_CHECK,
    "metrics_non_negative",
    "summary_stats_match_table",
    "week_not_empty",
    "column_types_known",
}


def shown_statuses(instance: dg.DagsterInstance) -> dict[tuple[str, str], str]:
    """(check name, week) -> the status the UI shows for that check of that week."""
    keys = [(dg.AssetCheckKey(WEEKLY_RESULTS, spec.name), partitions) for spec in check_specs]
    with partition_loading_context(dynamic_partitions_store=instance):
        states = bulk_update_asset_check_state(
            instance, keys, {key: AssetCheckState.empty() for key, _ in keys}
        )
        shown: dict[tuple[str, str], str] = {}
        for key, state in states.items():
            for status, subset in state.subsets.items():
                for partition_key in subset.subset_value.get_partition_keys():
                    shown[(key.name, str(partition_key).rsplit("|", 1)[1])] = status.value
    return shown


def computed_statuses(
    result: dg.ExecuteInProcessResult, weeks: list[str]
) -> dict[tuple[str, str], str]:
    """What the run computed: its evaluation of each check, Skipped where it reported none."""
    computed = {(spec.name, week): "SKIPPED" for spec in check_specs for week in weeks}
    for evaluation in result.get_asset_check_evaluations():
        assert evaluation.partition is not None
        week = evaluation.partition.rsplit("|", 1)[1]
        computed[(evaluation.check_name, week)] = "SUCCEEDED" if evaluation.passed else "FAILED"
    return computed


def run_messages(pipeline: Pipeline, run_id: str) -> list[str]:
    return [entry.user_message for entry in pipeline.instance.all_logs(run_id)]


def latest_metadata(pipeline: Pipeline, partition_key: str) -> Mapping[str, dg.MetadataValue]:
    records = pipeline.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=WEEKLY_RESULTS, asset_partitions=[partition_key]),
        limit=1,
    ).records
    materialization = records[0].asset_materialization
    assert materialization is not None
    return materialization.metadata


def test_week_checks_show_what_the_run_computed_and_survive_a_reuse(pipeline: Pipeline) -> None:
    collection = prepare(pipeline, DSP, weeks=3)
    first = backfill(pipeline, collection.key, collection.weeks[0], collection.weeks[-1])
    assert first.success

    shown = shown_statuses(pipeline.instance)
    assert shown == computed_statuses(first, collection.weeks)
    for week in collection.weeks:
        for name in ALWAYS_APPLY:
            assert shown[(name, week)] == "SUCCEEDED", (name, week)
    messages = run_messages(pipeline, first.run_id)
    assert not [m for m in messages if "did not yield or return expected outputs" in m]
    # A check that did not apply is Skipped, and the run log says why: never "succeeded".
    skipped = [key for key, status in shown.items() if status == "SKIPPED"]
    for name, week in skipped:
        assert any(
            m.startswith(f"week {week}: check {name} skipped: not applicable") for m in messages
        ), (name, week)
    # The first week loaded has no earlier week to compare its columns with.
    assert any(name == "columns_stable" for name, _ in skipped)
    # Progress: each week's submission (AMC's id) and AMC's status changes, with elapsed time.
    for week in collection.weeks:
        told = f"week {week} of collection {collection.name!r}: "
        assert any(m.startswith(f"{told}submitted: AMC execution ") for m in messages)
        assert any(
            m.startswith(f"{told}AMC status SUCCEEDED after ") and m.endswith(" s")
            for m in messages
        )

    partition_key = f"{collection.key}|{collection.weeks[-1]}"
    rich = latest_metadata(pipeline, partition_key)

    again = backfill(pipeline, collection.key, collection.weeks[0], collection.weeks[-1])
    assert again.success
    assert shown_statuses(pipeline.instance) == shown
    reshown = again.get_asset_check_evaluations()
    assert reshown, "a reuse reports the weeks' checks again"
    for evaluation in reshown:
        run = evaluation.metadata[EVALUATED_IN_RUN]
        assert isinstance(run, dg.DagsterRunMetadataValue)
        assert run.run_id == first.run_id
        if evaluation.check_name == AMC_EXECUTION_CHECK:
            assert evaluation.metadata["outcome"] == dg.TextMetadataValue("reused")
    # No thinner record replaces the week's materialization.
    assert again.get_asset_materialization_events() == []
    assert latest_metadata(pipeline, partition_key) == rich


def test_blocking_checks_are_declared_blocking() -> None:
    specs = {spec.name: spec for spec in collection_weekly_results.check_specs}
    assert set(specs) == {AMC_EXECUTION_CHECK, *(spec.name for spec in CHECKS)}
    for spec in CHECKS:
        assert specs[spec.name].blocking is (spec.severity == "ERROR"), spec.name
        assert (specs[spec.name].description or "").startswith(f"[{spec.severity}")
    assert specs[AMC_EXECUTION_CHECK].blocking


def test_a_failed_check_shows_failed_with_its_severity(pipeline: Pipeline) -> None:
    collection = prepare(pipeline, SPONSORED, weeks=1)
    (week,) = collection.weeks
    swap_clicks_and_impressions(pipeline, collection)

    result = backfill(pipeline, collection.key, week)

    assert result.success
    shown = shown_statuses(pipeline.instance)
    assert shown[(FUNNEL_CONSISTENT.name, week)] == "FAILED"
    assert shown == computed_statuses(result, [week])
    (failed,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == FUNNEL_CONSISTENT.name
    ]
    assert failed.severity is dg.AssetCheckSeverity.ERROR
    assert failed.description is not None
    assert "rows with clicks > impressions" in failed.description


def test_materialization_metadata_is_a_table_with_figures_and_a_link(pipeline: Pipeline) -> None:
    collection = prepare(pipeline, SPONSORED, weeks=1)
    (week,) = collection.weeks
    assert backfill(pipeline, collection.key, week).success

    metadata = latest_metadata(pipeline, f"{collection.key}|{week}")

    assert metadata["collection"] == dg.TextMetadataValue(SPONSORED)
    preview = metadata["preview"]
    assert isinstance(preview, dg.TableMetadataValue)
    schema = metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchemaMetadataValue)
    names = [column.name for column in schema.schema.columns]
    assert [column.name for column in preview.schema.columns] == names
    assert "impressions" in names
    assert preview.records and all(set(r.data) == set(names) for r in preview.records)
    rows = metadata["dagster/row_count"]
    assert isinstance(rows, dg.IntMetadataValue) and rows.value and rows.value > 0
    for figure in ("impressions", "clicks", "spend", "amc_run_seconds", "amc_queue_seconds"):
        assert isinstance(metadata[figure], dg.IntMetadataValue | dg.FloatMetadataValue), figure
    assert isinstance(metadata["summary_stats"], dg.JsonMetadataValue)
    link = metadata["parquet_file"]
    assert isinstance(link, dg.UrlMetadataValue)
    assert (link.url or "").startswith("file:///") and (link.url or "").endswith(".parquet")
