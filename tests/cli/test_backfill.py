"""`recomamp backfill`: the same backfill from a script, recorded in the Dagster instance."""

from __future__ import annotations

import os

import dagster as dg
import psycopg
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from tests.defs.conftest import Pipeline

runner = CliRunner()


def test_backfill_command_runs_then_reuses_then_refreshes(pipeline: Pipeline) -> None:
    collection = pipeline.collection("Sponsored ads weekly")
    first = runner.invoke(app, ["backfill", "--collection", str(collection.collection_id)])
    assert first.exit_code == 0, first.output
    assert "3 week(s): 3 submitted" in first.output
    submitted = pipeline.simulator.counters()

    again = runner.invoke(app, ["backfill", "--collection", str(collection.collection_id)])
    assert again.exit_code == 0, again.output
    assert "3 week(s): 3 reused" in again.output
    assert pipeline.simulator.counters() == submitted

    week = collection.end_date.isoformat()
    refreshed = runner.invoke(
        app,
        ["backfill", "--collection", str(collection.collection_id), "--from", week, "--refresh"],
    )
    assert refreshed.exit_code == 0, refreshed.output
    assert "1 week(s): 1 submitted" in refreshed.output
    checksums = pipeline.query(
        "select count(distinct data_checksum), count(*) from report_data_weeks "
        "where collection_id = %s and status = 'SUCCESS'",
        collection.collection_id,
    )
    assert checksums[0][1] == 3

    # The runs are recorded in the instance under DAGSTER_HOME, like the UI's.
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
    assert len(runs) == 3
    assert all(run.tags.get("recomamp/launched_by") == "recomamp backfill" for run in runs)


def test_backfill_command_errors_are_clear(pipeline: Pipeline) -> None:
    unknown = runner.invoke(app, ["backfill", "--collection", "no-such-collection-123"])
    assert unknown.exit_code == 1
    assert "no collection is registered under partition key 'no-such-collection-123'" in (
        unknown.output
    )
    collection = pipeline.collection("Sponsored ads weekly")
    outside = runner.invoke(
        app,
        [
            "backfill",
            "--collection",
            str(collection.collection_id),
            "--from",
            "2020-01-01",
            "--to",
            "2020-02-01",
        ],
    )
    assert outside.exit_code == 1
    assert "has no week between 2020-01-01 and 2020-02-01" in outside.output


def test_retry_failed_runs_exactly_the_failed_weeks_and_those_whose_run_died(
    pipeline: Pipeline,
) -> None:
    collection = pipeline.collection("Sponsored ads weekly")
    first = runner.invoke(app, ["backfill", "--collection", str(collection.collection_id)])
    assert first.exit_code == 0, first.output
    weeks = [
        row[0]
        for row in pipeline.query(
            "select week_start_date from report_data_weeks where collection_id = %s order by 1",
            collection.collection_id,
        )
    ]
    assert len(weeks) == 3
    failed, kept, died = weeks
    # One week failed; another was left RUNNING by a run that was killed (nobody holds it).
    with psycopg.connect(pipeline.db_url) as conn:
        conn.execute(
            "update report_data_weeks set status = 'FAILED', data_checksum = null "
            "where collection_id = %s and week_start_date = %s",
            (collection.collection_id, failed),
        )
        conn.execute(
            "update report_data_weeks set status = 'RUNNING', data_checksum = null "
            "where collection_id = %s and week_start_date = %s",
            (collection.collection_id, died),
        )

    retried = runner.invoke(app, ["collections", "retry-failed", str(collection.collection_id)])

    assert retried.exit_code == 0, retried.output
    assert "2 week(s): 2 submitted" in retried.output
    assert failed.isoformat() in retried.output and died.isoformat() in retried.output
    assert kept.isoformat() not in retried.output
    executions = dict(
        pipeline.query(
            "select week_start_date, count(*) from workflow_executions "
            "where collection_id = %s group by 1",
            collection.collection_id,
        )
    )
    assert executions == {failed: 2, kept: 1, died: 2}
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        ranges = sorted(
            (
                run.tags["dagster/asset_partition_range_start"],
                run.tags["dagster/asset_partition_range_end"],
            )
            for run in instance.get_runs()
        )
    # The first backfill's range, then one run per retried week: the kept week is not run.
    assert [(start[-10:], end[-10:]) for start, end in ranges] == sorted(
        (first_day.isoformat(), last_day.isoformat())
        for first_day, last_day in [(failed, died), (failed, failed), (died, died)]
    )
