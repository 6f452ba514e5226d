"""Whole backfills of collection weeks through Dagster, against the AMC simulator."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.collections.assets import WEEKLY_RESULTS
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.resources import RecomampResource
from tests.defs.conftest import Pipeline


def register(pipeline: Pipeline) -> dict[str, str]:
    """Evaluate the collections sensor once; returns collection name -> partition key."""
    context = dg.build_sensor_context(
        instance=pipeline.instance, resources={"recomamp": RecomampResource()}
    )
    result = collections_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            pipeline.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
    rows = pipeline.query("select name, partition_key from report_data_collections")
    return dict(rows)


def backfill(
    pipeline: Pipeline, collection_key: str, first: str, last: str, **tags: str
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("collection_weeks_job")
    return job.execute_in_process(
        instance=pipeline.instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{collection_key}|{first}",
            ASSET_PARTITION_RANGE_END_TAG: f"{collection_key}|{last}",
            **tags,
        },
    )


def test_sensor_registers_collections_and_pending_weeks(pipeline: Pipeline) -> None:
    keys = register(pipeline)
    assert set(keys) == {"DSP weekly 2026", "Sponsored ads weekly"}
    for key in keys.values():
        assert "|" not in key
    assert set(pipeline.instance.get_dynamic_partitions("collections")) == set(keys.values())
    weeks = pipeline.query(
        "select c.name, count(*), count(*) filter (where w.status = 'PENDING'), "
        "min(c.total_weeks) from report_data_weeks as w "
        "join report_data_collections as c on c.id = w.collection_id group by c.name"
    )
    assert sorted(weeks) == [("DSP weekly 2026", 3, 3, 3), ("Sponsored ads weekly", 3, 3, 3)]
    # A second evaluation changes nothing.
    assert register(pipeline) == keys
    assert len(pipeline.query("select 1 from report_data_weeks")) == 6


def test_backfill_publishes_every_week_with_stats_checks_and_metadata(pipeline: Pipeline) -> None:
    keys = register(pipeline)
    collection = pipeline.collection("DSP weekly 2026")
    weeks = [
        row[0].isoformat()
        for row in pipeline.query(
            "select week_start_date from report_data_weeks where collection_id = %s order by 1",
            collection.collection_id,
        )
    ]
    result = backfill(pipeline, keys[collection.name], weeks[0], weeks[-1])
    assert result.success

    rows = pipeline.query(
        "select status, result_rows, summary_stats, data_checksum, workflow_execution_id, "
        "execution_id, amc_execution_id from report_data_weeks where collection_id = %s "
        "order by week_start_date",
        collection.collection_id,
    )
    assert [row[0] for row in rows] == ["SUCCESS"] * 3
    for _status, result_rows, stats, checksum, execution_id, same_id, amc_id in rows:
        assert result_rows > 0
        assert stats["row_count"] == result_rows
        assert stats["impressions_sum"] > 0
        assert len(checksum) == 64
        assert execution_id == same_id
        assert amc_id
    executions = pipeline.query(
        "select status, amc_status, amc_execution_id, result_rows, dagster_run_id "
        "from workflow_executions where collection_id = %s",
        collection.collection_id,
    )
    assert len(executions) == 3
    assert {e[0] for e in executions} == {"SUCCESS"}
    assert {e[1] for e in executions} == {"SUCCEEDED"}
    assert {e[4] for e in executions} == {result.run_id}

    counts = pipeline.query(
        "select completed_weeks, failed_weeks, total_weeks, progress_percentage, status, "
        "report_metadata is not null from report_data_collections where id = %s",
        collection.collection_id,
    )
    assert counts == [(3, 0, 3, 100, "COMPLETED", True)]

    materialized = pipeline.instance.get_materialized_partitions(WEEKLY_RESULTS)
    assert materialized == {f"{keys[collection.name]}|{week}" for week in weeks}
    # Every week reports its checks in the UI.
    check_key = dg.AssetCheckKey(WEEKLY_RESULTS, "metrics_non_negative")
    records = pipeline.instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=10
    )
    assert len(records) == 3


def test_rerun_reuses_weeks_without_calling_amc(pipeline: Pipeline) -> None:
    keys = register(pipeline)
    collection = pipeline.collection("Sponsored ads weekly")
    weeks = [
        row[0].isoformat()
        for row in pipeline.query(
            "select week_start_date from report_data_weeks where collection_id = %s order by 1",
            collection.collection_id,
        )
    ]
    assert backfill(pipeline, keys[collection.name], weeks[0], weeks[-1]).success
    before = pipeline.query("select id, updated_at from report_data_weeks order by id")
    submitted = pipeline.simulator.counters()
    again = backfill(pipeline, keys[collection.name], weeks[0], weeks[-1])
    assert again.success
    assert pipeline.simulator.counters() == submitted
    assert pipeline.query("select id, updated_at from report_data_weeks order by id") == before
    assert len(pipeline.query("select 1 from workflow_executions")) == 3


def test_a_job_page_backfill_runs_every_week_of_its_range(pipeline: Pipeline) -> None:
    """Dagster's job backfills add the first key's partition tags beside the range tags."""
    keys = register(pipeline)
    collection = pipeline.collection("DSP weekly 2026")
    weeks = [
        row[0].isoformat()
        for row in pipeline.query(
            "select week_start_date from report_data_weeks where collection_id = %s order by 1",
            collection.collection_id,
        )
    ]
    key = keys[collection.name]
    result = backfill(
        pipeline,
        key,
        weeks[0],
        weeks[-1],
        **{"dagster/partition/collection": key, "dagster/partition/week": weeks[0]},
    )
    assert result.success
    statuses = pipeline.query(
        "select status from report_data_weeks where collection_id = %s", collection.collection_id
    )
    assert [row[0] for row in statuses] == ["SUCCESS"] * 3
