"""Benchmark: a collection backfill launched the way the Dagster UI launches it, run by the daemon.

Sets up, in a throwaway RECOMAMP_HOME: the RecomAMP database (a fresh database on DATABASE_URL's
server when it is set, else the embedded PostgreSQL), its migrations, the sample account with
its two sample collections replaced by ONE collection of `--weeks` weeks (ending at least two
weeks ago), the AMC simulator with `--execution-seconds`, the settings file and a generated
dagster.yaml (Postgres-backed instance). Then starts `dagster-webserver` and `dagster-daemon run`
on workspace.yaml, waits for the collections sensor to register the collection, and launches
the backfill through GraphQL `launchPartitionBackfill` with the parameters the UI's launch
dialog sends. It times the launch to the last week's materialization and prints where the time
went. Every process it started is stopped at the end, also on error or Ctrl-C.

    .venv/bin/python -m bench.backfill_daemon                      # 52 weeks, T = 60 s
    .venv/bin/python -m bench.backfill_daemon --weeks 12 --execution-seconds 5   # quick check

Target: 1.25 x ceil(weeks / 10) x T + 60 s (AMC runs 10 executions per instance at once).
Asserts nothing; exits 1 when the backfill did not finish every week.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from bench._harness import (
    BenchError,
    free_port,
    graphql,
    loaded_location,
    revision,
    script,
)
from recomamp_pipelines.ui_backfill import (
    ASSET_PATH,
    AUTOMATION_QUERY,
    LAUNCH_BACKFILL,
    STOP_SCHEDULE,
    STOP_SENSOR,
    UI_TAGS,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = REPO_ROOT / "workspace.yaml"
JOB_NAME = "collection_weeks_job"
WORKFLOW_NAME = "Weekly DSP performance"
#: AMC runs at most this many executions of an instance at once (the simulator does the same).
AMC_SLOTS = 10
#: The three ways of asking for the same weeks; "asset-page" is what the UI sends by default.
FORMS = ("asset-page", "job-page", "partitions-by-assets")
BACKFILL_TAG = "dagster/backfill"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
STOP_GRACE_SECONDS = 10.0
#: Time kept back from --timeout-seconds for stopping everything.
CLEANUP_RESERVE_SECONDS = 45.0

ADD_DYNAMIC_PARTITION = """
mutation AddDynamicPartition(
  $repositorySelector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!
) {
  addDynamicPartition(
    repositorySelector: $repositorySelector,
    partitionsDefName: $partitionsDefName,
    partitionKey: $partitionKey
  ) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""

#: The one sensor the benchmark needs: it registers the collection's partition key.
REGISTERING_SENSOR = "collections_sensor"

SAMPLE_QUERY = """
select
    (select count(*) from amc_instance_slots) as slots_held,
    count(*) filter (
        where status in ('PENDING', 'RUNNING') and amc_execution_id is not null
    ) as submitted_unfinished,
    count(*) filter (where status = 'SUCCESS') as executions_succeeded
from workflow_executions
where collection_id = %s
"""
WEEKS_QUERY = """
select
    wk.week_start_date,
    wk.status,
    extract(epoch from we.created_at)::float8 as intent_at,
    extract(epoch from we.submitted_at)::float8 as submitted_at,
    extract(epoch from wk.completed_at)::float8 as published_at,
    we.amc_execution_id
from report_data_weeks as wk
left join workflow_executions as we on we.id = wk.execution_id
where wk.collection_id = %s
order by wk.week_start_date
"""
ACCESS_LOG_LINE = re.compile(r'"(GET|POST|PUT|DELETE) ([^ ?"]+)')


@dataclass
class Deadline:
    """The benchmark's hard time limit, shared by every wait."""

    ends_at: float

    def left(self) -> float:
        return self.ends_at - time.time()

    def until(self, seconds: float) -> float:
        """A wait of `seconds`, or less when the hard limit comes first."""
        return time.time() + max(0.0, min(seconds, self.left()))


@dataclass
class Processes:
    """Every subprocess the benchmark started, each the leader of its own process group.

    Stopping signals the group, so the code servers and run workers a process spawned stop
    with it, and nothing the benchmark did not start is touched.
    """

    started: list[tuple[str, subprocess.Popen[Any]]] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(list(args), start_new_session=True, **kwargs)
        self.started.append((name, process))
        return process

    def stop_all(self) -> None:
        for name, process in reversed(self.started):
            _stop_group(name, process)
        self.started.clear()


def _stop_group(name: str, process: subprocess.Popen[Any]) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; its group may still hold children that ignored SIGTERM.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
    print(f"warning: {name} (pid {process.pid}) did not stop", file=sys.stderr)


@dataclass
class SimulatorLog:
    """The simulator's stdout read on a thread: the ready line, then timestamped access lines."""

    process: subprocess.Popen[str]
    log_path: Path
    base_url: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[float, str, str]] = field(default_factory=list)

    def start(self) -> None:
        threading.Thread(target=self._read, name="simulator-stdout", daemon=True).start()

    def _read(self) -> None:
        from recomamp_pipelines.demo import SIMULATOR_READY

        assert self.process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in self.process.stdout:
                seen = time.time()
                log.write(f"{seen:.3f} {line}")
                if line.startswith(SIMULATOR_READY):
                    self.base_url = line[len(SIMULATOR_READY) :].strip()
                    self.ready.set()
                    continue
                match = ACCESS_LOG_LINE.search(line)
                if match:
                    self.requests.append((seen, match.group(1), match.group(2)))

    def detections(self) -> dict[str, float]:
        """When the pipeline saw each execution end, by AMC id: its last status poll.

        That is the last `GET .../workflowExecutions/<id>` before the first request for the
        execution's download URLs (the benchmark's own look-ups come later).
        """
        polls: dict[str, list[float]] = {}
        asked: dict[str, float] = {}
        for seen, method, path in list(self.requests):
            parts = path.rstrip("/").split("/")
            if method != "GET" or "workflowExecutions" not in parts:
                continue
            if parts[-2] == "workflowExecutions":
                polls.setdefault(parts[-1], []).append(seen)
            elif parts[-1] == "downloadUrls":
                asked.setdefault(parts[-2], seen)
        found = {}
        for execution_id, at in asked.items():
            before = [t for t in polls.get(execution_id, []) if t <= at]
            found[execution_id] = max(before) if before else at
        return found


