"""Benchmark of AMC result downloads: the client against raw httpx, on a 1-million-row result.

Starts its own AMC simulator (a subprocess on a free port) and runs one query in the
simulator's throughput mode (`disableAggregationControls`, grouped on near-unique columns: about
1.1 million rows for a week), split by the simulator into several CSV files. Then, each in a
fresh subprocess so that memory figures do not carry over, it measures
  raw       httpx streaming each pre-signed URL, bytes discarded (the baseline: what the
            simulator serves and httpx reads);
  raw+parse the same bytes parsed by pyarrow's streaming CSV reader, file by file;
  client    InstanceClient.iter_result_chunks (fresh URLs, one combined CSV), bytes discarded;
  client+parse
            the client's stream parsed by pyarrow's streaming CSV reader;
  client>file
            InstanceClient.download_results to a file on disk.
For each: rows/s, MB/s and the peak RSS above the subprocess's own baseline (sampled every
5 ms with psutil), printed with the ratios to the baselines measured in the same run and the
peak memory as a share of the result's size. Asserts nothing.

    .venv/bin/python bench/amc_download.py [--days 7] [--file-rows 250000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pyarrow.csv as pa_csv
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recomamp_pipelines.amc import (
    AmcClient,
    AmcConfig,
    InstanceClient,
    PollPolicy,
    RateLimit,
    TimeWindow,
)

READY_PREFIX = "AMC simulator listening on "
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"
REFRESH_TOKEN = "Atzr|bench-refresh-token"
INSTANCE_ID = "amcbench01"
ADVERTISER_ID = "ENTITY1AA1AA11AAA1"
MARKETPLACE_ID = "ATVPDKIKX0DER"
THROUGHPUT_SQL = (
    "SELECT impression_dt_utc, creative_id, postal_code, SUM(impressions) AS impressions\n"
    "FROM dsp_impressions\n"
    "GROUP BY 1, 2, 3"
)
PHASES = ("raw", "raw+parse", "client", "client+parse", "client>file")


# --- the simulator ---------------------------------------------------------------------------


def start_simulator(work_dir: Path, file_rows: int) -> tuple[subprocess.Popen[bytes], str]:
    settings = work_dir / "simulator.json"
    settings.write_text(
        json.dumps({"result_file_max_rows": file_rows, "download_url_ttl_seconds": 3600}),
        encoding="utf-8",
    )
    out = work_dir / "simulator.out"
    command = [
        sys.executable,
        "-m",
        "recomamp_pipelines.simulator",
        "--port",
        "0",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--refresh-token",
        REFRESH_TOKEN,
        "--instance",
        INSTANCE_ID,
        "--execution-seconds",
        "0.1",
        "--settings",
        str(settings),
    ]
    with out.open("wb") as stdout, (work_dir / "simulator.log").open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(READY_PREFIX):
                return process, line[len(READY_PREFIX) :].strip()
        if process.poll() is not None:
            raise RuntimeError((work_dir / "simulator.log").read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("the AMC simulator did not start within 60 s")


def client_for(base_url: str) -> AmcClient:
    config = AmcConfig(
        api_url=base_url,
        token_url=f"{base_url}/auth/o2/token",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        default_marketplace_id=MARKETPLACE_ID,
        rate_limit=RateLimit(requests_per_second=100.0, burst=100),
        timeout_seconds=600.0,
    )
    return AmcClient(
        config,
        REFRESH_TOKEN,
        advertiser_id=ADVERTISER_ID,
        marketplace_id=MARKETPLACE_ID,
        poll_policy=PollPolicy(initial_interval=0.05, max_interval=0.25),
    )


def run_query(instance: InstanceClient, days: int) -> tuple[str, float]:
    """The throughput query's execution id, and its create-to-SUCCEEDED time."""
    end = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    window = TimeWindow(end - timedelta(days=days), end, "UTC")
    started = time.perf_counter()
    created = instance.create_execution(
        window, sql=THROUGHPUT_SQL, disable_aggregation_controls=True
    )
    final = instance.poll_until_terminal(created.workflow_execution_id)
    elapsed = time.perf_counter() - started
    if final.amc_status != "SUCCEEDED":
        raise RuntimeError(f"the throughput query ended {final.amc_status}: {final.status_reason}")
    return final.workflow_execution_id, elapsed


# --- one measured phase (in its own subprocess) ------------------------------------------------


