"""One week's CSV result files staged in PostgreSQL, with its Parquet file and summary_stats.

`stage_week` parses the files once, with Arrow, block by block. Each typed batch goes to
PostgreSQL through ADBC's binary COPY on the calling thread, while a worker thread folds the same
batch into the summary_stats and the checksum and writes it to the week's Parquet file. Neither
side holds more than a few blocks of the result in memory, and PostgreSQL does not parse text.

The staging table is an UNLOGGED table in `results_staging`, named after the execution. It lives
until the week is published (`writer.publish_week`) or discarded (`discard_staged_week`).
"""

from __future__ import annotations

import math
import queue
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import make_conninfo

from recomamp_pipelines.results.columns import OutputColumnLike, ResultColumn, map_output_columns
from recomamp_pipelines.results.parquet import (
    ParquetWeek,
    WeekFileWriter,
    arrow_schema,
    read_batches,
    validate_headers,
)
from recomamp_pipelines.results.sql import compose
from recomamp_pipelines.results.summary_stats import SummaryStats
from recomamp_pipelines.results.target import STAGING_SCHEMA, ResultTarget, parquet_path

DEFAULT_PREVIEW_ROWS = 20
# A staged week is published or discarded within its run; one this old was abandoned.
ABANDONED_AFTER = timedelta(hours=24)
# Batches waiting for the Parquet writer; bounds memory when it falls behind PostgreSQL.
MAX_PENDING_BATCHES = 2
# Connection settings handed on to the ADBC connection that loads the staging table.
_CONNINFO_KEYS = (
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "options",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
)

JsonValue = str | int | float | bool | None


class StagingError(RuntimeError):
    """A week's result could not be staged (nothing of it was kept), or its staging is gone."""


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


def column_definitions(columns: Iterable[ResultColumn], *, staging: bool = False) -> sql.Composed:
    """`name type, ...` with the results table's types, or the staging table's."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(
            sql.Identifier(column.name),
            sql.SQL(column.staging_type if staging else column.postgres_type),
        )
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
    """Stage a week's CSV result files: a staging table, the Parquet file and summary_stats.

    `files` may be several CSV files of one result, each with a header (possibly header-only,
    possibly empty). `conn` must not be inside a transaction: the staging table is committed
    before a second connection loads it. Re-staging the same `execution_id` replaces its earlier
    staging table. Output columns or file headers that cannot be stored raise ResultColumnError
    or ResultFileError before anything is created; a failure while loading removes the staging
    table and the temporary Parquet file and raises StagingError.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise StagingError(
            f"staging needs a connection outside any transaction, got one that is "
            f"{conn.info.transaction_status.name}"
        )
    paths = [Path(path) for path in files]
    columns = tuple(map_output_columns(output_columns))
    validate_headers(paths, columns)
    name = staging_table_name(execution_id or uuid.uuid4())
    staging_table = sql.Identifier(STAGING_SCHEMA, name)
    final_path = parquet_path(results_root, target)
    temp_path = final_path.with_name(f".{final_path.name}.{name}.tmp")
    _create_staging_table(conn, staging_table, columns)
    background = _BackgroundWriter(WeekFileWriter(columns, temp_path))
    failures: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        # ADBC reports an error raised here as its own; keep the original for the message.
        try:
            yield from background.tee(read_batches(paths, columns))
        except BaseException as exc:
            failures.append(exc)
            raise

    try:
        loaded_rows = _load_staging_table(conn, name, columns, batches())
        parquet = background.finish()
        if loaded_rows >= 0 and loaded_rows != parquet.row_count:
            raise StagingError(
                f"PostgreSQL loaded {loaded_rows} rows but the Parquet writer saw "
                f"{parquet.row_count}"
            )
    except BaseException as exc:
        background.abort()
        _drop_quietly(conn, staging_table)
        if not isinstance(exc, Exception):
            raise
        cause = failures[0] if failures else exc
        raise StagingError(
            f"staging {target.source_kind} {target.source_id} ({target.period_label}) "
            f"failed: {cause}"
        ) from cause
    return StagedWeek(
        target=target,
        staging_table_name=name,
        columns=columns,
        row_count=parquet.row_count,
        csv_bytes=sum(path.stat().st_size for path in paths),
        checksum=parquet.checksum,
        summary_stats=parquet.summary_stats,
        parquet_path=final_path,
        parquet_temp_path=temp_path,
        parquet_bytes=parquet.parquet_bytes,
    )


