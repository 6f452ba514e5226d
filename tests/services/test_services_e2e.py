"""End to end: `recomamp services up` on a fresh home, backfills launched over GraphQL.

The services run as they do in production (separate code server, webserver and daemon on the
production instance). A first backfill of a collection's weeks goes through; a second one loses
its daemon and its run worker to SIGKILL mid-way, the daemon is started again, and the backfill
still completes: run monitoring fails the dead run, run retries start a new one that resumes
every week's AMC execution, and the simulator's counters show that none was submitted twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import httpx
import psutil
import psycopg
import pytest
from dagster_graphql import DagsterGraphQLClient
from psycopg import sql
from psycopg.rows import dict_row

from recomamp_pipelines.crypto import TokenCipher, generate_key
from recomamp_pipelines.db.connection import dagster_storage_url
from recomamp_pipelines.demo import SIMULATOR_INSTANCES, SIMULATOR_REFRESH_TOKENS
from recomamp_pipelines.sample.account import LoadedCollection, load_sample_account, sample_users
from recomamp_pipelines.services import CODE_SERVER, DAEMON, LOCATION_NAME, SIMULATOR, WEBSERVER
from recomamp_pipelines.settings import DAGSTER_POSTGRES_URL, load_settings
from recomamp_pipelines.ui_backfill import backfill_status, launch_backfill, stop_automation

pytestmark = [
    pytest.mark.slow,
    # dagster-graphql 1.13 still calls gql's execute with variable_values.
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

WEEKS = 4
#: Long enough for the kill to land while the second backfill's executions run in AMC.
EXECUTION_SECONDS = 12
WAIT_SECONDS = 300.0
DONE = {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "COMPLETED"}
#: The only sensor left on: it registers collections as partitions. The backfill sensor would
#: otherwise launch the new collections itself, before the backfills under test.
REGISTERING_SENSOR = "collections_sensor"


@dataclass
class Services:
    env: dict[str, str]
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "recomamp_pipelines.cli", "services", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def pid(self, name: str) -> int:
        return int((self.home / "services" / f"{name}.pid").read_text())

    def url(self, name: str) -> str:
        record = json.loads((self.home / "services" / f"{name}.json").read_text())
        return str(record["url"])


def _wait(what: str, probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """A fresh home; a database of its own on DATABASE_URL's server, else the embedded one."""
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AMC_", "RECOMAMP_", "DAGSTER_")) and key != "DATABASE_URL"
    }
    env.update(
        RECOMAMP_HOME=str(home),
        RECOMAMP_AMC_POLL_INITIAL_SECONDS="0.5",
        RECOMAMP_AMC_POLL_MAX_SECONDS="1",
        RECOMAMP_RUN_MONITORING_SECONDS="3",
    )
    admin_url = os.environ.get("DATABASE_URL")
    name = f"recomamp_e2e_{uuid.uuid4().hex[:12]}"
    if admin_url:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        env["DATABASE_URL"] = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        env["RECOMAMP_ENCRYPTION_KEYS"] = generate_key()
    handle = Services(env, home)
    try:
        yield handle
    finally:
        stopped = handle.run("down")
        print(stopped.stdout, stopped.stderr)
        if admin_url:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )


def _load_account(services: Services) -> tuple[str, list[LoadedCollection]]:
    """The sample account (two collections of WEEKS weeks) in the services' database."""
    from recomamp_pipelines.db.connection import database_url

    settings = load_settings(services.env)
    url = database_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        collections = load_sample_account(
            conn,
            TokenCipher.from_settings(settings),
            sample_users(SIMULATOR_REFRESH_TOKENS, SIMULATOR_INSTANCES),
            today=datetime.now(UTC).date(),
            weeks_per_collection=WEEKS,
        )
    return url, collections


def _partition_names(url: str, instance: dg.DagsterInstance, collection_id: uuid.UUID) -> list[str]:
    """`<collection key>|<week>` of every week, once the collections sensor registered it."""
    from recomamp_pipelines.defs.collections.partitions import COLLECTIONS_PARTITIONS_NAME

    def registered() -> list[str] | None:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            rows = conn.execute(
                "select c.partition_key, w.week_start_date from report_data_collections c "
                "join report_data_weeks w on w.collection_id = c.id where c.id = %s "
                "order by w.week_start_date",
                (collection_id,),
            ).fetchall()
        if not rows or not instance.has_dynamic_partition(
            COLLECTIONS_PARTITIONS_NAME, rows[0]["partition_key"]
        ):
            return None
        return [f"{row['partition_key']}|{row['week_start_date'].isoformat()}" for row in rows]

    names: list[str] = _wait(f"collection {collection_id} registered", registered)
    return names


def _weeks(url: str, collection_id: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "select w.week_start_date, w.status, w.result_rows, e.amc_execution_id, e.status "
            "as execution_status from report_data_weeks w "
            "left join workflow_executions e on e.id = w.execution_id "
            "where w.collection_id = %s order by w.week_start_date",
            (collection_id,),
        ).fetchall()


def _in_flight(url: str, collection_id: uuid.UUID) -> bool:
    """Some week of the collection is submitted to AMC and none is published yet."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) filter (where amc_execution_id is not null "
            "and status in ('PENDING', 'RUNNING')), count(*) filter (where status = 'SUCCESS') "
            "from workflow_executions where collection_id = %s",
            (collection_id,),
        ).fetchone()
    assert row is not None
    return bool(row[0] > 0 and row[1] == 0)


def _run_worker(instance: dg.DagsterInstance, run_id: str) -> psutil.Process:
    """The run's worker process, as its start event names it."""
    from recomamp_pipelines.defs.recovery.liveness import run_worker_pid

    pid = _wait(f"the worker of run {run_id}", lambda: run_worker_pid(instance, run_id))
    return psutil.Process(pid)


