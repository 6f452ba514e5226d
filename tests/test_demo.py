"""`make demo` as a newcomer runs it: nothing set up, run twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from recomamp_pipelines.analytics.views import VIEWS_DIR, view_files
from recomamp_pipelines.db.embedded import ensure_embedded, stop_embedded
from recomamp_pipelines.demo import running_simulator_of, stop_simulator


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recomamp_pipelines.cli", "demo"],
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_demo_backfills_the_sample_account_and_is_safe_to_run_again(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMC_", "RECOMAMP_"))}
    env.pop("DAGSTER_HOME", None)
    env["RECOMAMP_HOME"] = str(home)
    if os.environ.get("DATABASE_URL"):
        # On a shared server the demo gets a database of its own, never the named one.
        env["DATABASE_URL"] = request.getfixturevalue("empty_db_url")
    try:
        first = run_demo(env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "DSP weekly 2026 (ana.analyst@example.com)" in first.stdout
        assert "Sponsored ads weekly (bo.brand@example.com)" in first.stdout
        assert "12 published" in first.stdout
        # Its tables fit an 80-column terminal.
        assert max(len(line) for line in first.stdout.splitlines()) <= 80, first.stdout

        url = env.get("DATABASE_URL") or ensure_embedded(home / "pgdata")
        with psycopg.connect(url) as conn:
            weeks = conn.execute(
                "select c.name, count(*), count(*) filter (where w.status = 'SUCCESS'), "
                "min(w.result_rows), c.status from report_data_weeks as w "
                "join report_data_collections as c on c.id = w.collection_id "
                "group by c.name, c.status order by c.name"
            ).fetchall()
            users = conn.execute("select count(*) from users").fetchone()
            runs = conn.execute(
                "select count(distinct dagster_run_id) from workflow_executions"
            ).fetchone()
            # the analyst marts hold every week of both collections
            kpis = conn.execute(
                "select collection_name, count(*), count(*) filter (where result_rows > 0) "
                "from analytics.collection_weekly_kpis group by 1 order by 1"
            ).fetchall()
        assert kpis == [("DSP weekly 2026", 12, 12), ("Sponsored ads weekly", 12, 12)]
        views = len(view_files(VIEWS_DIR))
        assert f"Analyst views: {views} created or replaced" in first.stdout
        assert [(name, total, ok) for name, total, ok, _, _ in weeks] == [
            ("DSP weekly 2026", 12, 12),
            ("Sponsored ads weekly", 12, 12),
        ]
        assert all(rows > 0 and status == "COMPLETED" for _, _, _, rows, status in weeks)
        assert users == (2,)
        assert runs == (2,)
        settings_file = (home / "settings.env").read_text()
        assert "AMC_API_URL=http://127.0.0.1:" in settings_file
        # The simulator outlives the demo, so the settings file names one that answers.
        simulator = running_simulator_of(home)
        assert simulator is not None
        assert f"AMC_API_URL={simulator.base_url}\n" in settings_file
        assert "RECOMAMP_ENCRYPTION_KEYS=" in settings_file
        assert (home / "dagster_home" / "dagster.yaml").exists()

        second = run_demo(env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout.count("12 reused") == 2
        assert f"Analyst views: 0 created or replaced, {views} unchanged" in second.stdout
        with psycopg.connect(url) as conn:
            executions = conn.execute("select count(*) from workflow_executions").fetchone()
        assert executions == (24,)
        assert running_simulator_of(home) == simulator
    finally:
        stop_simulator(home)
        stop_embedded(home / "pgdata")
