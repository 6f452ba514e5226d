"""The one status mapping, time windows, and the parsing of AMC's execution object."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from recomamp_pipelines.amc import (
    AmcExecution,
    AmcStatus,
    AmcTimeWindowError,
    AmcUnknownStatus,
    DownloadUrls,
    ProjectStatus,
    TimeWindow,
    outcome_of,
    timeout_outcome,
)


@pytest.mark.parametrize(
    ("amc", "project", "error_type", "terminal"),
    [
        ("PENDING", ProjectStatus.PENDING, None, False),
        ("RUNNING", ProjectStatus.RUNNING, None, False),
        ("PUBLISHING", ProjectStatus.RUNNING, None, False),
        ("SUCCEEDED", ProjectStatus.SUCCESS, None, True),
        ("FAILED", ProjectStatus.FAILED, "FAILED", True),
        ("REJECTED", ProjectStatus.FAILED, "REJECTED", True),
        ("CANCELLED", ProjectStatus.CANCELLED, None, True),
    ],
)
def test_every_amc_status_maps_to_the_project_vocabulary(
    amc: str, project: ProjectStatus, error_type: str | None, terminal: bool
) -> None:
    outcome = outcome_of(amc)
    assert (outcome.status, outcome.error_type, outcome.is_terminal) == (
        project,
        error_type,
        terminal,
    )


def test_every_amc_status_has_a_mapping() -> None:
    assert {outcome_of(s).status for s in AmcStatus} <= set(ProjectStatus)


def test_our_own_deadline_maps_to_timeout() -> None:
    outcome = timeout_outcome()
    assert outcome.status is ProjectStatus.TIMEOUT
    assert outcome.error_type == "TIMEOUT"
    assert outcome.is_terminal


def test_an_unknown_status_is_a_clear_error() -> None:
    with pytest.raises(AmcUnknownStatus, match=r"'QUEUED' for execution 'e-1'.*known: PENDING"):
        AmcExecution.from_api({"workflowExecutionId": "e-1", "status": "QUEUED"})


FLAT_EXECUTION = {
    "workflowExecutionId": "0f3c6a2e-1111-4a4a-9c9c-123456789abc",
    "workflowId": "transient_0f3c",
    "status": "SUCCEEDED",
    "statusReason": None,
    "createTime": "2024-03-01T10:00:00Z",
    "lastUpdatedTime": "2024-03-01T10:05:00Z",
    "expireTime": "2024-03-02T10:00:00Z",
    "waitUntil": None,
    "timeWindowStart": "2024-01-20T00:00:00",
    "timeWindowEnd": "2024-01-27T00:00:00",
    "timeWindowStartOriginal": "2024-01-20T00:00:00",
    "timeWindowEndOriginal": "2024-01-27T00:00:00",
    "timeWindowTimeZoneOriginal": "America/New_York",
    "parameterValues": {"campaigns": ["a", "b"]},
    "dataGaps": [{"dataSource": "dsp_impressions"}],
    "executionCategory": "AD_HOC",
    "workflowExecutionTimeoutSeconds": "21600",
    "ignoreDataGaps": "True",
    "disableAggregationControls": False,
    "executionTime": 42,
    "validatedTime": "2024-03-01T10:00:05Z",
    "outputColumns": [{"name": "users", "dataType": "LONG", "columnType": "METRIC"}],
}


def test_the_flat_execution_object_is_read_whole() -> None:
    execution = AmcExecution.from_api(FLAT_EXECUTION)
    assert execution.workflow_execution_id == FLAT_EXECUTION["workflowExecutionId"]
    assert execution.amc_status is AmcStatus.SUCCEEDED
    assert execution.status is ProjectStatus.SUCCESS
    assert execution.create_time == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert execution.expire_time == datetime(2024, 3, 2, 10, tzinfo=UTC)
    # Windows are local and naive, exactly as AMC states them.
    assert execution.time_window_start == datetime(2024, 1, 20)
    assert execution.time_window_end_original == datetime(2024, 1, 27)
    assert execution.time_window_time_zone_original == "America/New_York"
    assert execution.parameter_values == {"campaigns": ["a", "b"]}
    assert execution.data_gaps == [{"dataSource": "dsp_impressions"}]
    assert execution.execution_category == "AD_HOC"
    assert execution.workflow_execution_timeout_seconds == 21600
    assert execution.ignore_data_gaps is True
    assert execution.disable_aggregation_controls is False
    assert execution.execution_time == 42.0
    assert execution.validated_time == datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)
    assert [(c.name, c.data_type, c.column_type) for c in execution.output_columns] == [
        ("users", "LONG", "METRIC")
    ]
    assert execution.is_terminal


def test_a_timed_out_execution_keeps_amc_status_and_says_why() -> None:
    running = AmcExecution.from_api({**FLAT_EXECUTION, "status": "PENDING"})
    timed_out = running.timed_out("no final status by 2024-03-01T11:00:00+00:00")
    assert timed_out.status is ProjectStatus.TIMEOUT
    assert timed_out.error_type == "TIMEOUT"
    assert timed_out.amc_status is AmcStatus.PENDING
    assert timed_out.is_terminal
    assert timed_out.error_message == "no final status by 2024-03-01T11:00:00+00:00"


def test_a_rejected_execution_carries_amc_reason() -> None:
    reason = "Too many workflows have already been run against the same input data sources"
    execution = AmcExecution.from_api(
        {**FLAT_EXECUTION, "status": "REJECTED", "statusReason": reason}
    )
    assert (execution.status, execution.error_type) == (ProjectStatus.FAILED, "REJECTED")
    assert execution.error_message == reason


def test_time_window_body_is_naive_local_without_z() -> None:
    window = TimeWindow(datetime(2024, 1, 20), datetime(2024, 1, 27), "America/New_York")
    assert window.as_body() == {
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2024-01-20T00:00:00",
        "timeWindowEnd": "2024-01-27T00:00:00",
        "timeWindowTimeZone": "America/New_York",
    }


def test_time_window_accepts_dates_as_midnight() -> None:
    window = TimeWindow(date(2024, 1, 20), date(2024, 1, 27))  # type: ignore[arg-type]
    assert window.as_body()["timeWindowStart"] == "2024-01-20T00:00:00"


@pytest.mark.parametrize(
    ("start", "end", "zone", "message"),
    [
        (
            datetime(2024, 1, 20, tzinfo=UTC),
            datetime(2024, 1, 27),
            "UTC",
            r"start=2024-01-20T00:00:00\+00:00 carries a time zone",
        ),
        (datetime(2024, 1, 27), datetime(2024, 1, 20), "UTC", "is not before its end"),
        (datetime(2024, 1, 20), datetime(2024, 1, 27), "Mars/Olympus", "'Mars/Olympus' is not"),
        (
            datetime(2024, 1, 20, 0, 0, 0, 500),
            datetime(2024, 1, 27),
            "UTC",
            "whole seconds",
        ),
    ],
)
def test_time_windows_amc_would_misread_are_refused(
    start: datetime, end: datetime, zone: str, message: str
) -> None:
    with pytest.raises(AmcTimeWindowError, match=message):
        TimeWindow(start, end, zone)


def test_download_urls_repr_hides_signatures() -> None:
    urls = DownloadUrls(("https://s3/x.csv?X-Amz-Signature=abc123",), ())
    assert "abc123" not in repr(urls)
    assert "1 result file(s)" in repr(urls)
