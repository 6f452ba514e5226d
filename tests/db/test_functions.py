"""The schema's functions, triggers and view, each checked on its result."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from tests.db import document
from tests.db.conftest import Tenants
from tests.db.helpers import (
    add_collection,
    add_instance,
    add_user,
    add_workflow,
    one,
)

Conn = psycopg.Connection[Any]


def week_over_week(conn: Conn, current: dict[str, Any], previous: dict[str, Any]) -> Any:
    return one(
        conn,
        "select calculate_week_over_week_change(%s, %s, 'clicks')",
        (Jsonb(current), Jsonb(previous)),
    )


@pytest.mark.parametrize(
    ("current", "previous", "absolute", "percentage"),
    [
        ({"clicks": 150}, {"clicks": 100}, 50, 50),
        ({"clicks": 75}, {"clicks": 100}, -25, -25),
        ({"clicks": 0}, {"clicks": 0}, 0, 0),
        ({"clicks": 10}, {"clicks": 0}, 10, None),  # division by zero: no finite change
        ({"clicks": 10}, {}, 10, None),  # a missing metric counts as 0
        ({}, {"clicks": 4}, -4, -100),
        ({"clicks": "12.5"}, {"clicks": 10}, 2.5, 25),
    ],
)
def test_week_over_week_change(
    db_conn: Conn,
    current: dict[str, Any],
    previous: dict[str, Any],
    absolute: float,
    percentage: float | None,
) -> None:
    change = week_over_week(db_conn, current, previous)

    assert change["metric"] == "clicks"
    assert change["absolute_change"] == absolute
    assert change["percentage_change"] == percentage


def test_week_over_week_change_from_a_negative_value_has_the_sign_of_the_change(
    db_conn: Conn,
) -> None:
    """Defect 19: -100 -> -50 is a 50 % rise; the document reported -50 %."""
    rise = week_over_week(db_conn, {"clicks": -50}, {"clicks": -100})
    fall = week_over_week(db_conn, {"clicks": -150}, {"clicks": -100})

    assert (rise["absolute_change"], rise["percentage_change"]) == (50, 50)
    assert (fall["absolute_change"], fall["percentage_change"]) == (-50, -50)


@pytest.fixture
def collection_with_stats(db_conn: Conn) -> uuid.UUID:
    """Three successful weeks with stats, and weeks that must not count."""
    user = add_user(db_conn, "stats@example.com")
    instance = add_instance(db_conn, user)
    workflow = add_workflow(db_conn, user, instance)
    collection = add_collection(db_conn, user, workflow, instance)
    weeks = [
        ("2024-01-01", "SUCCESS", {"impressions": 100, "clicks": 10, "top_asin": "B0AAAAAAAA"}),
        ("2024-01-08", "SUCCESS", {"impressions": 300, "clicks": 5}),
        ("2024-01-15", "SUCCESS", {"impressions": 200, "clicks": 30, "spend": 12.5}),
        ("2024-01-22", "FAILED", {"impressions": 9999, "clicks": 9999}),
        ("2024-03-04", "SUCCESS", {"impressions": 7777}),  # outside the range asked for
        ("2024-01-29", "SUCCESS", None),
    ]
    for start, status, stats in weeks:
        db_conn.execute(
            "insert into report_data_weeks (collection_id, week_start_date, week_end_date, "
            "status, summary_stats) values (%s, %s, %s::date + 6, %s, %s)",
            (collection, start, start, status, Jsonb(stats) if stats is not None else None),
        )
    return collection


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("sum", {"impressions": 600, "clicks": 45, "spend": 12.5}),
        ("avg", {"impressions": 200, "clicks": 15, "spend": 12.5}),
        ("min", {"impressions": 100, "clicks": 5, "spend": 12.5}),
        ("max", {"impressions": 300, "clicks": 30, "spend": 12.5}),
        ("AVG", {"impressions": 200, "clicks": 15, "spend": 12.5}),
    ],
)
def test_aggregate_collection_weeks(
    db_conn: Conn, collection_with_stats: uuid.UUID, method: str, expected: dict[str, float]
) -> None:
    """Defect 6: avg, min and max called helpers the document never defined."""
    aggregated = one(
        db_conn,
        "select aggregate_collection_weeks(%s, '2024-01-01', '2024-02-04', %s)",
        (collection_with_stats, method),
    )

    assert aggregated == pytest.approx(expected)


def test_aggregate_collection_weeks_sums_by_default_and_is_empty_without_weeks(
    db_conn: Conn, collection_with_stats: uuid.UUID
) -> None:
    default = one(
        db_conn,
        "select aggregate_collection_weeks(%s, '2024-01-01', '2024-01-14')",
        (collection_with_stats,),
    )
    nothing = one(
        db_conn,
        "select aggregate_collection_weeks(%s, '2023-01-01', '2023-06-30', 'max')",
        (collection_with_stats,),
    )

    assert default == {"impressions": 400, "clicks": 15}
    assert nothing == {}


def test_aggregate_collection_weeks_names_an_unknown_method(
    db_conn: Conn, collection_with_stats: uuid.UUID
) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="'median' is not one of sum, avg"):
        db_conn.execute(
            "select aggregate_collection_weeks(%s, '2024-01-01', '2024-02-04', 'median')",
            (collection_with_stats,),
        )


def test_the_documents_aggregate_fails_for_avg(
    db_conn: Conn, collection_with_stats: uuid.UUID
) -> None:
    db_conn.execute(document.statement("CREATE OR REPLACE FUNCTION aggregate_collection_weeks"))

    with pytest.raises(errors.UndefinedFunction, match=r"jsonb_concat_avg\(jsonb, jsonb\)"):
        db_conn.execute(
            "select aggregate_collection_weeks(%s, '2024-01-01', '2024-02-04', 'avg')",
            (collection_with_stats,),
        )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"x": 1, "y": 2}, {"x": 10, "z": 3}, {"x": 11, "y": 2, "z": 3}),
        ({"x": 1, "label": "a"}, {"label": "b", "x": 0.5}, {"x": 1.5, "label": "a"}),
        (None, {"x": 2}, {"x": 2}),
        ({"x": 2}, None, {"x": 2}),
    ],
)
def test_jsonb_concat_sum_adds_numbers_key_by_key(
    db_conn: Conn, a: dict[str, Any] | None, b: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    summed = one(
        db_conn,
        "select jsonb_concat_sum(%s, %s)",
        (Jsonb(a) if a is not None else None, Jsonb(b) if b is not None else None),
    )

    assert summed == expected


def test_an_execution_marks_when_its_workflow_last_ran_and_never_moves_it_back(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 18: a backfilled older execution moved last_executed_at back in time."""
    a = tenants.a
    latest = one(db_conn, "select last_executed_at from workflows where id = %s", (a.workflow_id,))
    assert latest is not None

    db_conn.execute(
        "insert into workflow_executions (workflow_id, user_id, created_at) "
        "values (%s, %s, '2020-01-01 00:00+00')",
        (a.workflow_id, a.user_id),
    )
    assert (
        one(db_conn, "select last_executed_at from workflows where id = %s", (a.workflow_id,))
        == latest
    )

    db_conn.execute(
        "insert into workflow_executions (workflow_id, user_id, created_at) "
        "values (%s, %s, '2999-01-01 00:00+00')",
        (a.workflow_id, a.user_id),
    )
    assert one(
        db_conn, "select last_executed_at::date from workflows where id = %s", (a.workflow_id,)
    ) == date(2999, 1, 1)


