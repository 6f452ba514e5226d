"""Benchmark at scale: 1,000 collections of 2 years of weeks, against the UI and automation targets.

In a throwaway RECOMAMP_HOME and a fresh database on DATABASE_URL's server (dropped
afterwards; a throwaway pgserver when it is unset), with a Postgres-backed Dagster instance as
deployed:
- seeds `--owners` users, each with an AMC account, AMC instances and a workflow, and
  `--collections` collections of `--weeks` weeks each (ending with the newest week AMC has
  completed), inserted directly: AMC is not asked anything;
- times the code location's load (the definitions imported in a fresh interpreter; the
  repository snapshot; the webserver's load as `workspaceOrError` reports it; the UI's
  "Reload" mutation);
- times the collections sensor's first tick (it registers every collection: partition keys and
  week rows) and a steady one; marks the newest `--materialized-share` of each collection's
  weeks (those in Dagster's week grid) SUCCESS and writes their materializations to Dagster's
  event log in batches, as runs would have;
- times a tick of every other sensor (collection backfill, schedules, dead-run reconciler; the
  backfill sensor again once its runs exist) and the nightly schedule's evaluation, each with
  Dagster's `build_sensor_context` / `build_schedule_context` on the real instance and
  database, and the analytics automation sensor's evaluation (`evaluate_automation_conditions`:
  a sensor of that kind runs only inside the daemon);
- times, over HTTP, the GraphQL query the asset page sends for the partition statuses
  (`PartitionHealthQuery`, ui-core/src/assets/usePartitionHealthData.tsx, 1.13.27): cold (the
  first, which builds Dagster's status cache) and warm;
- times, in headless Chromium (the distribution's; RECOMAMP_CHROMIUM or `chromium` on PATH),
  the asset's partitions page until its partition grid is drawn (fresh, then with the UI's
  scripts cached), and the launch dialog ("Materialize..." on that page) until its partition
  selection is drawn.
Prints a table of figure / measured / target / met. Asserts nothing; exits 1 when a target is
missed.

    .venv/bin/python -m bench scale                    # 1,000 collections x 104 weeks
    .venv/bin/python -m bench scale --collections 100  # quick check
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench._harness import (
    BenchError,
    free_port,
    graphql,
    loaded_location,
    revision,
    script,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

warnings.filterwarnings("ignore")

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = REPO_ROOT / "workspace.yaml"
ASSET_PATH = ["amc", "collection_weekly_results"]
ASSET_PAGE = "/assets/amc/collection_weekly_results"
WORKFLOW_SQL = "select campaign, sum(impressions) as impressions from dsp_impressions group by 1"
#: Events written to Dagster's event log per batch insert.
EVENT_BATCH = 500
PAGE_TIMEOUT_MS = 120_000

# The asset page's own query (ui-core/src/assets/usePartitionHealthData.tsx, 1.13.27).
PARTITION_HEALTH_QUERY = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        ... on TimePartitionStatuses {
          ranges { status startTime endTime startKey endKey }
        }
        ... on DefaultPartitionStatuses {
          materializedPartitions materializingPartitions failedPartitions
        }
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges {
            primaryDimStartKey primaryDimEndKey primaryDimStartTime primaryDimEndTime
            secondaryDim {
              ... on TimePartitionStatuses {
                ranges { status startTime endTime startKey endKey }
              }
              ... on DefaultPartitionStatuses {
                materializedPartitions materializingPartitions failedPartitions
              }
            }
          }
        }
      }
    }
  }
}
"""
# The mutation of the UI's "Reload" button (ui-core/src/nav/useRepositoryLocationReload.tsx).
RELOAD_LOCATION = """
mutation ReloadRepositoryLocationMutation($location: String!) {
  reloadRepositoryLocation(repositoryLocationName: $location) {
    __typename
    ... on WorkspaceLocationEntry { id loadStatus }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
LOAD_DEFINITIONS = (
    "import time, warnings\n"
    "warnings.filterwarnings('ignore')\n"
    "started = time.perf_counter()\n"
    "import dagster\n"
    "imported = time.perf_counter()\n"
    "from recomamp_pipelines.definitions import defs\n"
    "defs.get_repository_def()\n"
    "print(imported - started, time.perf_counter() - started)\n"
)


@dataclass(frozen=True)
class Target:
    seconds: float
    label: str


LOAD = Target(5.0, "< 5 s")
TICK = Target(5.0, "< 5 s")
QUERY = Target(2.0, "< 2 s")
PAGE = Target(3.0, "< 3 s")
NIGHTLY = Target(10.0, "< 10 s")


@dataclass
class Figure:
    name: str
    seconds: float | None
    target: Target | None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.seconds is None:
            return None
        return self.seconds < self.target.seconds


@dataclass
class Figures:
    rows: list[Figure] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, seconds: float | None, target: Target | None, note: str = "") -> None:
        figure = Figure(name, seconds, target, note)
        self.rows.append(figure)
        shown = "n/a" if seconds is None else f"{seconds:.2f} s"
        print(f"  {name}: {shown}{'  (' + note + ')' if note else ''}", flush=True)


@dataclass(frozen=True)
class Options:
    collections: int
    weeks: int
    owners: int
    instances_per_owner: int
    materialized_share: float
    repeat: int
    profile: bool
    browser: bool
    keep: bool


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


@dataclass
class Processes:
    """Every subprocess the benchmark started, each the leader of its own process group."""

    started: list[subprocess.Popen[Any]] = field(default_factory=list)

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(list(args), start_new_session=True, **kwargs)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.started.clear()


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    collection_ids: list[uuid.UUID]
    first_week: Any
    last_week: Any


def seed(conn: psycopg.Connection, options: Options, now: datetime) -> Seeded:
    """Owners, their AMC accounts, instances and workflows, and the collections, evenly spread."""
    from recomamp_pipelines.collections.plans import newest_complete_week
    from recomamp_pipelines.settings import load_settings
    from recomamp_pipelines.weeks.calendar import Week

    week_start_day = load_settings().week_start_day
    last = newest_complete_week(now, "UTC", week_start_day)
    first = Week(last.start_date - timedelta(days=7 * (options.weeks - 1)))
    workflows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []
    for n in range(options.owners):
        (user_id,) = conn.execute(
            "insert into users (email) values (%s) returning id", (f"owner{n}@example.com",)
        ).fetchone()  # type: ignore[misc]
        (account_id,) = conn.execute(
            "insert into amc_accounts (account_id, account_name) values (%s, %s) returning id",
            (f"ENTITYSCALE{n:06d}", f"Advertiser {n}"),
        ).fetchone()  # type: ignore[misc]
        for m in range(options.instances_per_owner):
            (instance_id,) = conn.execute(
                "insert into amc_instances (instance_id, name, user_id, account_id) "
                "values (%s, %s, %s, %s) returning id",
                (f"amcscale{n:04d}x{m:02d}", f"Instance {n}.{m}", user_id, account_id),
            ).fetchone()  # type: ignore[misc]
            (workflow_id,) = conn.execute(
                "insert into workflows (name, sql_query, user_id, instance_id) "
                "values (%s, %s, %s, %s) returning id",
                (f"Weekly DSP {n}.{m}", WORKFLOW_SQL, user_id, instance_id),
            ).fetchone()  # type: ignore[misc]
            workflows.append((workflow_id, instance_id, user_id))
    rows = []
    for n in range(options.collections):
        workflow_id, instance_id, user_id = workflows[n % len(workflows)]
        rows.append(
            (
                f"Scale collection {n:05d}",
                workflow_id,
                instance_id,
                user_id,
                first.start_date,
                last.end_date,
            )
        )
    with conn.cursor() as cur:
        # Inserted directly: create_collection refuses starts beyond AMC's 13-month history,
        # and two years is the shape measured.
        cur.executemany(
            "insert into report_data_collections "
            "(name, workflow_id, instance_id, user_id, start_date, end_date) "
            "values (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    ids = [row[0] for row in conn.execute("select id from report_data_collections order by name")]
    conn.execute("analyze")
    return Seeded(ids, first, last)


def materialize_share(
    conn: psycopg.Connection,
    instance: Any,
    grid_weeks: set[str],
    share: float,
    now: datetime,
) -> tuple[int, int]:
    """The newest `share` of each collection's weeks in the week grid: SUCCESS with a result in
    report_data_weeks and a materialization in Dagster's event log. (weeks, events written)."""
    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    from recomamp_pipelines.defs.collections.partitions import COLLECTION_DIMENSION, WEEK_DIMENSION

    rows = conn.execute(
        "select c.partition_key, wk.collection_id, wk.week_start_date "
        "from report_data_weeks as wk join report_data_collections as c on c.id = wk.collection_id "
        "order by c.partition_key, wk.week_start_date"
    ).fetchall()
    by_collection: dict[str, list[tuple[uuid.UUID, Any]]] = {}
    for key, collection_id, start in rows:
        by_collection.setdefault(key, []).append((collection_id, start))
    chosen: list[tuple[str, uuid.UUID, Any]] = []
    for key, weeks in by_collection.items():
        in_grid = [w for w in weeks if w[1].isoformat() in grid_weeks]
        count = min(round(len(weeks) * share), len(in_grid))
        chosen += [(key, cid, start) for cid, start in (in_grid[-count:] if count else [])]
    with conn.cursor() as cur:
        cur.executemany(
            "update report_data_weeks set status = 'SUCCESS', data_checksum = %s, "
            "result_rows = 24, completed_at = %s where collection_id = %s and week_start_date = %s",
            [(f"{n:064x}", now, cid, start) for n, (_, cid, start) in enumerate(chosen)],
        )
    conn.execute("analyze report_data_weeks")
    asset_key = dg.AssetKey(ASSET_PATH)
    entries = []
    for key, _, start in chosen:
        materialization = dg.AssetMaterialization(
            asset_key=asset_key,
            partition=dg.MultiPartitionKey(
                {COLLECTION_DIMENSION: key, WEEK_DIMENSION: start.isoformat()}
            ),
            metadata={"dagster/row_count": 24, "amc_run_seconds": 61.0, "amc_queue_seconds": 2.0},
        )
        event = DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
            event_specific_data=StepMaterializationData(materialization),
            job_name=RUNLESS_JOB_NAME,
        )
        entries.append(
            EventLogEntry(
                user_message="",
                level=20,
                job_name=RUNLESS_JOB_NAME,
                run_id=RUNLESS_RUN_ID,
                error_info=None,
                timestamp=time.time(),
                step_key=None,
                dagster_event=event,
            )
        )
    storage = instance.event_log_storage
    for at in range(0, len(entries), EVENT_BATCH):
        storage.store_event_batch(entries[at : at + EVENT_BATCH])
    return len(chosen), len(entries)


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------


