"""Each workflow's typed results table: its columns, its creation and its new columns.

Each workflow has one table, `results.workflow_<uuid hex>`, created on its first week with the
metadata columns every row carries (window_start, window_end, source_kind, source_id, user_id,
week_start_date) followed by AMC's output columns, typed from outputColumns. Owners read their
own rows through row-level security (`user_id = auth.uid()` for `authenticated`). Columns that
appear in a later week are added as nullable columns; a column whose type changed is never
cast: such a week is refused (SchemaDriftError).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from recomamp_pipelines.results.columns import RESERVED_COLUMNS, ResultColumn
from recomamp_pipelines.results.sql import compose
from recomamp_pipelines.results.target import (
    RESULTS_SCHEMA,
    ResultTarget,
    results_table,
    results_table_name,
)


@dataclass(frozen=True)
class TableColumn:
    """A data column of a published results table, with its PostgreSQL type."""

    name: str
    postgres_type: str


@dataclass(frozen=True)
class SchemaDrift:
    """A column whose type in this week differs from the published table's."""

    column: str
    published_type: str
    week_type: str

    def describe(self) -> str:
        return (
            f"column {self.column!r} is {self.published_type} in the published table "
            f"but {self.week_type} in this week"
        )


class SchemaDriftError(RuntimeError):
    """A week's columns changed type against the published table; it was not published."""

    def __init__(self, table: str, drifts: Sequence[SchemaDrift]) -> None:
        self.drifts = list(drifts)
        details = "; ".join(drift.describe() for drift in drifts)
        super().__init__(f"results table {table}: {details}")


def qualified_table_name(workflow_id: uuid.UUID) -> str:
    """`results.workflow_<uuid hex>`, as recorded on executions and weeks."""
    return f"{RESULTS_SCHEMA}.{results_table_name(workflow_id)}"


def published_columns(conn: psycopg.Connection, workflow_id: uuid.UUID) -> list[TableColumn]:
    """The data columns of a workflow's results table, in table order; [] before its first week."""
    with conn.cursor() as cur:
        cur.execute(
            compose("results_table_columns"),
            {"schema_name": RESULTS_SCHEMA, "table_name": results_table_name(workflow_id)},
        )
        return [
            TableColumn(name=name, postgres_type=column_type)
            for name, column_type in cur.fetchall()
            if name not in RESERVED_COLUMNS
        ]


def schema_drift(
    published: Sequence[TableColumn], week: Sequence[ResultColumn]
) -> list[SchemaDrift]:
    """Columns present on both sides whose PostgreSQL types differ."""
    published_types = {column.name: column.postgres_type for column in published}
    return [
        SchemaDrift(column.name, published_types[column.name], column.postgres_type)
        for column in week
        if column.name in published_types and published_types[column.name] != column.postgres_type
    ]


def new_columns(published: Sequence[TableColumn], week: Sequence[ResultColumn]) -> list[str]:
    """This week's columns that the published table does not have yet."""
    known = {column.name for column in published}
    return [column.name for column in week if column.name not in known]


def column_list(columns: Sequence[ResultColumn]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)


def column_definitions(columns: Sequence[ResultColumn]) -> sql.Composed:
    """`name type, ...` for the columns, with their results table types."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.postgres_type))
        for column in columns
    )


def week_rows(target: ResultTarget) -> sql.Composed:
    """The condition that selects exactly the target's week in its results table."""
    return compose(
        "week_rows",
        source_kind=sql.Literal(target.source_kind),
        source_id=sql.Literal(target.source_id),
        window_start=sql.Literal(target.window_start),
        window_end=sql.Literal(target.window_end),
    )


def create_results_table(
    cur: psycopg.Cursor, workflow_id: uuid.UUID, columns: Sequence[ResultColumn]
) -> None:
    name = results_table_name(workflow_id)
    cur.execute(
        compose(
            "create_results_table",
            results_table=results_table(workflow_id),
            window_index=sql.Identifier(f"{name}_source_window_idx"),
            columns=column_definitions(columns),
        )
    )


def add_columns(
    cur: psycopg.Cursor, workflow_id: uuid.UUID, columns: Sequence[ResultColumn]
) -> None:
    for column in columns:
        cur.execute(
            compose(
                "add_results_column",
                results_table=results_table(workflow_id),
                column=sql.Identifier(column.name),
                column_type=sql.SQL(column.postgres_type),
            )
        )