def _results_rows(url: str, collection_id: uuid.UUID) -> int:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select distinct table_name from information_schema.tables where table_schema = "
            "'results' and table_name like 'workflow_%%'"
        ).fetchall()
        total = 0
        for (table,) in tables:
            row = conn.execute(
                sql.SQL("select count(*) from {} where source_id = %s").format(
                    sql.Identifier("results", table)
                ),
                (collection_id,),
            ).fetchone()
            assert row is not None
            total += row[0]
    return total


def _submission_counts(simulator_url: str) -> Counter[tuple[str, str, str, str]]:
    counters = httpx.get(f"{simulator_url}/_sim/counters", timeout=30).json()
    return Counter(
        {
            (
                row["instance_id"],
                row["workflow_id"],
                row["time_window_start"],
                row["time_window_end"],
            ): row["count"]
            for row in counters["submissions"]
        }
    )


def test_backfills_over_graphql_survive_a_killed_daemon_and_run_worker(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = services.run(
        "up",
        "--port",
        "0",
        "--code-server-port",
        "0",
        "--simulator-execution-seconds",
        str(EXECUTION_SECONDS),
    )
    assert started.returncode == 0, started.stdout + started.stderr
    for name in (SIMULATOR, CODE_SERVER, WEBSERVER, DAEMON):
        assert f"started {name}" in started.stdout
    again = services.run("up", "--port", "0", "--code-server-port", "0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started" not in again.stdout  # starting twice changes nothing

    webserver = urlsplit(services.url(WEBSERVER))
    assert webserver.hostname is not None
    client = DagsterGraphQLClient(webserver.hostname, port_number=webserver.port)
    stopped = stop_automation(client, (LOCATION_NAME, "__repository__"), keep=[REGISTERING_SENSOR])
    assert "collection_backfill_sensor" in stopped

    url, collections = _load_account(services)
    first, second = collections
    # This process reads the services' instance too.
    monkeypatch.setenv("DAGSTER_HOME", str(load_settings(services.env).dagster_home))
    monkeypatch.setenv(DAGSTER_POSTGRES_URL, dagster_storage_url(url))
    simulator_url = services.url(SIMULATOR)
    with dg.DagsterInstance.get() as instance:
        # A backfill of every week of the first collection, as the UI launches it.
        names = _partition_names(url, instance, first.collection_id)
        assert len(names) == WEEKS
        backfill_id = launch_backfill(client, names)
        status = _wait("the first backfill", lambda: _done(client, backfill_id))
        assert status == "COMPLETED_SUCCESS"
        weeks = _weeks(url, first.collection_id)
        assert [week["status"] for week in weeks] == ["SUCCESS"] * WEEKS
        assert all(week["result_rows"] > 0 for week in weeks)
        assert _results_rows(url, first.collection_id) == sum(w["result_rows"] for w in weeks)

        # The second: its daemon and its run worker are killed while AMC runs its executions.
        names = _partition_names(url, instance, second.collection_id)
        backfill_id = launch_backfill(client, names)
        _wait("the second backfill's AMC executions", lambda: _in_flight(url, second.collection_id))
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert [run.status for run in runs] == [dg.DagsterRunStatus.STARTED]
        killed_run = runs[0]
        worker = _run_worker(instance, killed_run.run_id)
        assert services.pid(CODE_SERVER) in [p.pid for p in worker.parents()]
        os.kill(services.pid(DAEMON), signal.SIGKILL)
        worker.kill()
        worker.wait(timeout=30)
        # The kill landed mid-backfill: the AMC executions had not all been collected.
        statuses = [week["status"] for week in _weeks(url, second.collection_id)]
        assert statuses.count("SUCCESS") < WEEKS, statuses

        reported = services.run("status")
        assert reported.returncode == 1
        assert "daemon        died" in reported.stdout
        restarted = services.run("up", "--port", "0", "--code-server-port", "0")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert f"started {DAEMON}" in restarted.stdout
        assert f"started {WEBSERVER}" not in restarted.stdout

        status = _wait("the second backfill after the kills", lambda: _done(client, backfill_id))
        assert status == "COMPLETED_SUCCESS"
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        by_id = {run.run_id: run for run in runs}
        assert by_id[killed_run.run_id].status == dg.DagsterRunStatus.FAILURE
        # Dagster's run retry or the dead-run reconciler's recovery run takes the killed run's
        # weeks over, whichever daemon loop sees it first: every week ends published once.

    weeks = _weeks(url, second.collection_id)
    assert [week["status"] for week in weeks] == ["SUCCESS"] * WEEKS
    with psycopg.connect(url) as conn:
        unfinished = conn.execute(
            "select count(*) from report_data_weeks where status = 'RUNNING'"
        ).fetchone()
    assert unfinished == (0,)
    counts = _submission_counts(simulator_url)
    # Every week of both collections reached AMC exactly once.
    assert sum(counts.values()) == 2 * WEEKS
    assert set(counts.values()) == {1}


def _done(client: DagsterGraphQLClient, backfill_id: str) -> str | None:
    status = backfill_status(client, backfill_id)
    return status if status in DONE else None