@dataclass
class Options:
    weeks: int
    execution_seconds: float
    form: str
    poll_initial_seconds: float | None
    poll_max_seconds: float | None
    timeout_seconds: float
    keep: bool


@dataclass
class Environment:
    home: Path
    database_url: str
    drop_database: str | None
    embedded_dir: Path | None
    simulator_url: str
    collection_id: uuid.UUID
    weeks: list[Any]
    owner_refresh_token: str
    owner_account_id: str
    instance_id: str


@dataclass
class Samples:
    slots_held: int = 0
    submitted_unfinished: int = 0
    simulator_unfinished: int = 0
    simulator_running: int = 0


@dataclass
class Outcome:
    launched_at: float
    backfill_id: str
    materialized: dict[str, float]
    samples: Samples
    finished_at: float | None
    backfill_status: str
    backfill_done_at: float | None


@contextlib.contextmanager
def database(home: Path) -> Iterator[tuple[str, str | None, Path | None]]:
    """(url, database to drop, embedded data dir): a fresh database, gone afterwards."""
    from recomamp_pipelines.db.connection import database_url
    from recomamp_pipelines.db.embedded import stop_embedded
    from recomamp_pipelines.settings import load_settings

    admin_url = os.environ.get("DATABASE_URL")
    if admin_url:
        name = f"recomamp_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        try:
            yield url, name, None
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )
        return
    settings = load_settings()
    assert settings.home == home, f"RECOMAMP_HOME is {settings.home}, expected {home}"
    try:
        yield database_url(settings), None, settings.embedded_data_dir
    finally:
        stop_embedded(settings.embedded_data_dir)


def load_account(url: str, weeks: int) -> tuple[uuid.UUID, Any]:
    """The sample account, its two sample collections replaced by one of `weeks` weeks."""
    from recomamp_pipelines.collections.management import create_collection
    from recomamp_pipelines.crypto import TokenCipher
    from recomamp_pipelines.demo import SIMULATOR_INSTANCES, SIMULATOR_REFRESH_TOKENS
    from recomamp_pipelines.sample.account import load_sample_account, sample_range, sample_users
    from recomamp_pipelines.settings import load_settings

    settings = load_settings()
    users = sample_users(SIMULATOR_REFRESH_TOKENS, SIMULATOR_INSTANCES)
    today = datetime.now(UTC).date()
    with psycopg.connect(url, autocommit=True) as conn:
        samples = load_sample_account(
            conn,
            TokenCipher.from_settings(settings),
            users,
            today=today,
            week_start_day=settings.week_start_day,
        )
        conn.execute(
            "delete from report_data_collections where id = any(%s)",
            ([c.collection_id for c in samples],),
        )
        start, end = sample_range(today, weeks, settings.week_start_day)
        collection_id = create_collection(
            conn,
            user_email=users[0].email,
            workflow=WORKFLOW_NAME,
            start_date=start,
            end_date=end,
            name=f"Backfill benchmark {weeks} weeks",
            today=today,
        )
    return collection_id, users[0]