# Every table with an updated_at column, with the tenant attribute of one of its rows.
UPDATED_AT_TABLES = {
    "users": "user_id",
    "amc_accounts": "account_id",
    "amc_instances": "instance_id",
    "query_templates": "template_id",
    "query_template_parameters": "template_parameter_id",
    "query_template_reports": "template_report_id",
    "query_template_instances": "template_instance_id",
    "workflows": "workflow_id",
    "workflow_executions": "execution_id",
    "workflow_schedules": "schedule_id",
    "schedule_runs": "schedule_run_id",
    "schedule_tick_claims": "tick_claim_id",
    "report_data_collections": "collection_id",
    "report_data_weeks": "week_id",
    "collection_report_configs": "config_id",
    "collection_report_snapshots": "snapshot_id",
    "campaigns": "campaign_id",
    "asins": "asin_id",
    "asin_lists": "asin_list_id",
}


def test_every_table_with_updated_at_maintains_it(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 11: updated_at kept its insert time for ever."""
    with_column = {
        row[0]
        for row in db_conn.execute(
            "select c.relname from pg_attribute as a join pg_class as c on c.oid = a.attrelid "
            "where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' "
            "and a.attname = 'updated_at'"
        )
    }
    assert with_column == set(UPDATED_AT_TABLES) | {
        "amc_data_sources",
        "amc_schema_fields",
        "build_guides",
    }

    for table, attribute in UPDATED_AT_TABLES.items():
        row_id = getattr(tenants.a, attribute)
        # An explicit old value is overwritten too: the time of the change is the trigger's.
        db_conn.execute(
            f"update {table} set updated_at = '2000-01-01' where id = %s",
            (row_id,),
        )
        changed = one(
            db_conn,
            f"select updated_at > now() - interval '1 hour' from {table} where id = %s",
            (row_id,),
        )
        assert changed, table

    source = one(
        db_conn,
        "insert into amc_data_sources (name, display_name, category) "
        "values ('dsp_impressions', 'DSP impressions', 'impressions') returning id",
    )
    field = one(
        db_conn,
        "insert into amc_schema_fields (data_source_id, field_name, data_type) "
        "values (%s, 'impression_dt', 'TIMESTAMP') returning id",
        (source,),
    )
    guide = one(db_conn, "select id from build_guides limit 1")
    for table, row_id in (
        ("amc_data_sources", source),
        ("amc_schema_fields", field),
        ("build_guides", guide),
    ):
        db_conn.execute(f"update {table} set updated_at = '2000-01-01' where id = %s", (row_id,))
        assert one(
            db_conn, f"select updated_at > '2001-01-01' from {table} where id = %s", (row_id,)
        ), table


def test_a_lists_asin_count_follows_its_items(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 13: asin_count was a cache that nothing filled."""
    a = tenants.a
    other_list = one(
        db_conn,
        "insert into asin_lists (name, user_id) values ('second', %s) returning id",
        (a.user_id,),
    )
    asins = [
        one(
            db_conn,
            "insert into asins (asin, user_id) values (%s, %s) returning id",
            (f"B00000010{n}", a.user_id),
        )
        for n in range(3)
    ]

    def counts() -> tuple[int, int]:
        return (
            one(db_conn, "select asin_count from asin_lists where id = %s", (a.asin_list_id,)),
            one(db_conn, "select asin_count from asin_lists where id = %s", (other_list,)),
        )

    assert counts() == (1, 0)
    db_conn.execute(
        "insert into asin_list_items (list_id, asin_id) select %s, unnest(%s::uuid[])",
        (a.asin_list_id, asins),
    )
    assert counts() == (4, 0)
    db_conn.execute(
        "update asin_list_items set list_id = %s where asin_id = any(%s)", (other_list, asins[:2])
    )
    assert counts() == (2, 2)
    db_conn.execute("update asin_list_items set position = 7")
    assert counts() == (2, 2)
    db_conn.execute("delete from asins where id = %s", (asins[0],))
    assert counts() == (2, 1)


def test_collection_report_summary_counts_the_weeks(db_conn: Conn, tenants: Tenants) -> None:
    a = tenants.a
    for n, (status, duration, rows) in enumerate(
        [("FAILED", 30, None), ("PENDING", None, None), ("SUCCESS", 90, 1000)], start=1
    ):
        db_conn.execute(
            "insert into report_data_weeks (collection_id, week_start_date, week_end_date, "
            "status, execution_duration, result_rows, result_size_bytes) "
            "values (%s, %s, %s, %s, %s, %s, %s)",
            (
                a.collection_id,
                date(2024, 1, 1 + 7 * n),
                date(2024, 1, 7 + 7 * n),
                status,
                duration,
                rows,
                rows and rows * 10,
            ),
        )

    summary = db_conn.execute(
        "select total_weeks, completed_weeks, progress_percentage, actual_week_count, "
        "successful_weeks, failed_weeks, pending_weeks, avg_execution_duration, "
        "total_result_rows, total_result_size_bytes, earliest_week_start, latest_week_end "
        "from collection_report_summary where collection_id = %s",
        (a.collection_id,),
    ).fetchone()

    # The tenant's first week (2024-01-01, SUCCESS, no metrics) is counted too.
    assert summary == (
        4,
        2,
        Decimal("50.00"),
        4,
        2,
        1,
        1,
        Decimal(60),
        1000,
        10000,
        date(2024, 1, 1),
        date(2024, 1, 28),
    )


def test_functions_ignore_the_callers_search_path(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 22: a same-named table earlier in the search_path captured the trigger's writes."""
    db_conn.execute("create schema decoy")
    db_conn.execute("create table decoy.workflows (id uuid, last_executed_at timestamptz)")
    db_conn.execute("insert into decoy.workflows values (%s, null)", (tenants.a.workflow_id,))

    with db_conn.transaction():
        db_conn.execute("set local search_path = decoy, public")
        db_conn.execute(
            "insert into public.workflow_executions (workflow_id, user_id, created_at) "
            "values (%s, %s, '2999-01-01 00:00+00')",
            (tenants.a.workflow_id, tenants.a.user_id),
        )

    assert one(
        db_conn,
        "select last_executed_at::date from public.workflows where id = %s",
        (tenants.a.workflow_id,),
    ) == date(2999, 1, 1)
    assert one(db_conn, "select last_executed_at from decoy.workflows") is None
