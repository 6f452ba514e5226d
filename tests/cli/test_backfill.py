"""`recomamp backfill`: the same backfill from a script, recorded in the Dagster instance."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import psycopg
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.defs.recovery.liveness import run_worker_pid
from tests.defs.conftest import Pipeline
from tests.defs.helpers import DSP, PROCESS_TIMEOUT_SECONDS, REPO_ROOT, SPONSORED, submissions

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


def test_one_command_backfills_several_collections_each_in_a_process_of_its_own(
    pipeline: Pipeline,
) -> None:
    pipeline.simulator.reset()
    dsp, sponsored = pipeline.collection(DSP), pipeline.collection(SPONSORED)
    references = [str(dsp.collection_id), str(sponsored.collection_id), "no-such-collection"]
    named = [arg for reference in references for arg in ("--collection", reference)]
    # A new command, as a user starts it: its processes fork from a server of its own.
    finished = subprocess.run(
        [sys.executable, "-m", "recomamp_pipelines.cli", "backfill", *named],
        cwd=REPO_ROOT,
        env={**os.environ, **pipeline.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_SECONDS,
        check=False,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, output  # one of the three names no collection
    assert f"Collection {DSP}" in output and f"Collection {SPONSORED}" in output
    assert output.count("3 week(s): 3 submitted") == 2
    assert (
        "error: collection no-such-collection: no collection is registered under partition key "
        "'no-such-collection'" in " ".join(output.split())
    )
    assert "3 collection(s): 2 succeeded, 1 failed" in output
    weeks = pipeline.query(
        "select collection_id, status, count(*) from report_data_weeks "
        "where collection_id in (%s, %s) group by 1, 2",
        dsp.collection_id,
        sponsored.collection_id,
    )
    assert sorted((str(c), s, n) for c, s, n in weeks) == sorted(
        [(str(dsp.collection_id), "SUCCESS", 3), (str(sponsored.collection_id), "SUCCESS", 3)]
    )
    assert sum(submissions(pipeline.simulator).values()) == 6  # every week reached AMC once
    with dg.DagsterInstance.from_config(pipeline.env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        pids = {run_worker_pid(instance, run.run_id) for run in runs}
    assert len(runs) == 2 and all(run.is_success for run in runs)
    # Each collection's run went on in a process of its own.
    assert len(pids) == 2 and None not in pids


def test_one_command_refuses_a_collection_named_twice_and_a_backwards_range(
    pipeline: Pipeline,
) -> None:
    pipeline.simulator.reset()
    collection = str(pipeline.collection(SPONSORED).collection_id)
    twice = runner.invoke(app, ["backfill", "--collection", collection, "--collection", collection])
    assert twice.exit_code == 1
    assert f"collection {collection!r} is named more than once" in twice.output
    backwards = runner.invoke(
        app,
        [
            "backfill",
            "--collection",
            collection,
            "--collection",
            "another",
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ],
    )
    assert backwards.exit_code == 1
    assert "--to 2026-01-01 is before --from 2026-02-01" in backwards.output
    assert pipeline.simulator.counters()["executions_created"] == 0
