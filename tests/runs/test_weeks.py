"""What a week sends to AMC: the saved workflow's id, the request hash, each week's own dates."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from recomamp_pipelines.amc.models import TimeWindow
from recomamp_pipelines.attempt.request import amc_workflow_id, request_hash
from recomamp_pipelines.collections.context import CollectionContext
from recomamp_pipelines.runs.weeks import WeekRunner
from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.weeks.calendar import Week

WORKFLOW_ID = re.compile(r"^recomamp-[0-9a-f]{64}$")
SQL = "select campaign, sum(impressions) as impressions from dsp_impressions group by 1"
PARAMETERS: list[dict[str, Any]] = [
    {"name": "campaigns", "dataType": {"type": "ARRAY", "elementDataType": "STRING"}},
    {"name": "min_impressions", "dataType": "LONG"},
]
ZONE = "America/New_York"
WINDOW = TimeWindow(datetime(2026, 1, 5), datetime(2026, 1, 12), ZONE)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
FIRST, SECOND = Week(date(2026, 1, 5)), Week(date(2026, 1, 12))


def test_workflow_id_is_a_whole_sha256() -> None:
    long_sql = SQL + "\n" + "-- padding\n" * 5000

    for sql in (SQL, long_sql, "select 1 as x"):
        assert WORKFLOW_ID.match(amc_workflow_id(sql, PARAMETERS))
    assert amc_workflow_id(SQL, PARAMETERS) != amc_workflow_id(long_sql, PARAMETERS)


def test_workflow_id_follows_sql_and_parameter_definitions() -> None:
    base = amc_workflow_id(SQL, PARAMETERS)
    renamed: list[dict[str, Any]] = [PARAMETERS[0], {"name": "min_clicks", "dataType": "LONG"}]
    retyped: list[dict[str, Any]] = [
        PARAMETERS[0],
        {"name": "min_impressions", "dataType": "DOUBLE"},
    ]

    assert amc_workflow_id(SQL.replace("sum(", "SUM("), PARAMETERS) != base
    assert amc_workflow_id(SQL, renamed) != base
    assert amc_workflow_id(SQL, retyped) != base
    assert amc_workflow_id(SQL, PARAMETERS[:1]) != base
    assert amc_workflow_id(SQL, []) != base


def test_workflow_id_ignores_order_and_values() -> None:
    reordered: list[dict[str, Any]] = [
        {"dataType": "LONG", "name": "min_impressions"},
        {"dataType": {"elementDataType": "STRING", "type": "ARRAY"}, "name": "campaigns"},
    ]
    # Values travel as parameterValues of each execution; the saved workflow stays the same.
    with_defaults = [
        {**PARAMETERS[0], "defaultValue": ["Spring sale"]},
        {**PARAMETERS[1], "defaultValue": 5},
    ]

    assert amc_workflow_id(SQL, reordered) == amc_workflow_id(SQL, PARAMETERS)
    assert amc_workflow_id(SQL, with_defaults) == amc_workflow_id(SQL, PARAMETERS)


def test_request_hash_follows_workflow_window_and_values() -> None:
    values = {"campaigns": ["Spring sale", "Brand"], "min_impressions": 10}
    workflow = amc_workflow_id(SQL, PARAMETERS)
    base = request_hash(workflow, WINDOW, values)

    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert request_hash(workflow, WINDOW, dict(reversed(values.items()))) == base
    others = [
        request_hash(amc_workflow_id(SQL, []), WINDOW, values),
        request_hash(
            workflow, TimeWindow(WINDOW.start, datetime(2026, 1, 13), WINDOW.time_zone), values
        ),
        request_hash(
            workflow, TimeWindow(datetime(2026, 1, 6), WINDOW.end, WINDOW.time_zone), values
        ),
        request_hash(workflow, TimeWindow(WINDOW.start, WINDOW.end, "UTC"), values),
        request_hash(workflow, WINDOW, {**values, "min_impressions": 11}),
        request_hash(workflow, WINDOW, {**values, "campaigns": ["Brand", "Spring sale"]}),
        request_hash(workflow, WINDOW, {}),
    ]
    assert len({base, *others}) == 1 + len(others)


def runner(tmp_path: Path, sql: str, saved: dict[str, Any]) -> WeekRunner:
    collection = CollectionContext(
        collection_id=uuid.uuid4(),
        name="Fixed dates",
        status="ACTIVE",
        start_date=FIRST.start_date,
        end_date=SECOND.end_date,
        parameters={},
        partition_key=None,
        workflow_id=uuid.uuid4(),
        workflow_name="Saved with fixed dates",
        sql_query=sql,
        workflow_parameters=saved,
        template_id=None,
        parameter_definitions=(),
        user_id=uuid.uuid4(),
        user_email="ana.analyst@example.com",
        timezone=ZONE,
        encrypted_refresh_token=None,
        instance_row_id=uuid.uuid4(),
        amc_instance_id="amcsimulator01",
        amc_account_id="ENTITY1AA1AA11AAA1",
        country_code="US",
    )
    return WeekRunner(
        settings=load_settings({"RECOMAMP_HOME": str(tmp_path)}),
        database_url="",
        collection=collection,
        now=lambda: NOW,
    )


FIXED_DATES = {"start_date": "2024-01-01", "end_date": "2024-01-07"}


def test_fixed_placeholder_dates_give_way_to_each_weeks_dates(
    tmp_path: Path, db_conn: psycopg.Connection
) -> None:
    sql = (
        "select campaign, sum(impressions) as impressions from dsp_impressions "
        "where impression_dt >= '{{start_date}}' and impression_dt < '{{end_date}}' group by 1"
    )
    week_runner = runner(tmp_path, sql, FIXED_DATES)

    first = week_runner.request_for(FIRST, db_conn)
    second = week_runner.request_for(SECOND, db_conn)

    assert (first.window.start, first.window.end) == (datetime(2026, 1, 5), datetime(2026, 1, 12))
    assert (second.window.start, second.window.end) == (
        datetime(2026, 1, 12),
        datetime(2026, 1, 19),
    )
    assert "TIMESTAMP '2026-01-05 00:00:00'" in first.rendered.sql
    assert "TIMESTAMP '2026-01-12 00:00:00'" in first.rendered.sql
    assert "TIMESTAMP '2026-01-19 00:00:00'" in second.rendered.sql
    for request in (first, second):
        assert "2024-01-0" not in request.rendered.sql
    assert first.rendered.sql != second.rendered.sql
    assert first.amc_workflow_id != second.amc_workflow_id
    assert first.request_hash != second.request_hash


def test_fixed_custom_parameter_dates_give_way_to_each_weeks_dates(
    tmp_path: Path, db_conn: psycopg.Connection
) -> None:
    sql = (
        "select campaign, sum(impressions) as impressions from dsp_impressions "
        "where impression_dt >= CUSTOM_PARAMETER('start_date') "
        "and impression_dt < CUSTOM_PARAMETER('end_date') group by 1"
    )
    week_runner = runner(tmp_path, sql, FIXED_DATES)

    first = week_runner.request_for(FIRST, db_conn)
    second = week_runner.request_for(SECOND, db_conn)

    # One saved AMC workflow; each week's execution carries its own dates.
    assert first.amc_workflow_id == second.amc_workflow_id
    assert first.rendered.parameter_values == {
        "start_date": "2026-01-05T00:00:00",
        "end_date": "2026-01-12T00:00:00",
    }
    assert second.rendered.parameter_values == {
        "start_date": "2026-01-12T00:00:00",
        "end_date": "2026-01-19T00:00:00",
    }
    assert first.window != second.window
    assert first.request_hash != second.request_hash


@pytest.mark.parametrize("key", ["startDate", "timeWindowStart"])
def test_camel_case_fixed_dates_are_overridden_too(
    tmp_path: Path, db_conn: psycopg.Connection, key: str
) -> None:
    sql = f"select 1 as n from dsp_impressions where impression_dt >= '{{{{{key}}}}}'"
    week_runner = runner(tmp_path, sql, {key: "2024-01-01"})

    request = week_runner.request_for(SECOND, db_conn)

    assert request.rendered.sql.endswith("impression_dt >= TIMESTAMP '2026-01-12 00:00:00'")
