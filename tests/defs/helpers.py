"""Driving collection backfills through Dagster, and reading what they left behind.

Shared by the fault, crash and AMC-gate tests. Everything is read back from where a user would
look: PostgreSQL rows, the Dagster instance, and the AMC simulator's own counters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from psycopg import sql
from psycopg.rows import dict_row

from recomamp_pipelines.collections.context import load_collection
from recomamp_pipelines.definitions import defs
from recomamp_pipelines.defs.collections.assets import (
    AMC_EXECUTION_CHECK,
    REFRESH_TAG,
    WEEKLY_RESULTS,
)
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.resources import RecomampResource
from recomamp_pipelines.results.target import results_table
from recomamp_pipelines.runs.weeks import WeekRunner
from recomamp_pipelines.settings import load_settings
from tests.defs.conftest import Pipeline

DSP = "DSP weekly 2026"
SPONSORED = "Sponsored ads weekly"
JOB_NAME = "collection_weeks_job"


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
    return dict(pipeline.query("select name, partition_key from report_data_collections"))


def range_tags(collection_key: str, first: str, last: str) -> dict[str, str]:
    """The tags of a single-run backfill of weeks `first`..`last` of one collection."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: f"{collection_key}|{first}",
        ASSET_PARTITION_RANGE_END_TAG: f"{collection_key}|{last}",
    }


def backfill(
    pipeline: Pipeline,
    collection_key: str,
    first: str,
    last: str | None = None,
    *,
    refresh: bool = False,
) -> dg.ExecuteInProcessResult:
    """Run weeks `first`..`last` (default: `first` alone) of a collection as one Dagster run."""
    tags = range_tags(collection_key, first, last or first)
    if refresh:
        tags[REFRESH_TAG] = "true"
    job = defs.resolve_job_def(JOB_NAME)
    return job.execute_in_process(instance=pipeline.instance, tags=tags)


@dataclass(frozen=True)
class CollectionUnderTest:
    """A registered sample collection, shrunk to the weeks a test needs."""

    collection_id: uuid.UUID
    name: str
    key: str
    workflow_id: uuid.UUID
    weeks: list[str]


def prepare(pipeline: Pipeline, name: str, weeks: int = 3) -> CollectionUnderTest:
    """Keep the last `weeks` weeks of a collection's range (by name), then register it."""
    ((collection_id,),) = pipeline.query(
        "update report_data_collections set start_date = end_date - %s::int + 1 "
        "where name = %s returning id",
        7 * weeks,
        name,
    )
    keys = register(pipeline)
    rows = pipeline.query(
        "select wk.week_start_date, c.workflow_id from report_data_weeks as wk "
        "join report_data_collections as c on c.id = wk.collection_id "
        "where wk.collection_id = %s order by 1",
        collection_id,
    )
    assert len(rows) == weeks, rows
    return CollectionUnderTest(
        collection_id=collection_id,
        name=name,
        key=keys[name],
        workflow_id=rows[0][1],
        weeks=[row[0].isoformat() for row in rows],
    )


def execute(pipeline: Pipeline, statement: str, *args: object) -> None:
    """Run one statement that returns no rows, committed."""
    with psycopg.connect(pipeline.db_url) as conn:
        conn.execute(statement, args)


def dict_rows(pipeline: Pipeline, query: str, *args: object) -> list[dict[str, Any]]:
    with psycopg.connect(pipeline.db_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, args).fetchall()


def week_rows(pipeline: Pipeline, collection_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Every report_data_weeks row of a collection, by week start (ISO)."""
    rows = dict_rows(
        pipeline,
        "select * from report_data_weeks where collection_id = %s order by week_start_date",
        collection_id,
    )
    return {row["week_start_date"].isoformat(): row for row in rows}


def executions(pipeline: Pipeline, collection_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every workflow_executions row of a collection, oldest first; `week` is its ISO week."""
    rows = dict_rows(
        pipeline,
        "select *, week_start_date::text as week from workflow_executions "
        "where collection_id = %s order by created_at, week_start_date",
        collection_id,
    )
    return rows


def collection_row(pipeline: Pipeline, collection_id: uuid.UUID) -> dict[str, Any]:
    (row,) = dict_rows(
        pipeline, "select * from report_data_collections where id = %s", collection_id
    )
    return row


def result_counts(pipeline: Pipeline, collection: CollectionUnderTest) -> dict[str, int]:
    """Rows in the workflow's results table per week of the collection ({} before any)."""
    (exists,) = pipeline.query(
        "select to_regclass(%s) is not null",
        f"results.workflow_{collection.workflow_id.hex}",
    )
    if not exists[0]:
        return {}
    query = sql.SQL(
        "select week_start_date, count(*) from {} where source_id = %s group by 1 order by 1"
    ).format(results_table(collection.workflow_id))
    with psycopg.connect(pipeline.db_url) as conn:
        rows = conn.execute(query, (collection.collection_id,)).fetchall()
    return {day.isoformat(): count for day, count in rows}


def result_rows(pipeline: Pipeline, collection: CollectionUnderTest, week: str) -> list[Any]:
    """The published rows of one week, ordered, without bookkeeping columns."""
    query = sql.SQL(
        "select to_jsonb(r) - array['source_kind', 'source_id', 'user_id', 'window_start', "
        "'window_end', 'week_start_date'] from {} as r "
        "where source_id = %s and week_start_date = %s"
    ).format(results_table(collection.workflow_id))
    with psycopg.connect(pipeline.db_url) as conn:
        rows = conn.execute(query, (collection.collection_id, date.fromisoformat(week))).fetchall()
    return sorted((row[0] for row in rows), key=repr)


def submissions(simulator: Any) -> Counter[tuple[str, str, str]]:
    """AMC executions created per (workflow, window start, window end), from the simulator."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in simulator.counters()["submissions"]:
        key = (row["workflow_id"], row["time_window_start"], row["time_window_end"])
        counts[key] += row["count"]
    return counts


def materialized_weeks(pipeline: Pipeline, collection: CollectionUnderTest) -> set[str]:
    prefix = f"{collection.key}|"
    return {
        key[len(prefix) :]
        for key in pipeline.instance.get_materialized_partitions(WEEKLY_RESULTS)
        if key.startswith(prefix)
    }


def run_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Week (ISO start) -> outcome word of each week the run reported on (its AMC check)."""
    outcomes: dict[str, str] = {}
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.check_name != AMC_EXECUTION_CHECK:
            continue
        assert evaluation.partition is not None
        week = evaluation.partition.rsplit("|", 1)[1]
        outcomes[week] = str(evaluation.metadata["outcome"].value)
    return outcomes


def check_results(result: dg.ExecuteInProcessResult, week: str) -> dict[str, bool]:
    """Check name -> passed, for one week of a run."""
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.partition is not None and evaluation.partition.endswith(f"|{week}")
    }