def start_simulator(
    processes: Processes, home: Path, execution_seconds: float, deadline: Deadline
) -> SimulatorLog:
    from recomamp_pipelines.demo import (
        SIMULATOR_CLIENT_ID,
        SIMULATOR_CLIENT_SECRET,
        SIMULATOR_INSTANCES,
        SIMULATOR_REFRESH_TOKENS,
    )

    args = [
        sys.executable,
        "-m",
        "recomamp_pipelines.cli",
        "amc-simulator",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--client-id",
        SIMULATOR_CLIENT_ID,
        "--client-secret",
        SIMULATOR_CLIENT_SECRET,
        "--execution-seconds",
        str(execution_seconds),
        "--state-dir",
        str(home / "simulator"),
        # Access lines give the moment each execution's results were asked for.
        "--log-level",
        "info",
    ]
    for token in SIMULATOR_REFRESH_TOKENS:
        args += ["--refresh-token", token]
    for instance in SIMULATOR_INSTANCES:
        args += ["--instance", instance]
    logs = home / "logs"
    process = processes.start(
        "simulator",
        args,
        stdout=subprocess.PIPE,
        stderr=(logs / "simulator.err").open("a"),
        text=True,
        bufsize=1,
        cwd=REPO_ROOT,
    )
    log = SimulatorLog(process, logs / "simulator.out")
    log.start()
    if not log.ready.wait(max(0.0, deadline.until(60) - time.time())) or not log.base_url:
        raise BenchError(f"the AMC simulator did not start; see {logs}/simulator.err")
    return log


def configure(home: Path, simulator_url: str, options: Options, url: str, external: bool) -> None:
    """Write the settings file and put the same values in this process's environment.

    The environment overrides the settings file, so every value the Dagster processes must see
    is set here too; they inherit this environment.
    """
    from recomamp_pipelines.crypto import ensure_local_key
    from recomamp_pipelines.demo import SIMULATOR_CLIENT_ID, SIMULATOR_CLIENT_SECRET
    from recomamp_pipelines.settings import (
        AMC_API_URL,
        AMC_CLIENT_ID,
        AMC_CLIENT_SECRET,
        AMC_TOKEN_URL,
        DAGSTER_HOME,
        DATABASE_URL,
        RECOMAMP_AMC_POLL_INITIAL_SECONDS,
        RECOMAMP_AMC_POLL_MAX_SECONDS,
        RECOMAMP_RESULTS_ROOT,
        load_settings,
        write_settings_file,
    )

    values = {
        AMC_API_URL: simulator_url,
        AMC_TOKEN_URL: f"{simulator_url}/auth/o2/token",
        AMC_CLIENT_ID: SIMULATOR_CLIENT_ID,
        AMC_CLIENT_SECRET: SIMULATOR_CLIENT_SECRET,
        DAGSTER_HOME: str(home / "dagster_home"),
        RECOMAMP_RESULTS_ROOT: str(home / "results"),
    }
    for name, value in (
        (RECOMAMP_AMC_POLL_INITIAL_SECONDS, options.poll_initial_seconds),
        (RECOMAMP_AMC_POLL_MAX_SECONDS, options.poll_max_seconds),
    ):
        if value is None:
            os.environ.pop(name, None)
        else:
            values[name] = str(value)
    write_settings_file(home / "settings.env", values)
    os.environ.update(values)
    if external:
        os.environ[DATABASE_URL] = url
    ensure_local_key(load_settings())


