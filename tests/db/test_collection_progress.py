"""A collection's week counters follow its week rows, whatever changes them."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors

from tests.db import document
from tests.db.helpers import (
    add_collection,
    add_instance,
    add_user,
    add_weeks,
    add_workflow,
    one,
    progress,
    true_progress,
)

Conn = psycopg.Connection[Any]
STATUSES = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED"]


def new_collection(conn: Conn, email: str = "progress@example.com") -> uuid.UUID:
    user = add_user(conn, email)
    instance = add_instance(conn, user)
    workflow = add_workflow(conn, user, instance)
    return add_collection(conn, user, workflow, instance)


def sibling_collection(conn: Conn, collection: uuid.UUID) -> uuid.UUID:
    """Another collection of the same user, workflow and instance."""
    row = conn.execute(
        "select user_id, workflow_id, instance_id from report_data_collections where id = %s",
        (collection,),
    ).fetchone()
    assert row is not None
    return add_collection(conn, *row)


def test_the_documents_progress_function_fails_on_the_first_week(db_conn: Conn) -> None:
    """Defect 4: its variables are named like the columns it updates."""
    collection = new_collection(db_conn)
    for name in ("insert", "update", "delete"):
        db_conn.execute(
            f"drop trigger trigger_calculate_collection_progress_{name} on report_data_weeks"
        )
    db_conn.execute(document.statement("CREATE OR REPLACE FUNCTION calculate_collection_progress"))
    db_conn.execute(document.statement("CREATE TRIGGER trigger_calculate_collection_progress"))

    with pytest.raises(errors.AmbiguousColumn, match='"total_weeks" is ambiguous'):
        add_weeks(db_conn, collection, ["PENDING"])


def test_bulk_insert_update_and_delete_keep_every_counter_true(db_conn: Conn) -> None:
    """Defect 5: failed_weeks counted, one statement for many rows."""
    collection = new_collection(db_conn)

    add_weeks(db_conn, collection, ["PENDING"] * 52)
    assert progress(db_conn, collection) == (52, 0, 0, 0.0, "ACTIVE")

    db_conn.execute(
        "update report_data_weeks set status = case when week_number_in_year % 4 = 0 "
        "then 'FAILED' else 'SUCCESS' end "
        "from (select id as week_id, row_number() over (order by week_start_date) "
        "as week_number_in_year from report_data_weeks) as numbered "
        "where id = numbered.week_id and week_number_in_year <= 40"
    )
    assert progress(db_conn, collection) == (52, 30, 10, 57.69, "ACTIVE")

    db_conn.execute(
        "delete from report_data_weeks where collection_id = %s and status <> 'SUCCESS'",
        (collection,),
    )
    assert progress(db_conn, collection) == (30, 30, 0, 100.0, "ACTIVE")

    db_conn.execute("delete from report_data_weeks where collection_id = %s", (collection,))
    assert progress(db_conn, collection) == (0, 0, 0, 0.0, "ACTIVE")


def test_the_trigger_never_changes_the_collection_status(db_conn: Conn) -> None:
    collection = new_collection(db_conn)
    db_conn.execute(
        "update report_data_collections set status = 'PAUSED' where id = %s", (collection,)
    )

    add_weeks(db_conn, collection, ["SUCCESS"] * 3)
    db_conn.execute("update report_data_weeks set status = 'FAILED'")

    assert progress(db_conn, collection) == (3, 0, 3, 0.0, "PAUSED")


def test_a_week_moved_to_another_collection_updates_both(db_conn: Conn) -> None:
    """Defect 5: the document re-counted only the new collection of a moved row."""
    first = new_collection(db_conn)
    second = sibling_collection(db_conn, first)
    add_weeks(db_conn, first, ["SUCCESS", "FAILED", "PENDING"])

    db_conn.execute(
        "update report_data_weeks set collection_id = %s where status <> 'PENDING'", (second,)
    )

    assert progress(db_conn, first) == (1, 0, 0, 0.0, "ACTIVE")
    assert progress(db_conn, second) == (2, 1, 1, 50.0, "ACTIVE")


def test_truncating_the_weeks_resets_every_collection(db_conn: Conn) -> None:
    collection = new_collection(db_conn)
    add_weeks(db_conn, collection, ["SUCCESS", "FAILED"])

    # The weeks' reuse records go with them (their foreign key asks for CASCADE).
    db_conn.execute("truncate report_data_weeks cascade")

    assert progress(db_conn, collection) == (0, 0, 0, 0.0, "ACTIVE")


def test_counters_given_on_insert_are_replaced_by_the_truth(db_conn: Conn) -> None:
    user = add_user(db_conn, "planned@example.com")
    instance = add_instance(db_conn, user)
    workflow = add_workflow(db_conn, user, instance)

    collection = one(
        db_conn,
        "insert into report_data_collections (name, workflow_id, instance_id, user_id, "
        "start_date, end_date, total_weeks, completed_weeks, progress_percentage) "
        "values ('planned', %s, %s, %s, '2024-01-01', '2024-12-29', 52, 2, 3.85) returning id",
        (workflow, instance, user),
    )
    add_weeks(db_conn, collection, ["SUCCESS"])

    assert progress(db_conn, collection) == (1, 1, 0, 100.0, "ACTIVE")


def test_setting_a_counter_directly_is_refused_with_a_clear_message(db_conn: Conn) -> None:
    collection = new_collection(db_conn)
    add_weeks(db_conn, collection, ["SUCCESS", "PENDING"])

    with pytest.raises(errors.CheckViolation, match="derived from report_data_weeks"):
        db_conn.execute(
            "update report_data_collections set total_weeks = 52 where id = %s", (collection,)
        )

    # Writing the same values back (an ORM saving a whole row) is fine.
    db_conn.execute(
        "update report_data_collections set total_weeks = 2, completed_weeks = 1, "
        "status = 'COMPLETED' where id = %s",
        (collection,),
    )
    assert progress(db_conn, collection) == (2, 1, 0, 50.0, "COMPLETED")


def test_deleting_a_collection_deletes_its_weeks(db_conn: Conn) -> None:
    collection = new_collection(db_conn)
    add_weeks(db_conn, collection, ["SUCCESS"] * 4)

    db_conn.execute("delete from report_data_collections where id = %s", (collection,))

    assert one(db_conn, "select count(*) from report_data_weeks") == 0


def test_concurrent_week_updates_of_one_collection_are_all_counted(db_url: str) -> None:
    """Two transactions finish two weeks at once; a re-count from each snapshot would lose one."""
    with psycopg.connect(db_url, autocommit=True) as setup:
        collection = new_collection(setup)
        add_weeks(setup, collection, ["RUNNING", "RUNNING"])
        first_week, second_week = (
            row[0]
            for row in setup.execute(
                "select id from report_data_weeks order by week_start_date"
            ).fetchall()
        )

    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        first.execute(
            "update report_data_weeks set status = 'SUCCESS' where id = %s", (first_week,)
        )
        second_pid = second.info.backend_pid
        done = threading.Event()

        def finish_second_week() -> None:
            second.execute(
                "update report_data_weeks set status = 'SUCCESS' where id = %s", (second_week,)
            )
            second.commit()
            done.set()

        worker = threading.Thread(target=finish_second_week)
        worker.start()
        with psycopg.connect(db_url, autocommit=True) as monitor:
            # The second update waits for the first transaction's lock on the collection row.
            while not one(
                monitor,
                "select count(*) > 0 from pg_locks where pid = %s and not granted",
                (second_pid,),
            ):
                assert not done.is_set(), "the second update did not wait for the first"
                time.sleep(0.01)
            first.commit()
        worker.join()

    with psycopg.connect(db_url) as check:
        assert progress(check, collection) == (2, 2, 0, 100.0, "ACTIVE")


operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.lists(st.sampled_from(STATUSES), max_size=6)),
        st.tuples(st.just("update"), st.integers(0, 60), st.sampled_from(STATUSES)),
        st.tuples(st.just("delete"), st.integers(0, 60)),
        st.tuples(st.just("move"), st.integers(0, 60)),
    ),
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=operations)
def test_counters_stay_true_under_any_sequence_of_changes(
    db_conn: Conn, operations: list[tuple[Any, ...]]
) -> None:
    with db_conn.transaction(force_rollback=True):
        first = new_collection(db_conn, f"{uuid.uuid4().hex}@example.com")
        second = sibling_collection(db_conn, first)
        next_week = [date(2020, 1, 6)]

        for operation in operations:
            kind = operation[0]
            if kind == "insert":
                add_weeks(db_conn, first, operation[1], next_week[0])
                next_week[0] += timedelta(weeks=len(operation[1]))
            elif kind == "update":
                db_conn.execute(
                    "update report_data_weeks set status = %s "
                    "where (extract(day from week_start_date)::int %% 7) <= %s %% 7",
                    (operation[2], operation[1]),
                )
            elif kind == "delete":
                db_conn.execute(
                    "delete from report_data_weeks "
                    "where extract(day from week_start_date)::int = %s",
                    (operation[1] % 31,),
                )
            else:
                db_conn.execute(
                    "update report_data_weeks set collection_id = case collection_id "
                    "when %s then %s else %s end "
                    "where extract(day from week_start_date)::int %% 5 = %s %% 5",
                    (first, second, first, operation[1]),
                )

            for collection in (first, second):
                assert progress(db_conn, collection)[:4] == true_progress(db_conn, collection)
