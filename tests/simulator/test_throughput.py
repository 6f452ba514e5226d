"""Throughput mode: aggregation controls off, a result of more than a million rows, in files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

ROW_PER_IMPRESSION = (
    "SELECT impression_dt_utc, creative_id, postal_code, SUM(impressions) AS impressions, "
    "SUM(total_cost) AS total_cost FROM dsp_impressions GROUP BY 1, 2, 3"
)


def test_a_million_row_result_is_streamed_over_several_files(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(
        clock=datetime(2025, 6, 2, tzinfo=UTC),
        freeze_clock=True,
        execution_seconds=0,
        settings={"result_file_max_rows": 400_000},
    )
    amc = Amc(sim)
    created = amc.run(
        ROW_PER_IMPRESSION,
        datetime(2025, 3, 3),
        datetime(2025, 3, 13),
        disableAggregationControls=True,
    )
    done = amc.wait(created["workflowExecutionId"], timeout=300)
    assert done["status"] == "SUCCEEDED", done
    urls = amc.get(f"/workflowExecutions/{created['workflowExecutionId']}/downloadUrls").json()

    counts = []
    for url in urls["downloadUrls"]:
        with httpx.stream("GET", url, timeout=120) as response:
            assert response.status_code == 200
            lines = sum(chunk.count(b"\n") for chunk in response.iter_bytes())
        counts.append(lines - 1)

    metadata = httpx.get(urls["metadataDownloadUrls"][0]).json()
    assert sum(counts) == metadata["rowCount"] > 1_000_000
    assert counts[:-1] == [400_000] * (len(counts) - 1)
