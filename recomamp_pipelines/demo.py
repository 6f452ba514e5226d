"""`make demo`: the whole pipeline on a fresh machine, against the local AMC simulator.

It needs no PostgreSQL and no settings: it writes what it uses into the settings file
(`$RECOMAMP_HOME/settings.env`), which every later `recomamp` command reads too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from recomamp_pipelines.analytics.views import apply_and_refresh
from recomamp_pipelines.crypto import TokenCipher, ensure_local_key
from recomamp_pipelines.db.connection import database_url, describe_url
from recomamp_pipelines.db.migrations import upgrade
from recomamp_pipelines.sample.account import LoadedCollection, load_sample_account, sample_users
from recomamp_pipelines.settings import (
    AMC_API_URL,
    AMC_CLIENT_ID,
    AMC_CLIENT_SECRET,
    AMC_TOKEN_URL,
    DAGSTER_HOME,
    RECOMAMP_RESULTS_ROOT,
    Settings,
    load_settings,
    read_settings_file,
    write_settings_file,
)

SIMULATOR_CLIENT_ID = "amzn1.application-oa2-client.recomampdemo"
SIMULATOR_CLIENT_SECRET = "recomamp-demo-client-secret"  # noqa: S105 - the simulator's own
SIMULATOR_REFRESH_TOKENS = ("Atzr|recomamp-demo-ana", "Atzr|recomamp-demo-bo")
SIMULATOR_INSTANCES = ("amcdemo01", "amcdemo02")
SIMULATOR_PORT_KEY = "RECOMAMP_SIMULATOR_PORT"
SIMULATOR_READY = "AMC simulator listening on "
KPI_COLUMNS = (
    ("impressions_sum", "impressions"),
    ("reach_sum", "reach"),
    ("spend_usd_sum", "spend $"),
    ("clicks_sum", "clicks"),
    ("ctr", "CTR"),
    ("cpm", "CPM"),
    ("roas", "ROAS"),
    ("ntb_sales_share", "NTB share"),
)


class DemoError(RuntimeError):
    """The demo could not set up one of its parts."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def demo_settings(settings: Settings) -> Settings:
    """Write the demo's settings (simulator endpoints and credentials, paths) and reload."""
    stored = read_settings_file(settings.settings_file)
    port = int(stored.get(SIMULATOR_PORT_KEY, "0")) or _free_port()
    if not _port_is_free(port):
        port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    values = {
        SIMULATOR_PORT_KEY: str(port),
        AMC_API_URL: base_url,
        AMC_TOKEN_URL: f"{base_url}/auth/o2/token",
        AMC_CLIENT_ID: SIMULATOR_CLIENT_ID,
        AMC_CLIENT_SECRET: SIMULATOR_CLIENT_SECRET,
        DAGSTER_HOME: str(settings.dagster_home),
        RECOMAMP_RESULTS_ROOT: str(settings.results_root),
    }
    write_settings_file(settings.settings_file, values)
    if not settings.encryption_keys:
        # The demo keeps its own key in the settings file, whichever database it uses.
        ensure_local_key(settings)
    # The demo talks to its simulator whatever the environment says about AMC.
    for key in (AMC_API_URL, AMC_TOKEN_URL, AMC_CLIENT_ID, AMC_CLIENT_SECRET):
        os.environ[key] = values[key]
    return load_settings()


