"""A backfill killed with SIGKILL, then run again: nothing lost, nothing submitted twice.

The first run is a separate process running the collection job against the test database and
the test's Dagster instance (its SQLite storage, opened by both processes); it is killed at a
chosen moment. The second run, in this process, must resume what the first left in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    BackfillProcess,
    CollectionUnderTest,
    amc_result_metadata,
    backfill,
    backfill_processes,
    executions,
    materialized_weeks,
    prepare,
    result_counts,
    run_outcomes,
    submissions,
    week_rows,
)


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    yield pipeline


@pytest.fixture
def start_backfill(
    sim: Pipeline, tmp_path: Path
) -> Iterator[Callable[[CollectionUnderTest], BackfillProcess]]:
    with backfill_processes(sim, tmp_path) as start:
        yield start


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
    sim: Pipeline, start_backfill: Callable[[CollectionUnderTest], BackfillProcess]
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    sim.simulator.set_faults(execution_seconds=4)
    first_run = start_backfill(collection)

    def polling() -> bool:
        running = in_flight(sim, collection)
        return len(running) == 2 and all(e["amc_execution_id"] for e in running)

    first_run.wait_for("polling both weeks", polling)
    first_run.kill()
    assert sorted(submissions(sim.simulator).values()) == [1, 1]
    sim.simulator.clear_faults()

    rerun = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert rerun.success
    assert_resumed_cleanly(sim, collection, rerun.run_id, run_outcomes(rerun))


def test_killed_before_recording_amc_answer_finds_the_execution(
    sim: Pipeline, start_backfill: Callable[[CollectionUnderTest], BackfillProcess]
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    # AMC creates each execution at once and answers only 60 s later.
    sim.simulator.set_faults(hold_create_response_seconds=60)
    first_run = start_backfill(collection)

    first_run.wait_for(
        "both executions created in AMC",
        lambda: sim.simulator.counters()["executions_created"] == 2,
    )
    first_run.kill()
    # The intents are there, AMC's ids are not: the answer never reached the killed run.
    lost = in_flight(sim, collection)
    assert len(lost) == 2
    assert [e["amc_execution_id"] for e in lost] == [None, None]
    sim.simulator.clear_faults()

    rerun = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert rerun.success
    assert_resumed_cleanly(sim, collection, rerun.run_id, run_outcomes(rerun))
    assert {e["id"] for e in executions(sim, collection.collection_id)} == {e["id"] for e in lost}


def test_execution_gone_from_amc_is_given_up_then_submitted_afresh(
    sim: Pipeline, start_backfill: Callable[[CollectionUnderTest], BackfillProcess]
) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week,) = collection.weeks
    sim.simulator.set_faults(execution_seconds=30)
    first_run = start_backfill(collection)
    first_run.wait_for(
        "polling",
        lambda: any(e["amc_execution_id"] for e in in_flight(sim, collection)),
    )
    first_run.kill()
    # AMC forgets it, as it does a day after creation.
    sim.simulator.reset()

    resumed = backfill(sim, collection.key, week)

    assert run_outcomes(resumed) == {week: "failed"}
    (gone,) = executions(sim, collection.collection_id)
    assert (gone["status"], gone["error_type"]) == ("FAILED", "AMC_NOT_FOUND")
    assert f"has no execution {gone['amc_execution_id']!r}" in gone["error_message"]
    row = week_rows(sim, collection.collection_id)[week]
    assert (row["status"], row["error_message"]) == ("FAILED", gone["error_message"])
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]

    again = backfill(sim, collection.key, week)

    assert run_outcomes(again) == {week: "submitted"}
    assert week_rows(sim, collection.collection_id)[week]["status"] == "SUCCESS"
    assert sorted(submissions(sim.simulator).values()) == [1]