def timed(call: Callable[[], Any], profile: bool) -> tuple[float, Any, str]:
    """(seconds, result, the profile's top lines when asked)."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        result = call()
    finally:
        if profiler is not None:
            profiler.disable()
    elapsed = time.perf_counter() - started
    text = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        text = out.getvalue()
    return elapsed, result, text


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------


def load_in_fresh_interpreter(repeat: int) -> list[tuple[float, float]]:
    """(Dagster's own import, the whole load) in seconds, each in a fresh interpreter."""
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_DEFINITIONS],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
            timeout=300,
        )
        dagster_import, whole = done.stdout.strip().splitlines()[-1].split()
        times.append((float(dagster_import), float(whole)))
    return times


def sensor_tick(sensor: Any, instance: Any, resources: dict[str, Any]) -> Any:
    import dagster as dg

    # Built inside the redirect: its console logger writes a line per collection otherwise.
    with contextlib.redirect_stderr(io.StringIO()):
        context = dg.build_sensor_context(instance=instance, resources=resources)
        return sensor(context)


def create_runs(instance: Any, requests: Sequence[Any]) -> None:
    """A run for each request, not started (no daemon launches them), as the daemon adds them.

    The job's snapshots are stored once, with the first run; the others are that run with their
    own id and tags, which is all the sensor reads of them.
    """
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from recomamp_pipelines.definitions import defs
    from recomamp_pipelines.defs.collections.assets import collection_weeks_job

    def tags_of(request: Any) -> dict[str, str]:
        return {**request.tags, "dagster/run_key": request.run_key or ""}

    if not requests:
        return
    job = defs.resolve_job_def(collection_weeks_job.name)
    first = instance.create_run_for_job(
        job, tags=tags_of(requests[0]), status=dg.DagsterRunStatus.NOT_STARTED
    )
    for request in requests[1:]:
        instance.add_run(first._replace(run_id=make_new_run_id(), tags=tags_of(request)))


