"""Soak: weeks over several AMC instances, random faults and SIGKILLs, re-run until done.

In a throwaway RECOMAMP_HOME and database (bench/database.py): one user, one AMC account, and
`--instances` AMC instances of a local simulator (`--execution-seconds`, seeded), each with a
"Weekly DSP performance" workflow and a collection of `--weeks / --instances` weeks. Each round
sets a random fault plan on the simulator (429s, 5xx, 401s and bursts of them, cut downloads,
executions AMC ends FAILED or REJECTED), starts `recomamp backfill --collection ID` for every
collection not yet done (one process each, at once), and SIGKILLs some of them at random
moments. Rounds go on until every week is SUCCESS; the last `--calm-rounds` of the
`--max-rounds` have neither faults nor kills, and `--timeout-seconds` bounds the whole run, so
it always stops by itself.

    .venv/bin/python -m bench soak                           # 200 weeks over 4 instances
    .venv/bin/python -m bench soak --weeks 24 --instances 2  # quick check

Then it reports, against their targets: AMC submissions per window (1, plus one per
execution AMC itself ended FAILED or REJECTED; no refresh is asked for), slots held
(`amc_instance_slots`, 0), weeks and attempts not terminal (0), and rows doubled or lost (0):
each week's rows in `results.workflow_<id>` against the rows of the CSV files AMC's
succeeded execution of that window serves. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.database import bench_database  # noqa: E402
from tests.fixtures.amc_simulator import AmcSimulator  # noqa: E402

TEMPLATE = "weekly_dsp_performance"
USER_EMAIL = "soak@example.com"
REFRESH_TOKEN = "Atzr|soak-refresh-token"
ACCOUNT_ID = "ENTITY1AA1AA11AAA1"
#: AMC's history is 13 months: at most this many weeks per collection.
MAX_WEEKS_PER_COLLECTION = 56
#: Executions AMC ended itself: the pipeline must submit their window again.
AMC_FAILURES = ("FAILED", "REJECTED")
TERMINAL_WEEKS = ("SUCCESS", "FAILED", "SKIPPED")
STOP_GRACE_SECONDS = 10.0


@dataclass
class Options:
    weeks: int
    instances: int
    seed: int
    execution_seconds: float
    max_rounds: int
    calm_rounds: int
    kill_rate: float
    kill_window: tuple[float, float]
    round_seconds: float
    timeout_seconds: float
    keep: bool


@dataclass
class Collection:
    collection_id: uuid.UUID
    workflow_id: uuid.UUID
    instance_id: str


@dataclass
class Round:
    number: int
    faults: dict[str, Any]
    started: int = 0
    killed: int = 0
    exits: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    weeks_done: int = 0


def draw_faults(rng: random.Random) -> dict[str, Any]:
    """A random fault plan for one round: rates of API faults and counts of execution faults."""
    return {
        "rate_limit_rate": round(rng.uniform(0.0, 0.15), 3),
        "rate_limit_retry_after": 0.2,
        "server_error_rate": round(rng.uniform(0.0, 0.05), 3),
        "server_error_status": rng.choice((500, 502, 503)),
        "unauthorized_rate": round(rng.uniform(0.0, 0.01), 4),
        "unauthorized_next": rng.randint(0, 2),
        "truncate_next_downloads": rng.randint(0, 4),
        "fail_next_executions": rng.randint(0, 3),
        "reject_next_executions": rng.randint(0, 3),
        "hold_create_response_seconds": round(rng.uniform(0.0, 0.3), 2),
    }


def configure(home: Path, simulator: AmcSimulator, url: str, options: Options) -> dict[str, str]:
    """The settings file and the environment every backfill process gets."""
    from recomamp_pipelines.crypto import ensure_local_key
    from recomamp_pipelines.settings import (
        AMC_API_URL,
        AMC_CLIENT_ID,
        AMC_CLIENT_SECRET,
        AMC_TOKEN_URL,
        DAGSTER_HOME,
        DATABASE_URL,
        RECOMAMP_AMC_POLL_INITIAL_SECONDS,
        RECOMAMP_AMC_POLL_MAX_SECONDS,
        RECOMAMP_HOME,
        RECOMAMP_RESULTS_ROOT,
        load_settings,
        write_settings_file,
    )

    poll = max(0.2, options.execution_seconds / 2)
    values = {
        AMC_API_URL: simulator.base_url,
        AMC_TOKEN_URL: simulator.token_url,
        AMC_CLIENT_ID: simulator.client_id,
        AMC_CLIENT_SECRET: simulator.client_secret,
        DAGSTER_HOME: str(home / "dagster_home"),
        RECOMAMP_RESULTS_ROOT: str(home / "results"),
        RECOMAMP_AMC_POLL_INITIAL_SECONDS: str(poll),
        RECOMAMP_AMC_POLL_MAX_SECONDS: str(poll * 4),
    }
    write_settings_file(home / "settings.env", values)
    env = {**values, RECOMAMP_HOME: str(home), DATABASE_URL: url}
    os.environ.update(env)
    ensure_local_key(load_settings())
    return env


def load_collections(url: str, instance_ids: Sequence[str], weeks: int) -> list[Collection]:
    """One user and account; per instance a workflow and a collection of `weeks` weeks."""
    from recomamp_pipelines.collections.management import create_collection
    from recomamp_pipelines.crypto import TokenCipher
    from recomamp_pipelines.sample.account import sample_range
    from recomamp_pipelines.settings import load_settings
    from recomamp_pipelines.templates.sync import sync
    from recomamp_pipelines.templates.workflows import create_workflow
    from recomamp_pipelines.users import save_user

    settings = load_settings()
    today = datetime.now(UTC).date()
    start, end = sample_range(today, weeks, settings.week_start_day)
    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        sync(conn)
        user = save_user(
            conn, TokenCipher.from_settings(settings), email=USER_EMAIL, refresh_token=REFRESH_TOKEN
        )
        account = conn.execute(
            "insert into amc_accounts (account_id, account_name) values (%s, %s) returning id",
            (ACCOUNT_ID, "Soak account"),
        ).fetchone()
        assert account is not None
        for number, instance_id in enumerate(instance_ids, 1):
            conn.execute(
                "insert into amc_instances (instance_id, name, user_id, account_id) "
                "values (%s, %s, %s, %s)",
                (instance_id, f"Soak instance {number}", user.user_id, account[0]),
            )
            name = f"Soak DSP {number}"
            workflow = create_workflow(
                conn,
                user_email=USER_EMAIL,
                amc_instance_id=instance_id,
                template_name=TEMPLATE,
                values={},
                name=name,
            )
            collection_id = create_collection(
                conn,
                user_email=USER_EMAIL,
                workflow=name,
                start_date=start,
                end_date=end,
                name=f"Soak {number}",
                today=today,
            )
            found.append(Collection(collection_id, workflow.workflow_id, instance_id))
    return found


def week_statuses(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select status, count(*) from report_data_weeks group by 1").fetchall()
    return Counter({status: count for status, count in rows})


def collections_not_done(url: str, collections: Sequence[Collection]) -> list[Collection]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct collection_id from report_data_weeks where status <> 'SUCCESS'"
        ).fetchall()
        counted = conn.execute(
            "select collection_id, count(*) from report_data_weeks group by 1"
        ).fetchall()
    pending = {row[0] for row in rows}
    weeks_known = {row[0] for row in counted}
    # A collection whose weeks were never written has not run yet.
    return [
        c for c in collections if c.collection_id in pending or c.collection_id not in weeks_known
    ]


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@contextmanager
def backfills(
    env: dict[str, str],
    logs: Path,
    number: int,
    collections: Sequence[Collection],
    *,
    one_command: bool = False,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One `recomamp backfill` process per collection, each in its own process group; or, with
    `one_command`, a single `recomamp backfill` naming every collection."""
    started: list[subprocess.Popen[bytes]] = []
    groups = [list(collections)] if one_command else [[c] for c in collections]
    try:
        for index, group in enumerate(groups):
            named = [arg for c in group for arg in ("--collection", str(c.collection_id))]
            with (logs / f"round{number:02d}-{index}.log").open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "recomamp_pipelines.cli", "backfill", *named],
                        cwd=REPO_ROOT,
                        env={**os.environ, **env, "COLUMNS": "160"},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                _stop(process, signal.SIGTERM)
                try:
                    process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    _stop(process, signal.SIGKILL)
                    process.wait()


