"""A backfill over many instances of one AMC account, against the limit AMC's two caps allow.

In a throwaway RECOMAMP_HOME and database (bench/database.py): one user and AMC account, and
`--instances` AMC instances of a local simulator (T = `--execution-seconds`, AMC's own caps: 10
RUNNING per instance, 200 per account), each with a "Weekly DSP performance" workflow and a
collection of `--weeks / --instances` weeks. It starts one `recomamp backfill` naming every
collection (`--collection ID` repeated: a process per collection, forked from one that imported
the pipeline once), or with `--separate-commands` one `recomamp backfill --collection ID` per
collection, all at once; samples every second what AMC runs and the slots the pipeline holds,
and times the start to the last week SUCCESS.

Target: 1.25 x the limit AMC's caps allow + 60 s, where the limit is waves x T and waves =
max(ceil(weeks per instance / 10), ceil(weeks / 200)). Exits 1 when it is missed or a week is
not SUCCESS.

    .venv/bin/python -m bench scale_account_backfill                  # 200 weeks, 20 instances
    .venv/bin/python -m bench scale_account_backfill --weeks 40 --instances 4 --execution-seconds 5
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import soak  # noqa: E402
from bench.database import bench_database  # noqa: E402
from tests.fixtures.amc_simulator import AmcSimulator  # noqa: E402

INSTANCE_SLOTS = 10
ACCOUNT_SLOTS = 200
SLOTS_HELD = "select amc_instance_id, count(*) from amc_instance_slots group by 1"
WEEKS_DONE = "select count(*) from report_data_weeks where status = 'SUCCESS'"
#: When the attempts were created, reached AMC and ended, in seconds after `%(started)s`.
PHASES = """
select
    count(*),
    min(created), max(created),
    min(submitted), percentile_cont(0.5) within group (order by submitted), max(submitted),
    min(ended), percentile_cont(0.5) within group (order by ended), max(ended)
