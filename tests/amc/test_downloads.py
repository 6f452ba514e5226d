"""Streaming downloads: several files, expiring URLs, cut bodies, header-only results."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from recomamp_pipelines.amc import (
    AmcDownloadError,
    AmcDownloadNotReady,
    InstanceClient,
    ProjectStatus,
)
from tests.amc.conftest import CAMPAIGN_SQL, USERS_SQL, complete_window
from tests.fixtures.amc_simulator import AmcSimulator

DOWNLOADS = "GET /s3/amc-results/{instanceId}/{executionId}/{fileName}"


def run(instance: InstanceClient, sql: str = CAMPAIGN_SQL) -> str:
    created = instance.create_execution(complete_window(days=7), sql=sql)
    final = instance.poll_until_terminal(created.workflow_execution_id)
    assert final.status is ProjectStatus.SUCCESS, final.status_reason
    return final.workflow_execution_id


@pytest.fixture
def whole_result(instance: InstanceClient) -> bytes:
    """The campaign query's result as one file."""
    return b"".join(instance.iter_result_chunks(run(instance)))


@pytest.fixture
def split_execution(instance: InstanceClient, amc_simulator: AmcSimulator) -> str:
    """The same query, its result split by AMC over several small files."""
    amc_simulator.set_faults(result_file_max_rows=60)
    execution_id = run(instance)
    amc_simulator.set_faults(result_file_max_rows=None)
    assert len(instance.get_download_urls(execution_id).download_urls) >= 5
    return execution_id


def test_download_urls_before_output_exists_are_not_ready(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(stuck_pending_next_executions=1)
    created = instance.create_execution(complete_window(), sql=USERS_SQL)
    with pytest.raises(AmcDownloadNotReady, match="is unavailable for download") as caught:
        instance.get_download_urls(created.workflow_execution_id)
    assert "wait until it SUCCEEDED" in str(caught.value)
    instance.cancel_execution(created.workflow_execution_id)


def test_several_files_make_one_csv_with_one_header(
    instance: InstanceClient, split_execution: str, whole_result: bytes
) -> None:
    combined = b"".join(instance.iter_result_chunks(split_execution, chunk_size=512))
    assert combined == whole_result
    assert combined.count(b"campaign,device_type,site,impressions") == 1
    files = len(instance.get_download_urls(split_execution).download_urls)
    separate = b"".join(instance.iter_result_chunks(split_execution, combine_csv_headers=False))
    assert separate.count(b"campaign,device_type,site,impressions") == files


def test_download_to_a_path_is_atomic(
    instance: InstanceClient, split_execution: str, whole_result: bytes, tmp_path: Path
) -> None:
    target = tmp_path / "result.csv"
    summary = instance.download_results(split_execution, target)
    assert target.read_bytes() == whole_result
    assert summary.bytes == len(whole_result)
    assert summary.files == len(instance.get_download_urls(split_execution).download_urls)
    assert list(tmp_path.iterdir()) == [target]


class ClockAdvancingFile(io.BytesIO):
    """A destination that lets the simulator's clock jump as soon as data starts arriving."""

    def __init__(self, simulator: AmcSimulator, seconds: float) -> None:
        super().__init__()
        self._simulator = simulator
        self._seconds = seconds
        self._moved = False

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if not self._moved:
            self._moved = True
            self._simulator.advance_clock(self._seconds)
        return super().write(data)


def test_urls_expiring_mid_download_are_fetched_again(
    instance: InstanceClient,
    amc_simulator: AmcSimulator,
    split_execution: str,
    whole_result: bytes,
) -> None:
    amc_simulator.set_faults(download_url_ttl_seconds=30)
    forbidden_before = amc_simulator.counters()["responses"].get("403", 0)
    destination = ClockAdvancingFile(amc_simulator, seconds=120)
    summary = instance.download_results(split_execution, destination)
    assert destination.getvalue() == whole_result
    assert summary.url_refreshes >= 1
    assert amc_simulator.counters()["responses"].get("403", 0) > forbidden_before


def test_a_cut_download_is_fetched_again_from_the_start_of_that_file(
    instance: InstanceClient,
    amc_simulator: AmcSimulator,
    split_execution: str,
    whole_result: bytes,
) -> None:
    amc_simulator.set_faults(truncate_next_downloads=2)
    destination = io.BytesIO()
    summary = instance.download_results(split_execution, destination)
    assert destination.getvalue() == whole_result
    assert summary.restarts == 2


def test_a_body_cut_every_time_ends_in_a_clear_error(
    instance: InstanceClient, amc_simulator: AmcSimulator, whole_result: bytes
) -> None:
    execution_id = run(instance)
    amc_simulator.set_faults(truncate_next_downloads=100)
    with pytest.raises(AmcDownloadError, match=r"result file 1 of 1 .* cut short 6 times"):
        instance.download_results(execution_id, io.BytesIO())


def test_a_header_only_result_downloads_as_its_header(
    instance: InstanceClient, amc_simulator: AmcSimulator
) -> None:
    amc_simulator.set_faults(header_only_next_executions=1)
    execution_id = run(instance)
    assert b"".join(instance.iter_result_chunks(execution_id)).strip() == (
        b"campaign,device_type,site,impressions"
    )