def run_round(
    number: int,
    calm: bool,
    rng: random.Random,
    options: Options,
    simulator: AmcSimulator,
    env: dict[str, str],
    logs: Path,
    pending: Sequence[Collection],
    ends_at: float,
) -> Round:
    faults = {} if calm else draw_faults(rng)
    simulator.clear_faults()
    if faults:
        simulator.set_faults(**faults)
    kill_after = [
        rng.uniform(*options.kill_window) if not calm and rng.random() < options.kill_rate else None
        for _ in pending
    ]
    result = Round(number, faults, started=len(pending))
    began = time.monotonic()
    limit = min(began + options.round_seconds, ends_at)
    with backfills(env, logs, number, pending) as processes:
        while any(p.poll() is None for p in processes) and time.monotonic() < limit:
            elapsed = time.monotonic() - began
            for process, after in zip(processes, kill_after, strict=True):
                if after is not None and elapsed >= after and process.poll() is None:
                    _stop(process, signal.SIGKILL)
                    process.wait()
                    result.killed += 1
            time.sleep(0.2)
        for index, process in enumerate(processes):
            code = process.poll()
            if code is None:
                result.exits["cut off"] += 1
            elif code == -signal.SIGKILL:
                result.exits["killed"] += 1
            else:
                result.exits[f"exit {code}"] += 1
                if code and calm:
                    # A calm round has no faults to explain a failure: say what it was.
                    log = (logs / f"round{number:02d}-{index}.log").read_text(errors="replace")
                    print(f"  round {number}, backfill {index} exited {code}:\n{log[-1500:]}")
    result.seconds = time.monotonic() - began
    simulator.clear_faults()
    return result


