"""Row-level security: a signed-in user reaches their own rows and nobody else's."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from tests.db import document
from tests.db.conftest import Tenants
from tests.db.helpers import MIGRATIONS_DIR, acting_as, attempt, one

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Guarded:
    """A table holding user data, and how user a would try to reach user b's rows."""

    table: str
    tenant_attribute: str  # the Tenant field holding the row's key
    key: str = "id"
    # Inserting a row that belongs to b, or hangs under b's rows.
    insert_as_other: str = ""
    # The column naming the owner, to try giving one's own row away.
    owner_column: str | None = None


def assert_no_effect(conn: Conn, statement: sql.Composed, values: tuple[Any, ...]) -> None:
    """The statement is refused (no privilege) or finds no row to change."""
    try:
        with attempt(conn):
            changed = conn.execute(statement, values).rowcount
    except errors.InsufficientPrivilege:
        return
    assert changed == 0


GUARDED = [
    Guarded(
        "users", "user_id", insert_as_other="insert into users (email) values ('c@example.com')"
    ),
    Guarded(
        "amc_accounts",
        "account_id",
        insert_as_other="insert into amc_accounts (account_id, account_name) values ('E', 'e')",
    ),
    Guarded(
        "amc_instances",
        "instance_id",
        owner_column="user_id",
        insert_as_other="insert into amc_instances (instance_id, name, user_id, account_id) "
        "values ('amcnew', 'new', %(b_user)s, %(b_account)s)",
    ),
    Guarded(
        "query_templates",
        "template_id",
        owner_column="author_id",
        insert_as_other="insert into query_templates (name, category, sql_template, author_id) "
        "values ('t', 'c', 'select 1', %(b_user)s)",
    ),
    Guarded(
        "query_template_parameters",
        "template_parameter_id",
        insert_as_other="insert into query_template_parameters (template_id, parameter_name, "
        "parameter_type, display_name) values (%(b_template)s, 'p', 'string', 'P')",
    ),
    Guarded(
        "query_template_reports",
        "template_report_id",
        insert_as_other="insert into query_template_reports (template_id, report_name, "
        "dashboard_config, field_mappings) values (%(b_template)s, 'r', '{}', '{}')",
    ),
    Guarded(
        "query_template_instances",
        "template_instance_id",
        owner_column="user_id",
        insert_as_other="insert into query_template_instances (template_id, user_id, "
        "instance_name, saved_parameters) values (%(b_template)s, %(b_user)s, 'i', '{}')",
    ),
    Guarded(
        "workflows",
        "workflow_id",
        owner_column="user_id",
        insert_as_other="insert into workflows (name, sql_query, user_id, instance_id) "
        "values ('w', 'select 1', %(b_user)s, %(b_instance)s)",
    ),
    Guarded(
        "workflow_executions",
        "execution_id",
        owner_column="user_id",
        insert_as_other="insert into workflow_executions (workflow_id, user_id) "
        "values (%(b_workflow)s, %(b_user)s)",
    ),
    Guarded(
        "workflow_schedules",
        "schedule_id",
        owner_column="user_id",
        insert_as_other="insert into workflow_schedules (name, cron_expression, workflow_id, "
        "user_id, next_run_at) values ('s', '0 * * * *', %(b_workflow)s, %(b_user)s, now())",
    ),
    Guarded(
        "schedule_runs",
        "schedule_run_id",
        insert_as_other="insert into schedule_runs (schedule_id, status) "
        "values (%(b_schedule)s, 'RUNNING')",
    ),
    Guarded(
        "schedule_tick_claims",
        "tick_claim_id",
        insert_as_other="insert into schedule_tick_claims (schedule_id, scheduled_at) "
        "values (%(b_schedule)s, now())",
    ),
    Guarded(
        "report_data_collections",
        "collection_id",
        owner_column="user_id",
        insert_as_other="insert into report_data_collections (name, workflow_id, instance_id, "
        "user_id, start_date, end_date) values ('c', %(b_workflow)s, %(b_instance)s, "
        "%(b_user)s, '2024-01-01', '2024-02-01')",
    ),
    Guarded(
        "report_data_weeks",
        "week_id",
        insert_as_other="insert into report_data_weeks (collection_id, week_start_date, "
        "week_end_date) values (%(b_collection)s, '2024-02-05', '2024-02-11')",
    ),
    Guarded(
        "collection_week_reuses",
        "week_reuse_id",
        insert_as_other="insert into collection_week_reuses (collection_week_id, request_hash, "
        "reason) select id, 'sha256', 'SAME_REQUEST' from report_data_weeks "
        "where collection_id = %(b_collection)s",
    ),
    Guarded(
        "collection_report_configs",
        "config_id",
        owner_column="user_id",
        insert_as_other="insert into collection_report_configs (name, collection_id, user_id, "
        "is_shared, shared_with_users) values ('c', %(b_collection)s, %(b_user)s, true, "
        "array[%(a_user)s]::uuid[])",
    ),
    Guarded(
        "collection_report_snapshots",
        "snapshot_id",
        owner_column="created_by",
        insert_as_other="insert into collection_report_snapshots (name, collection_id, "
        "created_by, snapshot_data, is_public) "
        "values ('s', %(b_collection)s, %(b_user)s, '{}', true)",
    ),
    Guarded(
        "campaigns",
        "campaign_id",
        owner_column="user_id",
        insert_as_other="insert into campaigns (campaign_id, name, campaign_type, state, "
        "instance_id, user_id) values ('C2', 'c', 'sponsoredProducts', 'ENABLED', "
        "%(b_instance)s, %(b_user)s)",
    ),
    Guarded(
        "asins",
        "asin_id",
        owner_column="user_id",
        insert_as_other="insert into asins (asin, user_id) values ('B000000009', %(b_user)s)",
    ),
    Guarded(
        "asin_lists",
        "asin_list_id",
        owner_column="user_id",
        insert_as_other="insert into asin_lists (name, user_id) values ('l', %(b_user)s)",
    ),
    Guarded(
        "asin_list_items",
        "asin_list_item_id",
        insert_as_other="insert into asin_list_items (list_id, asin_id) "
        "values (%(b_list)s, %(b_asin)s)",
    ),
    Guarded(
        "user_guide_progress",
        "guide_progress_id",
        owner_column="user_id",
        insert_as_other="insert into user_guide_progress (user_id, guide_id) "
        "select %(b_user)s, id from build_guides",
    ),
    Guarded(
        "amc_instance_slots",
        "execution_id",
        key="execution_id",
        insert_as_other="insert into amc_instance_slots (instance_id, slot, execution_id) "
        "values (%(b_instance)s, 5, %(b_execution)s)",
    ),
]