def start_webserver(processes: Processes, home: Path, url: str) -> str:
    """The webserver on a generated dagster.yaml; its base URL."""
    from recomamp_pipelines.dagster_home import prepare_dagster_home
    from recomamp_pipelines.settings import load_settings

    dagster_home = prepare_dagster_home(load_settings(), url)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    port = free_port()
    processes.start(
        "dagster-webserver",
        [
            script("dagster-webserver"),
            "-w",
            str(WORKSPACE),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=(home / "logs" / "webserver.log").open("a"),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return f"http://127.0.0.1:{port}"


def start_daemon(processes: Processes, home: Path) -> None:
    processes.start(
        "dagster-daemon",
        [script("dagster-daemon"), "run", "-w", str(WORKSPACE)],
        stdout=(home / "logs" / "daemon.log").open("a"),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def wait_for_webserver(client: httpx.Client, deadline: Deadline) -> tuple[str, str]:
    """(location, repository) once /server_info answers and the code location has loaded."""
    until = deadline.until(180)
    last = "no answer"
    while time.time() < until:
        try:
            if client.get("/server_info").status_code == 200:
                found = loaded_location(client)
                if found is not None:
                    return found
                last = "code location still loading"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    raise BenchError(f"the Dagster webserver was not ready in time ({last})")


def stop_automation(client: httpx.Client, repository: tuple[str, str]) -> list[str]:
    """Turn off, as the UI's toggles do, every sensor and schedule but the registering one.

    Left running, the collection backfill sensor would run the new collection's weeks itself
    before the backfill under test, and a schedule could start runs mid-measurement.
    """
    selector = {"repositoryLocationName": repository[0], "repositoryName": repository[1]}
    found = graphql(client, AUTOMATION_QUERY, {"selector": selector})["repositoryOrError"]
    if found["__typename"] != "Repository":
        raise BenchError(f"repository {repository} not found: {found}")
    stopped = []
    targets = [
        (STOP_SENSOR, "stopSensor", item["name"], item["sensorState"])
        for item in found["sensors"]
        if item["name"] != REGISTERING_SENSOR
    ] + [
        (STOP_SCHEDULE, "stopRunningSchedule", item["name"], item["scheduleState"])
        for item in found["schedules"]
    ]
    for mutation, field_name, name, state in targets:
        if state["status"] != "RUNNING":
            continue
        answer = graphql(client, mutation, {"id": state["id"]})[field_name]
        if answer["__typename"] in ("PythonError", "UnauthorizedError"):
            raise BenchError(f"could not stop {name}: {answer}")
        stopped.append(name)
    return stopped


def wait_for_registration(
    client: httpx.Client,
    url: str,
    collection_id: uuid.UUID,
    repository: tuple[str, str],
    deadline: Deadline,
) -> tuple[str, str]:
    """(partition key, who registered it): the collections sensor, else addDynamicPartition."""
    import dagster as dg

    from recomamp_pipelines.defs.collections.partitions import COLLECTIONS_PARTITIONS_NAME

    instance = dg.DagsterInstance.get()
    until = deadline.until(150)
    key: str | None = None
    while time.time() < until:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select partition_key from report_data_collections where id = %s",
                (collection_id,),
            ).fetchone()
        key = row[0] if row else None
        if key and instance.has_dynamic_partition(COLLECTIONS_PARTITIONS_NAME, key):
            return key, "collections sensor"
        time.sleep(1)
    if key is None:
        raise BenchError(f"the collections sensor never registered collection {collection_id}")
    added = graphql(
        client,
        ADD_DYNAMIC_PARTITION,
        {
            "repositorySelector": {
                "repositoryLocationName": repository[0],
                "repositoryName": repository[1],
            },
            "partitionsDefName": COLLECTIONS_PARTITIONS_NAME,
            "partitionKey": key,
        },
    )["addDynamicPartition"]
    if added["__typename"] != "AddDynamicPartitionSuccess":
        raise BenchError(f"addDynamicPartition failed: {added}")
    return key, "addDynamicPartition (the sensor was late)"


def backfill_params(
    form: str, partition_names: list[str], repository: tuple[str, str]
) -> dict[str, Any]:
    """The mutation's parameters, as LaunchAssetChoosePartitionsDialog builds them (1.13.27).

    From the asset's page the dialog's target is the hidden asset job, so it sends the asset
    selection and the partition names; from the job's page it adds the job's partition set.
    It never sends partitionsByAssets, which is here for comparison.
    """
    asset = {"path": ASSET_PATH}
    if form == "partitions-by-assets":
        return {
            "tags": UI_TAGS,
            "partitionsByAssets": [
                {
                    "assetKey": asset,
                    "partitions": {
                        "range": {"start": partition_names[0], "end": partition_names[-1]}
                    },
                }
            ],
        }
    params: dict[str, Any] = {
        "tags": UI_TAGS,
        "assetSelection": [asset],
        "partitionNames": partition_names,
        "fromFailure": False,
    }
    if form == "job-page":
        params["selector"] = {
            "partitionSetName": f"{JOB_NAME}_partition_set",
            "repositorySelector": {
                "repositoryLocationName": repository[0],
                "repositoryName": repository[1],
            },
        }
    return params


def sample(url: str, collection_id: uuid.UUID, sim: httpx.Client, samples: Samples) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(SAMPLE_QUERY, (collection_id,)).fetchone()
    assert row is not None
    samples.slots_held = max(samples.slots_held, row[0])
    samples.submitted_unfinished = max(samples.submitted_unfinished, row[1])
    with contextlib.suppress(httpx.HTTPError):
        statuses = sim.get("/_sim/counters").json().get("executions_by_status", {})
        running = int(statuses.get("RUNNING", 0))
        samples.simulator_running = max(samples.simulator_running, running)
        samples.simulator_unfinished = max(
            samples.simulator_unfinished, running + int(statuses.get("PENDING", 0))
        )


def watch(
    env: Environment,
    backfill_id: str,
    launched_at: float,
    partition_names: list[str],
    deadline: Deadline,
) -> Outcome:
    """Sample every second until every week is materialized or the backfill gives up."""
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus

    instance = dg.DagsterInstance.get()
    asset_key = dg.AssetKey(ASSET_PATH)
    wanted = set(partition_names)
    samples = Samples()
    materialized: dict[str, float] = {}
    finished_at: float | None = None
    backfill_done_at: float | None = None
    status = "REQUESTED"
    idle_since: float | None = None
    last_report = 0.0
    active = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING)
    with httpx.Client(base_url=env.simulator_url, timeout=5) as sim:
        while time.time() < deadline.ends_at - CLEANUP_RESERVE_SECONDS:
            sample(env.database_url, env.collection_id, sim, samples)
            for record in instance.fetch_materializations(asset_key, limit=10_000).records:
                if record.partition_key in wanted:
                    materialized.setdefault(record.partition_key, record.timestamp)
            runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
            backfill = instance.get_backfill(backfill_id)
            if backfill is not None:
                status = backfill.status.value
                if backfill.status not in active and backfill_done_at is None:
                    backfill_done_at = time.time()
            now = time.time()
            if finished_at is None and len(materialized) == len(wanted):
                finished_at = max(materialized.values())
            if now - last_report >= 15:
                last_report = now
                print(
                    f"  {now - launched_at:6.0f} s: {len(materialized)}/{len(wanted)} weeks "
                    f"materialized, {len(runs)} run(s), AMC slots held {samples.slots_held} "
                    f"max, backfill {status}",
                    flush=True,
                )
            runs_done = bool(runs) and all(run.is_finished for run in runs)
            if finished_at is not None and runs_done and backfill_done_at is not None:
                break
            # After the last week, the run's end and the backfill's status are extras: wait for
            # them a little only.
            if finished_at is not None and now - finished_at > 75:
                break
            if runs_done and backfill_done_at is not None and finished_at is None:
                idle_since = idle_since or now
                if now - idle_since > 20:
                    break
            time.sleep(1)
    return Outcome(
        launched_at, backfill_id, materialized, samples, finished_at, status, backfill_done_at
    )


@dataclass
class WeekTimes:
    week: str
    status: str
    intent_at: float | None
    submitted_at: float | None
    amc_created_at: float | None
    amc_ended_at: float | None
    amc_execution_seconds: float | None
    detected_at: float | None
    published_at: float | None
    materialized_at: float | None


def week_times(env: Environment, outcome: Outcome, sim_log: SimulatorLog) -> list[WeekTimes]:
    from recomamp_pipelines.amc.client import AmcClient
    from recomamp_pipelines.settings import load_settings

    with psycopg.connect(env.database_url) as conn:
        rows = conn.execute(WEEKS_QUERY, (env.collection_id,)).fetchall()
    detected = sim_log.detections()
    by_week = {key.rsplit("|", 1)[-1]: ts for key, ts in outcome.materialized.items()}
    times: list[WeekTimes] = []
    with AmcClient.from_settings(
        load_settings(), env.owner_refresh_token, advertiser_id=env.owner_account_id
    ) as client:
        amc = client.instance(env.instance_id)
        for week_start, status, intent_at, submitted_at, published_at, amc_id in rows:
            created = ended = seconds = None
            if amc_id:
                execution = amc.get_execution(amc_id)
                created = execution.create_time.timestamp() if execution.create_time else None
                if execution.is_terminal and execution.last_updated_time:
                    ended = execution.last_updated_time.timestamp()
                seconds = execution.execution_time
            times.append(
                WeekTimes(
                    week=week_start.isoformat(),
                    status=status,
                    intent_at=intent_at,
                    submitted_at=submitted_at,
                    amc_created_at=created,
                    amc_ended_at=ended,
                    amc_execution_seconds=seconds,
                    detected_at=detected.get(amc_id or ""),
                    published_at=published_at,
                    materialized_at=by_week.get(week_start.isoformat()),
                )
            )
    return times


def run_events(run_id: str) -> dict[str, float]:
    """Timestamps of the run's milestones, first occurrence each."""
    import dagster as dg

    kinds = {
        dg.DagsterEventType.RUN_ENQUEUED: "enqueued",
        dg.DagsterEventType.RUN_STARTING: "launched",
        dg.DagsterEventType.RUN_START: "worker started",
        dg.DagsterEventType.STEP_START: "step started",
        dg.DagsterEventType.RUN_SUCCESS: "run ended",
        dg.DagsterEventType.RUN_FAILURE: "run ended",
    }
    instance = dg.DagsterInstance.get()
    found: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id, of_type=set(kinds)).records:
        event = record.event_log_entry.dagster_event
        if event is not None:
            found.setdefault(kinds[event.event_type], record.timestamp)
    return found