def amc_executions(simulator: AmcSimulator, instance_id: str) -> list[dict[str, Any]]:
    """Every execution of an instance AMC lists, cancelled ones included."""
    headers = simulator.amc_headers(simulator.access_token(REFRESH_TOKEN))
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"includeCancelled": "true", "limit": "1000", "sortAscending": "true"}
    with httpx.Client(timeout=60) as client:
        while True:
            response = client.get(
                simulator.reporting_url("/workflowExecutions", instance_id),
                headers=headers,
                params=params,
            )
            response.raise_for_status()
            body = response.json()
            found.extend(body["executions"])
            if not body.get("nextToken"):
                return found
            params["nextToken"] = body["nextToken"]


def amc_rows(simulator: AmcSimulator, instance_id: str, execution_id: str) -> int:
    """Data rows of the CSV files AMC serves for a succeeded execution."""
    headers = simulator.amc_headers(simulator.access_token(REFRESH_TOKEN))
    with httpx.Client(timeout=120) as client:
        response = client.get(
            simulator.reporting_url(
                f"/workflowExecutions/{execution_id}/downloadUrls", instance_id
            ),
            headers=headers,
        )
        response.raise_for_status()
        rows = 0
        for link in response.json()["downloadUrls"]:
            body = client.get(link)
            body.raise_for_status()
            rows += max(0, sum(1 for _ in csv.reader(io.StringIO(body.text))) - 1)
        return rows