def params(tenants: Tenants) -> dict[str, uuid.UUID]:
    a, b = tenants.a, tenants.b
    return {
        "a_user": a.user_id,
        "b_user": b.user_id,
        "b_account": b.account_id,
        "b_instance": b.instance_id,
        "b_template": b.template_id,
        "b_workflow": b.workflow_id,
        "b_schedule": b.schedule_id,
        "b_collection": b.collection_id,
        "b_list": b.asin_list_id,
        "b_asin": b.asin_id,
        "b_execution": b.execution_id,
    }


def test_every_table_holding_user_data_is_guarded() -> None:
    """Each table with a user's rows appears in GUARDED (reference tables are tested below)."""
    reference = {"amc_data_sources", "amc_schema_fields", "build_guides"}
    created = set()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        created |= set(re.findall(r"^create table (\w+)", path.read_text(), re.MULTILINE))

    assert {g.table for g in GUARDED} == created - reference


@pytest.mark.parametrize("guarded", GUARDED, ids=lambda g: g.table)
def test_a_user_cannot_read_change_or_add_rows_of_another(
    db_conn: Conn, tenants: Tenants, guarded: Guarded
) -> None:
    """Defect 8: users (with their tokens), schedules, runs, weeks, ASINs... had no policy."""
    table, key = sql.Identifier(guarded.table), sql.Identifier(guarded.key)
    own = getattr(tenants.a, guarded.tenant_attribute)
    other = getattr(tenants.b, guarded.tenant_attribute)
    count = sql.SQL("select count(*) from {} where {} = %s").format(table, key)
    update = sql.SQL("update {} set {} = {} where {} = %s").format(table, key, key, key)
    delete = sql.SQL("delete from {} where {} = %s").format(table, key)

    with acting_as(db_conn, tenants.a.user_id):
        if guarded.table == "amc_instance_slots":
            # The pipeline's gate: signed-in users have no access at all.
            with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
                db_conn.execute(count, (own,))
        else:
            assert one(db_conn, count, (own,)) == 1
            assert one(db_conn, count, (other,)) == 0

        for statement in (update, delete):
            assert_no_effect(db_conn, statement, (other,))

        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(guarded.insert_as_other, params(tenants))

        if guarded.owner_column:
            give_away = sql.SQL("update {} set {} = %s where {} = %s").format(
                table, sql.Identifier(guarded.owner_column), key
            )
            with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
                db_conn.execute(give_away, (tenants.b.user_id, own))

    # As the owner (the pipeline), b's row is still there.
    assert one(db_conn, count, (other,)) == 1


