"""A backfill killed with SIGKILL, then run again: nothing lost, nothing submitted twice.

The first run is a separate process running the collection job against the test database and
the test's Dagster instance (its SQLite storage, opened by both processes); it is killed at a
chosen moment. The second run, in this process, must resume what the first left in flight.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    CollectionUnderTest,
    amc_result_metadata,
    backfill,
    executions,
    materialized_weeks,
    prepare,
    result_counts,
    run_outcomes,
    submissions,
    week_rows,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long the killed run may take to reach the moment it is killed at.
REACH_TIMEOUT_SECONDS = 90.0

CHILD_RUN = """
import sys

import dagster as dg

from recomamp_pipelines.definitions import defs
from tests.defs.helpers import JOB_NAME, range_tags

dagster_dir, collection_key, first, last = sys.argv[1:5]
with dg.instance_for_test(temp_dir=dagster_dir) as instance:
    defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, tags=range_tags(collection_key, first, last)
    )
"""


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    yield pipeline


class ChildRun:
    """The first run of the backfill, in a process of its own."""

    def __init__(self, pipeline: Pipeline, collection: CollectionUnderTest, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CHILD_RUN,
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

    def wait_for(self, what: str, reached: Callable[[], bool]) -> None:
        deadline = time.monotonic() + REACH_TIMEOUT_SECONDS
        while not reached():
            if self.process.poll() is not None:
                pytest.fail(
                    f"the first run ended ({self.process.returncode}) before {what}:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the first run did not reach {what} in {REACH_TIMEOUT_SECONDS} s")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def child_run(sim: Pipeline, tmp_path: Path) -> Iterator[Callable[[CollectionUnderTest], ChildRun]]:
    started: list[ChildRun] = []

    def start(collection: CollectionUnderTest) -> ChildRun:
        child = ChildRun(sim, collection, tmp_path / f"child-{len(started)}.log")
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            child.kill()


def in_flight(pipeline: Pipeline, collection: CollectionUnderTest) -> list[dict[str, object]]:
    return [
        e
        for e in executions(pipeline, collection.collection_id)
        if e["status"] in ("PENDING", "RUNNING")
    ]


def assert_resumed_cleanly(
    pipeline: Pipeline, collection: CollectionUnderTest, rerun_id: str, outcomes: dict[str, str]
) -> None:
    """Every week published once, from its one AMC execution, by the second run."""
    assert outcomes == {week: "resumed" for week in collection.weeks}
    submitted = submissions(pipeline.simulator)
    assert sorted(submitted.values()) == [1] * len(collection.weeks), submitted
    weeks = week_rows(pipeline, collection.collection_id)
    assert {row["status"] for row in weeks.values()} == {"SUCCESS"}
    rows = executions(pipeline, collection.collection_id)
    assert len(rows) == len(collection.weeks)
    assert {row["status"] for row in rows} == {"SUCCESS"}
    assert {row["dagster_run_id"] for row in rows} == {rerun_id}
    expected = {
        week: amc_result_metadata(pipeline, collection.collection_id, row["amc_execution_id"])[
            "rowCount"
        ]
        for week, row in weeks.items()
    }
    assert result_counts(pipeline, collection) == expected
    assert {week: row["result_rows"] for week, row in weeks.items()} == expected
    assert materialized_weeks(pipeline, collection) == set(collection.weeks)
    assert pipeline.query("select count(*) from amc_instance_slots") == [(0,)]


def test_killed_while_polling_resumes_without_resubmitting(
    sim: Pipeline, child_run: Callable[[CollectionUnderTest], ChildRun]
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    sim.simulator.set_faults(execution_seconds=4)
    child = child_run(collection)

    def polling() -> bool:
        running = in_flight(sim, collection)
        return len(running) == 2 and all(e["amc_execution_id"] for e in running)

    child.wait_for("polling both weeks", polling)
    child.kill()
    assert sorted(submissions(sim.simulator).values()) == [1, 1]
    sim.simulator.clear_faults()

    rerun = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert rerun.success
    assert_resumed_cleanly(sim, collection, rerun.run_id, run_outcomes(rerun))


def test_killed_before_recording_amc_answer_finds_the_execution(
    sim: Pipeline, child_run: Callable[[CollectionUnderTest], ChildRun]
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    # AMC creates each execution at once and answers only 60 s later.
    sim.simulator.set_faults(hold_create_response_seconds=60)
    child = child_run(collection)

    child.wait_for(
        "both executions created in AMC",
        lambda: sim.simulator.counters()["executions_created"] == 2,
    )
    child.kill()
    # The intents are there, AMC's ids are not: the answer never reached the killed run.
    lost = in_flight(sim, collection)
    assert len(lost) == 2
    assert [e["amc_execution_id"] for e in lost] == [None, None]
    sim.simulator.clear_faults()

    rerun = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert rerun.success
    assert_resumed_cleanly(sim, collection, rerun.run_id, run_outcomes(rerun))
    assert {e["id"] for e in executions(sim, collection.collection_id)} == {e["id"] for e in lost}