class PeakRss:
    """Samples this process's RSS every 5 ms; `peak_delta` is the highest above the start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_delta(self) -> int:
        return self.peak - self.baseline


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks, for pyarrow's streaming reader."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            try:
                self._view = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._view))
        buffer[:size] = self._view[:size]
        self._view = self._view[size:]
        return size


def parse_rows(chunks: Iterable[bytes]) -> int:
    stream = io.BufferedReader(ChunkReader(chunks), buffer_size=1 << 20)
    # One thread and 64 KiB blocks: larger blocks (or the threaded reader's read-ahead) make
    # pyarrow's working set grow to 30-70 MB whatever the result's size (measured here), while
    # 64 KiB blocks keep it near 7 MB and still parse several million rows a second.
    reader = pa_csv.open_csv(
        stream, read_options=pa_csv.ReadOptions(block_size=64 << 10, use_threads=False)
    )
    return sum(batch.num_rows for batch in reader)


def raw_chunks(http: httpx.Client, url: str) -> Iterator[bytes]:
    with http.stream("GET", url) as response:
        response.raise_for_status()
        yield from response.iter_bytes(1 << 20)


def measure(phase: str, base_url: str, execution_id: str, scratch: Path) -> dict[str, Any]:
    client = client_for(base_url)
    instance = client.instance(INSTANCE_ID)
    client.check_credentials()
    urls = instance.get_download_urls(execution_id).download_urls
    rows = 0
    size = 0
    with httpx.Client(timeout=600) as http, PeakRss() as memory:
        started = time.perf_counter()
        if phase == "raw":
            for url in urls:
                for chunk in raw_chunks(http, url):
                    size += len(chunk)
        elif phase == "raw+parse":
            for url in urls:
                rows += parse_rows(raw_chunks(http, url))
        elif phase == "client":
            for chunk in instance.iter_result_chunks(execution_id):
                size += len(chunk)
        elif phase == "client+parse":
            rows = parse_rows(instance.iter_result_chunks(execution_id))
        elif phase == "client>file":
            target = scratch / "result.csv"
            size = instance.download_results(execution_id, target).bytes
            target.unlink()
        else:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        seconds = time.perf_counter() - started
    client.close()
    return {"seconds": seconds, "rows": rows, "bytes": size, "peak_rss": memory.peak_delta}


def run_phase(phase: str, base_url: str, execution_id: str, scratch: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--base-url",
        base_url,
        "--execution-id",
        execution_id,
        "--scratch",
        str(scratch),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- the report ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="window length (about 160k rows/day)")
    parser.add_argument("--file-rows", type=int, default=250_000, help="rows per result file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; the best is shown")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--execution-id", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(measure(args.phase, args.base_url, args.execution_id, args.scratch)))
        return

    with tempfile.TemporaryDirectory(prefix="amc-bench-") as tmp:
        work = Path(tmp)
        process, base_url = start_simulator(work, args.file_rows)
        try:
            with client_for(base_url) as client:
                instance = client.instance(INSTANCE_ID)
                execution_id, query_seconds = run_query(instance, args.days)
                files = len(instance.get_download_urls(execution_id).download_urls)
            results: dict[str, dict[str, Any]] = {}
            for phase in PHASES:
                runs = [run_phase(phase, base_url, execution_id, work) for _ in range(args.repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                best["peak_rss"] = max(r["peak_rss"] for r in runs)
                results[phase] = best
        finally:
            process.terminate()
            process.wait(timeout=30)

    rows = results["client+parse"]["rows"]
    size = results["client"]["bytes"]
    print(f"AMC download benchmark: {rows:,} rows, {size / 1e6:.1f} MB of CSV in {files} files")
    print(
        f"simulator: query to SUCCEEDED in {query_seconds:.2f} s "
        f"({rows / query_seconds:,.0f} rows/s, files written included)"
    )
    print(f"{'phase':<14}{'seconds':>9}{'rows/s':>13}{'MB/s':>9}{'peak RSS MB':>13}{'of size':>9}")
    for phase, result in results.items():
        seconds = result["seconds"]
        peak = result["peak_rss"]
        print(
            f"{phase:<14}{seconds:>9.2f}{rows / seconds:>13,.0f}{size / seconds / 1e6:>9.1f}"
            f"{peak / 1e6:>13.1f}{peak / size:>9.1%}"
        )
    print("ratios (client time / baseline time, lower is better):")
    for client_phase, baseline in (
        ("client", "raw"),
        ("client+parse", "raw+parse"),
        ("client>file", "raw"),
    ):
        ratio = results[client_phase]["seconds"] / results[baseline]["seconds"]
        print(f"  {client_phase} / {baseline}: {ratio:.2f}")
    if results["raw+parse"]["rows"] != rows:
        print(f"warning: raw parse saw {results['raw+parse']['rows']:,} rows, client {rows:,}")


if __name__ == "__main__":
    main()
