"""`make demo`: the whole pipeline on a fresh machine, against the local AMC simulator.

It needs no PostgreSQL and no settings: it writes what it uses into the settings file
(`$RECOMAMP_HOME/settings.env`), which every later `recomamp` command reads too.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    RECOMAMP_AMC_POLL_INITIAL_SECONDS,
    RECOMAMP_AMC_POLL_MAX_SECONDS,
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
#: How long the demo's simulator takes over an execution, and how often the demo polls it
#: (AMC's own pace, 15 s then up to 60 s, would leave the demo waiting on a 2-second query).
DEMO_EXECUTION_SECONDS = 2.0
DEMO_POLL_SECONDS = {RECOMAMP_AMC_POLL_INITIAL_SECONDS: "1", RECOMAMP_AMC_POLL_MAX_SECONDS: "2"}
#: The line the simulator prints once it listens (read by the benchmarks).
SIMULATOR_READY = "AMC simulator listening on "
SIMULATOR_STATE = "simulator/server.json"
SIMULATOR_LOCK = "simulator.lock"
KPI_COLUMNS = (
    ("impressions_sum", "impr."),
    ("reach_sum", "reach"),
    ("spend_usd_sum", "spend $"),
    ("clicks_sum", "clicks"),
    ("ctr", "CTR"),
    ("cpm", "CPM"),
    ("roas", "ROAS"),
    ("ntb_sales_share", "NTB"),
)
#: The week tables keep to an 80-column terminal: the first KPIs a query has, this many.
MAX_KPI_COLUMNS = 5
#: What the demo calls a week's outcome: a week submitted (or resumed) and loaded is published.
OUTCOME_WORDS = {"submitted": "published", "resumed": "published"}


class DemoError(RuntimeError):
    """The demo could not set up one of its parts."""


@dataclass(frozen=True)
class LocalSimulator:
    """The simulator process a RECOMAMP_HOME shares, as its state file records it."""

    pid: int
    base_url: str


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
    """Write the demo's settings (simulator credentials, paths), start its simulator, reload."""
    values = {
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
    for key in (AMC_CLIENT_ID, AMC_CLIENT_SECRET):
        os.environ[key] = values[key]
    # Polled at the simulator's pace for this command only: the settings file keeps AMC's.
    for key, seconds in DEMO_POLL_SECONDS.items():
        os.environ.setdefault(key, seconds)
    ensure_simulator(settings)
    return load_settings()


@contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """Serialise the processes of one RECOMAMP_HOME that look for or start its simulator."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / SIMULATOR_LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _answers(base_url: str) -> bool:
    host, _, port = base_url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_simulator_of(home: Path) -> LocalSimulator | None:
    """The simulator this RECOMAMP_HOME started, if it still runs and answers."""
    state = home / SIMULATOR_STATE
    if not state.exists():
        return None
    try:
        recorded = json.loads(state.read_text(encoding="utf-8"))
        simulator = LocalSimulator(pid=int(recorded["pid"]), base_url=str(recorded["base_url"]))
    except (ValueError, KeyError, TypeError):
        return None
    if _alive(simulator.pid) and _answers(simulator.base_url):
        return simulator
    return None


def ensure_simulator(settings: Settings, execution_seconds: float = DEMO_EXECUTION_SECONDS) -> str:
    """The local AMC simulator of this RECOMAMP_HOME, started on first need and then shared.

    Like the embedded PostgreSQL it keeps running for every later command (`recomamp dev`, a
    second demo, the daemon) until `recomamp amc-simulator stop`; the settings file always
    names the one that runs.
    """
    with _home_lock(settings.home):
        simulator = running_simulator_of(settings.home)
        if simulator is None:
            simulator = _start_simulator(settings, execution_seconds)
        port = simulator.base_url.rsplit(":", 1)[1]
        values = {
            SIMULATOR_PORT_KEY: port,
            AMC_API_URL: simulator.base_url,
            AMC_TOKEN_URL: f"{simulator.base_url}/auth/o2/token",
        }
        if read_settings_file(settings.settings_file).get(AMC_API_URL) != simulator.base_url:
            write_settings_file(settings.settings_file, values)
    for key in (AMC_API_URL, AMC_TOKEN_URL):
        os.environ[key] = values[key]
    return simulator.base_url


def _start_simulator(settings: Settings, execution_seconds: float) -> LocalSimulator:
    stored = read_settings_file(settings.settings_file)
    port = int(stored.get(SIMULATOR_PORT_KEY, "0")) or _free_port()
    if not _port_is_free(port):
        port = _free_port()
    args = [
        sys.executable,
        "-m",
        "recomamp_pipelines.cli",
        "amc-simulator",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
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
    log_path = simulator_log(settings.home)
    with log_path.open("a") as log_file:
        # A session of its own: it outlives the command that started it, as PostgreSQL does.
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    simulator = LocalSimulator(pid=process.pid, base_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while not _answers(simulator.base_url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise DemoError(f"the AMC simulator did not start; see {log_path}")
        time.sleep(0.1)
    state = settings.home / SIMULATOR_STATE
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(dataclasses.asdict(simulator)), encoding="utf-8")
    return simulator


def simulator_log(home: Path) -> Path:
    """Where the simulator of this RECOMAMP_HOME writes what it says."""
    return home / "simulator.log"


def stop_simulator(home: Path) -> bool:
    """Stop the simulator of this RECOMAMP_HOME; False if none was running."""
    with _home_lock(home):
        simulator = running_simulator_of(home)
        (home / SIMULATOR_STATE).unlink(missing_ok=True)
        if simulator is None:
            return False
        os.kill(simulator.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(simulator.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(simulator.pid):
            os.kill(simulator.pid, signal.SIGKILL)
        return True


def local_simulator(settings: Settings) -> str:
    """The demo's simulator for `recomamp dev`: the running one, or started again."""
    if SIMULATOR_PORT_KEY not in read_settings_file(settings.settings_file):
        raise DemoError("no simulator in the settings file: run `make demo` first")
    return ensure_simulator(settings)


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
            ][:MAX_KPI_COLUMNS]
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
    console.print(f"AMC simulator: {settings.amc_api_url} (`recomamp amc-simulator stop` ends it)")
    for collection in collections:
        started = time.monotonic()
        with console.status(f"Backfilling {collection.name} through Dagster..."):
            report = run_backfill(settings, str(collection.collection_id))
        counts: dict[str, int] = {}
        for week in report.weeks:
            word = OUTCOME_WORDS.get(week.outcome, week.outcome)
            counts[word] = counts.get(word, 0) + 1
        summary = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
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
