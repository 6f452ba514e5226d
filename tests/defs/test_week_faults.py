"""Whole backfills through Dagster while the AMC simulator misbehaves.

Each test reads the outcome where a user would: report_data_weeks, workflow_executions, the
collection's counters, the results table, Dagster's materializations and checks, and the
simulator's own count of what was submitted to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recomamp_pipelines.defs.collections.assets import AMC_EXECUTION_CHECK
from recomamp_pipelines.simulator.faults import REJECTED_REASON
from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    SPONSORED,
    backfill,
    check_results,
    collection_row,
    executions,
    materialized_weeks,
    prepare,
    result_counts,
    result_rows,
    run_outcomes,
    submissions,
    week_rows,
)

AMC_FAILURE = (
    "Query execution failed: Unable to compile: From line 4, column 10 to line 4, column 21: "
    "Column 'impresions' not found in any table"
)


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    """The pipeline, on a simulator that remembers nothing of earlier tests."""
    pipeline.simulator.reset()
    yield pipeline


def test_amc_failure_keeps_amc_text_and_the_other_weeks(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=3)
    sim.simulator.set_faults(fail_next_executions=1, fail_status_reason=AMC_FAILURE)

    result = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert result.success
    weeks = week_rows(sim, collection.collection_id)
    failed = [week for week, row in weeks.items() if row["status"] == "FAILED"]
    assert len(failed) == 1, weeks
    (failed_week,) = failed
    succeeded = [week for week in collection.weeks if week != failed_week]
    assert weeks[failed_week]["error_message"] == AMC_FAILURE
    assert all(weeks[week]["status"] == "SUCCESS" for week in succeeded)
    (failed_execution,) = [
        e for e in executions(sim, collection.collection_id) if e["week"] == failed_week
    ]
    assert failed_execution["status"] == "FAILED"
    assert failed_execution["amc_status"] == "FAILED"
    assert failed_execution["error_type"] == "FAILED"
    assert failed_execution["error_message"] == AMC_FAILURE
    assert materialized_weeks(sim, collection) == set(succeeded)
    assert run_outcomes(result) == {
        failed_week: "failed",
        **{week: "submitted" for week in succeeded},
    }
    assert check_results(result, failed_week) == {AMC_EXECUTION_CHECK: False}
    counts = collection_row(sim, collection.collection_id)
    assert (counts["status"], counts["completed_weeks"], counts["failed_weeks"]) == (
        "ACTIVE",
        2,
        1,
    )

    # The failed week alone, again: it succeeds, and the others are left as they were.
    sim.simulator.clear_faults()
    before = {week: weeks[week] for week in succeeded}
    submitted = submissions(sim.simulator)
    again = backfill(sim, collection.key, failed_week)

    assert again.success
    after = week_rows(sim, collection.collection_id)
    assert {week: after[week] for week in succeeded} == before
    assert after[failed_week]["status"] == "SUCCESS"
    assert after[failed_week]["error_message"] is None
    assert after[failed_week]["result_rows"] > 0
    resubmitted = submissions(sim.simulator) - submitted
    assert sum(resubmitted.values()) == 1
    assert run_outcomes(again) == {failed_week: "submitted"}
    assert materialized_weeks(sim, collection) == set(collection.weeks)
    counts = collection_row(sim, collection.collection_id)
    assert (counts["status"], counts["completed_weeks"], counts["failed_weeks"]) == (
        "COMPLETED",
        3,
        0,
    )


def test_rejected_first_run_fails_the_week_as_rejected(sim: Pipeline) -> None:
    collection = prepare(sim, SPONSORED, weeks=1)
    (week,) = collection.weeks
    sim.simulator.set_faults(reject_next_executions=1)

    result = backfill(sim, collection.key, week)

    assert result.success
    row = week_rows(sim, collection.collection_id)[week]
    assert row["status"] == "FAILED"
    assert row["error_message"] == REJECTED_REASON
    assert row["data_checksum"] is None
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["amc_status"], execution["error_type"]) == (
        "FAILED",
        "REJECTED",
        "REJECTED",
    )
    assert execution["error_message"] == REJECTED_REASON
    assert materialized_weeks(sim, collection) == set()
    assert result_counts(sim, collection) == {}
    assert collection_row(sim, collection.collection_id)["failed_weeks"] == 1


def test_rejected_refresh_keeps_the_previous_result(sim: Pipeline) -> None:
    collection = prepare(sim, SPONSORED, weeks=1)
    (week,) = collection.weeks
    assert backfill(sim, collection.key, week).success
    good = week_rows(sim, collection.collection_id)[week]
    good_rows = result_rows(sim, collection, week)
    assert good["status"] == "SUCCESS" and good_rows
    sim.simulator.set_faults(reject_next_executions=1)

    refresh = backfill(sim, collection.key, week, refresh=True)

    assert refresh.success
    row = week_rows(sim, collection.collection_id)[week]
    assert row["status"] == "SUCCESS"
    assert row["data_checksum"] == good["data_checksum"]
    assert row["result_rows"] == good["result_rows"]
    assert row["workflow_execution_id"] == good["workflow_execution_id"]
    assert row["amc_execution_id"] == good["amc_execution_id"]
    assert row["error_message"] == f"refresh failed, previous result kept: {REJECTED_REASON}"
    assert result_rows(sim, collection, week) == good_rows
    first, second = executions(sim, collection.collection_id)
    assert first["status"] == "SUCCESS"
    assert (second["status"], second["error_type"]) == ("FAILED", "REJECTED")
    assert run_outcomes(refresh) == {week: "failed"}
    assert refresh.get_asset_materialization_events() == []
    counts = collection_row(sim, collection.collection_id)
    assert (counts["completed_weeks"], counts["failed_weeks"]) == (1, 0)


# Submission: POST .../workflowExecutions. Polling: GET .../workflowExecutions/{id} (and the
# download URLs after it), not the listing that precedes a submission.
SUBMIT = {"fault_path_contains": "/workflowExecutions", "fault_method": "POST"}
POLL = {"fault_path_contains": "/workflowExecutions/", "fault_method": "GET"}
TRANSIENT_FAULTS = {
    "submit-429-retry-after": (
        {**SUBMIT, "rate_limit_next": 4, "rate_limit_retry_after": 0.2},
        "429",
    ),
    "submit-503": ({**SUBMIT, "server_error_next": 4}, "503"),
    "poll-429-no-retry-after": (
        {**POLL, "rate_limit_next": 3, "rate_limit_retry_after": None},
        "429",
    ),
    "poll-500": ({**POLL, "server_error_next": 5, "server_error_status": 500}, "500"),
}


@pytest.mark.parametrize("faults, status", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS)
def test_transient_amc_errors_neither_fail_nor_duplicate(
    sim: Pipeline, faults: dict[str, object], status: str
) -> None:
    collection = prepare(sim, DSP, weeks=2)
    sim.simulator.set_faults(**faults)

    result = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert result.success
    counters = sim.simulator.counters()
    assert counters["responses"].get(status, 0) >= 3, counters["responses"]
    weeks = week_rows(sim, collection.collection_id)
    assert {row["status"] for row in weeks.values()} == {"SUCCESS"}
    assert sorted(submissions(sim.simulator).values()) == [1, 1]
    assert [e["status"] for e in executions(sim, collection.collection_id)] == ["SUCCESS"] * 2
    assert materialized_weeks(sim, collection) == set(collection.weeks)


def test_token_expiring_mid_poll_is_refreshed(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=2)
    # Slow executions, and every token revoked once the polls have begun.
    sim.simulator.set_faults(execution_seconds=1.5, expire_tokens_after_calls=8)

    result = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert result.success
    counters = sim.simulator.counters()
    assert counters["responses"].get("401", 0) >= 1
    assert counters["token_requests"] >= 2
    weeks = week_rows(sim, collection.collection_id)
    assert {row["status"] for row in weeks.values()} == {"SUCCESS"}
    assert set(submissions(sim.simulator).values()) == {1}
