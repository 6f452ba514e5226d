"""One week's CSV result files staged in PostgreSQL, with its Parquet file and summary_stats.

`stage_week` streams each file twice at once: its bytes go to PostgreSQL through COPY on the
calling thread, while a worker thread parses the same files with Arrow into the week's Parquet
file and its summary_stats. Neither side holds more than a block of the result in memory.

The staging table is an UNLOGGED table in `results_staging`, named after the execution. It lives
until the week is published (`writer.publish_week`) or discarded (`discard_staged_week`).
"""

from __future__ import annotations

import hashlib
import math
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from recomamp_pipelines.results.columns import OutputColumnLike, ResultColumn, map_output_columns
from recomamp_pipelines.results.parquet import (
    ParquetWeek,
    read_header,
    validate_headers,
    write_parquet,
)
from recomamp_pipelines.results.sql import compose
from recomamp_pipelines.results.summary_stats import SummaryStats
from recomamp_pipelines.results.target import STAGING_SCHEMA, ResultTarget, parquet_path

COPY_CHUNK_BYTES = 1024 * 1024
DEFAULT_PREVIEW_ROWS = 20

JsonValue = str | int | float | bool | None


class StagingError(RuntimeError):
    """A week's result could not be staged; nothing of it was kept."""


@dataclass(frozen=True)
class StagedWeek:
    """A week's result staged in PostgreSQL and written to a temporary Parquet file."""

    target: ResultTarget
    staging_table_name: str
    columns: tuple[ResultColumn, ...]
    row_count: int
    csv_bytes: int
    checksum: str
    summary_stats: SummaryStats
    parquet_path: Path
    parquet_temp_path: Path
    parquet_bytes: int

    @property
    def staging_table(self) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, self.staging_table_name)

    @property
    def untyped_columns(self) -> list[ResultColumn]:
        """Columns stored as text because AMC gave a data type the mapping does not know."""
        return [column for column in self.columns if not column.is_typed]


def staging_table_name(execution_id: uuid.UUID) -> str:
    return f"exec_{execution_id.hex}"


def column_list(columns: Iterable[ResultColumn]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)


def column_definitions(columns: Iterable[ResultColumn]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.postgres_type))
        for column in columns
    )


def stage_week(
    conn: psycopg.Connection,
    files: Iterable[Path],
    output_columns: Iterable[OutputColumnLike | Mapping[str, Any]],
    target: ResultTarget,
    *,
    results_root: Path,
    execution_id: uuid.UUID | None = None,
) -> StagedWeek:
    """Stage a week's CSV result files: COPY into a staging table, Parquet and summary_stats.

    `files` may be several CSV files of one result, each with a header (possibly header-only).
    Re-staging the same `execution_id` replaces its earlier staging table. On failure the
    staging table and the temporary Parquet file are removed and StagingError is raised.
    """
    paths = [Path(path) for path in files]
    columns = tuple(map_output_columns(output_columns))
    validate_headers(paths, columns)
    name = staging_table_name(execution_id or uuid.uuid4())
    final_path = parquet_path(results_root, target)
    temp_path = final_path.with_name(f".{final_path.name}.{name}.tmp")
    staging_table = sql.Identifier(STAGING_SCHEMA, name)
    cancelled = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as pool:
        parquet_future = pool.submit(write_parquet, paths, columns, temp_path, cancelled=cancelled)
        try:
            copied_rows = _copy_into_staging(conn, staging_table, columns, paths)
            digest = _checksum(conn, staging_table, columns)
            parquet = parquet_future.result()
        except BaseException as exc:
            cancelled.set()
            parquet_future.exception()
            _drop_quietly(conn, staging_table)
            temp_path.unlink(missing_ok=True)
            if isinstance(exc, Exception):
                raise StagingError(
                    f"staging {target.source_kind} {target.source_id} "
                    f"({target.period_label}) failed: {exc}"
                ) from exc
            raise
    _verify_row_counts(copied_rows, parquet, conn, staging_table)
    return StagedWeek(
        target=target,
        staging_table_name=name,
        columns=columns,
        row_count=copied_rows,
        csv_bytes=sum(path.stat().st_size for path in paths),
        checksum=digest,
        summary_stats=parquet.summary_stats,
        parquet_path=final_path,
        parquet_temp_path=temp_path,
        parquet_bytes=parquet.parquet_bytes,
    )