from (
    select
        extract(epoch from created_at - %(started)s) as created,
        extract(epoch from submitted_at - %(started)s) as submitted,
        extract(epoch from completed_at - %(started)s) as ended
    from workflow_executions
) as attempt
"""
CONNECTIONS = (
    "select count(*) filter (where datname = current_database()), count(*), "
    "current_setting('max_connections')::int from pg_stat_activity"
)


def target_seconds(weeks: int, instances: int, execution_seconds: float) -> tuple[float, int]:
    """(target, waves): 1.25 x the waves AMC's caps allow x T, plus 60 s."""
    per_instance = math.ceil(weeks / instances)
    waves = max(math.ceil(per_instance / INSTANCE_SLOTS), math.ceil(weeks / ACCOUNT_SLOTS))
    return 1.25 * waves * execution_seconds + 60, waves


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=200, help="Weeks in all (200).")
    parser.add_argument("--instances", type=int, default=20, help="AMC instances (20).")
    parser.add_argument(
        "--execution-seconds", type=float, default=30.0, help="The simulator's T (30)."
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=900.0, help="Backfills stopped after (900)."
    )
    parser.add_argument(
        "--data-scale",
        type=float,
        default=0.05,
        help="The simulator's generated data, as a share of its default (0.05).",
    )
    parser.add_argument(
        "--separate-commands",
        action="store_true",
        help="One `recomamp backfill` command per collection instead of one naming them all.",
    )
    args = parser.parse_args(argv)
    if args.instances < 1 or args.weeks % args.instances:
        parser.error(f"--weeks {args.weeks}: expected a multiple of --instances {args.instances}")
    per_collection = args.weeks // args.instances
    if not 1 <= per_collection <= soak.MAX_WEEKS_PER_COLLECTION:
        parser.error(
            f"--weeks / --instances = {per_collection}: expected 1..{soak.MAX_WEEKS_PER_COLLECTION}"
            " (AMC's 13-month history)"
        )
    options = soak.Options(
        weeks=args.weeks,
        instances=args.instances,
        seed=14,
        execution_seconds=args.execution_seconds,
        max_rounds=1,
        calm_rounds=1,
        kill_rate=0.0,
        kill_window=(0.0, 0.0),
        round_seconds=args.timeout_seconds,
        timeout_seconds=args.timeout_seconds,
        keep=False,
    )
    instance_ids = tuple(f"amcwide{n:02d}" for n in range(1, args.instances + 1))
    target, waves = target_seconds(args.weeks, args.instances, args.execution_seconds)
    with tempfile.TemporaryDirectory(prefix="recomamp-account-backfill-") as tmp:
        home = Path(tmp) / "home"
        logs = home / "logs"
        logs.mkdir(parents=True)
        os.environ["RECOMAMP_HOME"] = str(home)
        simulator = AmcSimulator(
            logs,
            refresh_tokens=(soak.REFRESH_TOKEN,),
            instance_ids=instance_ids,
            execution_seconds=args.execution_seconds,
            state_dir=home / "simulator",
            # AMC runs queries on its own machines; the simulator's share of two CPUs must not
            # stretch T, so its generated data is small (the week's rows, not their count, vary).
            settings={"data_scale": args.data_scale},
        )
        simulator.start()
        try:
            with bench_database("recomamp_account_backfill") as url:
                env = soak.configure(home, simulator, url, options)
                collections = soak.load_collections(url, instance_ids, per_collection)
                print(
                    f"{args.weeks} weeks over {args.instances} instances of one account "
                    f"({per_collection} each), T = {args.execution_seconds:g} s; target "
                    f"1.25 x {waves} x {args.execution_seconds:g} + 60 = {target:.1f} s; "
                    f"{'a command per collection' if args.separate_commands else 'one command'}; "
                    f"code {revision()}",
                    flush=True,
                )
                running_max = in_flight_max = slots_max = connections_max = server_max = 0
                allowed = 0
                per_instance_max: Counter[str] = Counter()
                started = time.monotonic()
                started_at = datetime.now(UTC)
                amc_done: float | None = None
                next_line = 0.0
                ended: float | None = None
                # One connection, opened before the backfills take theirs.
                with (
                    psycopg.connect(url, autocommit=True) as sampler,
                    soak.backfills(
                        env, logs, 1, collections, one_command=not args.separate_commands
                    ) as processes,
                ):
                    while time.monotonic() - started < args.timeout_seconds:
                        statuses = simulator.counters()["executions_by_status"]
                        running = int(statuses.get("RUNNING", 0))
                        running_max = max(running_max, running)
                        in_flight_max = max(
                            in_flight_max, running + int(statuses.get("PENDING", 0))
                        )
                        rows = sampler.execute(SLOTS_HELD).fetchall()
                        slots_max = max(slots_max, sum(count for _, count in rows))
                        for instance_id, count in rows:
                            per_instance_max[instance_id] = max(
                                per_instance_max[instance_id], count
                            )
                        (done,) = sampler.execute(WEEKS_DONE).fetchone()  # type: ignore[misc]
                        ours, server, allowed = sampler.execute(CONNECTIONS).fetchone()  # type: ignore[misc]
                        connections_max = max(connections_max, ours)
                        server_max = max(server_max, server)
                        elapsed = time.monotonic() - started
                        if amc_done is None and int(statuses.get("SUCCEEDED", 0)) >= args.weeks:
                            amc_done = elapsed
                        if elapsed >= next_line:
                            print(
                                f"  {elapsed:5.0f} s: AMC RUNNING {running}, PENDING "
                                f"{int(statuses.get('PENDING', 0))}, SUCCEEDED "
                                f"{int(statuses.get('SUCCEEDED', 0))}; weeks SUCCESS {done}; "
                                f"load {os.getloadavg()[0]:.1f}",
                                flush=True,
                            )
                            next_line += 10.0
                        if done == args.weeks:
                            ended = time.monotonic()
                            break
                        if all(p.poll() is not None for p in processes):
                            break
                        time.sleep(1.0)
                    exits = Counter(str(p.wait()) for p in processes)
                for index, process in enumerate(processes):
                    if process.returncode:
                        log = (logs / f"round01-{index}.log").read_text(errors="replace")
                        print(f"  backfill {index} exited {process.returncode}:\n{log[-3000:]}")
                weeks = soak.week_statuses(url)
                with psycopg.connect(url) as conn:
                    phases = conn.execute(PHASES, {"started": started_at}).fetchone()
                created = simulator.counters()["executions_created"]
        finally:
            simulator.stop()
    wall = None if ended is None else ended - started
    print(f"  weeks: {dict(weeks)}; backfill exits: {dict(exits)}")
    print(f"  AMC executions created: {created} (one per week: {args.weeks})")
    print_phases(phases, amc_done)
    print(
        f"  most at once: AMC RUNNING {running_max}, AMC PENDING+RUNNING {in_flight_max}, "
        f"slots held {slots_max}, on one instance {max(per_instance_max.values(), default=0)}"
    )
    print(
        f"  PostgreSQL connections at most: {connections_max} to this database, {server_max} "
        f"on the server (max_connections {allowed})"
    )
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")
    if wall is None:
        print(
            f"  not every week SUCCESS (the backfills ended, or {args.timeout_seconds:g} s "
            f"passed): target {target:.1f} s MISSED"
        )
        return 1
    met = wall <= target
    print(
        f"  wall time {wall:.1f} s against the target {target:.1f} s: ratio {wall / target:.3f} "
        f"({'met' if met else 'MISSED'})"
    )
    return 0 if met and weeks["SUCCESS"] == args.weeks else 1


def print_phases(phases: tuple[float | None, ...] | None, amc_done: float | None) -> None:
    """When the attempts began, reached AMC and ended, after the start (first / median / last)."""
    if phases is None or not phases[0]:
        return

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{float(value):.1f}"

    _, *times = phases
    created, submitted, ended = times[0:2], times[2:5], times[5:8]
    print(
        f"  attempts (s after the start): created {seconds(created[0])}-{seconds(created[1])}; "
        f"reached AMC {' / '.join(map(seconds, submitted))}; ended "
        f"{' / '.join(map(seconds, ended))} (first / median / last); AMC had answered all by "
        f"{seconds(amc_done)} (sampled each second)"
    )


def revision() -> str:
    import subprocess

    try:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"


if __name__ == "__main__":
    sys.exit(main())
