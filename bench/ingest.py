"""Benchmark of the results ingest: our pipeline against plain COPY and pandas `to_sql`.

Generates an AMC-like CSV result (a dozen columns: strings, longs, doubles, a boolean), then in
one run times
  (a) our full ingest, one transaction: the week's previous rows deleted -> CSV parsed once by
      Arrow -> binary COPY (pgpq) into the results table, with the Parquet file, summary_stats
      and checksum written by a thread -> quality checks on SQL aggregates of the loaded rows
      -> commit -> Parquet renamed into place;
  (b) plain psycopg `COPY FROM STDIN` of the same bytes into a table shaped like ours;
  (c) pandas `read_csv` in chunks + `to_sql` (SQLAlchemy, method=None) into the same shape;
and measures the peak memory of ingesting a larger result in a fresh subprocess (RSS above the
baseline after imports, sampled from /proc/self/status, Arrow's allocations included).

Uses DATABASE_URL when set (a server where it may create a database), else a throwaway
pgserver. Prints a table; asserts nothing.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--memory-rows 5000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import bench_database
from recomamp_pipelines.quality import check_loaded_week
from recomamp_pipelines.quality.expectations import setup_seconds, validate
from recomamp_pipelines.results import ResultTarget, load_week, results_table_name

OUTPUT_COLUMNS = [
    {"name": "campaign", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "campaign_id", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "ad_product_type", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "device_type", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "clicks", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "purchases", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "units_sold", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "total_cost", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "product_sales", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "new_to_brand_product_sales", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "filtered", "dataType": "BOOLEAN", "columnType": "DIMENSION"},
]
DATA_COLUMNS = [column["name"] for column in OUTPUT_COLUMNS]
GENERATE_CHUNK_ROWS = 250_000
COPY_CHUNK_BYTES = 1024 * 1024
PANDAS_CHUNK_ROWS = 100_000


def generate_csv(path: Path, rows: int, seed: int = 7) -> None:
    """An AMC-like result: campaign x device breakdown with consistent funnel metrics."""
    rng = np.random.default_rng(seed)
    products = np.array(["sponsored_products", "sponsored_brands", "sponsored_display", "dsp"])
    devices = np.array(["Phone", "Desktop", "TV", "Tablet"])
    with pa_csv.CSVWriter(
        path,
        pa.schema([(name, _arrow_type(name)) for name in DATA_COLUMNS]),
        write_options=pa_csv.WriteOptions(quoting_style="needed"),
    ) as writer:
        for start in range(0, rows, GENERATE_CHUNK_ROWS):
            n = min(GENERATE_CHUNK_ROWS, rows - start)
            ids = rng.integers(0, 50_000, n)
            impressions = rng.integers(100, 200_000, n)
            clicks = (impressions * rng.uniform(0, 0.02, n)).astype(np.int64)
            purchases = (clicks * rng.uniform(0, 0.3, n)).astype(np.int64)
            sales = purchases * rng.uniform(5, 80, n)
            table = pa.table(
                {
                    "campaign": pa.array(np.char.add("Campaign ", ids.astype(str))),
                    "campaign_id": pa.array(np.char.add("cmp-", ids.astype(str))),
                    "ad_product_type": pa.array(products[rng.integers(0, 4, n)]),
                    "device_type": pa.array(devices[rng.integers(0, 4, n)]),
                    "impressions": impressions,
                    "clicks": clicks,
                    "purchases": purchases,
                    "units_sold": purchases + rng.integers(0, 3, n),
                    "total_cost": impressions * rng.uniform(0.5, 4.0, n),
                    "product_sales": sales,
                    "new_to_brand_product_sales": sales * rng.uniform(0, 1, n),
                    "filtered": rng.uniform(0, 1, n) < 0.03,
                }
            )
            writer.write_table(table)


def _arrow_type(name: str) -> pa.DataType:
    data_type = next(c["dataType"] for c in OUTPUT_COLUMNS if c["name"] == name)
    return {"STRING": pa.string(), "LONG": pa.int64(), "DOUBLE": pa.float64()}.get(
        data_type, pa.bool_()
    )


def _target() -> ResultTarget:
    return ResultTarget(
        workflow_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        source_kind="collection",
        source_id=uuid.uuid4(),
        window_start=datetime(2024, 1, 1),
        window_end=datetime(2024, 1, 8),
        week_start_date=date(2024, 1, 1),
    )


def run_ours(conn: psycopg.Connection, csv_path: Path, root: Path) -> tuple[float, dict, str]:
    target = _target()
    conn.execute("checkpoint")
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with load_week(conn, [csv_path], OUTPUT_COLUMNS, target, results_root=root) as week:
        phases["load (binary COPY + Parquet, stats, checksum)"] = time.perf_counter() - started
        mark = time.perf_counter()
        outcomes = check_loaded_week(conn, week)
        phases["checks"] = time.perf_counter() - mark
        failed = [outcome.name for outcome in outcomes if not outcome.passed]
        if failed:
            print(f"  note: checks failed on generated data: {failed}")
        mark = time.perf_counter()
    phases["commit + Parquet rename"] = time.perf_counter() - mark
    total = time.perf_counter() - started
    if not week.published or week.row_count == 0:
        raise RuntimeError("our ingest published no rows")
    return total, phases, results_table_name(target.workflow_id)


def _like_table(conn: psycopg.Connection, source: str, name: str) -> sql.Identifier:
    """A table shaped like our results table whose metadata columns have defaults."""
    table = sql.Identifier("bench", name)
    conn.execute(
        sql.SQL("create table {} (like {} including all)").format(
            table, sql.Identifier("results", source)
        )
    )
    defaults = {
        "window_start": "'2024-01-01'",
        "window_end": "'2024-01-08'",
        "source_kind": "'collection'",
        "source_id": f"'{uuid.uuid4()}'",
        "user_id": f"'{uuid.uuid4()}'",
        "week_start_date": "'2024-01-01'",
    }
    for column, default in defaults.items():
        conn.execute(
            sql.SQL("alter table {} alter column {} set default {}").format(
                table, sql.Identifier(column), sql.SQL(default)
            )
        )
    return table


def run_plain_copy(conn: psycopg.Connection, csv_path: Path, table: sql.Identifier) -> float:
    conn.execute("checkpoint")
    started = time.perf_counter()
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in DATA_COLUMNS)
    with conn.transaction(), conn.cursor() as cur:
        copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv, header true)").format(
            table, columns
        )
        with csv_path.open("rb") as handle, cur.copy(copy_sql) as copy:
            while chunk := handle.read(COPY_CHUNK_BYTES):
                copy.write(chunk)
    return time.perf_counter() - started


def run_pandas(url: str, csv_path: Path, table_name: str) -> float:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.perf_counter()
    with engine.begin() as connection:
        for chunk in pd.read_csv(csv_path, chunksize=PANDAS_CHUNK_ROWS):
            chunk.to_sql(
                table_name,
                connection,
                schema="bench",
                if_exists="append",
                index=False,
                method=None,
            )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def measure_memory(url: str, csv_path: Path, root: Path) -> dict[str, float]:
    """Peak RSS above baseline of a fresh process ingesting `csv_path`."""
    completed = subprocess.run(
        [sys.executable, __file__, "_memory", url, str(csv_path), str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(line.split("=", 1) for line in completed.stdout.split() if "=" in line)
    return {key: float(value) for key, value in values.items()}


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _memory_child(url: str, csv_path: str, root: str) -> None:
    # Warm GE's import and context: they are process set-up, not ingest memory.
    validate(pd.DataFrame({"x": [1]}), [])
    baseline = _rss_kib()
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss_kib())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        target = _target()
        with load_week(
            conn, [Path(csv_path)], OUTPUT_COLUMNS, target, results_root=Path(root)
        ) as week:
            check_loaded_week(conn, week)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    peak = max(peak, _rss_kib())
    arrow_peak = pa.default_memory_pool().max_memory() / 2**20
    print(
        f"baseline_mib={baseline / 1024:.1f} peak_mib={peak / 1024:.1f} "
        f"arrow_peak_mib={arrow_peak:.1f} seconds={elapsed:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000)
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of (a) and (b), alternated; medians shown"
    )
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch,
        bench_database("bench_ingest") as url,
    ):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create schema if not exists bench")
        work = Path(scratch)
        csv_path = work / "result.csv"
        mark = time.perf_counter()
        generate_csv(csv_path, args.rows)
        size_mib = csv_path.stat().st_size / 2**20
        print(
            f"generated {args.rows:,} rows, {size_mib:.0f} MiB of CSV "
            f"in {time.perf_counter() - mark:.1f} s; load average {os.getloadavg()[0]:.1f}"
        )
        # GE's import and context are made once per process, not per week: time them apart.
        validate(pd.DataFrame({"x": [1]}), [])
        ours_runs: list[float] = []
        plain_runs: list[float] = []
        phase_runs: dict[str, list[float]] = {}
        with psycopg.connect(url, autocommit=True) as conn:
            # Alternating the two keeps a passing burst of load from favouring either side.
            for run in range(args.repeat):
                ours, phases, table = run_ours(conn, csv_path, work / "results")
                ours_runs.append(ours)
                for phase, seconds in phases.items():
                    phase_runs.setdefault(phase, []).append(seconds)
                plain_runs.append(
                    run_plain_copy(conn, csv_path, _like_table(conn, table, f"plain_copy_{run}"))
                )
            pandas_seconds = None
            if not args.skip_pandas:
                _like_table(conn, table, "pandas_to_sql")
                conn.execute("checkpoint")
                pandas_seconds = run_pandas(url, csv_path, "pandas_to_sql")
        ours = statistics.median(ours_runs)
        plain = statistics.median(plain_runs)
        rows = args.rows
        print()
        heading = f"method (median of {args.repeat} runs)"
        print(f"{heading:<48} {'seconds':>9} {'rows/s':>12}")
        label = "(a) ours: load + checks + commit + Parquet"
        print(f"{label:<48} {ours:>9.2f} {rows / ours:>12,.0f}")
        for phase, seconds in phase_runs.items():
            print(f"{'    ' + phase:<48} {statistics.median(seconds):>9.2f}")
        print(f"{'(b) plain COPY FROM STDIN':<48} {plain:>9.2f} {rows / plain:>12,.0f}")
        if pandas_seconds is not None:
            print(
                f"{'(c) pandas read_csv + to_sql (one run)':<48} {pandas_seconds:>9.2f} "
                f"{rows / pandas_seconds:>12,.0f}"
            )
        print()
        print(f"runs of (a): {', '.join(f'{value:.2f}' for value in ours_runs)} s")
        print(f"runs of (b): {', '.join(f'{value:.2f}' for value in plain_runs)} s")
        print(f"ours / plain COPY (throughput, medians): {plain / ours:.2f}  (target >= 0.8)")
        print(f"ours / plain COPY (throughput, best runs): {min(plain_runs) / min(ours_runs):.2f}")
        if pandas_seconds is not None:
            print(f"ours / pandas to_sql (throughput): {pandas_seconds / ours:.1f}  (target >= 5)")
        ge = setup_seconds()
        print(f"great_expectations import {ge['import']:.2f} s, context {ge['context']:.2f} s")

        if not args.skip_memory:
            big = work / "big.csv"
            generate_csv(big, args.memory_rows, seed=11)
            csv_path.unlink()
            memory = measure_memory(url, big, work / "results-memory")
            above = memory["peak_mib"] - memory["baseline_mib"]
            print()
            print(
                f"memory, {args.memory_rows:,} rows ({big.stat().st_size / 2**20:.0f} MiB CSV): "
                f"baseline {memory['baseline_mib']:.0f} MiB, peak {memory['peak_mib']:.0f} MiB, "
                f"above baseline {above:.0f} MiB (target < 400; Arrow's pool peaked at "
                f"{memory['arrow_peak_mib']:.0f} MiB), ingest {memory['seconds']:.1f} s"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(*sys.argv[2:5])
    else:
        main()
