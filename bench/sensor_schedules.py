"""Benchmark of the schedules sensor: 10,000 active schedules, a few hundred due, on Postgres.

Times, on a Dagster instance with Postgres storage (as deployed):
  (a) a whole evaluation of `workflow_schedules_sensor` that claims every due tick (the claim
      transaction, next_run_at advanced, runs grouped, run requests built);
  (b) the next evaluation, before any run exists (the requests are sent again, same keys);
  (c) the launch of the requested runs as the daemon creates them (one run per request);
  (d) an evaluation once those runs exist (every waiting claim matched to its run by tag);
  (e) the runs taking their claims (a schedule_runs row each), 12 threads as in one run;
and, for scale, (f) evaluating every schedule's cadence in Python instead of reading the due
ones from the partial index on next_run_at.

Uses DATABASE_URL when set (a server where it may create a database), else a throwaway
pgserver. Prints figures and ratios; asserts nothing.

    .venv/bin/python bench/sensor_schedules.py [--schedules 10000] [--due 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402

from bench.database import bench_database  # noqa: E402
from recomamp_pipelines.dagster_home import dagster_yaml  # noqa: E402
from recomamp_pipelines.db.connection import (  # noqa: E402
    dagster_storage_url,
    ensure_dagster_schema,
)
from recomamp_pipelines.definitions import defs  # noqa: E402
from recomamp_pipelines.defs.resources import RecomampResource  # noqa: E402
from recomamp_pipelines.defs.schedules.jobs import JOB_NAME  # noqa: E402
from recomamp_pipelines.defs.schedules.resources import SchedulerClock  # noqa: E402
from recomamp_pipelines.defs.schedules.sensors import workflow_schedules_sensor  # noqa: E402
from recomamp_pipelines.scheduling.claims import parse_claims_tag  # noqa: E402
from recomamp_pipelines.scheduling.runs import take_claim  # noqa: E402
from recomamp_pipelines.scheduling.timing import ScheduleTiming, cadence_of  # noqa: E402

TIMEZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles"]
CRONS = ["{m} {h} * * *", "{m} {h} * * 1", "{m} {h} 1 * *", "{m} * * * *", "{m} {h} * * 1-5"]
OWNERS = 20
SENSOR_TIMEOUT_SECONDS = 60.0
TARGET_SECONDS = 2.0


@contextmanager
def postgres_instance(url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance storing runs in Postgres, configured as `recomamp dev` does."""
    ensure_dagster_schema(url)
    with tempfile.TemporaryDirectory(prefix="bench-dagster-") as home:
        config = dagster_yaml(dagster_storage_url(url))
        Path(home, "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        instance = dg.DagsterInstance.from_config(home)
        try:
            yield instance
        finally:
            instance.dispose()


def seed(conn: psycopg.Connection, schedules: int) -> list[uuid.UUID]:
    """Owners with an AMC instance and a workflow each, and `schedules` active schedules."""
    workflows = []
    for n in range(OWNERS):
        (user_id,) = conn.execute(
            "insert into users (email) values (%s) returning id", (f"owner{n}@example.com",)
        ).fetchone()  # type: ignore[misc]
        (account_id,) = conn.execute(
            "insert into amc_accounts (account_id, account_name) values (%s, 'a') returning id",
            (f"ENTITY{n:08d}",),
        ).fetchone()  # type: ignore[misc]
        (instance_id,) = conn.execute(
            "insert into amc_instances (instance_id, name, user_id, account_id) "
            "values (%s, 'i', %s, %s) returning id",
            (f"amcbench{n:04d}", user_id, account_id),
        ).fetchone()  # type: ignore[misc]
        (workflow_id,) = conn.execute(
            "insert into workflows (name, sql_query, user_id, instance_id) "
            "values ('w', 'select 1', %s, %s) returning id",
            (user_id, instance_id),
        ).fetchone()  # type: ignore[misc]
        workflows.append((workflow_id, user_id))
    rows = []
    for n in range(schedules):
        workflow_id, user_id = workflows[n % OWNERS]
        cron = CRONS[n % len(CRONS)].format(m=n % 60, h=(n // 60) % 24)
        rows.append((f"schedule {n}", workflow_id, user_id, cron, TIMEZONES[n % len(TIMEZONES)]))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into workflow_schedules (name, workflow_id, user_id, cron_expression, "
            "timezone, next_run_at) values (%s, %s, %s, %s, %s, '2999-01-01')",
            rows,
        )
    conn.execute("analyze workflow_schedules")
    return [row[0] for row in conn.execute("select id from workflow_schedules order by name")]


def make_due(conn: psycopg.Connection, ids: list[uuid.UUID], due: int, now: datetime) -> None:
    """Every schedule's next fire time after `now`, except `due` of them: due since a while."""
    conn.execute("delete from schedule_runs")
    conn.execute("delete from schedule_tick_claims")
    rows = conn.execute(
        "select id, schedule_type, timezone, cron_expression from workflow_schedules"
    ).fetchall()
    step = max(1, len(ids) // max(due, 1))
    due_ids = set(ids[::step][:due])
    updates: list[tuple[datetime, uuid.UUID]] = []
    for schedule_id, kind, tz, cron in rows:
        cadence = cadence_of(ScheduleTiming(schedule_id, kind, tz, cron))
        if schedule_id in due_ids:
            # Some were due a minute ago, some days ago (a daemon that was down).
            since = now - (timedelta(days=3) if len(updates) % 10 == 0 else timedelta(minutes=1))
            moment = cadence.next_fire_time(since - timedelta(days=31)) or since
            moment = cadence.previous_fire_time(since) or moment
        else:
            moment = cadence.next_fire_time(now) or now + timedelta(days=1)
        updates.append((moment, schedule_id))
    with conn.cursor() as cur:
        cur.executemany("update workflow_schedules set next_run_at = %s where id = %s", updates)
    conn.execute("analyze workflow_schedules")


def evaluate(instance: dg.DagsterInstance, now: datetime) -> tuple[float, list[dg.RunRequest]]:
    context = dg.build_sensor_context(
        instance=instance,
        resources={"recomamp": RecomampResource(), "scheduler_clock": SchedulerClock.at(now)},
    )
    started = time.perf_counter()
    result = workflow_schedules_sensor(context)
    elapsed = time.perf_counter() - started
    assert isinstance(result, dg.SensorResult)
    return elapsed, list(result.run_requests or [])


def create_runs(instance: dg.DagsterInstance, requests: list[dg.RunRequest]) -> float:
    job = defs.resolve_job_def(JOB_NAME)
    started = time.perf_counter()
    for request in requests:
        instance.create_run_for_job(
            job,
            tags={**request.tags, "dagster/run_key": request.run_key or ""},
            status=dg.DagsterRunStatus.NOT_STARTED,
        )
    return time.perf_counter() - started


def take_all(url: str, requests: list[dg.RunRequest], now: datetime) -> tuple[float, int]:
    refs = [
        (ref, f"run-{n}")
        for n, request in enumerate(requests)
        for ref in parse_claims_tag(request.tags["recomamp/schedule_claims"])
    ]

    def take(item: tuple[Any, str]) -> bool:
        with psycopg.connect(url, autocommit=True) as conn:
            return take_claim(conn, item[0], item[1], now) is not None

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=12) as pool:
        taken = sum(pool.map(take, refs))
    return time.perf_counter() - started, taken


def full_scan(conn: psycopg.Connection, now: datetime) -> float:
    rows = conn.execute(
        "select id, schedule_type, timezone, cron_expression, next_run_at "
        "from workflow_schedules where is_active"
    ).fetchall()
    started = time.perf_counter()
    due = 0
    for schedule_id, kind, tz, cron, _ in rows:
        cadence = cadence_of(ScheduleTiming(schedule_id, kind, tz, cron))
        fired = cadence.previous_fire_time(now)
        due += fired is not None and fired > now - timedelta(minutes=1)
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(label: str, values: list[float], note: str = "") -> None:
    print(f"  {label:<58} {median(values) * 1000:9.1f} ms  (min {min(values) * 1000:.1f}){note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with bench_database("bench_schedules") as url, postgres_instance(url) as instance:
        os.environ["DATABASE_URL"] = url
        with psycopg.connect(url, autocommit=True) as conn:
            seeded = time.perf_counter()
            ids = seed(conn, args.schedules)
            print(f"{len(ids)} active schedules seeded in {time.perf_counter() - seeded:.1f} s")
        first: list[float] = []
        again: list[float] = []
        launch: list[float] = []
        matched: list[float] = []
        taking: list[float] = []
        scans: list[float] = []
        claimed = requests_count = 0
        for repetition in range(args.repeat):
            now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=repetition)
            with psycopg.connect(url, autocommit=True) as conn:
                make_due(conn, ids, args.due, now)
            seconds, requests = evaluate(instance, now)
            first.append(seconds)
            with psycopg.connect(url) as conn:
                (claimed,) = conn.execute("select count(*) from schedule_tick_claims").fetchone()  # type: ignore[misc]
            requests_count = len(requests)
            seconds, repeated = evaluate(instance, now)
            again.append(seconds)
            assert {r.run_key for r in repeated} == {r.run_key for r in requests}
            launch.append(create_runs(instance, requests))
            seconds, none = evaluate(instance, now)
            matched.append(seconds)
            assert none == []
            seconds, _ = take_all(url, requests, now + timedelta(seconds=90))
            taking.append(seconds)
            with psycopg.connect(url) as conn:
                scans.append(full_scan(conn, now))

        per_run = claimed / max(requests_count, 1)
        print(
            f"\n{claimed} ticks due among {args.schedules} schedules -> {requests_count} runs "
            f"({per_run:.0f} schedules per run); medians of {args.repeat} repetitions\n"
        )
        timed("(a) evaluation that claims every due tick", first)
        timed("(b) next evaluation, runs not created yet (requests resent)", again)
        timed(
            f"(c) creating the {requests_count} runs in Dagster's storage",
            launch,
            f"  = {median(launch) / max(requests_count, 1) * 1000:.1f} ms per run",
        )
        timed("(d) evaluation once the runs exist (claims matched by tag)", matched)
        timed(
            f"(e) {claimed} claims taken by their runs (schedule_runs rows)",
            taking,
            f"  = {median(taking) / max(claimed, 1) * 1000:.2f} ms per claim",
        )
        timed("(f) for scale: every schedule's cadence evaluated in Python", scans)
        print()
        per_tick = median(first) / max(claimed, 1) * 1000
        print(f"  (a) per claimed tick:                 {per_tick:.2f} ms")
        print(
            f"  (a) / sensor timeout ({SENSOR_TIMEOUT_SECONDS:.0f} s):          "
            f"{median(first) / SENSOR_TIMEOUT_SECONDS:.3f}"
        )
        print(
            f"  (a) / target ({TARGET_SECONDS:.0f} s):                  "
            f"{median(first) / TARGET_SECONDS:.3f}"
        )
        print(f"  (f) / (a), full scan against index:   {median(scans) / median(first):.1f}x")
        print(
            f"  runs instead of one per schedule:     {claimed} -> {requests_count} "
            f"({claimed / max(requests_count, 1):.0f}x fewer run starts)"
        )


if __name__ == "__main__":
    main()
