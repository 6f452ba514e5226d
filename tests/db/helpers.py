"""Rows and roles for schema tests: a tenant's data, acting as a signed-in user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO / "sql" / "migrations"
MAINTENANCE_DIR = REPO / "sql" / "maintenance"

Conn = psycopg.Connection[Any]


def one(conn: Conn, query: str | sql.SQL | sql.Composed, params: Any = None) -> Any:
    """The single value of a one-row, one-column query."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


@contextmanager
def acting_as(
    conn: Conn, user_id: uuid.UUID | None, *, role: str = "authenticated"
) -> Iterator[Conn]:
    """Run as a signed-in user, as PostgREST does: the role, and the JWT claims setting.

    Everything done inside is rolled back, so a test may run several users on one database.
    """
    claims = json.dumps({"sub": str(user_id), "role": role}) if user_id else ""
    with conn.transaction(force_rollback=True):
        conn.execute(f"set local role {role}")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        yield conn


@contextmanager
def attempt(conn: Conn) -> Iterator[Conn]:
    """A savepoint, so that an expected error does not end the surrounding transaction."""
    with conn.transaction():
        yield conn


def add_user(conn: Conn, email: str) -> uuid.UUID:
    user_id: uuid.UUID = one(conn, "insert into users (email) values (%s) returning id", (email,))
    return user_id


def add_instance(conn: Conn, user_id: uuid.UUID, name: str = "amcinstance") -> uuid.UUID:
    account_id = one(
        conn,
        "insert into amc_accounts (account_id, account_name) values (%s, %s) returning id",
        (f"ENTITY{uuid.uuid4().hex[:10].upper()}", f"account of {name}"),
    )
    instance_id: uuid.UUID = one(
        conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "values (%s, %s, %s, %s) returning id",
        (name, name, user_id, account_id),
    )
    return instance_id


def add_workflow(conn: Conn, user_id: uuid.UUID, instance_id: uuid.UUID) -> uuid.UUID:
    workflow_id: uuid.UUID = one(
        conn,
        "insert into workflows (name, sql_query, user_id, instance_id) "
        "values ('weekly report', 'select 1', %s, %s) returning id",
        (user_id, instance_id),
    )
    return workflow_id


def add_collection(
    conn: Conn,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    instance_id: uuid.UUID,
    start: date = date(2024, 1, 1),
    end: date = date(2024, 12, 29),
) -> uuid.UUID:
    collection_id: uuid.UUID = one(
        conn,
        "insert into report_data_collections "
        "(name, workflow_id, instance_id, user_id, start_date, end_date) "
        "values ('a year of weeks', %s, %s, %s, %s, %s) returning id",
        (workflow_id, instance_id, user_id, start, end),
    )
    return collection_id


def add_weeks(
    conn: Conn, collection_id: uuid.UUID, statuses: list[str], first: date = date(2024, 1, 1)
) -> None:
    """One week row per status, in one statement, Mondays from `first`."""
    starts = [first + timedelta(weeks=n) for n in range(len(statuses))]
    conn.execute(
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date, status) "
        "select %s, s, s + 6, st from unnest(%s::date[], %s::text[]) as u (s, st)",
        (collection_id, starts, statuses),
    )


