"""A small analyst fixture whose figures are computed by hand in the tests.

User a owns a collection of a workflow without a template (every metric the KPIs need, four
weeks), a collection and a schedule of a "Sponsored ads performance" workflow, AMC executions,
schedule runs and weeks reused without an AMC call; user b owns one collection of one week,
reused once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from recomamp_pipelines.results.columns import map_output_columns
from recomamp_pipelines.results.table import create_results_table
from recomamp_pipelines.templates.sync import sync
from tests.db.helpers import add_instance, add_user, one

Conn = psycopg.Connection[Any]

# A workflow of the user's own: every input of the collection KPIs.
KPI_COLUMNS = [
    {"name": "campaign", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "clicks", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "spend_usd", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "purchases", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "product_sales", "dataType": "DECIMAL", "columnType": "METRIC"},
    {"name": "units_sold", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "new_to_brand_product_sales", "dataType": "DOUBLE", "columnType": "METRIC"},
]
KPI_WEEKS: dict[date, list[tuple[Any, ...]]] = {
    date(2024, 1, 1): [
        ("c1", 1000, 50, 25.0, 5, 100.0, 6, 40.0),
        ("c2", 3000, 150, 75.0, 15, 300.0, 14, 20.0),
    ],
    date(2024, 1, 8): [("c1", 5000, 0, 50.0, 0, 0.0, 0, 0.0)],
    date(2024, 1, 15): [("c1", 5000, 10, 50.0, 1, 20.0, 1, 5.0)],
}
FAILED_WEEK = date(2024, 1, 22)
FAILED_ERROR = "AMC rejected the query: syntax error at line 3"

SPONSORED_ADS_COLUMNS = [
    {"name": "ad_product_type", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "clicks", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "reach", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "spend_usd", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "click_through_rate", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "cost_per_click_usd", "dataType": "DOUBLE", "columnType": "METRIC"},
]
SPONSORED_ADS_ROWS = [
    ("sponsored_products", 100, 10, 80, 5.0, 0.1, 0.5),
    ("sponsored_brands", 300, 30, 200, 15.0, 0.1, 0.5),
]


@dataclass
class Owner:
    """One user's rows of the fixture, to look for them through every view."""

    user_id: uuid.UUID
    instance_id: uuid.UUID
    ids: set[uuid.UUID] = field(default_factory=set)
    collections: dict[str, uuid.UUID] = field(default_factory=dict)
    workflows: dict[str, uuid.UUID] = field(default_factory=dict)
    schedule_id: uuid.UUID | None = None


@dataclass
class AnalystFixture:
    a: Owner
    b: Owner


def _template_id(conn: Conn, key: str) -> uuid.UUID:
    template_id: uuid.UUID = one(
        conn, "select id from query_templates where template_key = %s", (key,)
    )
    return template_id


def add_workflow(conn: Conn, owner: Owner, name: str, template_key: str | None) -> uuid.UUID:
    template_id = _template_id(conn, template_key) if template_key else None
    workflow_id: uuid.UUID = one(
        conn,
        "insert into workflows (name, sql_query, user_id, instance_id, template_id) "
        "values (%s, 'select 1', %s, %s, %s) returning id",
        (name, owner.user_id, owner.instance_id, template_id),
    )
    owner.workflows[name] = workflow_id
    owner.ids.add(workflow_id)
    return workflow_id


def add_collection(conn: Conn, owner: Owner, name: str, workflow_id: uuid.UUID) -> uuid.UUID:
    collection_id: uuid.UUID = one(
        conn,
        "insert into report_data_collections "
        "(name, workflow_id, instance_id, user_id, start_date, end_date) "
        "values (%s, %s, %s, %s, '2024-01-01', '2024-01-28') returning id",
        (name, workflow_id, owner.instance_id, owner.user_id),
    )
    owner.collections[name] = collection_id
    owner.ids.add(collection_id)
    return collection_id


def week_stats(
    columns: Sequence[Mapping[str, str]], rows: Sequence[tuple[Any, ...]]
) -> dict[str, float]:
    """The `<column>_sum`, `<column>_count` and `row_count` the ingest would record."""
    stats: dict[str, float] = {"row_count": len(rows)}
    for index, column in enumerate(columns):
        if column["dataType"] in ("LONG", "DOUBLE", "DECIMAL", "INTEGER"):
            values = [row[index] for row in rows if row[index] is not None]
            stats[f"{column['name']}_sum"] = sum(values)
            stats[f"{column['name']}_count"] = len(values)
    return stats