def critical_path(times: list[WeekTimes]) -> list[WeekTimes]:
    """The chain of AMC slot hand-overs that ended in the last materialization, first first.

    A week that waited for a slot took the one given back by the latest week AMC was seen to
    finish before its submission (the slot is given back when AMC's end is seen or, in code
    that holds it through the ingest, later: the chain is then still right, the hand-over
    longer).
    """
    done = [t for t in times if t.materialized_at and t.submitted_at and t.detected_at]
    if not done:
        return []
    chain = [max(done, key=lambda t: t.materialized_at or 0)]
    first_submission = min(t.submitted_at or 0 for t in done)
    while True:
        week = chain[-1]
        assert week.submitted_at is not None
        if week.submitted_at - first_submission < 5:
            break
        earlier = [t for t in done if (t.detected_at or 0) <= week.submitted_at and t not in chain]
        if not earlier:
            break
        chain.append(max(earlier, key=lambda t: t.detected_at or 0))
    return chain[::-1]


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"mean {statistics.fmean(values):6.1f} s  min {min(values):6.1f}  max {max(values):6.1f}"


def report(
    options: Options,
    env: Environment,
    outcome: Outcome,
    times: list[WeekTimes],
    runs: list[Any],
    registration: str,
) -> bool:
    weeks = options.weeks
    t = options.execution_seconds
    target = 1.25 * math.ceil(weeks / AMC_SLOTS) * t + 60
    launched = outcome.launched_at
    print()
    print(f"Backfill of {weeks} weeks, T = {t:g} s, form '{options.form}'")
    print(f"  collection registered by: {registration}; backfill id {outcome.backfill_id}")
    from recomamp_pipelines.settings import load_settings

    settings = load_settings()
    print(
        f"  AMC poll: initial {settings.amc_poll_initial_seconds:g} s, "
        f"max {settings.amc_poll_max_seconds:g} s, x1.5 each poll; load average at the end "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)"
    )
    success = sum(1 for w in times if w.status == "SUCCESS")
    if outcome.finished_at is not None:
        wall = outcome.finished_at - launched
        print(f"  wall time (launch -> last materialization): {wall:8.1f} s")
    else:
        wall = None
        print(f"  wall time: not finished ({len(outcome.materialized)}/{weeks} weeks materialized)")
    print(f"  target 1.25 x ceil({weeks}/{AMC_SLOTS}) x {t:g} + 60:  {target:8.1f} s")
    if wall is not None:
        print(
            f"  ratio wall / target: {wall / target:.3f}  ({'met' if wall <= target else 'MISSED'})"
        )
    print(f"  Dagster runs created by the backfill: {len(runs)}")
    for run in runs:
        tags = run.dagster_run.tags
        print(
            f"    {run.dagster_run.run_id[:8]} {run.dagster_run.status.value}: "
            f"{tags.get(RANGE_START_TAG, tags.get('dagster/partition', '?'))} .. "
            f"{tags.get(RANGE_END_TAG, '')}"
        )
    print(f"  weeks SUCCESS in report_data_weeks: {success}/{weeks}")
    print(
        f"  backfill status: {outcome.backfill_status}"
        + (
            f" (seen at +{outcome.backfill_done_at - launched:.0f} s)"
            if outcome.backfill_done_at
            else ""
        )
    )
    s = outcome.samples
    print(
        f"  max AMC executions in flight: simulator RUNNING {s.simulator_running}, "
        f"simulator PENDING+RUNNING {s.simulator_unfinished}, project slots held "
        f"{s.slots_held}, submitted-unfinished rows {s.submitted_unfinished}"
    )

    print()
    print("Phases (seconds after launch unless stated)")
    first = min(runs, key=lambda r: r.create_timestamp.timestamp()) if runs else None
    events = run_events(first.dagster_run.run_id) if first else {}
    submitted = [w.submitted_at for w in times if w.submitted_at]
    milestones = [("backfill launched", launched)]
    if first is not None:
        milestones.append(("first run created (daemon pickup)", first.create_timestamp.timestamp()))
    for name in ("launched", "worker started", "step started"):
        if name in events:
            milestones.append((f"run {name}", events[name]))
    if submitted:
        milestones.append(("first AMC submission", min(submitted)))
    if outcome.finished_at:
        milestones.append(("last week materialized", outcome.finished_at))
    if "run ended" in events:
        milestones.append(("run ended", events["run ended"]))
    previous = launched
    for name, at in milestones:
        print(f"  {name:<36} +{at - launched:7.1f}   (step {at - previous:6.1f})")
        previous = at

    amc = [w.amc_ended_at - w.amc_created_at for w in times if w.amc_ended_at and w.amc_created_at]
    amc_run = [w.amc_execution_seconds for w in times if w.amc_execution_seconds is not None]
    poll_lag = [w.detected_at - w.amc_ended_at for w in times if w.detected_at and w.amc_ended_at]
    ingest = [w.published_at - w.detected_at for w in times if w.published_at and w.detected_at]
    to_event = [
        w.materialized_at - w.published_at for w in times if w.materialized_at and w.published_at
    ]
    slot_wait = [
        w.submitted_at - w.intent_at
        for w in times
        if w.submitted_at and w.intent_at and w.submitted_at - w.intent_at > 1
    ]
    print()
    print("Per week")
    print(f"  AMC create -> end                     {_stats(amc)}")
    print(f"  AMC executionTime (RUNNING)           {_stats([float(v) for v in amc_run])}")
    print(f"  poll lag (AMC end -> end seen)        {_stats(poll_lag)}")
    print(f"  ingest (end seen -> published)        {_stats(ingest)}")
    print(f"  published -> Dagster materialization  {_stats(to_event)}")
    print(f"  intent -> submission (> 1 s only)     {_stats(slot_wait)}  ({len(slot_wait)} weeks)")
    print("  (AMC times are whole seconds; 'published' is the publishing transaction's start)")

    chain = critical_path(times)
    if chain:
        print()
        print(f"Critical path: {len(chain)} waves of AMC slot hand-overs")
        totals = {"AMC": 0.0, "poll lag": 0.0, "hand-over": 0.0}
        for number, week in enumerate(chain, start=1):
            parts = {
                "AMC": (week.amc_ended_at or 0) - (week.submitted_at or 0),
                "poll lag": (week.detected_at or 0) - (week.amc_ended_at or 0),
            }
            if number < len(chain):
                parts["hand-over"] = (chain[number].submitted_at or 0) - (week.detected_at or 0)
            for key, value in parts.items():
                totals[key] += value
            submitted_after = (week.submitted_at or 0) - launched
            print(
                f"  wave {number}: week {week.week} submitted +{submitted_after:6.1f}  "
                + "  ".join(f"{k} {v:5.1f}" for k, v in parts.items())
            )
        last = chain[-1]
        before = (chain[0].submitted_at or 0) - launched
        ingest_last = (last.published_at or 0) - (last.detected_at or 0)
        event_last = (last.materialized_at or 0) - (last.published_at or 0)
        print(
            f"  = launch -> first submission {before:.1f} s + "
            + " + ".join(f"{k} {v:.1f} s" for k, v in totals.items())
            + f" + last ingest {ingest_last:.1f} s + its materialization event {event_last:.1f} s"
        )
    print()
    return outcome.finished_at is not None and success == weeks


