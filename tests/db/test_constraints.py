"""Constraints: what the document got wrong, and what the data must obey."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.db import document
from tests.db.conftest import Tenants
from tests.db.helpers import (
    add_collection,
    add_instance,
    add_user,
    add_workflow,
    attempt,
    one,
)

Conn = psycopg.Connection[Any]


def test_the_document_as_written_does_not_load(empty_db_url: str) -> None:
    """Defects 1, 2, 12 and 20: the document's own errors.

    The statements run in the document's order; those that failed are retried until no more
    succeed, which tells an ordering error from one that no order fixes.
    """
    with psycopg.connect(empty_db_url, autocommit=True) as conn:

        def failures_of(texts: list[str]) -> dict[str, str]:
            failed = {}
            for text in texts:
                try:
                    conn.execute(text)
                except psycopg.Error as exc:
                    failed[text] = str(exc.diag.message_primary)
            return failed

        first_pass = failures_of(document.statements())
        remaining = first_pass
        while True:
            retried = failures_of(list(remaining))
            if len(retried) == len(remaining):
                break
            remaining = retried

    workflows = document.statement("CREATE TABLE workflows")
    assert first_pass[workflows] == 'relation "query_templates" does not exist'
    assert workflows not in remaining
    assert sorted(remaining.values()) == sorted(
        ["cannot use subquery in check constraint"] * 3
        + ['schema "auth" does not exist'] * 7  # every policy
        + ['relation "pg_stat_statements" does not exist']  # defect 20
    )


def test_an_execution_belongs_to_the_owner_of_its_workflow(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 2, fk_execution_user_workflow."""
    a, b = tenants.a, tenants.b

    with pytest.raises(errors.ForeignKeyViolation, match="fk_execution_user_workflow"):
        db_conn.execute(
            "insert into workflow_executions (workflow_id, user_id) values (%s, %s)",
            (a.workflow_id, b.user_id),
        )
    with pytest.raises(errors.ForeignKeyViolation, match="fk_execution_user_workflow"):
        db_conn.execute(
            "update workflow_executions set user_id = %s where id = %s",
            (b.user_id, a.execution_id),
        )


def test_a_schedule_belongs_to_the_owner_of_its_workflow(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 2, fk_schedule_user_workflow."""
    with pytest.raises(errors.ForeignKeyViolation, match="fk_schedule_user_workflow"):
        db_conn.execute(
            "insert into workflow_schedules (name, cron_expression, workflow_id, user_id, "
            "next_run_at) values ('x', '0 * * * *', %s, %s, now())",
            (tenants.a.workflow_id, tenants.b.user_id),
        )


def test_a_collection_belongs_to_the_owner_of_its_workflow_and_instance(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defects 2 and 3: fk_collection_user_workflow, fk_collection_user_instance."""
    a, b = tenants.a, tenants.b

    with pytest.raises(errors.ForeignKeyViolation, match="fk_collection_user_workflow"):
        add_collection(db_conn, b.user_id, a.workflow_id, b.instance_id)
    with pytest.raises(errors.ForeignKeyViolation, match="fk_collection_user_instance"):
        add_collection(db_conn, a.user_id, a.workflow_id, b.instance_id)


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "insert into workflows (name, sql_query, user_id, instance_id) "
            "values ('w', 'select 1', %(a)s, %(b_instance)s)",
            "fk_workflow_user_instance",
        ),
        (
            "insert into campaigns (campaign_id, name, campaign_type, state, instance_id, "
            "user_id) values ('C9', 'c', 'sponsoredProducts', 'ENABLED', %(b_instance)s, %(a)s)",
            "fk_campaign_user_instance",
        ),
        (
            "insert into collection_report_configs (name, collection_id, user_id) "
            "values ('mine', %(b_collection)s, %(a)s)",
            "fk_config_user_collection",
        ),
        (
            "insert into workflow_executions (workflow_id, user_id, collection_id) "
            "values (%(a_workflow)s, %(a)s, %(b_collection)s)",
            "fk_execution_user_collection",
        ),
        (
            "insert into workflow_executions (workflow_id, user_id, instance_id) "
            "values (%(a_workflow)s, %(a)s, %(b_instance)s)",
            "fk_execution_user_instance",
        ),
    ],
    ids=lambda value: value if value.startswith("fk_") else "",
)
def test_a_row_cannot_point_at_another_users_instance_or_collection(
    db_conn: Conn, tenants: Tenants, statement: str, constraint: str
) -> None:
    """Defect 3: foreign keys are checked without row-level security, so they carry the owner."""
    params = {
        "a": tenants.a.user_id,
        "a_workflow": tenants.a.workflow_id,
        "b_instance": tenants.b.instance_id,
        "b_collection": tenants.b.collection_id,
    }

    with pytest.raises(errors.ForeignKeyViolation, match=constraint):
        db_conn.execute(statement, params)