def add_week(
    conn: Conn,
    collection_id: uuid.UUID,
    week: date,
    status: str,
    stats: Mapping[str, float] | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date, status, "
        "result_rows, error_message, summary_stats, completed_at) "
        "values (%s, %s, %s, %s, %s, %s, %s, now())",
        (
            collection_id,
            week,
            week + timedelta(days=6),
            status,
            None if stats is None else stats["row_count"],
            error,
            None if stats is None else psycopg.types.json.Jsonb(dict(stats)),
        ),
    )


def create_results(
    conn: Conn, workflow_id: uuid.UUID, columns: Sequence[Mapping[str, str]]
) -> None:
    with conn.cursor() as cur:
        create_results_table(cur, workflow_id, map_output_columns(columns))


def insert_results(
    conn: Conn,
    workflow_id: uuid.UUID,
    columns: Sequence[Mapping[str, str]],
    owner: Owner,
    source_kind: str,
    source_id: uuid.UUID,
    week: date,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Rows of one week (or schedule window), as a load would leave them."""
    start = datetime.combine(week, datetime.min.time())
    names = [
        "window_start",
        "window_end",
        "source_kind",
        "source_id",
        "user_id",
        "week_start_date",
        *[column["name"] for column in columns],
    ]
    statement = sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier("results", f"workflow_{workflow_id.hex}"),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
    )
    week_start_date = week if source_kind == "collection" else None
    with conn.cursor() as cur:
        cur.executemany(
            statement,
            [
                (
                    start,
                    start + timedelta(days=7),
                    source_kind,
                    source_id,
                    owner.user_id,
                    week_start_date,
                    *row,
                )
                for row in rows
            ],
        )


def add_executions(conn: Conn, owner: Owner, workflow_id: uuid.UUID) -> None:
    """Four executions created on Wednesday 2024-01-03: two successes, two failures."""
    created = datetime(2024, 1, 3, 10, 0)
    executions = [
        # status, queue seconds, AMC duration, completed after submission, error type, retries
        ("SUCCESS", 60, 600, 600, None, 0),
        ("SUCCESS", 180, 1200, 1200, None, 0),
        ("FAILED", 120, None, 180, "QUERY_ERROR", 2),
        ("FAILED", None, None, None, None, 0),
    ]
    for status, queue, duration, run, error_type, retries in executions:
        submitted = None if queue is None else created + timedelta(seconds=queue)
        completed = None if submitted is None or run is None else submitted + timedelta(seconds=run)
        execution_id = one(
            conn,
            "insert into workflow_executions (workflow_id, user_id, instance_id, status, "
            "created_at, submitted_at, completed_at, execution_duration, error_type, "
            "retry_count) values (%s, %s, %s, %s, %s at time zone 'UTC', "
            "%s at time zone 'UTC', %s at time zone 'UTC', %s, %s, %s) returning id",
            (
                workflow_id,
                owner.user_id,
                owner.instance_id,
                status,
                created,
                submitted,
                completed,
                duration,
                error_type,
                retries,
            ),
        )
        owner.ids.add(execution_id)


def add_reuse(
    conn: Conn, owner: Owner, collection_id: uuid.UUID, week: date, reused_at: datetime
) -> None:
    """A run kept the collection week's published result instead of calling AMC."""
    reuse_id = one(
        conn,
        "insert into collection_week_reuses (collection_week_id, instance_id, request_hash, "
        "reused_at, dagster_run_id, reason) select wk.id, %s, 'sha256', %s at time zone 'UTC', "
        "'run', 'SAME_REQUEST' from report_data_weeks as wk "
        "where wk.collection_id = %s and wk.week_start_date = %s returning id",
        (owner.instance_id, reused_at, collection_id, week),
    )
    owner.ids.add(reuse_id)


def add_schedule(conn: Conn, owner: Owner, workflow_id: uuid.UUID) -> uuid.UUID:
    """A schedule with six runs: S F F (skip) S F by due time."""
    schedule_id: uuid.UUID = one(
        conn,
        "insert into workflow_schedules (name, cron_expression, workflow_id, user_id, "
        "next_run_at, consecutive_failures) values ('nightly sponsored ads', '0 3 * * *', "
        "%s, %s, now(), 1) returning id",
        (workflow_id, owner.user_id),
    )
    runs = [
        ("SUCCESS", 10.0),
        ("FAILED", 400.0),
        ("FAILED", 20.0),
        ("SKIPPED", None),
        ("SUCCESS", 30.0),
        ("FAILED", 5.0),
    ]
    first = datetime(2024, 1, 1, 3, 0)
    for number, (status, lateness) in enumerate(runs, start=1):
        run_id = one(
            conn,
            "insert into schedule_runs (schedule_id, status, run_number, scheduled_at, "
            "lateness_seconds) values (%s, %s, %s, %s at time zone 'UTC', %s) returning id",
            (schedule_id, status, number, first + timedelta(days=number - 1), lateness),
        )
        owner.ids.add(run_id)
    owner.schedule_id = schedule_id
    owner.ids.add(schedule_id)
    return schedule_id


def seed(conn: Conn) -> AnalystFixture:
    """The whole fixture; the pipeline's connection (`conn`) bypasses row-level security."""
    sync(conn)
    owners = []
    for label in ("a", "b"):
        user_id = add_user(conn, f"{label}@example.com")
        owner = Owner(user_id=user_id, instance_id=add_instance(conn, user_id, f"amc{label}"))
        owner.ids |= {user_id, owner.instance_id}
        owners.append(owner)
    a, b = owners

    kpi_workflow = add_workflow(conn, a, "own funnel", None)
    create_results(conn, kpi_workflow, KPI_COLUMNS)
    kpis = add_collection(conn, a, "funnel 2024", kpi_workflow)
    for week, rows in KPI_WEEKS.items():
        add_week(conn, kpis, week, "SUCCESS", week_stats(KPI_COLUMNS, rows))
        insert_results(conn, kpi_workflow, KPI_COLUMNS, a, "collection", kpis, week, rows)
    add_week(conn, kpis, FAILED_WEEK, "FAILED", error=FAILED_ERROR)

    ads_workflow = add_workflow(conn, a, "sponsored ads", "sponsored_ads_performance")
    create_results(conn, ads_workflow, SPONSORED_ADS_COLUMNS)
    ads = add_collection(conn, a, "sponsored ads 2024", ads_workflow)
    add_week(
        conn,
        ads,
        date(2024, 1, 1),
        "SUCCESS",
        week_stats(SPONSORED_ADS_COLUMNS, SPONSORED_ADS_ROWS),
    )
    insert_results(
        conn,
        ads_workflow,
        SPONSORED_ADS_COLUMNS,
        a,
        "collection",
        ads,
        date(2024, 1, 1),
        SPONSORED_ADS_ROWS,
    )
    schedule_id = add_schedule(conn, a, ads_workflow)
    insert_results(
        conn,
        ads_workflow,
        SPONSORED_ADS_COLUMNS,
        a,
        "schedule",
        schedule_id,
        date(2024, 1, 8),
        SPONSORED_ADS_ROWS[:1],
    )
    add_executions(conn, a, kpi_workflow)
    # In the executions' week: the funnel's first week twice, the sponsored ads week once; in
    # the next week, the funnel's second week, without any execution that week.
    add_reuse(conn, a, kpis, date(2024, 1, 1), datetime(2024, 1, 3, 12, 0))
    add_reuse(conn, a, kpis, date(2024, 1, 1), datetime(2024, 1, 4, 12, 0))
    add_reuse(conn, a, ads, date(2024, 1, 1), datetime(2024, 1, 4, 13, 0))
    add_reuse(conn, a, kpis, date(2024, 1, 8), datetime(2024, 1, 10, 9, 0))

    b_workflow = add_workflow(conn, b, "b's funnel", None)
    create_results(conn, b_workflow, KPI_COLUMNS)
    b_collection = add_collection(conn, b, "b 2024", b_workflow)
    b_rows = [("b1", 10, 1, 1.0, 1, 2.0, 1, 1.0)]
    add_week(conn, b_collection, date(2024, 1, 1), "SUCCESS", week_stats(KPI_COLUMNS, b_rows))
    insert_results(
        conn, b_workflow, KPI_COLUMNS, b, "collection", b_collection, date(2024, 1, 1), b_rows
    )
    add_executions(conn, b, b_workflow)
    add_reuse(conn, b, b_collection, date(2024, 1, 1), datetime(2024, 1, 3, 12, 0))
    return AnalystFixture(a=a, b=b)