def week_runner(pipeline: Pipeline, collection_id: uuid.UUID, **options: Any) -> WeekRunner:
    """A WeekRunner of one collection, outside Dagster (for options a run cannot set)."""
    with psycopg.connect(pipeline.db_url) as conn:
        collection = load_collection(conn, collection_id)
    return WeekRunner(
        settings=load_settings(), database_url=pipeline.db_url, collection=collection, **options
    )


def amc_result_metadata(pipeline: Pipeline, collection_id: uuid.UUID, amc_id: str) -> Any:
    """AMC's own metadata of an execution's result (rowCount, files), fetched as AMC serves it."""
    ((instance_id, advertiser_id),) = pipeline.query(
        "select i.instance_id, a.account_id from report_data_collections as c "
        "join amc_instances as i on i.id = c.instance_id "
        "join amc_accounts as a on a.id = i.account_id where c.id = %s",
        collection_id,
    )
    simulator = pipeline.simulator
    headers = {
        **simulator.amc_headers(),
        "Amazon-Advertising-API-AdvertiserId": advertiser_id,
    }
    urls = httpx.get(
        simulator.reporting_url(f"/workflowExecutions/{amc_id}/downloadUrls", instance_id),
        headers=headers,
        timeout=30,
    )
    urls.raise_for_status()
    (metadata_url,) = urls.json()["metadataDownloadUrls"]
    answer = httpx.get(metadata_url, timeout=30)
    answer.raise_for_status()
    return answer.json()


def table_snapshot(pipeline: Pipeline) -> dict[str, list[str]]:
    """Every row of the tables a week's run may write, to compare before and after."""
    tables = ("report_data_collections", "report_data_weeks", "workflow_executions")
    snapshot: dict[str, list[str]] = {}
    with psycopg.connect(pipeline.db_url) as conn:
        for table in (*tables, "amc_instance_slots"):
            query = sql.SQL("select to_jsonb(t)::text from {} as t").format(sql.Identifier(table))
            snapshot[table] = sorted(row[0] for row in conn.execute(query).fetchall())
    return snapshot


REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long a backfill process may take to reach a state a test waits for, or to finish.
PROCESS_TIMEOUT_SECONDS = 90.0

PROCESS_RUN = """
import logging
import sys

import dagster as dg

from recomamp_pipelines.definitions import defs
from tests.defs.helpers import JOB_NAME, range_tags

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)
dagster_dir, collection_key, first, last = sys.argv[1:5]
with dg.instance_for_test(temp_dir=dagster_dir) as instance:
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, tags=range_tags(collection_key, first, last)
    )
sys.exit(0 if result.success else 1)
"""


class BackfillProcess:
    """A backfill of every week of a collection, run by a process of its own.

    It works on the test's database and on the test's Dagster instance (its SQLite storage,
    opened by both processes), as a second Dagster run process would.
    """

    def __init__(self, pipeline: Pipeline, collection: CollectionUnderTest, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    PROCESS_RUN,
                    str(pipeline.instance.root_directory),
                    collection.key,
                    collection.weeks[0],
                    collection.weeks[-1],
                ],
                cwd=REPO_ROOT,
                env={**os.environ, **pipeline.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for(self, what: str, reached: Callable[[], bool]) -> None:
        """Poll `reached` every 50 ms until it holds; fail if the process ends or takes long."""
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while not reached():
            if self.process.poll() is not None:
                pytest.fail(
                    f"the backfill process ended ({self.process.returncode}) before {what}:\n"
                    + self.output()
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the backfill process did not reach {what} in time")
            time.sleep(0.05)

    def finished(self) -> bool:
        return self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, exactly as a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@contextmanager
def backfill_processes(
    pipeline: Pipeline, log_dir: Path
) -> Iterator[Callable[[CollectionUnderTest], BackfillProcess]]:
    """Start backfill processes; any still running at the end is killed."""
    started: list[BackfillProcess] = []

    def start(collection: CollectionUnderTest) -> BackfillProcess:
        process = BackfillProcess(pipeline, collection, log_dir / f"backfill-{len(started)}.log")
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()
