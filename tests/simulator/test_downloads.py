"""Results: pre-signed URLs, their expiry, multi-file results and the metadata file."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta

import httpx

from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc, last_full_week

POSTAL_CODES = "SELECT postal_code, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"


def succeeded(amc: Amc, sql: str = DSP_BY_CAMPAIGN, **extra: object) -> str:
    start, end = last_full_week(amc.sim.now())
    execution = amc.wait(amc.run(sql, start, end, **extra)["workflowExecutionId"])
    assert execution["status"] == "SUCCEEDED", execution
    return str(execution["workflowExecutionId"])


def test_urls_are_fetched_without_any_header(amc: Amc) -> None:
    execution_id = succeeded(amc)
    urls = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()

    assert set(urls) == {"downloadUrls", "metadataDownloadUrls", "nextToken"}
    response = httpx.get(urls["downloadUrls"][0])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 12

    metadata = httpx.get(urls["metadataDownloadUrls"][0]).json()
    assert metadata["workflowExecutionId"] == execution_id
    assert metadata["rowCount"] == 12
    assert [c["name"] for c in metadata["outputColumns"]] == [
        "campaign",
        "impressions",
        "total_cost",
        "reach",
    ]


def test_no_download_before_the_output_exists(frozen: Amc) -> None:
    amc = frozen
    created = amc.run(DSP_BY_CAMPAIGN, datetime(2025, 2, 24), datetime(2025, 2, 25))
    execution_id = created["workflowExecutionId"]

    response = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls")

    assert response.status_code == 404
    assert response.json() == {
        "code": "404",
        "details": f"Execution with ID {execution_id} is unavailable for download.",
    }


def test_urls_expire_after_their_lifetime(amc: Amc) -> None:
    execution_id = succeeded(amc)
    amc.sim.set_faults(download_url_ttl_seconds=30)
    url = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()["downloadUrls"][0]
    assert "X-Amz-Expires=30" in url
    assert httpx.get(url).status_code == 200

    amc.sim.set_clock(amc.sim.now() + timedelta(seconds=31))

    expired = httpx.get(url)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text
    assert "Request has expired" in expired.text
    fresh = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()["downloadUrls"][0]
    assert httpx.get(fresh).status_code == 200


def test_tampered_urls_are_refused(amc: Amc) -> None:
    execution_id = succeeded(amc)
    url = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()["downloadUrls"][0]

    tampered = httpx.get(url.replace("X-Amz-Expires=300", "X-Amz-Expires=99999"))
    assert tampered.status_code == 403
    assert "SignatureDoesNotMatch" in tampered.text
    other_file = httpx.get(url.replace("part-0.csv", "part-7.csv"))
    assert other_file.status_code == 403


def test_large_results_are_split_over_several_files(amc: Amc) -> None:
    amc.sim.set_faults(result_file_max_rows=2000)
    execution_id = succeeded(amc, POSTAL_CODES, disableAggregationControls=True)

    urls = amc.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()
    parts = [httpx.get(url).text for url in urls["downloadUrls"]]

    assert len(parts) > 3
    assert all(p.startswith("postal_code,impressions\n") for p in parts)
    rows = [row for p in parts for row in csv.DictReader(io.StringIO(p))]
    metadata = httpx.get(urls["metadataDownloadUrls"][0]).json()
    assert len(rows) == metadata["rowCount"] == len({r["postal_code"] for r in rows})
    assert [f["name"] for f in metadata["files"]] == [f"part-{i}.csv" for i in range(len(parts))]


def test_results_are_the_same_whenever_they_are_asked(amc: Amc) -> None:
    first = amc.rows(succeeded(amc))
    time.sleep(0.1)
    second = amc.rows(succeeded(amc))
    assert first == second