STATUS_COLUMNS = [
    (
        "workflow_executions",
        "execution_id",
        "status",
        ["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED", "TIMEOUT"],
    ),
    (
        "report_data_weeks",
        "week_id",
        "status",
        ["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED"],
    ),
    ("schedule_runs", "schedule_run_id", "status", ["RUNNING", "SUCCESS", "FAILED", "SKIPPED"]),
    (
        "workflow_schedules",
        "schedule_id",
        "last_run_status",
        ["RUNNING", "SUCCESS", "FAILED", "SKIPPED"],
    ),
    (
        "report_data_collections",
        "collection_id",
        "status",
        ["ACTIVE", "PAUSED", "COMPLETED", "FAILED"],
    ),
    ("amc_instances", "instance_id", "health_status", ["HEALTHY", "UNHEALTHY", "ERROR", "UNKNOWN"]),
    (
        "user_guide_progress",
        "guide_progress_id",
        "status",
        ["NOT_STARTED", "IN_PROGRESS", "COMPLETED"],
    ),
]


@pytest.mark.parametrize(
    ("table", "id_attribute", "column", "allowed"),
    STATUS_COLUMNS,
    ids=[s[0] for s in STATUS_COLUMNS],
)
def test_statuses_are_upper_case_words_from_a_fixed_list(
    db_conn: Conn, tenants: Tenants, table: str, id_attribute: str, column: str, allowed: list[str]
) -> None:
    """Defect 9: the document listed the values in comments only."""
    row_id = getattr(tenants.a, id_attribute)
    update = f"update {table} set {column} = %s where id = %s"

    for value in allowed:
        with attempt(db_conn):
            db_conn.execute(update, (value, row_id))
    for value in [allowed[0].lower(), "DONE", "completed"]:
        with pytest.raises(errors.CheckViolation), attempt(db_conn):
            db_conn.execute(update, (value, row_id))
    if column == "status" or column == "health_status":
        with pytest.raises((errors.NotNullViolation, errors.CheckViolation)), attempt(db_conn):
            db_conn.execute(update, (None, row_id))


def test_a_collection_ending_before_it_starts_is_refused_by_name(db_conn: Conn) -> None:
    """Defect 10."""
    user = add_user(db_conn, "dates@example.com")
    instance = add_instance(db_conn, user)
    workflow = add_workflow(db_conn, user, instance)

    with pytest.raises(errors.CheckViolation) as error:
        add_collection(db_conn, user, workflow, instance, date(2024, 6, 1), date(2024, 5, 31))

    assert error.value.diag.constraint_name == "chk_collection_end_date_not_before_start_date"
    add_collection(db_conn, user, workflow, instance, date(2024, 6, 1), date(2024, 6, 1))