def run(options: Options) -> bool:
    started = time.time()
    deadline = Deadline(started + options.timeout_seconds)
    home = Path(tempfile.mkdtemp(prefix="recomamp-bench-backfill-"))
    (home / "logs").mkdir()
    os.environ["RECOMAMP_HOME"] = str(home)
    for name in ("DAGSTER_HOME", "RECOMAMP_RESULTS_ROOT"):
        os.environ.pop(name, None)
    print(f"home {home} (logs in {home / 'logs'}); code {revision()}", flush=True)
    processes = Processes()
    ok = False
    try:
        with database(home) as (url, dropped, embedded):
            try:
                ok = _measure(options, home, url, dropped, embedded, processes, deadline)
            finally:
                # Before the database goes: the daemon and the runs still hold connections.
                processes.stop_all()
    finally:
        processes.stop_all()
        if options.keep or not ok:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return ok


def _measure(
    options: Options,
    home: Path,
    url: str,
    dropped: str | None,
    embedded: Path | None,
    processes: Processes,
    deadline: Deadline,
) -> bool:
    import dagster as dg

    from recomamp_pipelines.collections.context import load_collection
    from recomamp_pipelines.db.connection import describe_url
    from recomamp_pipelines.db.migrations import upgrade
    from recomamp_pipelines.settings import load_settings

    started = time.time()
    print(f"database {describe_url(url)}", flush=True)
    sim_log = start_simulator(processes, home, options.execution_seconds, deadline)
    assert sim_log.base_url is not None
    configure(home, sim_log.base_url, options, url, external=dropped is not None)
    upgrade(url)
    collection_id, owner = load_account(url, options.weeks)
    with psycopg.connect(url) as conn:
        collection = load_collection(conn, collection_id)
    weeks = collection.weeks(load_settings().week_start_day)
    env = Environment(
        home=home,
        database_url=url,
        drop_database=dropped,
        embedded_dir=embedded,
        simulator_url=sim_log.base_url,
        collection_id=collection_id,
        weeks=weeks,
        owner_refresh_token=owner.refresh_token,
        owner_account_id=owner.account_id,
        instance_id=owner.instance_id,
    )
    print(
        f"simulator {sim_log.base_url}, T = {options.execution_seconds:g} s; collection "
        f"{collection_id}: {len(weeks)} weeks {weeks[0].partition_key} .. "
        f"{weeks[-1].partition_key}",
        flush=True,
    )
    webserver = start_webserver(processes, home, url)
    with httpx.Client(base_url=webserver, timeout=120) as client:
        repository = wait_for_webserver(client, deadline)
        print(f"webserver {webserver} up at +{time.time() - started:.0f} s", flush=True)
        stopped = stop_automation(client, repository)
        print(f"turned off before the daemon starts: {', '.join(stopped) or 'nothing'}")
        start_daemon(processes, home)
        key, registration = wait_for_registration(client, url, collection_id, repository, deadline)
        print(f"partition key {key} ({registration}) at +{time.time() - started:.0f} s")
        names = [f"{key}|{week.partition_key}" for week in weeks]
        params = backfill_params(options.form, names, repository)
        launched_at = time.time()
        result = graphql(client, LAUNCH_BACKFILL, {"backfillParams": params})
        launched = result["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise BenchError(f"launchPartitionBackfill failed: {launched}")
    print(f"backfill {launched['backfillId']} launched; watching", flush=True)
    outcome = watch(env, launched["backfillId"], launched_at, names, deadline)
    # What the run wrote is read before anything stops.
    times = week_times(env, outcome, sim_log)
    instance = dg.DagsterInstance.get()
    runs = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: outcome.backfill_id}))
    others = [
        f"{run.run_id[:8]} {run.job_name} {run.status.value}"
        for run in instance.get_runs()
        if run.tags.get(BACKFILL_TAG) != outcome.backfill_id
    ]
    print(f"  runs outside the backfill: {', '.join(others) or 'none'}")
    return report(options, env, outcome, times, list(runs), registration)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52, help="Weeks in the collection (52).")
    parser.add_argument(
        "--execution-seconds", type=float, default=60.0, help="Simulated AMC run time T (60)."
    )
    parser.add_argument(
        "--form",
        choices=FORMS,
        default="asset-page",
        help="How the backfill is asked for: the UI's asset page (default), the job's page, "
        "or a partitionsByAssets range.",
    )
    parser.add_argument(
        "--poll-initial-seconds",
        type=float,
        default=None,
        help="RECOMAMP_AMC_POLL_INITIAL_SECONDS (default: the project's, 15).",
    )
    parser.add_argument(
        "--poll-max-seconds",
        type=float,
        default=None,
        help="RECOMAMP_AMC_POLL_MAX_SECONDS (default: the project's, 60).",
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=900.0, help="Hard limit of the whole run (900)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary home and logs.")
    args = parser.parse_args(argv)
    if not 1 <= args.weeks <= 56:
        parser.error(f"--weeks {args.weeks}: expected 1..56 (AMC's 13-month history)")
    if args.execution_seconds <= 0:
        parser.error(f"--execution-seconds {args.execution_seconds}: expected > 0")
    options = Options(
        weeks=args.weeks,
        execution_seconds=args.execution_seconds,
        form=args.form,
        poll_initial_seconds=args.poll_initial_seconds,
        poll_max_seconds=args.poll_max_seconds,
        timeout_seconds=args.timeout_seconds,
        keep=args.keep,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    return 0 if run(options) else 1


if __name__ == "__main__":
    sys.exit(main())