def _copy_into_staging(
    conn: psycopg.Connection,
    staging_table: sql.Identifier,
    columns: Sequence[ResultColumn],
    paths: Sequence[Path],
) -> int:
    rows = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(compose("create_staging_schema"))
        cur.execute(compose("drop_staging_table", staging_table=staging_table))
        cur.execute(
            compose(
                "create_staging_table",
                staging_table=staging_table,
                columns=column_definitions(columns),
            )
        )
        for path in paths:
            if path.stat().st_size == 0:
                continue
            header = _header_columns(path, columns)
            copy_sql = compose("copy_staged_file", staging_table=staging_table, columns=header)
            with path.open("rb") as handle, cur.copy(copy_sql) as copy:
                while chunk := handle.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
            rows += max(cur.rowcount, 0)
    return rows


def _header_columns(path: Path, columns: Sequence[ResultColumn]) -> sql.Composed:
    """The COPY column list in the file's own header order."""
    header = read_header(path) or []
    by_name = {column.name: column for column in columns}
    return column_list(by_name[name] for name in header)


def _checksum(
    conn: psycopg.Connection, staging_table: sql.Identifier, columns: Sequence[ResultColumn]
) -> str:
    # Columns by name, so that the digest does not depend on the order AMC listed them in.
    ordered = sorted(columns, key=lambda column: column.name)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            compose("staged_checksum", staging_table=staging_table, columns=column_list(ordered))
        )
        row = cur.fetchone()
    assert row is not None
    row_count, high_sum, low_sum = row
    signature = ",".join(f"{column.name}:{column.postgres_type}" for column in ordered)
    return hashlib.sha256(f"{signature}|{row_count}|{high_sum}|{low_sum}".encode()).hexdigest()


def _verify_row_counts(
    copied_rows: int, parquet: ParquetWeek, conn: psycopg.Connection, staging_table: sql.Identifier
) -> None:
    if copied_rows == parquet.row_count:
        return
    _drop_quietly(conn, staging_table)
    parquet.temp_path.unlink(missing_ok=True)
    raise StagingError(
        f"PostgreSQL COPY read {copied_rows} rows but the Parquet writer read "
        f"{parquet.row_count} from the same files"
    )


def _drop_quietly(conn: psycopg.Connection, staging_table: sql.Identifier) -> None:
    """Drop a staging table during cleanup, without hiding the error being handled."""
    try:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.rollback()
        with conn.transaction():
            conn.execute(compose("drop_staging_table", staging_table=staging_table))
    except psycopg.Error:
        return


def discard_staged_week(conn: psycopg.Connection, staged: StagedWeek) -> None:
    """Drop a staged week that will not be published, and its temporary Parquet file."""
    with conn.transaction():
        conn.execute(compose("drop_staging_table", staging_table=staged.staging_table))
    staged.parquet_temp_path.unlink(missing_ok=True)


def preview_rows(
    conn: psycopg.Connection, staged: StagedWeek, limit: int = DEFAULT_PREVIEW_ROWS
) -> list[dict[str, JsonValue]]:
    """The first `limit` staged rows as JSON-safe dicts, for `workflow_executions.result_data`."""
    if limit < 0:
        raise ValueError(f"preview limit {limit}: expected 0 or more rows")
    with conn.cursor() as cur:
        cur.execute(
            compose("preview_staged_rows", staging_table=staged.staging_table),
            {"limit": limit},
        )
        names = [description.name for description in cur.description or []]
        return [
            {name: json_safe(value) for name, value in zip(names, row, strict=True)}
            for row in cur.fetchall()
        ]


def json_safe(value: Any) -> JsonValue:
    """A database value as JSON can carry it: NaN and infinities become None, dates ISO text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