def repository_snapshot_seconds() -> float:
    """The code server's share of a load: the repository's snapshot, built and serialized."""
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from recomamp_pipelines.definitions import defs

    started = time.perf_counter()
    serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    return time.perf_counter() - started


def automation_tick(instance: Any) -> Any:
    """The analytics automation sensor's evaluation: its conditions over its selection.

    A sensor of that kind runs in the daemon only; `evaluate_automation_conditions` is what
    it evaluates, on the same definitions and instance.
    """
    import dagster as dg

    from recomamp_pipelines.definitions import defs
    from recomamp_pipelines.defs.analytics.sensors import analytics_automation_sensor

    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=analytics_automation_sensor.asset_selection
    )


def start_webserver(processes: Processes, home: Path) -> tuple[str, float]:
    port = free_port()
    started = time.perf_counter()
    processes.start(
        [script("dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)],
        stdout=(home / "webserver.log").open("a"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    return f"http://127.0.0.1:{port}", started


def wait_for_location(client: httpx.Client, timeout: float = 300) -> tuple[str, str]:
    """(location, repository) once the webserver reports the code location loaded."""
    until = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < until:
        try:
            found = loaded_location(client)
            if found is not None:
                return found
            last = "code location still loading"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise BenchError(f"the webserver did not load the code location in time ({last})")


def reload_location(client: httpx.Client, location: str) -> float:
    started = time.perf_counter()
    answer = graphql(client, RELOAD_LOCATION, {"location": location})["reloadRepositoryLocation"]
    if answer["__typename"] != "WorkspaceLocationEntry":
        raise BenchError(f"reloadRepositoryLocation failed: {answer}")
    wait_for_location(client)
    return time.perf_counter() - started


def partition_health(client: httpx.Client) -> tuple[float, int, int]:
    """(seconds, response bytes, ranges of the primary dimension)."""
    started = time.perf_counter()
    response = client.post(
        "/graphql",
        json={
            "operationName": "PartitionHealthQuery",
            "query": PARTITION_HEALTH_QUERY,
            "variables": {"assetKey": {"path": ASSET_PATH}},
        },
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise BenchError(f"PartitionHealthQuery errors: {body['errors']}")
    statuses = body["data"]["assetNodeOrError"]["assetPartitionStatuses"]
    return elapsed, len(response.content), len(statuses.get("ranges") or [])


def chromium_executable() -> Path:
    configured = os.environ.get("RECOMAMP_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        raise BenchError(
            "Chromium not found: install the distribution's package (apt-get install chromium) "
            "or set RECOMAMP_CHROMIUM"
        )
    return Path(found)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def page_timings(
    base_url: str, first_key: str, partitions: int, materialized: int, repeat: int
) -> tuple[list[float], list[float], list[float]]:
    """(partitions page ready, launch dialog ready, page ready again) in seconds, each in a fresh
    browser context; the last with the UI's scripts cached.

    The page is ready when its partition grid is drawn: the selection's count of partitions,
    the count materialized (the statuses arrived) and the first collection key in the list.
    The dialog, opened by "Materialize…" on that page, is ready when its partition selection
    (the week dimension's range buttons) and its "Launch backfill" button are drawn.
    """
    from playwright.sync_api import sync_playwright

    page_times: list[float] = []
    dialog_times: list[float] = []
    warm_times: list[float] = []
    query_answered: list[float] = []
    statuses = re.compile(rf"Materialized \(({materialized}|{materialized:,})\)")
    selected = re.compile(rf"^({partitions}|{partitions:,}) Partitions Selected$")

    def open_partitions_page(page: Any) -> float:
        started = time.perf_counter()
        answered: list[float] = []

        def finished(request: Any) -> None:
            if request.method == "POST" and "PartitionHealthQuery" in (request.post_data or ""):
                answered.append(time.perf_counter() - started)

        page.on("requestfinished", finished)
        page.goto(f"{base_url}{ASSET_PAGE}?view=partitions", wait_until="commit")
        for locator in (page.get_by_text(selected), page.get_by_text(statuses)):
            locator.first.wait_for(timeout=PAGE_TIMEOUT_MS)
        # The list row draws the key truncated; its full text is in the row, hidden.
        page.get_by_text(first_key, exact=True).first.wait_for(
            state="attached", timeout=PAGE_TIMEOUT_MS
        )
        ready = time.perf_counter() - started
        page.remove_listener("requestfinished", finished)
        if answered:
            query_answered.append(min(answered))
        return ready

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable()), headless=True, args=CHROMIUM_ARGS
        )
        try:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                # The community pop-up a fresh browser shows on localhost, dismissed beforehand.
                context.add_init_script("localStorage.setItem('communityNux', '\"1\"')")
                page = context.new_page()
                try:
                    page_times.append(open_partitions_page(page))
                    started = time.perf_counter()
                    page.get_by_role("button", name="Materialize…").first.click()
                    dialog = page.get_by_role("dialog")
                    for locator in (
                        dialog.get_by_text("Partition selection"),
                        dialog.get_by_role("button", name="Latest"),
                        dialog.get_by_role("button", name="Launch backfill"),
                    ):
                        locator.first.wait_for(timeout=PAGE_TIMEOUT_MS)
                    dialog_times.append(time.perf_counter() - started)
                    # Again, with the UI's scripts in the browser's cache.
                    warm_times.append(open_partitions_page(page))
                finally:
                    context.close()
        finally:
            browser.close()
    if query_answered:
        print(
            "  PartitionHealthQuery answered, seconds after navigation: "
            + ", ".join(f"{t:.2f}" for t in query_answered),
            flush=True,
        )
    return page_times, dialog_times, warm_times


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def run(options: Options) -> bool:
    home = Path(tempfile.mkdtemp(prefix="recomamp-bench-scale-"))
    os.environ["RECOMAMP_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    os.environ.pop("RECOMAMP_RESULTS_ROOT", None)
    print(f"home {home}; code {revision()}; {os.cpu_count()} CPU(s)", flush=True)
    processes = Processes()
    figures = Figures()
    ok = False
    try:
        from bench.database import bench_database

        with bench_database("bench_scale") as url:
            try:
                measure(options, home, url, processes, figures)
                ok = True
            finally:
                processes.stop_all()
    finally:
        processes.stop_all()
        if options.keep or not ok:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    if not ok:
        return False
    report(figures, options)
    return all(f.met is not False for f in figures.rows)


def measure(options: Options, home: Path, url: str, processes: Processes, figures: Figures) -> None:
    os.environ["DATABASE_URL"] = url
    import dagster as dg

    from recomamp_pipelines.dagster_home import prepare_dagster_home
    from recomamp_pipelines.definitions import defs
    from recomamp_pipelines.defs.collections.backfills import collection_backfill_sensor
    from recomamp_pipelines.defs.collections.nightly import nightly_collection_weeks
    from recomamp_pipelines.defs.collections.partitions import (
        COLLECTIONS_PARTITIONS_NAME,
        WEEK_DIMENSION,
    )
    from recomamp_pipelines.defs.collections.sensors import collections_sensor
    from recomamp_pipelines.defs.recovery.reconcile import dead_run_reconciler
    from recomamp_pipelines.defs.resources import RecomampResource
    from recomamp_pipelines.defs.schedules.resources import SchedulerClock
    from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor
    from recomamp_pipelines.settings import load_settings

    # One line per registered collection would drown the figures.
    logging.getLogger("dagster").setLevel(logging.WARNING)
    settings = load_settings()
    prepare_dagster_home(settings, url)
    now = datetime.now(UTC).replace(microsecond=0)
    recomamp = {"recomamp": RecomampResource()}
    clocked = {**recomamp, "scheduler_clock": SchedulerClock.at(now)}
    print("\nCode location", flush=True)
    loads = load_in_fresh_interpreter(options.repeat)
    whole = [w for _, w in loads]
    figures.add(
        "definitions loaded (fresh interpreter, import + repository)",
        median(whole),
        LOAD,
        f"median of {len(loads)}; min {min(whole):.2f} s; of which `import dagster` "
        f"{median([d for d, _ in loads]):.2f} s",
    )

    snapshot = repository_snapshot_seconds()
    figures.add(
        "repository snapshot built and serialized (in process)",
        snapshot,
        None,
        "what the code server sends the webserver on each load",
    )

    print("\nSeeding", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        seeded = seed(conn, options, now)
    print(
        f"  {len(seeded.collection_ids)} collections of {options.weeks} weeks "
        f"({seeded.first_week.partition_key} .. {seeded.last_week.partition_key}) over "
        f"{options.owners} owners x {options.instances_per_owner} instances, "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )

    with _instance() as instance:
        print("\nSensors and schedule", flush=True)
        seconds, result, profile = timed(
            lambda: sensor_tick(collections_sensor, instance, recomamp), options.profile
        )
        requests = list(result.dynamic_partitions_requests or [])
        added = sum(len(r.partition_keys) for r in requests if hasattr(r, "partition_keys"))
        figures.add(
            f"collections_sensor, first tick (registers {len(seeded.collection_ids)} collections)",
            seconds,
            TICK,
            f"{added} partition keys to add",
        )
        if profile:
            figures.profiles["collections_sensor first tick"] = profile
        started = time.perf_counter()
        for request in requests:
            instance.add_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME, request.partition_keys)
        print(f"  (the daemon's write of {added} keys: {time.perf_counter() - started:.2f} s)")
        seconds, result, _ = timed(
            lambda: sensor_tick(collections_sensor, instance, recomamp), False
        )
        figures.add(
            "collections_sensor, steady tick",
            seconds,
            TICK,
            f"{len(result.dynamic_partitions_requests or [])} requests",
        )

        asset = defs.get_assets_def(dg.AssetKey(ASSET_PATH))
        partitions_def = asset.partitions_def
        assert isinstance(partitions_def, dg.MultiPartitionsDefinition)
        grid = partitions_def.get_partitions_def_for_dimension(WEEK_DIMENSION)
        week_keys = grid.get_partition_keys()
        collection_keys = instance.get_dynamic_partitions(COLLECTIONS_PARTITIONS_NAME)
        partition_count = len(week_keys) * len(collection_keys)
        print(
            f"  partitions: {len(collection_keys)} collections x {len(week_keys)} weeks of the "
            f"grid ({week_keys[0]} .. {week_keys[-1]}) = {partition_count:,}",
            flush=True,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            weeks_done, events = materialize_share(
                conn, instance, set(week_keys), options.materialized_share, now
            )
            (week_rows,) = conn.execute("select count(*) from report_data_weeks").fetchone()  # type: ignore[misc]
        print(
            f"  {weeks_done:,} of {week_rows:,} week rows SUCCESS, {events:,} materializations "
            f"({events / max(partition_count, 1):.1%} of the partitions) in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

        for name, call, key in (
            (
                "collection_backfill_sensor tick",
                lambda: sensor_tick(collection_backfill_sensor, instance, clocked),
                "run requests",
            ),
            (
                "workflow_schedules_sensor tick",
                lambda: sensor_tick(workflow_schedules_sensor, instance, clocked),
                "run requests",
            ),
            (
                "dead_run_reconciler tick",
                lambda: sensor_tick(dead_run_reconciler, instance, clocked),
                "run requests",
            ),
        ):
            seconds, result, profile = timed(call, options.profile)
            figures.add(name, seconds, TICK, f"{len(result.run_requests or [])} {key}")
            if profile:
                figures.profiles[name] = profile
            if name.startswith("collection_backfill_sensor"):
                backfills = list(result.run_requests or [])
        started = time.perf_counter()
        create_runs(instance, backfills)
        print(
            f"  (those {len(backfills)} runs stored, not started: "
            f"{time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        seconds, result, profile = timed(
            lambda: sensor_tick(collection_backfill_sensor, instance, clocked), options.profile
        )
        figures.add(
            f"collection_backfill_sensor tick, its {len(backfills)} runs created",
            seconds,
            TICK,
            f"{len(result.run_requests or [])} run requests",
        )
        if profile:
            figures.profiles["collection_backfill_sensor steady tick"] = profile
        try:
            seconds, result, profile = timed(lambda: automation_tick(instance), options.profile)
            figures.add(
                "analytics_automation_sensor evaluation",
                seconds,
                TICK,
                f"{result.total_requested} asset partitions requested",
            )
            if profile:
                figures.profiles["analytics_automation_sensor tick"] = profile
        except Exception as exc:  # a figure that cannot be taken is reported as such
            figures.add("analytics_automation_sensor evaluation", None, TICK, f"not taken: {exc}")

        schedule_context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=now, resources=recomamp
        )
        seconds, result, profile = timed(
            lambda: nightly_collection_weeks(schedule_context), options.profile
        )
        planned = len(result) if isinstance(result, list) else 0
        figures.add("nightly_collection_weeks evaluation", seconds, NIGHTLY, f"{planned} runs")
        if profile:
            figures.profiles["nightly_collection_weeks"] = profile

        print("\nWebserver", flush=True)
        base_url, started = start_webserver(processes, home)
        with httpx.Client(base_url=base_url, timeout=300) as client:
            location, _ = wait_for_location(client)
            figures.add(
                "webserver start -> code location loaded",
                time.perf_counter() - started,
                None,
                "for scale: two interpreters start (webserver, code server)",
            )
            reloads = [reload_location(client, location) for _ in range(options.repeat)]
            figures.add(
                "code location reload (the UI's Reload)",
                median(reloads),
                LOAD,
                f"median of {len(reloads)}",
            )
            cold, size, ranges = partition_health(client)
            figures.add(
                "PartitionHealthQuery, first (builds the status cache)",
                cold,
                QUERY,
                f"{size / 1e6:.2f} MB, {ranges} ranges",
            )
            warm = [partition_health(client)[0] for _ in range(options.repeat)]
            figures.add(
                "PartitionHealthQuery, warm",
                median(warm),
                QUERY,
                f"median of {len(warm)}; max {max(warm):.2f} s",
            )
            if options.browser:
                try:
                    pages, dialogs, warm_pages = page_timings(
                        base_url, collection_keys[0], partition_count, events, options.repeat
                    )
                    figures.add(
                        "asset partitions page ready (Chromium)",
                        median(pages),
                        PAGE,
                        f"median of {len(pages)}: " + ", ".join(f"{p:.2f}" for p in pages),
                    )
                    figures.add(
                        "asset partitions page ready again (scripts cached)",
                        median(warm_pages),
                        PAGE,
                        f"median of {len(warm_pages)}: "
                        + ", ".join(f"{p:.2f}" for p in warm_pages),
                    )
                    figures.add(
                        "launch dialog ready (Chromium)",
                        median(dialogs),
                        PAGE,
                        f"median of {len(dialogs)}: " + ", ".join(f"{p:.2f}" for p in dialogs),
                    )
                except Exception as exc:  # reported as a figure not taken
                    figures.add("asset partitions page ready (Chromium)", None, PAGE, str(exc))
        figures.profiles["_partitions"] = (
            f"{len(collection_keys)} x {len(week_keys)} = {partition_count:,} partitions, "
            f"{events:,} materialized"
        )


@contextlib.contextmanager
def _instance() -> Iterator[Any]:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


def report(figures: Figures, options: Options) -> None:
    print()
    print(
        f"{options.collections} collections x {options.weeks} weeks; "
        f"{figures.profiles.get('_partitions', '')}; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)"
    )
    width = max(len(f.name) for f in figures.rows)
    print(f"| {'figure':<{width}} | measured | target | met |")
    print(f"|{'-' * (width + 2)}|----------|--------|-----|")
    for f in figures.rows:
        shown = "n/a" if f.seconds is None else f"{f.seconds:.2f} s"
        target = f.target.label if f.target else ""
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        print(f"| {f.name:<{width}} | {shown:>8} | {target:<6} | {met:<3} |")
    for f in figures.rows:
        if f.note:
            print(f"  {f.name}: {f.note}")
    for name, text in figures.profiles.items():
        if name.startswith("_"):
            continue
        print(f"\nProfile of {name} (cumulative, top 25)\n{text}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=1000, help="Collections (1000).")
    parser.add_argument("--weeks", type=int, default=104, help="Weeks per collection (104).")
    parser.add_argument("--owners", type=int, default=50, help="Users, one AMC account each (50).")
    parser.add_argument(
        "--instances-per-owner", type=int, default=2, help="AMC instances per owner (2)."
    )
    parser.add_argument(
        "--materialized-share",
        type=float,
        default=0.2,
        help="Share of each collection's weeks materialized, the newest first (0.2).",
    )
    parser.add_argument("--repeat", type=int, default=3, help="Repetitions of repeated figures.")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile each tick and evaluation; print the top."
    )
    parser.add_argument("--no-browser", action="store_true", help="Skip the Chromium figures.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary home and logs.")
    args = parser.parse_args(argv)
    if args.collections < 1:
        parser.error(f"--collections {args.collections}: expected at least 1")
    if args.weeks < 1:
        parser.error(f"--weeks {args.weeks}: expected at least 1")
    if not 0 <= args.materialized_share <= 1:
        parser.error(f"--materialized-share {args.materialized_share}: expected 0..1")
    if args.owners < 1 or args.instances_per_owner < 1:
        parser.error("--owners and --instances-per-owner: expected at least 1")
    options = Options(
        collections=args.collections,
        weeks=args.weeks,
        owners=args.owners,
        instances_per_owner=args.instances_per_owner,
        materialized_share=args.materialized_share,
        repeat=args.repeat,
        profile=args.profile,
        browser=not args.no_browser,
        keep=args.keep,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    return 0 if run(options) else 1


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