@pytest.mark.parametrize("asin", ["B08N5WRWNW", "0123456789", "080442957X", "B000000000"])
def test_book_asins_are_valid_asins(db_conn: Conn, asin: str) -> None:
    """Defect 14: ISBN-10 ASINs of books were rejected by the document's check."""
    user = add_user(db_conn, "books@example.com")

    db_conn.execute("insert into asins (asin, user_id) values (%s, %s)", (asin, user))

    assert one(db_conn, "select count(*) from asins where asin = %s", (asin,)) == 1


@pytest.mark.parametrize(
    "asin", ["b08n5wrwnw", "B08N5WRWN", "B08N5WRWNW1", "012345678Y", "X123456789"]
)
def test_malformed_asins_are_refused(db_conn: Conn, asin: str) -> None:
    user = add_user(db_conn, "asins@example.com")

    with pytest.raises(errors.CheckViolation, match="chk_asin_format"):
        db_conn.execute("insert into asins (asin, user_id) values (%s, %s)", (asin, user))


def test_the_documents_asin_check_rejects_a_book(db_conn: Conn) -> None:
    documented = document.statement("chk_asin_format")

    db_conn.execute("alter table asins drop constraint chk_asin_format")
    db_conn.execute(documented)
    user = add_user(db_conn, "doc-books@example.com")
    with pytest.raises(errors.CheckViolation):
        db_conn.execute("insert into asins (asin, user_id) values ('0123456789', %s)", (user,))


def test_acos_and_roas_hold_values_beyond_999(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 15: decimal(5,2) overflowed on an ACOS of 1,250 %."""
    db_conn.execute(
        "update campaigns set acos = 1250.50, roas = 1500.25 where id = %s",
        (tenants.a.campaign_id,),
    )

    row = db_conn.execute(
        "select acos::text, roas::text from campaigns where id = %s", (tenants.a.campaign_id,)
    ).fetchone()
    assert row == ("1250.50", "1500.25")
    with pytest.raises(errors.NumericValueOutOfRange):
        db_conn.execute("select 1250.50::decimal(5, 2)")


def test_a_forked_template_does_not_stop_its_parent_being_deleted(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 16."""
    fork = one(
        db_conn,
        "insert into query_templates (name, category, sql_template, author_id, "
        "parent_template_id) values ('fork', 'custom', 'select 2', %s, %s) returning id",
        (tenants.b.user_id, tenants.a.template_id),
    )

    db_conn.execute("delete from query_templates where id = %s", (tenants.a.template_id,))

    assert one(
        db_conn, "select parent_template_id is null from query_templates where id = %s", (fork,)
    )


def test_a_sharing_token_names_one_snapshot(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 17."""
    token = uuid.uuid4().hex
    db_conn.execute(
        "update collection_report_snapshots set access_token = %s where id = %s",
        (token, tenants.a.snapshot_id),
    )

    with pytest.raises(errors.UniqueViolation, match="idx_collection_report_snapshots_token"):
        db_conn.execute(
            "update collection_report_snapshots set access_token = %s where id = %s",
            (token, tenants.b.snapshot_id),
        )


def test_a_collection_has_one_default_configuration_per_user(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 28."""
    a = tenants.a
    db_conn.execute(
        "update collection_report_configs set is_default = true where id = %s", (a.config_id,)
    )
    insert = (
        "insert into collection_report_configs (name, collection_id, user_id, is_default) "
        "values ('another', %s, %s, %s)"
    )
    db_conn.execute(insert, (a.collection_id, a.user_id, False))

    with pytest.raises(errors.UniqueViolation, match="uq_collection_report_configs_one_default"):
        db_conn.execute(insert, (a.collection_id, a.user_id, True))


@pytest.mark.parametrize("percentage", [-1, 100.5])
def test_a_guides_progress_is_a_percentage(
    db_conn: Conn, tenants: Tenants, percentage: float
) -> None:
    """Defect 9: a range given in a comment only."""
    with pytest.raises(errors.CheckViolation, match="chk_guide_progress_percentage"):
        db_conn.execute(
            "update user_guide_progress set progress_percentage = %s where id = %s",
            (percentage, tenants.a.guide_progress_id),
        )