def progress(conn: Conn, collection_id: uuid.UUID) -> tuple[Any, ...]:
    """(total_weeks, completed_weeks, failed_weeks, progress_percentage, status)."""
    row = conn.execute(
        "select total_weeks, completed_weeks, failed_weeks, progress_percentage::float, status "
        "from report_data_collections where id = %s",
        (collection_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def true_progress(conn: Conn, collection_id: uuid.UUID) -> tuple[int, int, int, float]:
    """The counters recomputed from the week rows."""
    row = conn.execute(
        "select count(*), count(*) filter (where status = 'SUCCESS'), "
        "count(*) filter (where status = 'FAILED') from report_data_weeks "
        "where collection_id = %s",
        (collection_id,),
    ).fetchone()
    assert row is not None
    total, completed, failed = row
    percentage = round(completed * 100 / total, 2) if total else 0.0
    return total, completed, failed, percentage


@dataclass(frozen=True)
class Tenant:
    """One user and a row of theirs in every table that holds user data."""

    user_id: uuid.UUID
    account_id: uuid.UUID
    instance_id: uuid.UUID
    template_id: uuid.UUID
    template_parameter_id: uuid.UUID
    template_report_id: uuid.UUID
    template_instance_id: uuid.UUID
    workflow_id: uuid.UUID
    execution_id: uuid.UUID
    schedule_id: uuid.UUID
    schedule_run_id: uuid.UUID
    tick_claim_id: uuid.UUID
    collection_id: uuid.UUID
    week_id: uuid.UUID
    week_reuse_id: uuid.UUID
    config_id: uuid.UUID
    snapshot_id: uuid.UUID
    campaign_id: uuid.UUID
    asin_id: uuid.UUID
    asin_list_id: uuid.UUID
    asin_list_item_id: uuid.UUID
    guide_progress_id: uuid.UUID


def seed_tenant(conn: Conn, label: str, guide_id: uuid.UUID) -> Tenant:
    """A user with private data everywhere (nothing shared, nothing public)."""
    user_id = add_user(conn, f"{label}@example.com")
    instance_id = add_instance(conn, user_id, f"amc{label}")
    account_id = one(conn, "select account_id from amc_instances where id = %s", (instance_id,))
    template_id = one(
        conn,
        "insert into query_templates (name, category, sql_template, author_id, is_public) "
        "values (%s, 'custom', 'select 1', %s, false) returning id",
        (f"private template of {label}", user_id),
    )
    parameter_id = one(
        conn,
        "insert into query_template_parameters "
        "(template_id, parameter_name, parameter_type, display_name) "
        "values (%s, 'asins', 'asin_list', 'ASINs') returning id",
        (template_id,),
    )
    report_id = one(
        conn,
        "insert into query_template_reports (template_id, report_name, dashboard_config, "
        "field_mappings) values (%s, 'report', '{}', '{}') returning id",
        (template_id,),
    )
    template_instance_id = one(
        conn,
        "insert into query_template_instances (template_id, user_id, instance_name, "
        "saved_parameters) values (%s, %s, 'saved', '{}') returning id",
        (template_id, user_id),
    )
    workflow_id = add_workflow(conn, user_id, instance_id)
    execution_id = one(
        conn,
        "insert into workflow_executions (workflow_id, user_id, instance_id, status) "
        "values (%s, %s, %s, 'RUNNING') returning id",
        (workflow_id, user_id, instance_id),
    )
    schedule_id = one(
        conn,
        "insert into workflow_schedules (name, cron_expression, workflow_id, user_id, "
        "next_run_at) values ('weekly', '0 6 * * 1', %s, %s, now()) returning id",
        (workflow_id, user_id),
    )
    schedule_run_id = one(
        conn,
        "insert into schedule_runs (schedule_id, execution_id, status) "
        "values (%s, %s, 'RUNNING') returning id",
        (schedule_id, execution_id),
    )
    tick_claim_id = one(
        conn,
        "insert into schedule_tick_claims (schedule_id, scheduled_at, schedule_run_id) "
        "values (%s, '2024-06-03 06:00+00', %s) returning id",
        (schedule_id, schedule_run_id),
    )
    collection_id = add_collection(conn, user_id, workflow_id, instance_id)
    week_id = one(
        conn,
        "insert into report_data_weeks (collection_id, execution_id, week_start_date, "
        "week_end_date, status, summary_stats) "
        "values (%s, %s, '2024-01-01', '2024-01-07', 'SUCCESS', '{\"impressions\": 10}') "
        "returning id",
        (collection_id, execution_id),
    )
    week_reuse_id = one(
        conn,
        "insert into collection_week_reuses (collection_week_id, instance_id, execution_id, "
        "request_hash, reason) values (%s, %s, %s, 'sha256', 'SAME_REQUEST') returning id",
        (week_id, instance_id, execution_id),
    )
    config_id = one(
        conn,
        "insert into collection_report_configs (name, collection_id, user_id) "
        "values ('dashboard', %s, %s) returning id",
        (collection_id, user_id),
    )
    snapshot_id = one(
        conn,
        "insert into collection_report_snapshots (name, collection_id, config_id, created_by, "
        "snapshot_data) values ('snapshot', %s, %s, %s, '{}') returning id",
        (collection_id, config_id, user_id),
    )
    campaign_id = one(
        conn,
        "insert into campaigns (campaign_id, name, campaign_type, state, instance_id, user_id) "
        "values ('C1', 'campaign', 'sponsoredProducts', 'ENABLED', %s, %s) returning id",
        (instance_id, user_id),
    )
    asin_id = one(
        conn,
        "insert into asins (asin, user_id) values ('B000000001', %s) returning id",
        (user_id,),
    )
    asin_list_id = one(
        conn,
        "insert into asin_lists (name, user_id) values ('list', %s) returning id",
        (user_id,),
    )
    asin_list_item_id = one(
        conn,
        "insert into asin_list_items (list_id, asin_id, added_by) values (%s, %s, %s) returning id",
        (asin_list_id, asin_id, user_id),
    )
    guide_progress_id = one(
        conn,
        "insert into user_guide_progress (user_id, guide_id) values (%s, %s) returning id",
        (user_id, guide_id),
    )
    conn.execute(
        "select claim_amc_instance_slot(%s, %s)",
        (instance_id, execution_id),
    )
    return Tenant(
        user_id=user_id,
        account_id=account_id,
        instance_id=instance_id,
        template_id=template_id,
        template_parameter_id=parameter_id,
        template_report_id=report_id,
        template_instance_id=template_instance_id,
        workflow_id=workflow_id,
        execution_id=execution_id,
        schedule_id=schedule_id,
        schedule_run_id=schedule_run_id,
        tick_claim_id=tick_claim_id,
        collection_id=collection_id,
        week_id=week_id,
        week_reuse_id=week_reuse_id,
        config_id=config_id,
        snapshot_id=snapshot_id,
        campaign_id=campaign_id,
        asin_id=asin_id,
        asin_list_id=asin_list_id,
        asin_list_item_id=asin_list_item_id,
        guide_progress_id=guide_progress_id,
    )


def add_guide(conn: Conn) -> uuid.UUID:
    guide_id: uuid.UUID = one(
        conn,
        "insert into build_guides (title, category) values ('first steps', 'basics') returning id",
    )
    return guide_id
