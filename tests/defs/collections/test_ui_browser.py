"""The Dagster UI in headless Chromium, after a real run: the weekly results' page and checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.defs.collections.test_week_checks_in_ui import computed_statuses
from tests.defs.conftest import Pipeline
from tests.defs.helpers import SPONSORED, backfill, prepare

WORKSPACE = Path(__file__).resolve().parents[3] / "workspace.yaml"
ASSET_PATH = "/assets/amc/collection_weekly_results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def webserver(pipeline: Pipeline, tmp_path: Path) -> Iterator[str]:
    """Dagster's webserver on the instance the pipeline's runs were recorded in."""
    port = free_port()
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            str(WORKSPACE),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={**os.environ, **pipeline.env, "DAGSTER_HOME": str(tmp_path / "dagster")},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "webserver.log").read_text()
            assert time.monotonic() < deadline, "the Dagster webserver did not start"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.browser
def test_asset_page_shows_passed_week_checks_and_the_preview_table(
    pipeline: Pipeline, webserver: str, browser_page: Any
) -> None:
    collection = prepare(pipeline, SPONSORED, weeks=1)
    (week,) = collection.weeks
    result = backfill(pipeline, collection.key, week)
    assert result.success
    words = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "SKIPPED": "Skipped"}
    expected = {
        name: words[status] for (name, _), status in computed_statuses(result, [week]).items()
    }
    assert list(expected.values()).count("Succeeded") >= 6
    page = browser_page

    page.goto(f"{webserver}{ASSET_PATH}?view=checks", wait_until="networkidle")
    page.get_by_text("This is a blocking asset check.").wait_for(timeout=60_000)

    def listed() -> dict[str, str]:
        # The checks list: each check's name (twice: link and label), then its latest status.
        lines = page.locator("body").inner_text().splitlines()
        return {
            lines[i]: lines[i + 2]
            for i in range(len(lines) - 2)
            if lines[i] in expected and lines[i + 1] == lines[i]
        }

    # The list draws its rows as their statuses arrive, after the selected check's panel.
    deadline = time.monotonic() + 60
    while (shown := listed()) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert shown == expected

    page.goto(f"{webserver}{ASSET_PATH}?view=events", wait_until="networkidle")
    page.get_by_text("summary_stats").first.wait_for(timeout=60_000)
    events = page.locator("body").inner_text()
    for key in ("dagster/row_count", "impressions", "amc_run_seconds", "amc_queue_seconds"):
        assert f"\n{key}\n" in events, key
    assert "parquet_file" in events and ".parquet" in events
    # The preview is a table: a header of the result's columns, then one line per row with a
    # cell for every column.
    lines = events.split("preview", 1)[1].split("amc_run_seconds", 1)[0].splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("ad_product_type\t"))
    header = lines[header_at].split("\t")
    assert header[:3] == ["ad_product_type", "impressions", "clicks"]
    rows = [line.split("\t") for line in lines[header_at + 1 :] if line.split("\t")[0].strip()]
    assert len(rows) == 4
    assert all(len(row) == len(header) for row in rows)
