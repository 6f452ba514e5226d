"""Result files, targets and owners for the results and quality tests."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from recomamp_pipelines.results import ResultTarget

Conn = psycopg.Connection[Any]

# A sponsored-ads style result: dimensions, funnel metrics, a DECIMAL, AMC's filtered flag.
OUTPUT_COLUMNS: list[dict[str, str]] = [
    {"name": "campaign", "dataType": "STRING", "columnType": "DIMENSION"},
    {"name": "event_date", "dataType": "DATE", "columnType": "DIMENSION"},
    {"name": "impressions", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "clicks", "dataType": "LONG", "columnType": "METRIC"},
    {"name": "purchases", "dataType": "INTEGER", "columnType": "METRIC"},
    {"name": "spend", "dataType": "DOUBLE", "columnType": "METRIC"},
    {"name": "product_sales", "dataType": "DECIMAL", "columnType": "METRIC"},
    {"name": "filtered", "dataType": "BOOLEAN", "columnType": "DIMENSION"},
]
HEADER = [column["name"] for column in OUTPUT_COLUMNS]

ROWS: list[list[str]] = [
    ["Spring sale", "2024-01-01", "1000", "50", "5", "12.5", "150.25", "false"],
    ["Spring sale", "2024-01-02", "2000", "80", "8", "20.0", "240.50", "false"],
    ["Brand", "2024-01-01", "500", "10", "1", "3.25", "30.00", "false"],
    ['Brand, "quoted"', "2024-01-03", "300", "3", "0", "1.0", "0", "false"],
    ["", "2024-01-04", "", "", "", "", "", "true"],
]


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    """A result file as AMC writes it: a header line, then the rows (empty = NULL)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_target(
    *,
    workflow_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    source_id: uuid.UUID | None = None,
    week: date = date(2024, 1, 1),
    source_kind: str = "collection",
) -> ResultTarget:
    start = datetime.combine(week, datetime.min.time())
    return ResultTarget(
        workflow_id=workflow_id or uuid.uuid4(),
        user_id=user_id or uuid.uuid4(),
        source_kind=source_kind,  # type: ignore[arg-type]
        source_id=source_id or uuid.uuid4(),
        window_start=start,
        window_end=start + timedelta(days=7),
        week_start_date=week if source_kind == "collection" else None,
    )


def one(conn: Conn, query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def add_owner(conn: Conn, email: str = "owner@example.com") -> uuid.UUID:
    user_id: uuid.UUID = one(conn, "insert into users (email) values (%s) returning id", (email,))
    return user_id


def add_collection(conn: Conn, user_id: uuid.UUID) -> uuid.UUID:
    """A collection (with its account, instance and workflow) owned by `user_id`."""
    account_id = one(
        conn,
        "insert into amc_accounts (account_id, account_name) values (%s, 'account') returning id",
        (f"ENTITY{uuid.uuid4().hex[:10].upper()}",),
    )
    instance_id = one(
        conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "values ('amcinstance', 'instance', %s, %s) returning id",
        (user_id, account_id),
    )
    workflow_id = one(
        conn,
        "insert into workflows (name, sql_query, user_id, instance_id) "
        "values ('weekly report', 'select 1', %s, %s) returning id",
        (user_id, instance_id),
    )
    collection_id: uuid.UUID = one(
        conn,
        "insert into report_data_collections "
        "(name, workflow_id, instance_id, user_id, start_date, end_date) "
        "values ('a year of weeks', %s, %s, %s, '2024-01-01', '2024-12-29') returning id",
        (workflow_id, instance_id, user_id),
    )
    return collection_id