@dataclass
class Figures:
    windows: int = 0
    submissions: Counter[int] = field(default_factory=Counter)
    amc_failures: int = 0
    excess_submissions: int = 0
    excess_windows: list[str] = field(default_factory=list)
    simulator_created: int = 0
    responses: dict[str, int] = field(default_factory=dict)
    downloads: int = 0
    listed: int = 0
    slots_held: int = 0
    weeks: Counter[str] = field(default_factory=Counter)
    attempts_open: int = 0
    rows_published: int = 0
    rows_amc: int = 0
    rows_doubled: int = 0
    rows_lost: int = 0
    row_mismatches: list[str] = field(default_factory=list)


def _one(cur: psycopg.Cursor[dict[str, Any]], query: str, *args: object) -> Any:
    """The single value of a one-row, one-column query."""
    row = cur.execute(query, args).fetchone()
    assert row is not None, query
    return next(iter(row.values()))


def published_rows(cur: psycopg.Cursor[dict[str, Any]], collection: Collection) -> dict[Any, int]:
    """Rows in the workflow's results table per week of the collection ({} before any)."""
    table = f"workflow_{collection.workflow_id.hex}"
    if not _one(cur, "select to_regclass(%s) is not null", f"results.{table}"):
        return {}
    query = sql.SQL(
        "select week_start_date as week, count(*) as n from {}.{} where source_id = %s group by 1"
    ).format(sql.Identifier("results"), sql.Identifier(table))
    return {r["week"]: r["n"] for r in cur.execute(query, (collection.collection_id,)).fetchall()}


def measure(url: str, simulator: AmcSimulator, collections: Sequence[Collection]) -> Figures:
    figures = Figures()
    counters = simulator.counters()
    figures.simulator_created = int(counters["executions_created"])
    figures.responses = {str(k): int(v) for k, v in counters["responses"].items()}
    figures.downloads = int(counters["downloads"])
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        figures.slots_held = _one(cur, "select count(*) from amc_instance_slots")
        figures.weeks = Counter(
            {
                r["status"]: r["n"]
                for r in cur.execute(
                    "select status, count(*) as n from report_data_weeks group by 1"
                ).fetchall()
            }
        )
        figures.attempts_open = _one(
            cur, "select count(*) from workflow_executions where status in ('PENDING', 'RUNNING')"
        )
        for collection in collections:
            listed = amc_executions(simulator, collection.instance_id)
            figures.listed += len(listed)
            by_window: dict[str, list[dict[str, Any]]] = {}
            for execution in listed:
                by_window.setdefault(execution["timeWindowStart"][:10], []).append(execution)
            weeks = cur.execute(
                "select wk.week_start_date, wk.status, we.amc_execution_id "
                "from report_data_weeks as wk "
                "left join workflow_executions as we on we.id = wk.execution_id "
                "where wk.collection_id = %s order by 1",
                (collection.collection_id,),
            ).fetchall()
            published = published_rows(cur, collection)
            for week in weeks:
                day = week["week_start_date"].isoformat()
                label = f"{collection.instance_id} {day}"
                executions = by_window.get(day, [])
                figures.windows += 1
                figures.submissions[len(executions)] += 1
                failures = sum(1 for e in executions if e["status"] in AMC_FAILURES)
                figures.amc_failures += failures
                excess = max(0, len(executions) - failures - 1)
                if excess:
                    figures.excess_submissions += excess
                    figures.excess_windows.append(
                        f"{label}: " + ", ".join(e["status"] for e in executions)
                    )
                succeeded = [e for e in executions if e["status"] == "SUCCEEDED"]
                chosen = week["amc_execution_id"] or (
                    succeeded[-1]["workflowExecutionId"] if succeeded else None
                )
                expected = amc_rows(simulator, collection.instance_id, chosen) if chosen else 0
                loaded = published.get(week["week_start_date"], 0)
                figures.rows_amc += expected
                figures.rows_published += loaded
                figures.rows_doubled += max(0, loaded - expected)
                figures.rows_lost += max(0, expected - loaded)
                if loaded != expected:
                    figures.row_mismatches.append(
                        f"{label}: {loaded} published, AMC {expected} ({week['status']})"
                    )
    return figures


