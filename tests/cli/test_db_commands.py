"""`recomamp db url` and `recomamp db psql` reach the project's database, embedded or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recomamp_pipelines.db.connection import psql_url
from recomamp_pipelines.db.embedded import ensure_embedded, stop_embedded


def recomamp(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recomamp_pipelines.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_socket_url_keeps_its_directory_where_psql_reads_it() -> None:
    url = "postgresql://postgres:secret@/recomamp?host=/tmp/home/pgdata"
    assert psql_url(url) == "postgresql://postgres@/recomamp?host=/tmp/home/pgdata"
    assert psql_url("postgresql://ana:pw@db.example.com:6543/reports?sslmode=require") == (
        "postgresql://ana@db.example.com:6543/reports?sslmode=require"
    )


def test_db_url_and_psql_reach_the_embedded_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMC_", "RECOMAMP_"))}
    env.pop("DATABASE_URL", None)
    env["RECOMAMP_HOME"] = str(home)
    try:
        url = ensure_embedded(home / "pgdata")
        printed = recomamp(env, "db", "url")
        assert printed.returncode == 0, printed.stderr
        line = printed.stdout.strip()
        assert line == psql_url(url)
        # psql on that string reaches the embedded server, not the machine's default one.
        marker = subprocess.run(
            ["psql", line, "-Atc", "select current_setting('data_directory')"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if marker.returncode == 127:
            pytest.skip("no psql on this machine")
        assert marker.returncode == 0, marker.stderr
        assert Path(marker.stdout.strip()).resolve() == (home / "pgdata").resolve()

        opened = recomamp(
            env, "db", "psql", stdin="\\pset tuples_only on\nselect current_database();\n"
        )
        assert opened.returncode == 0, opened.stderr
        assert "recomamp" in [line.strip() for line in opened.stdout.splitlines()]
    finally:
        stop_embedded(home / "pgdata")
