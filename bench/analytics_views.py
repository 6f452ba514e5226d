"""Benchmark of the analyst layer: `views apply` on 1,000 weeks, mart refreshes after a backfill.

In one database, timed in one run:
  (a) 1,000 weeks of results (20 collections x 50 weeks, --rows rows a week, written with
      INSERT ... SELECT: the ingest is not what this part measures), then `views apply` on
      them: the first apply (every view created, the stored marts filled), a second one
      (nothing changed: a no-op), one after a new results table appeared (the union and what
      reads it rebuilt), the first refresh of every stored mart in the process (which parses
      the view files once) and one with nothing changed;
  (b) a 52-week backfill of one more collection through the pipeline's own ingest (`load_week`
      + the quality checks + commit, as a week runs), each week timed, then the apply and
      refresh that follow it: the refresh time per week of new data against a week's ingest;
  (c) one more week (the nightly case): its ingest, then the refresh of every mart, as a ratio
      (the incremental mart recomputes the one collection that changed).

Target: refreshing the marts after a week lands costs under 10 % of that week's ingest.
Uses DATABASE_URL when set (a server where it may create a database), else a throwaway
pgserver. Prints a table; asserts nothing.

    .venv/bin/python -m bench analytics_views [--rows 1000] [--backfill-rows 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.database import bench_database
from bench.ingest import OUTPUT_COLUMNS, generate_csv
from recomamp_pipelines.analytics.views import apply_and_refresh, apply_views, refresh_marts
from recomamp_pipelines.quality import check_loaded_week
from recomamp_pipelines.results import ResultTarget, load_week
from recomamp_pipelines.results.columns import map_output_columns
from recomamp_pipelines.results.table import create_results_table
from recomamp_pipelines.templates.sync import sync

FIRST_WEEK = date(2024, 1, 1)


def _one(conn: psycopg.Connection, query: str, params: tuple[object, ...]) -> uuid.UUID:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    value: uuid.UUID = row[0]
    return value


def _owner(conn: psycopg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    user_id = _one(conn, "insert into users (email) values (%s) returning id", ("b@x.co",))
    account_id = _one(
        conn,
        "insert into amc_accounts (account_id, account_name) values ('ENTITYBENCH', 'b') "
        "returning id",
        (),
    )
    instance_id = _one(
        conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "values ('amcbench', 'bench', %s, %s) returning id",
        (user_id, account_id),
    )
    return user_id, instance_id


def _collection(
    conn: psycopg.Connection, user_id: uuid.UUID, instance_id: uuid.UUID, weeks: int, name: str
) -> tuple[uuid.UUID, uuid.UUID]:
    workflow_id = _one(
        conn,
        "insert into workflows (name, sql_query, user_id, instance_id) "
        "values (%s, 'select 1', %s, %s) returning id",
        (name, user_id, instance_id),
    )
    collection_id = _one(
        conn,
        "insert into report_data_collections (name, workflow_id, instance_id, user_id, "
        "start_date, end_date) values (%s, %s, %s, %s, %s, %s) returning id",
        (
            name,
            workflow_id,
            instance_id,
            user_id,
            FIRST_WEEK,
            FIRST_WEEK + timedelta(weeks=weeks) - timedelta(days=1),
        ),
    )
    conn.execute(
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date, status) "
        "select %s, d::date, d::date + 6, 'PENDING' "
        "from generate_series(%s::date, %s::date, interval '7 days') as d",
        (collection_id, FIRST_WEEK, FIRST_WEEK + timedelta(weeks=weeks - 1)),
    )
    return workflow_id, collection_id


def fill_history(conn: psycopg.Connection, collections: int, weeks: int, rows: int) -> int:
    """`collections` x `weeks` published weeks of `rows` rows each, written in bulk."""
    user_id, instance_id = _owner(conn)
    columns = map_output_columns(OUTPUT_COLUMNS)
    for index in range(collections):
        workflow_id, collection_id = _collection(
            conn, user_id, instance_id, weeks, f"history {index}"
        )
        with conn.cursor() as cur:
            create_results_table(cur, workflow_id, columns)
        table = sql.Identifier("results", f"workflow_{workflow_id.hex}")
        conn.execute(
            sql.SQL(
                "insert into {} select w.d, w.d + interval '7 days', 'collection', %s, %s, "
                "w.d::date, 'Campaign ' || (r %% 500), 'cmp-' || (r %% 500), 'sponsored_products', "
                "'Phone', 1000 + r, 10 + r %% 50, r %% 7, r %% 9, 500.0 * r, 20.0 * (r %% 7), "
                "5.0 * (r %% 3), r %% 31 = 0 "
                "from generate_series(%s::timestamp, %s::timestamp, interval '7 days') as w (d), "
                "generate_series(1, %s) as r"
            ).format(table),
            (
                collection_id,
                user_id,
                datetime.combine(FIRST_WEEK, datetime.min.time()),
                datetime.combine(FIRST_WEEK + timedelta(weeks=weeks - 1), datetime.min.time()),
                rows,
            ),
        )
        metrics = [
            "impressions",
            "clicks",
            "purchases",
            "units_sold",
            "total_cost",
            "product_sales",
            "new_to_brand_product_sales",
        ]
        stats = sql.SQL(", ").join(
            sql.SQL("{}, sum({}), {}, count({})").format(
                sql.Literal(f"{name}_sum"),
                sql.Identifier(name),
                sql.Literal(f"{name}_count"),
                sql.Identifier(name),
            )
            for name in metrics
        )
        # the summary_stats the ingest would have recorded for each week
        conn.execute(
            sql.SQL(
                "update report_data_weeks as weeks set status = 'SUCCESS', "
                "result_rows = totals.row_count, completed_at = now(), summary_stats = "
                "totals.stats from (select week_start_date, count(*) as row_count, "
                "jsonb_build_object('row_count', count(*), {}) as stats from {} "
                "group by week_start_date) as totals where weeks.collection_id = %s "
                "and weeks.week_start_date = totals.week_start_date"
            ).format(stats, table),
            (collection_id,),
        )
    conn.execute("analyze")
    return collections * weeks


def ingest_week(
    conn: psycopg.Connection,
    csv_path: Path,
    root: Path,
    workflow_id: uuid.UUID,
    user_id: uuid.UUID,
    collection_id: uuid.UUID,
    week: date,
) -> float:
    """One week through the pipeline's load, checks and commit; returns its seconds."""
    start = datetime.combine(week, datetime.min.time())
    target = ResultTarget(
        workflow_id=workflow_id,
        user_id=user_id,
        source_kind="collection",
        source_id=collection_id,
        window_start=start,
        window_end=start + timedelta(days=7),
        week_start_date=week,
    )
    started = time.perf_counter()
    with load_week(conn, [csv_path], OUTPUT_COLUMNS, target, results_root=root) as loaded:
        check_loaded_week(conn, loaded)
        # the week's row, written in the load's transaction as the pipeline does
        conn.execute(
            "update report_data_weeks set status = 'SUCCESS', result_rows = %s, "
            "summary_stats = %s, completed_at = now() "
            "where collection_id = %s and week_start_date = %s",
            (loaded.row_count, Jsonb(loaded.summary_stats), collection_id, week),
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows of each history week")
    parser.add_argument("--collections", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=50)
    parser.add_argument(
        "--backfill-rows", type=int, default=20_000, help="rows of each backfilled week"
    )
    parser.add_argument("--backfill-weeks", type=int, default=52)
    args = parser.parse_args()

    with bench_database("bench_views") as url, tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with psycopg.connect(url, autocommit=True) as conn:
            sync(conn)
            started = time.perf_counter()
            weeks = fill_history(conn, args.collections, args.weeks, args.rows)
            print(
                f"history: {weeks} weeks x {args.rows} rows in {args.collections} results "
                f"tables, written in {time.perf_counter() - started:.1f} s"
            )
            first = apply_views(conn)
            noop = apply_views(conn)
            conn.execute(
                "create table results.workflow_00000000000000000000000000000001 "
                "(like results.{} including all)".format(
                    conn.execute(
                        "select tablename from pg_tables where schemaname = 'results' "
                        "order by tablename limit 1"
                    ).fetchone()[0]  # type: ignore[index]
                )
            )
            rebuilt = apply_views(conn)
            started = time.perf_counter()
            refreshed = refresh_marts(conn)
            refresh_history = time.perf_counter() - started
            started = time.perf_counter()
            refresh_marts(conn)
            refresh_unchanged = time.perf_counter() - started
            print(f"\n(a) views apply on {weeks} weeks")
            print(f"  first apply ({first.summary()}):{first.seconds:>18.2f} s")
            print(f"  second apply ({noop.summary()}):{noop.seconds:>14.2f} s")
            print(f"  after a new results table ({rebuilt.summary()}):{rebuilt.seconds:>6.2f} s")
            print(f"  first refresh of {len(refreshed)} stored mart(s):{refresh_history:>20.2f} s")
            print(f"  refresh with nothing changed:{refresh_unchanged:>27.3f} s")

            csv_path = root / "week.csv"
            generate_csv(csv_path, args.backfill_rows)
            user_id = conn.execute("select id from users").fetchone()[0]  # type: ignore[index]
            instance_id = conn.execute("select id from amc_instances").fetchone()[0]  # type: ignore[index]
            workflow_id, collection_id = _collection(
                conn, user_id, instance_id, args.backfill_weeks + 1, "backfill"
            )
            ingest = [
                ingest_week(
                    conn,
                    csv_path,
                    root,
                    workflow_id,
                    user_id,
                    collection_id,
                    FIRST_WEEK + timedelta(weeks=n),
                )
                for n in range(args.backfill_weeks)
            ]
            started = time.perf_counter()
            applied, marts = apply_and_refresh(conn)
            after_backfill = time.perf_counter() - started
            if not marts:
                marts = refresh_marts(conn)
                after_backfill = time.perf_counter() - started
            mean_ingest = statistics.mean(ingest)
            per_week = after_backfill / args.backfill_weeks
            print(
                f"\n(b) {args.backfill_weeks}-week backfill of {args.backfill_rows} rows a week "
                f"({weeks + args.backfill_weeks} weeks in all)"
            )
            print(f"  ingest of a week (load + checks + commit), mean: {mean_ingest:>8.3f} s")
            print(f"  ingest of the backfill:{sum(ingest):>32.2f} s")
            print(f"  apply + refresh after it ({applied.summary()}):{after_backfill:>5.2f} s")
            print(f"  refresh per week of new data:{per_week:>26.3f} s")
            print(f"  per week / ingest of a week:{per_week / mean_ingest:>26.1%}")

            nightly_ingest = ingest_week(
                conn,
                csv_path,
                root,
                workflow_id,
                user_id,
                collection_id,
                FIRST_WEEK + timedelta(weeks=args.backfill_weeks),
            )
            started = time.perf_counter()
            nightly = refresh_marts(conn)
            nightly_refresh = time.perf_counter() - started
            partitions = ", ".join(
                f"{mart.name}: {mart.partitions}" for mart in nightly if mart.partitions is not None
            )
            print("\n(c) one more week (nightly)")
            print(f"  its ingest:{nightly_ingest:>44.3f} s")
            print(f"  refresh of every mart after it:{nightly_refresh:>24.3f} s")
            print(f"  partitions recomputed: {partitions}")
            print(f"  refresh / ingest:{nightly_refresh / nightly_ingest:>38.1%}")


if __name__ == "__main__":
    main()
