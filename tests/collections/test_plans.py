"""Which collection weeks run unasked: backfills of registered ranges, nightly newest weeks and
refreshes at fixed ages, tried once per age."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from recomamp_pipelines.collections.plans import (
    missing_weeks,
    newest_complete_week,
    nightly_weeks,
    registered_collections,
)
from recomamp_pipelines.collections.registration import register_collections
from recomamp_pipelines.weeks.calendar import Week
from tests.scheduling.helpers import Owner, add_owner, only_row

CHECKSUM = "a" * 64
# 12 Monday weeks, 6 January .. 30 March 2025; the owner lives in New York.
START, END = date(2025, 1, 6), date(2025, 3, 30)


@pytest.fixture
def owner(db_conn: psycopg.Connection) -> Owner:
    return add_owner(db_conn)


def add_collection(
    conn: psycopg.Connection,
    owner: Owner,
    status: str = "ACTIVE",
    start: date = START,
    end: date = END,
) -> uuid.UUID:
    (collection_id,) = only_row(
        conn.execute(
            "insert into report_data_collections "
            "(name, workflow_id, instance_id, user_id, start_date, end_date, status) "
            "values (%s, %s, %s, %s, %s, %s, %s) returning id",
            (
                f"collection {status}",
                owner.workflow_id,
                owner.instance_id,
                owner.user_id,
                start,
                end,
                status,
            ),
        )
    )
    register_collections(conn, 0)
    return collection_id


def set_week(
    conn: psycopg.Connection,
    collection_id: uuid.UUID,
    start: date,
    status: str,
    refreshed_at: datetime | None = None,
    retry_count: int = 0,
) -> None:
    conn.execute(
        "update report_data_weeks set status = %s, data_checksum = %s, refreshed_at = %s, "
        "retry_count = %s where collection_id = %s and week_start_date = %s",
        (
            status,
            CHECKSUM if status == "SUCCESS" else None,
            refreshed_at,
            retry_count,
            collection_id,
            start,
        ),
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def planned(conn: psycopg.Connection, now: datetime) -> list[tuple[str, date, int | None]]:
    return [
        (item.collection.name, item.week.start_date, item.refresh_age_days)
        for item in nightly_weeks(conn, now, 0)
    ]


def test_the_newest_complete_week_is_48_hours_after_its_end_in_the_owners_zone() -> None:
    # The week of 3 March ends 10 March 00:00 New York (04:00 UTC, summer time from 9 March).
    assert newest_complete_week(utc(2025, 3, 12, 3, 59), "America/New_York", 0) == Week(
        date(2025, 2, 24)
    )
    assert newest_complete_week(utc(2025, 3, 12, 4), "America/New_York", 0) == Week(
        date(2025, 3, 3)
    )


def test_a_backfill_covers_the_weeks_without_a_result_that_amc_can_answer(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    collection_id = add_collection(db_conn, owner)
    set_week(db_conn, collection_id, date(2025, 1, 13), "SUCCESS", utc(2025, 1, 22))
    (collection,) = registered_collections(db_conn)

    weeks = missing_weeks(db_conn, [collection], utc(2025, 3, 12, 12), 0)[collection_id]

    # Weeks from 10 March on are not complete yet; 13 January already has its result.
    assert [w.start_date for w in weeks] == [
        date(2025, 1, 6),
        *(date(2025, 1, 20) + timedelta(days=7 * n) for n in range(7)),
    ]
    assert collection.backfill_run_key.endswith("-20250106-20250330")


def test_nightly_takes_the_newest_complete_week_of_active_collections_reaching_it(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    active = add_collection(db_conn, owner)
    add_collection(db_conn, owner, status="PAUSED")
    add_collection(db_conn, owner, status="COMPLETED")
    add_collection(db_conn, owner, start=date(2025, 1, 6), end=date(2025, 2, 2))
    now = utc(2025, 3, 12, 12)

    assert planned(db_conn, now) == [("collection ACTIVE", date(2025, 3, 3), None)]

    set_week(db_conn, active, date(2025, 3, 3), "SUCCESS", now)
    assert planned(db_conn, now) == []
    set_week(db_conn, active, date(2025, 3, 3), "FAILED", retry_count=2)
    assert planned(db_conn, now) == [("collection ACTIVE", date(2025, 3, 3), None)]
    set_week(db_conn, active, date(2025, 3, 3), "FAILED", retry_count=3)
    assert planned(db_conn, now) == []


def test_a_week_is_refreshed_at_7_14_and_30_days_never_every_night(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    collection_id = add_collection(db_conn, owner, status="COMPLETED")
    week = date(2025, 2, 24)  # ends 3 March 00:00 New York = 05:00 UTC
    set_week(db_conn, collection_id, week, "SUCCESS", utc(2025, 3, 5))

    requested = []
    night = utc(2025, 3, 5, 3)
    while night < utc(2025, 5, 1):
        for _, start, age in planned(db_conn, night):
            if start == week:
                requested.append((night.date(), age))
                # The refresh succeeds: the week was fetched again.
                set_week(db_conn, collection_id, week, "SUCCESS", night + timedelta(minutes=5))
        night += timedelta(days=1)

    assert requested == [(date(2025, 3, 11), 7), (date(2025, 3, 18), 14), (date(2025, 4, 3), 30)]


def test_a_failed_refresh_waits_for_the_next_age(db_conn: psycopg.Connection, owner: Owner) -> None:
    collection_id = add_collection(db_conn, owner)
    week = date(2025, 2, 24)
    set_week(db_conn, collection_id, week, "SUCCESS", utc(2025, 3, 5))
    assert ("collection ACTIVE", week, 7) in planned(db_conn, utc(2025, 3, 11, 3))

    # The refresh of 11 March was tried and failed (the previous result is kept).
    db_conn.execute(
        "insert into workflow_executions (workflow_id, user_id, collection_id, "
        "week_start_date, status, created_at) values (%s, %s, %s, %s, 'FAILED', %s)",
        (owner.workflow_id, owner.user_id, collection_id, week, utc(2025, 3, 11, 3, 1)),
    )

    for day in range(12, 18):
        assert all(start != week for _, start, _ in planned(db_conn, utc(2025, 3, day, 3)))
    assert ("collection ACTIVE", week, 14) in planned(db_conn, utc(2025, 3, 18, 3))
