"""Publishing a staged week into its workflow's typed results table.

Each workflow has one table, `results.workflow_<uuid hex>`, created on its first publish with
the metadata columns every row carries (window_start, window_end, source_kind, source_id,
user_id, week_start_date) followed by AMC's output columns, typed from outputColumns. Owners
read their own rows through row-level security (`user_id = auth.uid()` for `authenticated`).

A publish is one transaction that replaces exactly one week: the rows of that source and window
are deleted, the staged rows inserted. Readers see the old week until it commits, then the new
one, never a mix. Columns that appear in a later week are added as nullable columns; a column
whose type changed is never cast: the publish is refused with SchemaDriftError.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from recomamp_pipelines.results.columns import RESERVED_COLUMNS, ResultColumn
from recomamp_pipelines.results.sql import compose
from recomamp_pipelines.results.staging import (
    StagedWeek,
    StagingError,
    column_definitions,
    column_list,
)
from recomamp_pipelines.results.target import (
    RESULTS_SCHEMA,
    STAGING_SCHEMA,
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
    staged_type: str

    def describe(self) -> str:
        return (
            f"column {self.column!r} is {self.published_type} in the published table "
            f"but {self.staged_type} in this week"
        )


class SchemaDriftError(RuntimeError):
    """A week's columns changed type against the published table; it was not published."""

    def __init__(self, table: str, drifts: Sequence[SchemaDrift]) -> None:
        self.drifts = list(drifts)
        details = "; ".join(drift.describe() for drift in drifts)
        super().__init__(f"results table {table}: {details}")


@dataclass(frozen=True)
class PublishedWeek:
    """What a publish wrote: the replaced week's rows, sizes and checksum."""

    target: ResultTarget
    results_table: str
    row_count: int
    replaced_row_count: int
    csv_bytes: int
    parquet_bytes: int
    parquet_path: Path
    checksum: str
    added_columns: tuple[str, ...]


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
    published: Sequence[TableColumn], staged: Sequence[ResultColumn]
) -> list[SchemaDrift]:
    """Columns present on both sides whose PostgreSQL types differ."""
    published_types = {column.name: column.postgres_type for column in published}
    return [
        SchemaDrift(column.name, published_types[column.name], column.postgres_type)
        for column in staged
        if column.name in published_types and published_types[column.name] != column.postgres_type
    ]


def publish_week(conn: psycopg.Connection, staged: StagedWeek) -> PublishedWeek:
    """Replace the staged week in the workflow's results table and move its Parquet file in.

    One transaction: create the table on the workflow's first week, add new columns, delete the
    week's previous rows, insert the staged rows, drop the staging table. Publishing the same
    result again leaves the table as it was.
    """
    target = staged.target
    table = results_table(target.workflow_id)
    table_name = f"{RESULTS_SCHEMA}.{results_table_name(target.workflow_id)}"
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(compose("lock_results_table"), {"table_name": table_name})
        cur.execute(
            compose("staging_table_exists"),
            {"qualified_name": f"{STAGING_SCHEMA}.{staged.staging_table_name}"},
        )
        row = cur.fetchone()
        if row is None or not row[0]:
            raise StagingError(
                f"staged week {staged.staging_table_name} of {target.source_kind} "
                f"{target.source_id} ({target.period_label}) was already published or discarded"
            )
        published = published_columns(conn, target.workflow_id)
        if published:
            drifts = schema_drift(published, staged.columns)
            if drifts:
                raise SchemaDriftError(table_name, drifts)
            added = _add_new_columns(cur, table, published, staged.columns)
        else:
            _create_results_table(cur, target.workflow_id, staged.columns)
            added = ()
        cur.execute(compose("delete_published_week", results_table=table), _week_key(target))
        replaced = max(cur.rowcount, 0)
        cur.execute(
            compose(
                "insert_staged_week",
                results_table=table,
                staging_table=staged.staging_table,
                columns=column_list(staged.columns),
                values=_staged_values(staged.columns),
            ),
            {
                **_week_key(target),
                "user_id": target.user_id,
                "week_start_date": target.week_start_date,
            },
        )
        inserted = max(cur.rowcount, 0)
        cur.execute(compose("drop_staging_table", staging_table=staged.staging_table))
    # After the commit: a crash in between leaves the previous Parquet file, never a partial one.
    os.replace(staged.parquet_temp_path, staged.parquet_path)
    return PublishedWeek(
        target=target,
        results_table=table_name,
        row_count=inserted,
        replaced_row_count=replaced,
        csv_bytes=staged.csv_bytes,
        parquet_bytes=staged.parquet_bytes,
        parquet_path=staged.parquet_path,
        checksum=staged.checksum,
        added_columns=added,
    )


def _staged_values(columns: Sequence[ResultColumn]) -> sql.Composed:
    """The staged columns, cast where the staging type differs (DECIMAL: double -> numeric)."""
    return sql.SQL(", ").join(
        sql.Identifier(column.name)
        if column.staging_type == column.postgres_type
        else sql.SQL("cast({} as {})").format(
            sql.Identifier(column.name), sql.SQL(column.postgres_type)
        )
        for column in columns
    )


def _week_key(target: ResultTarget) -> dict[str, object]:
    return {
        "source_kind": target.source_kind,
        "source_id": target.source_id,
        "window_start": target.window_start,
        "window_end": target.window_end,
    }


def _create_results_table(
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


def _add_new_columns(
    cur: psycopg.Cursor,
    table: sql.Identifier,
    published: Sequence[TableColumn],
    staged: Sequence[ResultColumn],
) -> tuple[str, ...]:
    known = {column.name for column in published}
    added = []
    for column in staged:
        if column.name in known:
            continue
        cur.execute(
            compose(
                "add_results_column",
                results_table=table,
                column=sql.Identifier(column.name),
                column_type=sql.SQL(column.postgres_type),
            )
        )
        added.append(column.name)
    return tuple(added)
