"""Every way out of an attempt ends it terminal with its AMC slot free; what AMC still has is
collected by the next run without submitting again. Faults come over HTTP from the simulator;
no Dagster is involved."""

from __future__ import annotations

from pathlib import Path

from recomamp_pipelines.runs.weeks import OutcomeKind
from tests.attempt.conftest import DSP, Account, quick_retries

SUBMIT = {"fault_path_contains": "workflowExecutions", "fault_method": "POST"}
POLL = {"fault_path_contains": "workflowExecutions/", "fault_method": "GET"}


def test_submission_retries_run_out_the_attempt_ends_and_frees_its_slot(account: Account) -> None:
    collection_id, weeks = account.collection(DSP, weeks=2)
    account.simulator.set_faults(**SUBMIT, server_error_next=400)

    outcomes = account.run(collection_id, weeks, client_factory=quick_retries(account.settings))

    assert [outcome.kind for outcome in outcomes] == [OutcomeKind.FAILED] * 2
    attempts = account.attempts(collection_id)
    assert [(a["status"], a["error_type"]) for a in attempts] == [("FAILED", "AMC_UNAVAILABLE")] * 2
    assert all("503" in a["error_message"] for a in attempts)
    assert {row["status"] for row in account.weeks(collection_id).values()} == {"FAILED"}
    assert account.slots() == 0
    assert account.simulator.counters()["executions_created"] == 0

    # The storm is over: the weeks run, each submitted once.
    account.simulator.clear_faults()
    again = account.run(collection_id, weeks)

    assert [outcome.kind for outcome in again] == [OutcomeKind.SUBMITTED] * 2
    assert account.simulator.counters()["executions_created"] == 2
    assert account.slots() == 0


def test_access_refused_mid_poll_ends_the_attempt_then_a_later_run_collects_it(
    account: Account,
) -> None:
    collection_id, weeks = account.collection(DSP, weeks=1)
    account.simulator.set_faults(**POLL, unauthorized_next=1000)

    (outcome,) = account.run(collection_id, weeks)

    assert outcome.kind is OutcomeKind.FAILED
    (attempt,) = account.attempts(collection_id)
    assert (attempt["status"], attempt["error_type"]) == ("FAILED", "AMC_AUTH")
    assert attempt["amc_execution_id"] is not None
    assert account.slots() == 0
    (week,) = account.weeks(collection_id).values()
    assert (week["status"], week["amc_execution_id"]) == ("FAILED", attempt["amc_execution_id"])

    # The grant is back: AMC ran the execution meanwhile; it is collected, not run again.
    account.simulator.clear_faults()
    (again,) = account.run(collection_id, weeks)

    assert again.kind is OutcomeKind.RESUMED, again.message
    assert again.amc_execution_id == attempt["amc_execution_id"]
    assert account.simulator.counters()["executions_created"] == 1
    (reopened,) = account.attempts(collection_id)
    assert (reopened["id"], reopened["status"]) == (attempt["id"], "SUCCESS")
    (week,) = account.weeks(collection_id).values()
    assert week["status"] == "SUCCESS"
    assert account.slots() == 0


def test_download_cut_every_time_fails_then_a_later_run_downloads_without_resubmitting(
    account: Account,
) -> None:
    collection_id, weeks = account.collection(DSP, weeks=1)
    account.simulator.set_faults(truncate_next_downloads=1000)

    (outcome,) = account.run(collection_id, weeks, client_factory=quick_retries(account.settings))

    assert outcome.kind is OutcomeKind.FAILED
    assert "cut short" in outcome.message
    (attempt,) = account.attempts(collection_id)
    assert (attempt["status"], attempt["amc_status"], attempt["error_type"]) == (
        "FAILED",
        "SUCCEEDED",
        "DOWNLOAD_FAILED",
    )
    assert attempt["amc_execution_id"] is not None
    assert account.slots() == 0

    account.simulator.clear_faults()
    (again,) = account.run(collection_id, weeks)

    assert again.kind is OutcomeKind.RESUMED, again.message
    assert again.amc_execution_id == attempt["amc_execution_id"]
    assert again.published is not None and again.published.row_count > 0
    assert account.simulator.counters()["executions_created"] == 1
    (week,) = account.weeks(collection_id).values()
    assert (week["status"], week["result_rows"]) == ("SUCCESS", again.published.row_count)


def test_a_load_removes_the_temporary_files_a_killed_load_of_its_week_left(
    account: Account,
) -> None:
    collection_id, weeks = account.collection(DSP, weeks=2)
    (first,) = account.run(collection_id, weeks[:1])
    assert first.published is not None
    final = Path(first.published.parquet_path)
    left = final.with_name(f".{final.name}.0123456789abcdef.tmp")
    left.write_bytes(b"a load that was killed")
    other_week = final.with_name(".another-week.parquet.0123456789abcdef.tmp")
    other_week.write_bytes(b"another week's load, still running")

    (again,) = account.run(collection_id, weeks[:1], refresh=True)

    assert again.kind is OutcomeKind.SUBMITTED
    assert not left.exists()
    assert other_week.exists()
    assert final.exists()