def _summary(faults: dict[str, Any]) -> str:
    if not faults:
        return "calm"
    return (
        f"429 {faults['rate_limit_rate']:.0%}, {faults['server_error_status']} "
        f"{faults['server_error_rate']:.0%}, 401 {faults['unauthorized_rate']:.1%} + "
        f"{faults['unauthorized_next']}, "
        f"cut {faults['truncate_next_downloads']}, FAILED {faults['fail_next_executions']}, "
        f"REJECTED {faults['reject_next_executions']}, "
        f"hold {faults['hold_create_response_seconds']:.2f} s"
    )


def report(options: Options, rounds: Sequence[Round], figures: Figures, wall: float) -> bool:
    print(
        f"\n{options.weeks} weeks over {options.instances} instances, seed {options.seed}, "
        f"T = {options.execution_seconds} s: {len(rounds)} rounds, {wall:.1f} s"
    )
    print("round  processes  killed  exits                          s      weeks SUCCESS  faults")
    for r in rounds:
        exits = ", ".join(f"{n} {what}" for what, n in sorted(r.exits.items()))
        print(
            f"{r.number:>5}  {r.started:>9}  {r.killed:>6}  {exits:<29} {r.seconds:>6.1f}  "
            f"{r.weeks_done:>13}  {_summary(r.faults)}"
        )
    per_window = ", ".join(f"{n} x{k}" for k, n in sorted(figures.submissions.items()))
    not_terminal = sum(n for status, n in figures.weeks.items() if status not in TERMINAL_WEEKS)
    not_success = sum(n for status, n in figures.weeks.items() if status != "SUCCESS")
    checks = [
        (
            "submissions beyond 1 per window (AMC's FAILED/REJECTED aside)",
            figures.excess_submissions,
        ),
        ("slots held at the end", figures.slots_held),
        ("weeks not terminal", not_terminal),
        ("weeks not SUCCESS", not_success),
        ("attempts PENDING or RUNNING", figures.attempts_open),
        ("rows doubled", figures.rows_doubled),
        ("rows lost", figures.rows_lost),
    ]
    print(
        f"\nwindows {figures.windows}; executions per window: {per_window}; AMC ended "
        f"{figures.amc_failures} FAILED/REJECTED; executions created {figures.simulator_created} "
        f"(listed {figures.listed}); weeks {dict(sorted(figures.weeks.items()))}; rows "
        f"published {figures.rows_published}, in AMC's results {figures.rows_amc}"
    )
    faults = {k: v for k, v in sorted(figures.responses.items()) if k[:1] in ("4", "5")}
    print(f"AMC answered (error statuses): {faults}; result downloads {figures.downloads}")
    met = True
    for name, value in checks:
        verdict = "met" if value == 0 else "MISSED"
        met = met and value == 0
        print(f"  {name:<62} {value:>6}  (target 0: {verdict})")
    for title, lines in (
        ("windows submitted more than needed", figures.excess_windows),
        ("weeks whose rows differ from AMC's", figures.row_mismatches),
    ):
        if lines:
            print(f"{title}:")
            for line in lines[:20]:
                print(f"  {line}")
            if len(lines) > 20:
                print(f"  ... {len(lines) - 20} more")
    return met


