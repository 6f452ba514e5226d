"""The embedded PostgreSQL used when DATABASE_URL is unset."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from recomamp_pipelines.db.embedded import EMBEDDED_DATABASE, ensure_embedded, stop_embedded

RECOMAMP = [sys.executable, "-m", "recomamp_pipelines.cli"]


def run_recomamp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RECOMAMP_HOME"] = str(home)
    return subprocess.run(
        [*RECOMAMP, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    # A deliberately long path: the socket must still fit PostgreSQL's 107-byte limit.
    home = tmp_path / ("a-rather-long-directory-name-for-the-embedded-server-" * 2)
    yield home
    stop_embedded(home / "pgdata")


@pytest.mark.slow
def test_upgrade_starts_the_embedded_server_and_it_keeps_running_until_stop(home: Path) -> None:
    first = run_recomamp(home, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "Applied" in first.stdout
    assert (home / "pgdata" / "postmaster.pid").exists()

    # Concurrent commands share the one server.
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: run_recomamp(home, "db", "status"), range(3)))
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Embedded PostgreSQL (running)" in result.stdout
        assert "0 pending" in result.stdout

    again = run_recomamp(home, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert "is up to date" in again.stdout

    stopped = run_recomamp(home, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped the embedded PostgreSQL" in stopped.stdout
    assert not (home / "pgdata" / "postmaster.pid").exists()
    assert "was not running" in run_recomamp(home, "db", "stop").stdout


def test_embedded_server_listens_on_a_socket_only(home: Path) -> None:
    url = ensure_embedded(home / "pgdata")
    assert "host=/" in url and "127.0.0.1" not in url and "localhost" not in url
    assert url.split("?")[0].endswith("/" + EMBEDDED_DATABASE)
    with psycopg.connect(url) as conn:
        listen = conn.execute("show listen_addresses").fetchone()
        socket_dir = conn.execute("show unix_socket_directories").fetchone()
    assert listen == ("",)
    assert socket_dir is not None
    assert len(socket_dir[0]) + len("/.s.PGSQL.5432") <= 107


def test_stop_is_refused_when_database_url_is_set(tmp_path: Path) -> None:
    env = dict(os.environ, RECOMAMP_HOME=str(tmp_path), DATABASE_URL="postgresql://x@127.0.0.1/y")
    result = subprocess.run(
        [*RECOMAMP, "db", "stop"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "DATABASE_URL is set" in result.stderr