def _create_staging_table(
    conn: psycopg.Connection, staging_table: sql.Identifier, columns: Iterable[ResultColumn]
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(compose("create_staging_schema"))
        cur.execute(compose("drop_staging_table", staging_table=staging_table))
        cur.execute(
            compose(
                "create_staging_table",
                staging_table=staging_table,
                columns=column_definitions(columns, staging=True),
            )
        )
        cur.execute(
            compose(
                "comment_staging_table",
                staging_table=staging_table,
                staged_at=sql.Literal(datetime.now(UTC).isoformat()),
            )
        )


def _load_staging_table(
    conn: psycopg.Connection,
    name: str,
    columns: tuple[ResultColumn, ...],
    batches: Iterator[pa.RecordBatch],
) -> int:
    """Binary COPY of the batches into the staging table, through ADBC; the rows loaded."""
    reader = pa.RecordBatchReader.from_batches(arrow_schema(columns), batches)
    with adbc.connect(_conninfo(conn)) as adbc_conn:
        with adbc_conn.cursor() as cur:
            rows = cur.adbc_ingest(name, reader, mode="append", db_schema_name=STAGING_SCHEMA)
        adbc_conn.commit()
    return int(rows)


def _conninfo(conn: psycopg.Connection) -> str:
    """The connection string of `conn`'s server and database, for a second connection."""
    parameters = conn.info.get_parameters()
    settings = {key: parameters[key] for key in _CONNINFO_KEYS if key in parameters}
    if conn.info.password:
        settings["password"] = conn.info.password
    return make_conninfo("", **settings)


_DONE = object()


class _BackgroundWriter:
    """Writes the week's Parquet file on a worker thread from the batches passing through."""

    def __init__(self, writer: WeekFileWriter) -> None:
        self._writer = writer
        self._queue: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING_BATCHES)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="week-parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._failure is not None:
                continue
            try:
                self._writer.write(item)
            except BaseException as exc:
                self._failure = exc

    def tee(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Hand each batch to the writer and pass it on; stop if the writer failed."""
        for batch in batches:
            if self._failure is not None:
                raise self._failure
            self._queue.put(batch)
            yield batch

    def finish(self) -> ParquetWeek:
        self._stop()
        if self._failure is not None:
            raise self._failure
        return self._writer.close()

    def abort(self) -> None:
        self._stop()
        self._writer.abort()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()


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


def drop_abandoned_staging(
    conn: psycopg.Connection,
    *,
    older_than: timedelta = ABANDONED_AFTER,
    results_root: Path | None = None,
) -> list[str]:
    """Drop staging tables (and temporary Parquet files) that a crashed run left behind.

    A staged week is published or discarded within its run; one older than `older_than` was
    abandoned. Returns the names of the dropped tables.
    """
    cutoff = datetime.now(UTC) - older_than
    dropped = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(compose("staging_tables"), {"schema_name": STAGING_SCHEMA})
        for table_name, staged_at in cur.fetchall():
            if _staged_before(staged_at, cutoff):
                cur.execute(
                    compose(
                        "drop_staging_table",
                        staging_table=sql.Identifier(STAGING_SCHEMA, table_name),
                    )
                )
                dropped.append(table_name)
    if results_root is not None and results_root.exists():
        for temp_file in results_root.rglob(".*.tmp"):
            modified = datetime.fromtimestamp(temp_file.stat().st_mtime, UTC)
            if modified < cutoff:
                temp_file.unlink(missing_ok=True)
    return dropped


def _staged_before(staged_at: str | None, cutoff: datetime) -> bool:
    """Whether a staging table's comment says it was staged before `cutoff`."""
    if not staged_at:
        return False
    try:
        return datetime.fromisoformat(staged_at) < cutoff
    except ValueError:
        return False


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
