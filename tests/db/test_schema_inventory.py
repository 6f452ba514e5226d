"""Everything the schema document defines exists after the migrations, under its names."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.db import document

# Types the migrations deliberately changed (sql/README.md, defect 15).
CHANGED_TYPES = {("campaigns", "acos"): "numeric(10,2)", ("campaigns", "roas"): "numeric(10,2)"}

# The document's one multi-event trigger became one trigger per event (transition tables).
RENAMED_TRIGGERS = {
    "trigger_calculate_collection_progress": {
        "trigger_calculate_collection_progress_insert",
        "trigger_calculate_collection_progress_update",
        "trigger_calculate_collection_progress_delete",
    }
}

# Functions in public, each exercised by a test named in sql/README.md. A function added
# without a test fails here first.
KNOWN_FUNCTIONS = {
    "aggregate_collection_weeks",
    "amc_instance_slot_limit",
    "announce_released_amc_slot",
    "calculate_collection_progress",
    "calculate_week_over_week_change",
    "check_amc_instance_slot",
    "claim_amc_instance_slot",
    "jsonb_concat_sum",
    "maintain_asin_list_count",
    "protect_collection_progress",
    "refuse_user_deletes_of_executions_in_flight",
    "refuse_user_writes_of_pipeline_columns",
    "release_amc_instance_slot",
    "release_slot_of_finished_execution",
    "reset_collection_progress",
    "set_updated_at",
    "update_workflow_execution_count",
}

_TYPE_NAMES = {
    "UUID": "uuid",
    "TEXT": "text",
    "TIMESTAMPTZ": "timestamp with time zone",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "JSONB": "jsonb",
    "DATE": "date",
}


def _expected_type(documented: str) -> str:
    array = documented.endswith("[]")
    base = documented.removesuffix("[]")
    if base.startswith("DECIMAL"):
        name = "numeric" + base.removeprefix("DECIMAL").replace(" ", "")
    else:
        name = _TYPE_NAMES[base]
    return name + ("[]" if array else "")


def test_the_document_has_23_tables() -> None:
    assert len(document.tables()) == 23


@pytest.mark.parametrize("table", document.tables(), ids=lambda t: t.name)
def test_every_documented_table_has_its_columns_and_types_in_public(
    db_conn: psycopg.Connection[Any], table: document.DocumentedTable
) -> None:
    rows = db_conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) "
        "from pg_attribute as a "
        "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped",
        (f"public.{table.name}",),
    ).fetchall()
    actual = dict(rows)

    assert actual, f"table public.{table.name} is missing"
    for column, documented in table.columns.items():
        expected = CHANGED_TYPES.get((table.name, column), _expected_type(documented))
        assert actual.get(column) == expected, f"{table.name}.{column}"


def test_every_documented_index_exists(db_conn: psycopg.Connection[Any]) -> None:
    documented = document.names(r"create (?:unique )?index (\w+)")
    existing = {
        row[0]
        for row in db_conn.execute("select indexname from pg_indexes where schemaname = 'public'")
    }

    assert len(documented) == 88
    assert documented - existing == set()


def test_every_documented_function_trigger_policy_and_constraint_exists(
    db_conn: psycopg.Connection[Any],
) -> None:
    functions = {
        row[0]
        for row in db_conn.execute(
            "select proname from pg_proc where pronamespace = 'public'::regnamespace"
        )
    }
    triggers = {row[0] for row in db_conn.execute("select tgname from pg_trigger")}
    policies = {row[0] for row in db_conn.execute("select policyname from pg_policies")}
    constraints = {row[0] for row in db_conn.execute("select conname from pg_constraint")}

    assert document.names(r"create (?:or replace )?function (\w+)") <= functions
    for trigger in document.names(r"create trigger (\w+)"):
        assert RENAMED_TRIGGERS.get(trigger, {trigger}) <= triggers
    assert document.names(r"create policy (\w+)") <= policies
    assert document.names(r"add constraint (\w+)") <= constraints
    view = db_conn.execute(
        "select reloptions from pg_class where oid = 'public.collection_report_summary'::regclass"
    ).fetchone()
    assert view is not None and "security_invoker=true" in view[0]


def test_the_public_functions_are_the_known_tested_ones(db_conn: psycopg.Connection[Any]) -> None:
    functions = {
        row[0]
        for row in db_conn.execute(
            "select proname from pg_proc where pronamespace = 'public'::regnamespace"
        )
    }

    assert functions == KNOWN_FUNCTIONS


def test_row_level_security_is_on_for_every_table_and_not_forced(
    db_conn: psycopg.Connection[Any],
) -> None:
    rows = db_conn.execute(
        "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class as c "
        "where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'"
    ).fetchall()

    assert len(rows) >= 23
    assert [name for name, enabled, _ in rows if not enabled] == []
    # The pipeline connects as the owner, to which row-level security does not apply.
    assert [name for name, _, forced in rows if forced] == []
