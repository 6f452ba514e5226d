"""A week's Parquet file on an S3 results root: moto's standalone S3 server, over real HTTP.

Requests go through a small TCP proxy that can drop connections part-way through a request
body, the way a network failure interrupts an upload.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from recomamp_pipelines.results.load import LoadError, load_week, remove_abandoned_files
from recomamp_pipelines.results.storage import ResultsRoot, ResultsRootError
from recomamp_pipelines.settings import load_settings
from tests.results.factories import OUTPUT_COLUMNS, ROWS, Conn, make_target, one, write_csv

BUCKET = "recomamp-results"
#: While cutting, a connection is dropped after this many bytes sent to the server.
CUT_AFTER_BYTES = 16 * 1024


@dataclass
class CuttingProxy:
    """Forwards TCP to `upstream`; while `cutting`, drops connections mid-request."""

    upstream: int
    cutting: threading.Event = field(default_factory=threading.Event)
    cuts: int = 0

    def start(self) -> int:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        port: int = self._listener.getsockname()[1]
        return port

    def stop(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if to_server and self.cutting.is_set():
                    sent += len(data)
                    if sent > CUT_AFTER_BYTES:
                        self.cuts += 1
                        target.sendall(data[: len(data) // 2])
                        break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """moto's standalone server (its own process), on a free port; its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def proxy(s3_server: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CuttingProxy, str]]:
    """The proxy in front of moto, and a results root URI through it (a bucket of its own)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    cutting = CuttingProxy(s3_server)
    port = cutting.start()
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:8]}"
    uri = (
        f"s3://{bucket}/weeks?endpoint_override=127.0.0.1:{port}&scheme=http"
        "&region=us-east-1&allow_bucket_creation=true"
    )
    root = ResultsRoot.parse(uri)
    root.filesystem.create_dir(bucket)
    try:
        yield cutting, uri
    finally:
        cutting.stop()


def _objects(root: ResultsRoot) -> list[str]:
    selector = pafs.FileSelector(root.base.split("/")[0], recursive=True)
    return sorted(
        info.path for info in root.filesystem.get_file_info(selector) if info.type.name == "File"
    )


def _large_rows(count: int) -> list[list[str]]:
    """Rows whose Parquet file is far larger than what the proxy lets through."""
    return [
        [uuid.uuid4().hex, "2024-01-01", str(n), "1", "0", "1.5", "2.25", "false"]
        for n in range(count)
    ]


def test_a_week_round_trips_through_s3(
    db_conn: Conn, tmp_path: Path, proxy: tuple[CuttingProxy, str]
) -> None:
    _, uri = proxy
    root = ResultsRoot.parse(uri)
    target = make_target()
    csv = write_csv(tmp_path / "week.csv", ROWS)
    with load_week(db_conn, [csv], OUTPUT_COLUMNS, target, results_root=uri) as week:
        pass
    assert week.published
    key = root.week_path(target)
    assert week.parquet_uri == f"s3://{key}"
    assert key.endswith(f"/collection/{target.source_id}/2024-01-01.parquet")
    table = pq.read_table(key, filesystem=root.filesystem)
    assert table.num_rows == len(ROWS) == week.row_count
    assert table.column("campaign").to_pylist() == [row[0] or None for row in ROWS]
    assert week.parquet_bytes == root.size(key) > 0
    assert _objects(root) == [key]  # no temporary object left behind


def test_an_upload_cut_off_midway_keeps_the_previous_file_and_leaves_no_partial_object(
    db_conn: Conn, tmp_path: Path, proxy: tuple[CuttingProxy, str]
) -> None:
    cutting, uri = proxy
    root = ResultsRoot.parse(uri)
    target = make_target()
    first = write_csv(tmp_path / "first.csv", ROWS)
    with load_week(db_conn, [first], OUTPUT_COLUMNS, target, results_root=uri) as week:
        pass
    key = root.week_path(target)
    before = pq.read_table(key, filesystem=root.filesystem)

    larger = write_csv(tmp_path / "larger.csv", _large_rows(20_000))
    cutting.cutting.set()
    with (
        pytest.raises(LoadError, match="failed"),
        load_week(db_conn, [larger], OUTPUT_COLUMNS, target, results_root=uri),
    ):
        pass
    cutting.cutting.clear()
    assert cutting.cuts > 0  # the upload really was interrupted

    assert pq.read_table(key, filesystem=root.filesystem).equals(before)
    assert _objects(root) == [key]
    # Readers of the database keep the previous week too.
    table = f"results.workflow_{target.workflow_id.hex}"
    assert one(db_conn, f"select count(*) from {table}") == len(ROWS)
    assert week.row_count == len(ROWS)


def test_stale_temporary_objects_are_removed(
    proxy: tuple[CuttingProxy, str],
) -> None:
    _, uri = proxy
    root = ResultsRoot.parse(uri)
    stale = root.temp_path(root.week_path(make_target(week=date(2024, 1, 8))))
    with root.open_output(stale) as out:
        out.write(b"left by a process that died")
    assert remove_abandoned_files(uri, older_than=timedelta(hours=1)) == 0
    assert remove_abandoned_files(uri, older_than=timedelta(0)) == 1
    assert _objects(root) == []


def test_a_results_root_pyarrow_cannot_open_is_named() -> None:
    with pytest.raises(ResultsRootError, match=r"RECOMAMP_RESULTS_ROOT 'nosuchfs://x/y'"):
        ResultsRoot.parse("nosuchfs://x/y")


def test_settings_keep_an_object_store_uri_as_written(tmp_path: Path) -> None:
    uri = "s3://bucket/prefix?region=eu-west-1"
    settings = load_settings({"RECOMAMP_HOME": str(tmp_path), "RECOMAMP_RESULTS_ROOT": uri})
    assert settings.results_root == uri
    local = load_settings({"RECOMAMP_HOME": str(tmp_path)})
    assert local.results_root == tmp_path / "results"
    assert os.fspath(local.results_root) == str(tmp_path / "results")
