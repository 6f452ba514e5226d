"""Whole backfills through Dagster while the AMC simulator misbehaves.

Each test reads the outcome where a user would: report_data_weeks, workflow_executions, the
collection's counters, the results table, Dagster's materializations and checks, and the
simulator's own count of what was submitted to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from recomamp_pipelines.amc.client import PollPolicy
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.defs.collections.assets import AMC_EXECUTION_CHECK, NOT_COVERED
from recomamp_pipelines.defs.collections.launch import run_backfill
from recomamp_pipelines.quality.loaded_week import FUNNEL_CONSISTENT, WEEK_NOT_EMPTY
from recomamp_pipelines.runs.weeks import OutcomeKind
from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.simulator.faults import REJECTED_REASON
from recomamp_pipelines.weeks.calendar import week_from_partition_key, week_start
from tests.defs.conftest import Pipeline
from tests.defs.helpers import (
    DSP,
    SPONSORED,
    CollectionUnderTest,
    amc_result_metadata,
    backfill,
    check_results,
    collection_row,
    execute,
    executions,
    materialized_weeks,
    prepare,
    register,
    result_counts,
    result_rows,
    run_outcomes,
    submissions,
    table_snapshot,
    week_rows,
    week_runner,
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
    # Each week went to AMC as its own local window, without a `Z` (original bugs 3 and 7):
    # once, and the failed week once more.
    windows = {(start, end): count for (_, start, end), count in submissions(sim.simulator).items()}
    assert windows == {
        (f"{week}T00:00:00", f"{date.fromisoformat(week) + timedelta(days=7)}T00:00:00"): (
            2 if week == failed_week else 1
        )
        for week in collection.weeks
    }
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
    sim.simulator.set_faults(execution_seconds=3)
    results: list[dg.ExecuteInProcessResult] = []
    run = threading.Thread(
        target=lambda: results.append(
            backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])
        ),
        daemon=True,
    )
    run.start()
    deadline = time.monotonic() + 60
    while sim.query(
        "select count(*) from workflow_executions where status in ('PENDING', 'RUNNING') "
        "and amc_execution_id is not null"
    ) != [(2,)]:
        assert run.is_alive() and time.monotonic() < deadline, "the weeks never got to polling"
        time.sleep(0.05)
    tokens_before = sim.simulator.counters()["token_requests"]
    # Both weeks are polling: every access token issued so far stops working now.
    sim.simulator.set_faults(invalidate_tokens=True)
    run.join(timeout=60)

    (result,) = results
    assert result.success
    counters = sim.simulator.counters()
    assert counters["responses"].get("401", 0) >= 1
    assert counters["token_requests"] > tokens_before
    weeks = week_rows(sim, collection.collection_id)
    assert {row["status"] for row in weeks.values()} == {"SUCCESS"}
    assert sorted(submissions(sim.simulator).values()) == [1, 1]


def test_stuck_pending_times_out_and_cancels_in_amc(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week_key,) = collection.weeks
    sim.simulator.set_faults(stuck_pending_next_executions=1)
    runner = week_runner(
        sim,
        collection.collection_id,
        poll_policy=PollPolicy(initial_interval=0.2, max_interval=0.4, max_wait=2.0),
    )
    try:
        (outcome,) = runner.run_weeks([week_from_partition_key(week_key)])
    finally:
        runner.close()

    assert outcome.kind is OutcomeKind.FAILED
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["amc_status"], execution["error_type"]) == (
        "TIMEOUT",
        "CANCELLED",
        "TIMEOUT",
    )
    reason = execution["error_message"]
    assert reason.startswith("no final status from AMC by ")
    assert reason.endswith("(last AMC status PENDING); cancelled")
    assert sim.simulator.counters()["executions_by_status"] == {"CANCELLED": 1}
    row = week_rows(sim, collection.collection_id)[week_key]
    assert (row["status"], row["error_message"]) == ("FAILED", reason)
    assert outcome.message == reason
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]


def test_download_cut_short_is_fetched_again_in_full(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week,) = collection.weeks
    # Several result files, the first two downloads cut in the middle.
    sim.simulator.set_faults(result_file_max_rows=4, truncate_next_downloads=2)

    result = backfill(sim, collection.key, week)

    assert result.success
    row = week_rows(sim, collection.collection_id)[week]
    assert row["status"] == "SUCCESS"
    metadata = amc_result_metadata(sim, collection.collection_id, row["amc_execution_id"])
    assert len(metadata["files"]) >= 2
    assert row["result_rows"] == metadata["rowCount"] > 4
    assert result_counts(sim, collection) == {week: metadata["rowCount"]}
    # Each file once, the two cut ones twice, and the metadata just read.
    assert sim.simulator.counters()["downloads"] == len(metadata["files"]) + 2 + 1


def test_header_only_result_is_published_empty_with_a_warning(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week,) = collection.weeks
    sim.simulator.set_faults(header_only_next_executions=1)

    result = backfill(sim, collection.key, week)

    assert result.success
    row = week_rows(sim, collection.collection_id)[week]
    assert (row["status"], row["result_rows"], row["error_message"]) == ("SUCCESS", 0, None)
    assert row["data_checksum"] is not None
    assert result_counts(sim, collection) == {}
    assert materialized_weeks(sim, collection) == {week}
    checks = check_results(result, week)
    assert checks[WEEK_NOT_EMPTY.name] is False
    assert WEEK_NOT_EMPTY.severity == "WARN"
    assert {name for name, passed in checks.items() if not passed} == {WEEK_NOT_EMPTY.name}


def swap_clicks_and_impressions(pipeline: Pipeline, collection: CollectionUnderTest) -> None:
    """Make the workflow report more clicks than impressions: a broken funnel."""
    (changed,) = pipeline.query(
        "update workflows set sql_query = replace(replace(replace(sql_query, "
        "'sum(impressions) as impressions', 'sum(impressions) as swapped'), "
        "'sum(clicks) as clicks', 'sum(impressions) as clicks'), "
        "'sum(impressions) as swapped', 'sum(clicks) as impressions') "
        "where id = %s returning sql_query",
        collection.workflow_id,
    )
    assert "sum(clicks) as impressions" in changed[0]
    assert "sum(impressions) as clicks" in changed[0]


def test_severe_check_failure_blocks_publishing_and_keeps_good_data(sim: Pipeline) -> None:
    collection = prepare(sim, SPONSORED, weeks=2)
    published, fresh = collection.weeks
    assert backfill(sim, collection.key, published).success
    good = week_rows(sim, collection.collection_id)[published]
    good_rows = result_rows(sim, collection, published)
    swap_clicks_and_impressions(sim, collection)

    result = backfill(sim, collection.key, published, fresh)

    assert result.success
    weeks = week_rows(sim, collection.collection_id)
    assert weeks[fresh]["status"] == "FAILED"
    assert weeks[fresh]["error_message"].startswith(
        f"quality check failed: {FUNNEL_CONSISTENT.name} ("
    )
    assert weeks[fresh]["data_checksum"] is None
    kept = weeks[published]
    assert kept["status"] == "SUCCESS"
    assert kept["data_checksum"] == good["data_checksum"]
    assert kept["error_message"].startswith(
        f"refresh failed, previous result kept: quality check failed: {FUNNEL_CONSISTENT.name} ("
    )
    assert result_rows(sim, collection, published) == good_rows
    assert set(result_counts(sim, collection)) == {published}
    for week in (published, fresh):
        assert check_results(result, week)[FUNNEL_CONSISTENT.name] is False
    assert result.get_asset_materialization_events() == []
    assert materialized_weeks(sim, collection) == {published}
    # The swapped query ran once per week in AMC; nothing was submitted twice.
    assert sorted(submissions(sim.simulator).values()) == [1, 1, 1]


def refused(sim: Pipeline, collection: CollectionUnderTest, week: str) -> str:
    """Backfill a week that must be refused; returns the refusal Dagster logged."""
    sim.simulator.reset()
    before = table_snapshot(sim)

    result = backfill(sim, collection.key, week)

    assert result.success
    assert table_snapshot(sim) == before
    counters = sim.simulator.counters()
    assert (counters["requests"], counters["token_requests"]) == ({}, 0)
    assert run_outcomes(result) == {}
    assert result.get_asset_materialization_events() == []
    messages = [
        entry.user_message
        for entry in sim.instance.all_logs(result.run_id)
        if f"week {week}: refused: " in entry.user_message
    ]
    assert len(messages) == 1, messages
    return messages[0].split(": refused: ", 1)[1]


def test_week_outside_the_collection_is_done_with_nothing_in_it(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    after = (date.fromisoformat(collection.weeks[-1]) + timedelta(days=7)).isoformat()
    sim.simulator.reset()
    before = table_snapshot(sim)

    result = backfill(sim, collection.key, after)

    assert result.success
    assert table_snapshot(sim) == before
    counters = sim.simulator.counters()
    assert (counters["requests"], counters["token_requests"]) == ({}, 0)
    (event,) = result.get_asset_materialization_events()
    materialization = event.step_materialization_data.materialization
    reason = materialization.metadata[NOT_COVERED].value
    assert isinstance(reason, str)
    assert reason.startswith(f"week {after} is outside collection '{DSP}' (")
    assert materialization.description == (
        f"Not run: {reason}; nothing was fetched from AMC or written"
    )


def test_week_of_a_paused_collection_is_refused(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    execute(
        sim,
        "update report_data_collections set status = 'PAUSED' where id = %s",
        collection.collection_id,
    )

    message = refused(sim, collection, collection.weeks[0])

    assert message == f"collection '{DSP}' is PAUSED; resume it to run its weeks"


def test_week_beyond_amc_history_is_refused(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    execute(
        sim,
        "update report_data_collections set start_date = '2024-03-04', end_date = '2024-03-10' "
        "where id = %s",
        collection.collection_id,
    )
    register(sim)
    sim.simulator.reset()

    # The week is older than the grid: the command refuses it without a run or an AMC call.
    report = run_backfill(load_settings(), collection.key, instance=sim.instance)

    assert report.run_id is None
    (week,) = report.weeks
    assert (week.week_start_date, week.outcome) == (date(2024, 3, 4), "refused")
    assert week.message.startswith("week 2024-03-04 starts before AMC's 13-month history")
    assert sim.simulator.counters()["requests"] == {}


def test_week_within_amc_data_lag_is_refused(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    this_week = week_start(datetime.now(UTC).date()).isoformat()
    execute(
        sim,
        "update report_data_collections set end_date = current_date + 7 where id = %s",
        collection.collection_id,
    )
    register(sim)

    message = refused(sim, collection, this_week)

    assert message.startswith(f"week {this_week} ends ")
    assert "AMC data for it is complete from" in message


def test_request_amc_refuses_ends_the_attempt_and_frees_its_slot(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week,) = collection.weeks
    execute(
        sim,
        "update workflows set sql_query = replace(sql_query, 'from dsp_impressions', "
        "'from dsp_impressionz') where id = %s",
        collection.workflow_id,
    )

    result = backfill(sim, collection.key, week)

    assert result.success
    row = week_rows(sim, collection.collection_id)[week]
    assert row["status"] == "FAILED"
    assert "(HTTP 400)" in row["error_message"]
    assert "dsp_impressionz" in row["error_message"]
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["amc_execution_id"]) == ("FAILED", None)
    assert execution["error_message"] == row["error_message"]
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]
    assert sim.simulator.counters()["executions_created"] == 0

    # Nothing changed: the next run asks AMC afresh, and is refused the same way.
    again = backfill(sim, collection.key, week)

    assert run_outcomes(again) == {week: "failed"}
    assert [e["status"] for e in executions(sim, collection.collection_id)] == ["FAILED"] * 2
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]


def test_owner_without_a_working_amc_grant_leaves_no_attempt_open(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=2)
    revoked = TokenCipher.from_settings(load_settings()).encrypt("Atzr|revoked-by-the-user")
    execute(
        sim,
        "update users set encrypted_refresh_token = %s where id = "
        "(select user_id from report_data_collections where id = %s)",
        revoked,
        collection.collection_id,
    )

    result = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert run_outcomes(result) == {week: "failed" for week in collection.weeks}
    for row in week_rows(sim, collection.collection_id).values():
        assert row["status"] == "FAILED"
        assert "invalid_grant" in row["error_message"]
    rows = executions(sim, collection.collection_id)
    assert [(e["status"], e["error_type"]) for e in rows] == [("FAILED", "AMC_AUTH")] * 2
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]
    assert sim.simulator.counters()["executions_created"] == 0

    # No stored token at all: the weeks fail before any attempt is written.
    execute(sim, "update users set encrypted_refresh_token = null")
    again = backfill(sim, collection.key, collection.weeks[0], collection.weeks[-1])

    assert run_outcomes(again) == {week: "failed" for week in collection.weeks}
    for row in week_rows(sim, collection.collection_id).values():
        assert "has no stored Amazon refresh token" in row["error_message"]
    assert len(executions(sim, collection.collection_id)) == 2


def test_access_amc_refuses_even_with_a_fresh_token_fails_the_week_as_auth(
    sim: Pipeline,
) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week,) = collection.weeks
    # The user's access to the instance is gone: every call is refused, fresh token or not.
    sim.simulator.set_faults(unauthorized_next=1000)

    result = backfill(sim, collection.key, week)

    assert run_outcomes(result) == {week: "failed"}
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["error_type"]) == ("FAILED", "AMC_AUTH")
    assert "revoked" in execution["error_message"]
    assert week_rows(sim, collection.collection_id)[week]["status"] == "FAILED"
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]
    assert sim.simulator.counters()["executions_created"] == 0


def test_cancelling_the_run_cancels_the_amc_execution_and_records_the_week(sim: Pipeline) -> None:
    collection = prepare(sim, DSP, weeks=1)
    (week_key,) = collection.weeks
    # An execution that would stay PENDING for the whole test: only a cancel ends it.
    sim.simulator.set_faults(stuck_pending_next_executions=1)
    runner = week_runner(
        sim,
        collection.collection_id,
        poll_policy=PollPolicy(initial_interval=0.2, max_interval=0.4),
    )
    outcomes: list[object] = []
    worker = threading.Thread(
        target=lambda: outcomes.extend(runner.run_weeks([week_from_partition_key(week_key)])),
        daemon=True,
    )
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while not sim.query(
            "select 1 from workflow_executions where collection_id = %s "
            "and amc_execution_id is not null",
            collection.collection_id,
        ):
            assert time.monotonic() < deadline, "the week was never submitted"
            time.sleep(0.1)
        # What the Dagster run's interrupt does when the run is cancelled.
        runner.cancel_event.set()
        worker.join(timeout=60)
        assert not worker.is_alive()
    finally:
        runner.close()

    (outcome,) = outcomes
    assert outcome.kind is OutcomeKind.FAILED  # type: ignore[attr-defined]
    (execution,) = executions(sim, collection.collection_id)
    assert (execution["status"], execution["error_type"]) == ("CANCELLED", "CANCELLED")
    assert sim.simulator.counters()["executions_by_status"] == {"CANCELLED": 1}
    row = week_rows(sim, collection.collection_id)[week_key]
    assert (row["status"], row["error_message"]) == (
        "FAILED",
        "the run was cancelled; its AMC execution was cancelled",
    )
    assert sim.query("select count(*) from amc_instance_slots") == [(0,)]