@contextmanager
def running_simulator(settings: Settings, execution_seconds: float = 2.0) -> Iterator[str]:
    """The demo's AMC simulator, on the port of the settings file, for as long as needed."""
    stored = read_settings_file(settings.settings_file)
    port = stored.get(SIMULATOR_PORT_KEY)
    if port is None:
        raise DemoError("no simulator port in the settings file: run `make demo` first")
    args = [
        sys.executable,
        "-m",
        "recomamp_pipelines.cli",
        "amc-simulator",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--client-id",
        SIMULATOR_CLIENT_ID,
        "--client-secret",
        SIMULATOR_CLIENT_SECRET,
        "--execution-seconds",
        str(execution_seconds),
        "--state-dir",
        str(settings.home / "simulator"),
    ]
    for token in SIMULATOR_REFRESH_TOKENS:
        args += ["--refresh-token", token]
    for instance in SIMULATOR_INSTANCES:
        args += ["--instance", instance]
    log_path = settings.home / "simulator.log"
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=log_path.open("a"), text=True, bufsize=1
    )
    try:
        base_url = _wait_ready(process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(process: subprocess.Popen[str], log_path: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(SIMULATOR_READY):
            return line[len(SIMULATOR_READY) :].strip()
        if not line and process.poll() is not None:
            break
    raise DemoError(f"the AMC simulator did not start; see {log_path}")


def week_tables(url: str, collections: list[LoadedCollection]) -> list[Table]:
    """One table per collection: each week's status, rows and the KPIs its query has."""
    tables = []
    with psycopg.connect(url) as conn:
        for collection in collections:
            rows = conn.execute(
                "select week_start_date, status, result_rows, summary_stats "
                "from report_data_weeks where collection_id = %s order by week_start_date",
                (collection.collection_id,),
            ).fetchall()
            kpis = [
                (key, label)
                for key, label in KPI_COLUMNS
                if any((row[3] or {}).get(key) is not None for row in rows)
            ]
            table = Table(
                "week",
                "status",
                "rows",
                *(label for _, label in kpis),
                title=f"{collection.name} ({collection.owner})",
            )
            for week_start, status, result_rows, stats in rows:
                colour = {"SUCCESS": "green", "FAILED": "red"}.get(status, "yellow")
                table.add_row(
                    week_start.isoformat(),
                    f"[{colour}]{status}[/{colour}]",
                    str(result_rows if result_rows is not None else ""),
                    *(_kpi((stats or {}).get(key)) for key, _ in kpis),
                )
            tables.append(table)
    return tables


def _kpi(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}" if value < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def run_demo(console: Console) -> bool:
    """Set everything up, backfill both sample collections through Dagster, print the weeks."""
    from recomamp_pipelines.defs.collections.launch import run_backfill

    settings = demo_settings(load_settings())
    url = database_url(settings)
    console.print(f"RecomAMP database: {describe_url(url)}")
    applied = upgrade(url)
    console.print(
        f"Migrations: {len(applied)} applied now" if applied else "Migrations: up to date"
    )
    cipher = TokenCipher.from_settings(settings)
    users = sample_users(SIMULATOR_REFRESH_TOKENS, SIMULATOR_INSTANCES)
    with psycopg.connect(url, autocommit=True) as conn:
        collections = load_sample_account(
            conn,
            cipher,
            users,
            today=datetime.now(UTC).date(),
            week_start_day=settings.week_start_day,
        )
    console.print(
        f"Sample account: {len(users)} users, {len(users)} AMC instances, 3 workflows, "
        f"{len(collections)} collections"
    )
    succeeded = True
    with running_simulator(settings) as simulator_url:
        console.print(f"AMC simulator: {simulator_url}")
        for collection in collections:
            started = time.monotonic()
            with console.status(f"Backfilling {collection.name} through Dagster..."):
                report = run_backfill(settings, str(collection.collection_id))
            counts: dict[str, int] = {}
            for week in report.weeks:
                counts[week.outcome] = counts.get(week.outcome, 0) + 1
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            console.print(
                f"{collection.name}: {summary} in {time.monotonic() - started:.1f} s "
                f"(Dagster run {report.run_id})"
            )
            succeeded = succeeded and all(w.outcome != "failed" for w in report.weeks)
    for table in week_tables(url, collections):
        console.print(table)
    with psycopg.connect(url, autocommit=True) as conn:
        views, refreshed = apply_and_refresh(conn)
    console.print(
        f"Analyst views: {views.summary()}, {len(refreshed)} mart(s) refreshed; "
        "query them in the schema analytics (dbt_like_views/README.md)."
    )
    console.print(
        f"Settings: {settings.settings_file}. Dagster: {settings.dagster_home}. "
        "Open the UI with `make dev`."
    )
    return succeeded
