"""Runs killed with SIGKILL: nothing they left keeps a slot or a week, and nothing is taken for
an execution it is not.

The killed run is a process of its own running weeks without Dagster; what it leaves behind
is then met by a run in this process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from recomamp_pipelines.attempt import executions
from recomamp_pipelines.attempt.executions import AttemptKey, AttemptOwner
from recomamp_pipelines.runs.weeks import OutcomeKind
from recomamp_pipelines.weeks.calendar import Week
from tests.attempt.conftest import DSP, Account, WeeksProcess


def live_attempts(account: Account, collection_id: uuid.UUID) -> list[dict[str, object]]:
    return [a for a in account.attempts(collection_id) if a["status"] in ("PENDING", "RUNNING")]


def test_a_rerun_without_refresh_closes_what_a_killed_refresh_left(
    account: Account, start_weeks: Callable[..., WeeksProcess]
) -> None:
    collection_id, weeks = account.collection(DSP, weeks=3)
    assert [o.kind for o in account.run(collection_id, weeks)] == [OutcomeKind.SUBMITTED] * 3
    account.simulator.set_faults(execution_seconds=30)
    refresh = start_weeks(collection_id, weeks, refresh=True)
    refresh.wait_for(
        "polling every week",
        lambda: (
            sum(bool(a["amc_execution_id"]) for a in live_attempts(account, collection_id)) == 3
        ),
    )
    refresh.kill()
    assert account.slots() == 3
    account.simulator.clear_faults()

    outcomes = account.run(collection_id, weeks)

    assert [o.kind for o in outcomes] == [OutcomeKind.REUSED] * 3
    assert all("closed" in o.message for o in outcomes)
    assert live_attempts(account, collection_id) == []
    closed = [a for a in account.attempts(collection_id) if a["status"] == "CANCELLED"]
    assert [a["error_type"] for a in closed] == ["SUPERSEDED"] * 3
    assert account.slots() == 0
    # The killed refresh's AMC executions are cancelled, not left running in AMC.
    assert account.simulator.counters()["executions_by_status"].get("CANCELLED") == 3
    assert {row["status"] for row in account.weeks(collection_id).values()} == {"SUCCESS"}


@pytest.mark.slow
def test_a_slot_whose_holder_was_killed_is_reclaimed_by_the_next_waiter(
    account: Account, start_weeks: Callable[..., WeeksProcess]
) -> None:
    collection_id, (held, waiting) = account.collection(DSP, weeks=2)
    # The collection's instance has a single slot.
    account.execute(
        "update amc_instances set max_concurrent_executions = 1 where id = "
        "(select instance_id from report_data_collections where id = %s)",
        collection_id,
    )
    account.simulator.set_faults(execution_seconds=30)
    holder = start_weeks(collection_id, [held])
    holder.wait_for(
        "polling",
        lambda: any(a["amc_execution_id"] for a in live_attempts(account, collection_id)),
    )
    holder.kill()
    assert account.slots() == 1
    account.simulator.clear_faults()

    runner = account.runner(collection_id)
    runner.attempts.holder_silence = timedelta(0)
    try:
        (outcome,) = list(runner.run_weeks([waiting]))
    finally:
        runner.close()

    assert outcome.kind is OutcomeKind.SUBMITTED, outcome.message
    gone, _ = account.attempts(collection_id)
    assert (gone["status"], gone["error_type"]) == ("FAILED", "ABANDONED")
    assert "its AMC slot was reclaimed" in gone["error_message"]
    assert account.slots() == 0
    # Its week does not stay RUNNING with nobody working on it: it says what happened and how
    # it ends.
    week = account.weeks(collection_id)[held.start_date.isoformat()]
    assert week["status"] == "FAILED"
    assert "its AMC slot was reclaimed" in week["error_message"]
    assert (
        f"the next run of this week collects AMC execution {gone['amc_execution_id']}"
        in week["error_message"]
    )

    # The killed week's execution is still AMC's: its next run collects it.
    (resumed,) = account.run(collection_id, [held])

    assert resumed.kind is OutcomeKind.RESUMED, resumed.message
    assert resumed.amc_execution_id == gone["amc_execution_id"]
    assert account.simulator.counters()["executions_created"] == 2
    assert account.slots() == 0
    assert account.weeks(collection_id)[held.start_date.isoformat()]["status"] == "SUCCESS"


def test_a_killed_refresh_is_never_resumed_onto_an_older_execution(
    account: Account, start_weeks: Callable[..., WeeksProcess]
) -> None:
    collection_id, weeks = account.collection(DSP, weeks=1)
    (published,) = account.run(collection_id, weeks)
    older = published.amc_execution_id
    assert older is not None
    # AMC creates the refresh's execution at once and answers only 60 s later.
    account.simulator.set_faults(hold_create_response_seconds=60)
    refresh = start_weeks(collection_id, weeks, refresh=True)
    refresh.wait_for(
        "the refresh's execution created in AMC",
        lambda: account.simulator.counters()["executions_created"] == 2,
    )
    refresh.kill()
    (lost,) = live_attempts(account, collection_id)
    assert lost["amc_execution_id"] is None
    account.simulator.clear_faults()

    (resumed,) = account.run(collection_id, weeks, refresh=True)

    assert resumed.kind is OutcomeKind.RESUMED, resumed.message
    assert resumed.amc_execution_id not in (None, older)
    assert account.simulator.counters()["executions_created"] == 2
    ids = [a["amc_execution_id"] for a in account.attempts(collection_id)]
    assert len(ids) == len(set(ids)) == 2


def test_an_intent_older_executions_predate_is_submitted_afresh(account: Account) -> None:
    collection_id, weeks = account.collection(DSP, weeks=1)
    (published,) = account.run(collection_id, weeks)
    runner = account.runner(collection_id, refresh=True)
    target = runner.target(weeks[0])
    # What a run killed between its intent and its submission leaves: an intent, no AMC id.
    with psycopg.connect(account.db_url, autocommit=True) as conn:
        request = target.request(conn, runner.now())
        c = runner.collection
        intent = executions.insert_intent(
            conn,
            AttemptKey(collection_id=collection_id, week_start_date=weeks[0].start_date),
            AttemptOwner(c.workflow_id, c.user_id, c.instance_row_id),
            request,
            None,
        )
    try:
        (outcome,) = list(runner.run_weeks([Week(weeks[0].start_date)]))
    finally:
        runner.close()

    assert outcome.kind is OutcomeKind.RESUMED, outcome.message
    assert outcome.execution_id == intent.id
    assert outcome.amc_execution_id not in (None, published.amc_execution_id)
    assert account.simulator.counters()["executions_created"] == 2
