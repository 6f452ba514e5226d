"""The AMC gate: two backfill processes on one AMC instance never exceed its slot count.

amc_instances.max_concurrent_executions is enforced in PostgreSQL (claim_amc_instance_slot),
so it holds across processes. The test watches AMC itself (the simulator's list of executions)
and the database every 50 ms while two collections of the same instance are backfilled at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    PROCESS_TIMEOUT_SECONDS,
    backfill_processes,
    execute,
    executions,
    prepare,
    result_counts,
    submissions,
    week_rows,
)

SLOTS = 2
SECOND = "DSP weekly, second collection"
ACTIVE = ("PENDING", "RUNNING")


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    yield pipeline


@dataclass
class Observed:
    """The most seen at once over the samples."""

    in_amc: int = 0
    recorded_in_amc: int = 0
    waiting_for_slot: int = 0
    slots_held: int = 0
    samples: int = 0
    amc_statuses: set[str] = field(default_factory=set)


def sample(amc: httpx.Client, db: psycopg.Connection, seen: Observed) -> None:
    answer = amc.get("/workflowExecutions", params={"limit": 1000})
    answer.raise_for_status()
    statuses = [e["status"] for e in answer.json()["executions"]]
    seen.amc_statuses.update(statuses)
    seen.in_amc = max(seen.in_amc, sum(status in ACTIVE for status in statuses))
    # Ours: executions AMC last told us were unfinished, and intents not yet submitted.
    row = db.execute(
        "select count(*) filter (where amc_status in ('PENDING', 'RUNNING', 'PUBLISHING')), "
        "count(*) filter (where amc_execution_id is null), "
        "(select count(*) from amc_instance_slots) "
        "from workflow_executions where status in ('PENDING', 'RUNNING')"
    ).fetchone()
    assert row is not None
    recorded, waiting, slots = row
    seen.recorded_in_amc = max(seen.recorded_in_amc, recorded)
    seen.waiting_for_slot = max(seen.waiting_for_slot, waiting)
    seen.slots_held = max(seen.slots_held, slots)
    seen.samples += 1


@pytest.mark.slow
def test_two_backfills_share_the_instance_slots(sim: Pipeline, tmp_path: Path) -> None:
    dsp = sim.collection(DSP)
    # A second collection of the same owner on the same AMC instance, over the same weeks, of a
    # copy of the DSP workflow that differs in one literal (another AMC workflow, as cheap).
    execute(
        sim,
        "with copied as ("
        " insert into workflows (name, sql_query, user_id, instance_id, template_id, parameters)"
        " select name || ' (copy)', replace(sql_query, 'all devices', 'any device'), user_id,"
        " instance_id, template_id, parameters from workflows"
        " where id = (select workflow_id from report_data_collections where id = %s)"
        " returning id)"
        " insert into report_data_collections"
        " (name, workflow_id, instance_id, user_id, start_date, end_date)"
        " select %s, copied.id, c.instance_id, c.user_id, c.start_date, c.end_date"
        " from copied, report_data_collections as c where c.id = %s",
        dsp.collection_id,
        SECOND,
        dsp.collection_id,
    )
    collections = [prepare(sim, DSP, weeks=2), prepare(sim, SECOND, weeks=2)]
    ((instance_id,),) = sim.query(
        "update amc_instances set max_concurrent_executions = %s "
        "where id = (select instance_id from report_data_collections where id = %s) "
        "returning instance_id",
        SLOTS,
        dsp.collection_id,
    )
    sim.simulator.set_faults(execution_seconds=1)
    seen = Observed()

    with (
        httpx.Client(
            base_url=sim.simulator.reporting_url("", instance_id),
            headers=sim.simulator.amc_headers(),
            timeout=30,
        ) as amc,
        psycopg.connect(sim.db_url, autocommit=True) as db,
        backfill_processes(sim, tmp_path) as start,
    ):
        runs = [start(collection) for collection in collections]
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while not all(run.finished() for run in runs):
            assert time.monotonic() < deadline, "the backfills did not finish in time"
            sample(amc, db, seen)
            time.sleep(0.05)
        for run in runs:
            assert run.process.returncode == 0, run.output()

    assert seen.in_amc == SLOTS, seen
    assert seen.recorded_in_amc <= SLOTS, seen
    assert seen.slots_held == SLOTS, seen
    assert seen.waiting_for_slot >= 1, seen
    for collection in collections:
        weeks = week_rows(sim, collection.collection_id)
        assert {row["status"] for row in weeks.values()} == {"SUCCESS"}, weeks
    submitted = submissions(sim.simulator)
    assert sorted(submitted.values()) == [1] * 4, submitted


@pytest.mark.slow
def test_a_second_backfill_of_the_same_weeks_leaves_them_to_the_first(
    sim: Pipeline, tmp_path: Path
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    # One slot: while one week runs in AMC, the other waits with an intent and no AMC id yet.
    execute(
        sim,
        "update amc_instances set max_concurrent_executions = 1 "
        "where id = (select instance_id from report_data_collections where id = %s)",
        collection.collection_id,
    )
    sim.simulator.set_faults(execution_seconds=2)

    with backfill_processes(sim, tmp_path) as start:
        first = start(collection)
        first.wait_for(
            "one week in AMC and one waiting for the slot",
            lambda: (
                sim.query(
                    "select count(amc_execution_id), count(*) from workflow_executions "
                    "where status in ('PENDING', 'RUNNING')"
                )
                == [(1, 2)]
            ),
        )
        second = start(collection)
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while not (first.finished() and second.finished()):
            assert time.monotonic() < deadline, "the backfills did not finish in time"
            time.sleep(0.1)
        assert [first.process.returncode, second.process.returncode] == [0, 0], [
            first.output(),
            second.output(),
        ]
        second_output = second.log.read_text(errors="replace")

    submitted = submissions(sim.simulator)
    assert sorted(submitted.values()) == [1, 1], submitted
    weeks = week_rows(sim, collection.collection_id)
    assert [(row["status"], row["error_message"]) for row in weeks.values()] == [
        ("SUCCESS", None)
    ] * 2
    assert result_counts(sim, collection) == {
        week: row["result_rows"] for week, row in weeks.items()
    }
    rows = executions(sim, collection.collection_id)
    assert len(rows) == 2
    (first_run_id,) = {row["dagster_run_id"] for row in rows}
    # Each week the second backfill reached was either still the first's (left to it) or
    # already published by it (reused): never run twice.
    for week in collection.weeks:
        left = (
            f"week {week}: refused: week {week} of collection '{DSP}' is being run by another "
            f"run (Dagster run {first_run_id}); left to it"
        )
        reused = f"week {week}: reused: already published with the same query and window"
        assert left in second_output or reused in second_output, second_output[-4000:]