def run(options: Options) -> bool:
    rng = random.Random(options.seed)
    started = time.monotonic()
    ends_at = started + options.timeout_seconds
    per_collection = options.weeks // options.instances
    instance_ids = tuple(f"amcsoak{n:02d}" for n in range(1, options.instances + 1))
    with tempfile.TemporaryDirectory(prefix="recomamp-soak-") as tmp:
        home = Path(tmp) / "home"
        logs = home / "logs"
        logs.mkdir(parents=True)
        os.environ["RECOMAMP_HOME"] = str(home)
        simulator = AmcSimulator(
            logs,
            refresh_tokens=(REFRESH_TOKEN,),
            instance_ids=instance_ids,
            execution_seconds=options.execution_seconds,
            state_dir=home / "simulator",
            extra_args=("--seed", str(options.seed)),
        )
        simulator.start()
        try:
            with bench_database("recomamp_soak") as url:
                env = configure(home, simulator, url, options)
                collections = load_collections(url, instance_ids, per_collection)
                rounds: list[Round] = []
                for number in range(1, options.max_rounds + 1):
                    pending = collections_not_done(url, collections)
                    if not pending or time.monotonic() >= ends_at:
                        break
                    calm = number > options.max_rounds - options.calm_rounds
                    done = run_round(
                        number, calm, rng, options, simulator, env, logs, pending, ends_at
                    )
                    done.weeks_done = week_statuses(url)["SUCCESS"]
                    rounds.append(done)
                    print(
                        f"round {number}: {done.killed} killed, {dict(done.exits)}, "
                        f"{done.weeks_done}/{options.weeks} weeks SUCCESS, {done.seconds:.1f} s",
                        flush=True,
                    )
                figures = measure(url, simulator, collections)
                met = report(options, rounds, figures, time.monotonic() - started)
                if options.keep:
                    kept = Path(tempfile.mkdtemp(prefix="recomamp-soak-logs-"))
                    for path in logs.iterdir():
                        (kept / path.name).write_bytes(path.read_bytes())
                    print(f"logs kept in {kept}")
                return met
        finally:
            simulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=200, help="Weeks in all (200).")
    parser.add_argument("--instances", type=int, default=4, help="AMC instances (4).")
    parser.add_argument("--seed", type=int, default=14, help="Seed of faults and kills (14).")
    parser.add_argument(
        "--execution-seconds", type=float, default=0.5, help="Simulated AMC run time (0.5)."
    )
    parser.add_argument("--max-rounds", type=int, default=10, help="Rounds at most (10).")
    parser.add_argument(
        "--calm-rounds", type=int, default=2, help="Last rounds without faults or kills (2)."
    )
    parser.add_argument(
        "--kill-rate", type=float, default=0.5, help="Chance a faulty round's process is killed."
    )
    parser.add_argument(
        "--kill-window",
        type=float,
        nargs=2,
        default=(4.0, 40.0),
        metavar=("FROM", "TO"),
        help="A kill comes this many seconds after the process started (4 40).",
    )
    parser.add_argument(
        "--round-seconds", type=float, default=600.0, help="A round's processes are stopped after."
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=2400.0, help="No round starts after (2400)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the backfill logs.")
    args = parser.parse_args(argv)
    if args.instances < 1 or args.weeks % args.instances:
        parser.error(f"--weeks {args.weeks}: expected a multiple of --instances {args.instances}")
    if not 1 <= args.weeks // args.instances <= MAX_WEEKS_PER_COLLECTION:
        parser.error(
            f"--weeks {args.weeks}: expected 1..{MAX_WEEKS_PER_COLLECTION} weeks per instance"
        )
    if not 0 <= args.calm_rounds < args.max_rounds:
        parser.error(f"--calm-rounds {args.calm_rounds}: expected 0..{args.max_rounds - 1}")
    if args.execution_seconds <= 0:
        parser.error(f"--execution-seconds {args.execution_seconds}: expected > 0")
    options = Options(
        weeks=args.weeks,
        instances=args.instances,
        seed=args.seed,
        execution_seconds=args.execution_seconds,
        max_rounds=args.max_rounds,
        calm_rounds=args.calm_rounds,
        kill_rate=args.kill_rate,
        kill_window=(args.kill_window[0], args.kill_window[1]),
        round_seconds=args.round_seconds,
        timeout_seconds=args.timeout_seconds,
        keep=args.keep,
    )
    return 0 if run(options) else 1


if __name__ == "__main__":
    sys.exit(main())