def test_a_user_changes_their_own_rows(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 23: RLS without a policy hid campaigns and saved templates from their owners."""
    a = tenants.a
    with acting_as(db_conn, a.user_id):
        for statement, row_id in (
            ("update users set full_name = 'Ada' where id = %s", a.user_id),
            ("update campaigns set state = 'PAUSED' where id = %s", a.campaign_id),
            (
                "update query_template_instances set is_favorite = true where id = %s",
                a.template_instance_id,
            ),
            (
                "update query_template_parameters set display_name = 'x' where id = %s",
                a.template_parameter_id,
            ),
            (
                "update query_template_reports set report_name = 'x' where id = %s",
                a.template_report_id,
            ),
            (
                "update user_guide_progress set current_section = 2 where id = %s",
                a.guide_progress_id,
            ),
        ):
            assert db_conn.execute(statement, (row_id,)).rowcount == 1, statement
        db_conn.execute(
            "insert into report_data_weeks (collection_id, week_start_date, week_end_date) "
            "values (%s, '2024-01-08', '2024-01-14')",
            (a.collection_id,),
        )
        assert (
            one(
                db_conn,
                "select (total_weeks, completed_weeks, failed_weeks)::text "
                "from report_data_collections where id = %s",
                (a.collection_id,),
            )
            == "(2,1,0)"
        )
        assert one(db_conn, "select count(*) from query_template_parameters") == 1
        assert one(db_conn, "select count(*) from query_template_reports") == 1
        assert (
            db_conn.execute("delete from workflows where id = %s", (a.workflow_id,)).rowcount == 1
        )


# A user's attempts on the pipeline's own columns of their own rows: (statement, tenant field,
# the column the error names).
PIPELINE_WRITES = [
    (
        "update amc_instances set max_concurrent_executions = 500 where id = %s",
        "instance_id",
        "max_concurrent_executions",
    ),
    (
        "update amc_instances set max_concurrent_executions = 2 where id = %s",
        "instance_id",
        "max_concurrent_executions",
    ),
    (
        "update amc_instances set health_status = 'HEALTHY' where id = %s",
        "instance_id",
        "health_status",
    ),
    ("update report_data_weeks set status = 'FAILED' where id = %s", "week_id", "status"),
    (
        "update report_data_weeks set data_checksum = repeat('a', 64) where id = %s",
        "week_id",
        "data_checksum",
    ),
    (
        "update workflow_executions set status = 'SUCCESS' where id = %s",
        "execution_id",
        "status",
    ),
    (
        "update workflow_executions set heartbeat_at = now() where id = %s",
        "execution_id",
        "heartbeat_at",
    ),
    (
        "update workflow_schedules set consecutive_failures = 0, last_run_status = 'SUCCESS' "
        "where id = %s",
        "schedule_id",
        "last_run_status",
    ),
    ("update schedule_runs set status = 'SUCCESS' where id = %s", "schedule_run_id", "status"),
    (
        "update report_data_collections set partition_key = 'someone-else' where id = %s",
        "collection_id",
        "partition_key",
    ),
    (
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date, status) "
        "values (%s, '2024-01-08', '2024-01-14', 'SUCCESS')",
        "collection_id",
        "status",
    ),
    (
        "insert into workflow_executions (workflow_id, user_id, instance_id, heartbeat_at) "
        "select id, user_id, instance_id, now() from workflows where id = %s",
        "workflow_id",
        "heartbeat_at",
    ),
    (
        "insert into amc_instances (instance_id, name, user_id, account_id, "
        "max_concurrent_executions) select 'amcmine', 'mine', user_id, account_id, 10 "
        "from amc_instances where id = %s",
        "instance_id",
        None,  # 10 is the default: allowed
    ),
    (
        "insert into amc_instances (instance_id, name, user_id, account_id, "
        "max_concurrent_executions) select 'amcmine', 'mine', user_id, account_id, 50 "
        "from amc_instances where id = %s",
        "instance_id",
        "max_concurrent_executions",
    ),
]


@pytest.mark.parametrize(
    ("statement", "field", "column"), PIPELINE_WRITES, ids=[w[0][:60] for w in PIPELINE_WRITES]
)
def test_a_user_cannot_write_the_pipelines_columns_of_their_own_rows(
    db_conn: Conn, tenants: Tenants, statement: str, field: str, column: str | None
) -> None:
    """Users could raise their AMC limit and rewrite week statuses, checksums and heartbeats."""
    row_id = getattr(tenants.a, field)
    with acting_as(db_conn, tenants.a.user_id):
        if column is None:
            assert db_conn.execute(statement, (row_id,)).rowcount == 1
            return
        with (
            pytest.raises(
                errors.InsufficientPrivilege,
                match=rf"\.{column} is written by the pipeline: a signed-in user cannot",
            ),
            attempt(db_conn),
        ):
            db_conn.execute(statement, (row_id,))


def test_the_pipeline_writes_its_columns_and_users_keep_their_settings(
    db_conn: Conn, tenants: Tenants
) -> None:
    a = tenants.a
    with acting_as(db_conn, a.user_id):
        for statement, row_id in (
            (
                "update amc_instances set name = 'renamed', is_active = false where id = %s",
                a.instance_id,
            ),
            (
                "update workflow_schedules set cron_expression = '0 7 * * 1', "
                "timezone = 'Europe/Paris', is_active = false where id = %s",
                a.schedule_id,
            ),
            (
                "update report_data_collections set name = 'renamed', end_date = '2024-06-30' "
                "where id = %s",
                a.collection_id,
            ),
            ("update workflows set sql_query = 'select 2' where id = %s", a.workflow_id),
            # A client sending the whole row back, pipeline columns unchanged.
            (
                "update report_data_weeks set status = status, data_checksum = data_checksum, "
                "week_number = 1 where id = %s",
                a.week_id,
            ),
            (
                "update amc_instances set max_concurrent_executions = max_concurrent_executions "
                "where id = %s",
                a.instance_id,
            ),
        ):
            assert db_conn.execute(statement, (row_id,)).rowcount == 1, statement

        with (
            pytest.raises(errors.InsufficientPrivilege, match="the pipeline ends it"),
            attempt(db_conn),
        ):
            db_conn.execute("delete from workflow_executions where id = %s", (a.execution_id,))

    # The pipeline (the owner) writes them as before.
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 4 where id = %s", (a.instance_id,)
    )
    db_conn.execute("update report_data_weeks set status = 'FAILED' where id = %s", (a.week_id,))
    db_conn.execute(
        "update workflow_executions set heartbeat_at = now() where id = %s", (a.execution_id,)
    )
    assert one(db_conn, "select status from report_data_weeks where id = %s", (a.week_id,)) == (
        "FAILED"
    )


def test_the_summary_view_shows_a_user_only_their_collections(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 7: without security_invoker the view ran as its owner, past every policy."""
    db_conn.execute(
        document.statement("CREATE OR REPLACE VIEW collection_report_summary").replace(
            "VIEW collection_report_summary", "VIEW documented_summary", 1
        )
    )
    db_conn.execute("grant select on documented_summary to authenticated")

    with acting_as(db_conn, tenants.a.user_id):
        ours = [
            row[0] for row in db_conn.execute("select collection_id from collection_report_summary")
        ]
        documented = {
            row[0] for row in db_conn.execute("select collection_id from documented_summary")
        }

    assert ours == [tenants.a.collection_id]
    assert documented == {tenants.a.collection_id, tenants.b.collection_id}


def share_config(conn: Conn, tenants: Tenants, *, is_shared: bool) -> None:
    conn.execute(
        "update collection_report_configs set is_shared = %s, shared_with_users = %s where id = %s",
        (is_shared, [tenants.b.user_id], tenants.a.config_id),
    )


def test_a_shared_configuration_is_read_only_for_those_it_is_shared_with(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 24: the document's FOR ALL policy let them rewrite, delete or take it."""
    a, b = tenants.a, tenants.b
    share_config(db_conn, tenants, is_shared=True)

    with acting_as(db_conn, b.user_id):
        assert (
            one(
                db_conn,
                "select count(*) from collection_report_configs where id = %s",
                (a.config_id,),
            )
            == 1
        )
        assert (
            db_conn.execute(
                "update collection_report_configs set config_data = '{\"x\": 1}' where id = %s",
                (a.config_id,),
            ).rowcount
            == 0
        )
        assert (
            db_conn.execute(
                "delete from collection_report_configs where id = %s", (a.config_id,)
            ).rowcount
            == 0
        )
        # a's snapshot made from the shared configuration is visible too
        assert (
            one(
                db_conn,
                "select count(*) from collection_report_snapshots where id = %s",
                (a.snapshot_id,),
            )
            == 1
        )

    share_config(db_conn, tenants, is_shared=False)
    with acting_as(db_conn, b.user_id):
        assert (
            one(
                db_conn,
                "select count(*) from collection_report_configs where id = %s",
                (a.config_id,),
            )
            == 0
        )


def test_the_documents_config_policy_lets_a_shared_user_rewrite_the_config(
    db_conn: Conn, tenants: Tenants
) -> None:
    share_config(db_conn, tenants, is_shared=True)
    db_conn.execute(
        "drop policy collection_report_configs_user_access on collection_report_configs"
    )
    db_conn.execute(
        "drop policy collection_report_configs_shared_read on collection_report_configs"
    )
    db_conn.execute(document.statement("CREATE POLICY collection_report_configs_user_access"))

    with acting_as(db_conn, tenants.b.user_id):
        changed = db_conn.execute(
            "update collection_report_configs set config_data = '{\"x\": 1}' where id = %s",
            (tenants.a.config_id,),
        ).rowcount

    assert changed == 1


def test_a_public_snapshot_is_readable_but_not_writable_by_others(
    db_conn: Conn, tenants: Tenants
) -> None:
    """Defect 25: any user could rewrite or delete public snapshots, or publish one as another."""
    a, b = tenants.a, tenants.b
    db_conn.execute(
        "update collection_report_snapshots set is_public = true where id = %s", (a.snapshot_id,)
    )
    visible = "select count(*) from collection_report_snapshots where id = %s"

    with acting_as(db_conn, b.user_id):
        assert one(db_conn, visible, (a.snapshot_id,)) == 1
        assert (
            db_conn.execute(
                "update collection_report_snapshots set name = 'mine' where id = %s",
                (a.snapshot_id,),
            ).rowcount
            == 0
        )
        assert (
            db_conn.execute(
                "delete from collection_report_snapshots where id = %s", (a.snapshot_id,)
            ).rowcount
            == 0
        )
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(
                "insert into collection_report_snapshots (name, collection_id, created_by, "
                "snapshot_data, is_public) values ('fake', %s, %s, '{}', true)",
                (a.collection_id, a.user_id),
            )
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(
                "insert into collection_report_snapshots (name, collection_id, created_by, "
                "snapshot_data) values ('of a', %s, %s, '{}')",
                (a.collection_id, b.user_id),
            )

    db_conn.execute(
        "update collection_report_snapshots set expires_at = now() - interval '1 day' "
        "where id = %s",
        (a.snapshot_id,),
    )
    with acting_as(db_conn, b.user_id):
        assert one(db_conn, visible, (a.snapshot_id,)) == 0


def test_the_documents_snapshot_policy_lets_anyone_rewrite_a_public_snapshot(
    db_conn: Conn, tenants: Tenants
) -> None:
    db_conn.execute(
        "update collection_report_snapshots set is_public = true where id = %s",
        (tenants.a.snapshot_id,),
    )
    for policy in ("access", "create", "update", "delete"):
        db_conn.execute(
            f"drop policy collection_report_snapshots_{policy} on collection_report_snapshots"
        )
    db_conn.execute(document.statement("CREATE POLICY collection_report_snapshots_access"))

    with acting_as(db_conn, tenants.b.user_id):
        changed = db_conn.execute(
            "update collection_report_snapshots set name = 'defaced' where id = %s",
            (tenants.a.snapshot_id,),
        ).rowcount

    assert changed == 1


def test_public_templates_and_lists_are_shared_read_only(db_conn: Conn, tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    db_conn.execute("update query_templates set is_public = true where id = %s", (a.template_id,))
    db_conn.execute("update asin_lists set is_public = true where id = %s", (a.asin_list_id,))
    official = one(
        db_conn,
        "insert into query_templates (name, category, sql_template, is_official, is_public) "
        "values ('official', 'library', 'select 1', true, false) returning id",
    )

    with acting_as(db_conn, b.user_id):
        templates = {row[0] for row in db_conn.execute("select id from query_templates")}
        assert templates == {a.template_id, b.template_id, official}
        assert (
            one(
                db_conn,
                "select count(*) from query_template_parameters where template_id = %s",
                (a.template_id,),
            )
            == 1
        )
        assert (
            db_conn.execute(
                "update query_templates set sql_template = 'select 2' where id in (%s, %s)",
                (a.template_id, official),
            ).rowcount
            == 0
        )
        assert (
            db_conn.execute(
                "update query_template_parameters set display_name = 'x' where template_id = %s",
                (a.template_id,),
            ).rowcount
            == 0
        )
        assert (
            one(
                db_conn,
                "select count(*) from asin_list_items where list_id = %s",
                (a.asin_list_id,),
            )
            == 1
        )
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(
                "insert into asin_list_items (list_id, asin_id) values (%s, %s)",
                (a.asin_list_id, b.asin_id),
            )
        # Nor can a user put someone else's ASIN in their own list, or publish an official one.
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(
                "insert into asin_list_items (list_id, asin_id) values (%s, %s)",
                (b.asin_list_id, a.asin_id),
            )
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute(
                "update query_templates set is_official = true where id = %s", (b.template_id,)
            )


def test_reference_data_is_readable_and_not_writable(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 26: on Supabase, tables without RLS are writable by every signed-in user."""
    db_conn.execute(
        "insert into amc_data_sources (name, display_name, category) values ('a', 'A', 'c')"
    )
    db_conn.execute(
        "insert into build_guides (title, category, is_published) values ('draft', 'c', false)"
    )

    with acting_as(db_conn, tenants.a.user_id):
        assert one(db_conn, "select count(*) from amc_data_sources") == 1
        assert one(db_conn, "select count(*) from build_guides") == 1  # the draft is hidden
        for statement in (
            "insert into amc_data_sources (name, display_name, category) values ('b', 'B', 'c')",
            "update build_guides set title = 'x'",
            "delete from amc_schema_fields",
        ):
            with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
                db_conn.execute(statement)


def test_without_a_user_id_nothing_is_visible(db_conn: Conn, tenants: Tenants) -> None:
    with acting_as(db_conn, None):
        for table in ("users", "workflows", "report_data_collections", "report_data_weeks"):
            assert (
                one(db_conn, sql.SQL("select count(*) from {}").format(sql.Identifier(table))) == 0
            )


@pytest.mark.parametrize("setting", ["request.jwt.claims", "request.jwt.claim.sub"])
def test_auth_uid_reads_both_settings_supabase_uses(
    db_conn: Conn, tenants: Tenants, setting: str
) -> None:
    value = (
        f'{{"sub": "{tenants.a.user_id}"}}'
        if setting == "request.jwt.claims"
        else str(tenants.a.user_id)
    )
    with db_conn.transaction(force_rollback=True):
        db_conn.execute("set local role authenticated")
        db_conn.execute("select set_config(%s, %s, true)", (setting, value))
        assert one(db_conn, "select auth.uid()") == tenants.a.user_id
        assert [row[0] for row in db_conn.execute("select id from users")] == [tenants.a.user_id]


def test_creating_the_authenticated_role_is_safe_against_a_concurrent_creation(
    db_url: str,
) -> None:
    """Roles belong to the server: two databases migrated at once race to create them."""
    source = (MIGRATIONS_DIR / "0001_auth_compat.sql").read_text()
    block = re.search(
        r"do \$\$\nbegin\n    if not exists \(select 1 from pg_roles.*?\n\$\$;", source, re.S
    )
    assert block is not None
    role = f"race_role_{uuid.uuid4().hex[:8]}"
    create_role = block.group(0).replace("authenticated", role)
    outcome: list[BaseException | None] = []

    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        first.execute(create_role)  # created, not yet committed
        second_pid = second.info.backend_pid

        def second_creation() -> None:
            try:
                second.execute(create_role)
                second.commit()
                outcome.append(None)
            except BaseException as exc:  # reported by the assertion below
                outcome.append(exc)

        worker = threading.Thread(target=second_creation)
        worker.start()
        with psycopg.connect(db_url, autocommit=True) as monitor:
            while not one(
                monitor,
                "select count(*) > 0 from pg_locks where pid = %s and not granted",
                (second_pid,),
            ):
                assert not outcome, outcome
                time.sleep(0.01)
        first.commit()
        worker.join()

    with psycopg.connect(db_url, autocommit=True) as cleanup:
        assert one(cleanup, "select count(*) from pg_roles where rolname = %s", (role,)) == 1
        cleanup.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
    assert outcome == [None]
