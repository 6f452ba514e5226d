"""One week's CSV result files loaded into its workflow's results table, in one transaction.

`load_week` opens a transaction on the caller's connection and, holding that week: creates the
workflow's results table on its first week or adds the week's new columns, deletes the week's
previous rows and streams the new ones in with binary COPY. The files are parsed once, with
Arrow, block by block; each batch is encoded in PostgreSQL's binary COPY format (pgpq) and sent
from the calling thread, while a worker thread folds the same batch into the summary_stats and
the checksum and writes it to the week's Parquet file. Neither side holds more than a few blocks
of the result in memory, and PostgreSQL parses no text.

The caller checks the loaded rows, which only its transaction sees, and records what goes with
them in the same transaction:

    with load_week(conn, files, output_columns, target, results_root=root) as week:
        outcomes = check_loaded_week(conn, week, previous_weeks_stats=[...])
        if any(outcome.blocks_publish for outcome in outcomes):
            week.discard()  # rolled back: readers keep the previous good week
        else:
            ...  # the execution's and the week's rows, committed with the results
    if week.published:
        ...  # committed; the Parquet file is in place

Readers see the previous rows of the week until the commit, then the new ones, never a mix. A
week whose columns changed type against the published table is loaded into a temporary table
instead, for its checks to report on; it is never published (SchemaDriftError).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import psycopg
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql

from recomamp_pipelines.results.columns import (
    RESERVED_COLUMNS,
    OutputColumnLike,
    ResultColumn,
    map_output_columns,
)
from recomamp_pipelines.results.parquet import (
    ParquetWeek,
    WeekFileWriter,
    arrow_schema,
    read_batches,
    validate_headers,
)
from recomamp_pipelines.results.sql import compose
from recomamp_pipelines.results.storage import ResultsRoot
from recomamp_pipelines.results.summary_stats import SummaryStats, WeekProfile
from recomamp_pipelines.results.table import (
    SchemaDrift,
    SchemaDriftError,
    TableColumn,
    add_columns,
    column_definitions,
    column_list,
    create_results_table,
    new_columns,
    published_columns,
    qualified_table_name,
    schema_drift,
    week_rows,
)
from recomamp_pipelines.results.target import ResultTarget, results_table

log = logging.getLogger(__name__)

DEFAULT_PREVIEW_ROWS = 20
# A temporary Parquet file is moved into place or removed within its run; one this old was
# left by a process that died.
ABANDONED_AFTER = timedelta(hours=24)
# Batches waiting for the Parquet writer; bounds memory when it falls behind PostgreSQL.
MAX_PENDING_BATCHES = 2
# The Arrow types of the metadata columns, in RESERVED_COLUMNS order (uuids as 16 raw bytes,
# which is their binary COPY form).
_METADATA_TYPES = (
    pa.timestamp("us"),
    pa.timestamp("us"),
    pa.string(),
    pa.binary(16),
    pa.binary(16),
    pa.date32(),
)

JsonValue = str | int | float | bool | None


class LoadError(RuntimeError):
    """A week's result could not be loaded; nothing of it was kept."""


class WeekState(StrEnum):
    LOADED = "loaded"
    DISCARDED = "discarded"
    PUBLISHED = "published"


@dataclass
class _Progress:
    """Where a loaded week stands: changed only by `LoadedWeek.discard` and `finish_load`."""

    state: WeekState = WeekState.LOADED
    discard_requested: bool = False


@dataclass(frozen=True)
class LoadedWeek:
    """A week's result loaded in an open transaction, with its Parquet file, stats and checksum.

    `table` and `rows` say where the loaded rows are: the week's rows of the results table, or
    a temporary table when the week's columns drifted. `expected_columns` are the results
    table's columns before this week (none before the workflow's first week). What was loaded
    does not change; where the week stands (loaded, discarded, published) is read from `state`.
    """

    target: ResultTarget
    columns: tuple[ResultColumn, ...]
    results_table: str
    table: sql.Composable
    rows: sql.Composable
    expected_columns: tuple[TableColumn, ...]
    drifts: tuple[SchemaDrift, ...]
    added_columns: tuple[str, ...]
    row_count: int
    replaced_row_count: int
    csv_bytes: int
    checksum: str
    summary_stats: SummaryStats
    profile: WeekProfile
    parquet_path: Path
    parquet_bytes: int
    #: The file as a reader names it: its path, or `s3://bucket/key` on an object store.
    parquet_uri: str
    root: ResultsRoot = field(repr=False)
    final_path: str = field(repr=False)
    temp_path: str = field(repr=False)
    week_key: str = field(repr=False)
    _progress: _Progress = field(default_factory=_Progress, repr=False, compare=False)

    @property
    def state(self) -> WeekState:
        return self._progress.state

    @property
    def discard_requested(self) -> bool:
        return self._progress.discard_requested

    @property
    def untyped_columns(self) -> list[ResultColumn]:
        """Columns stored as text because AMC gave a data type the mapping does not know."""
        return [column for column in self.columns if not column.is_typed]

    @property
    def published(self) -> bool:
        return self.state is WeekState.PUBLISHED

    def discard(self) -> None:
        """Roll the week back when its `load_week` block ends: the previous rows stay."""
        if self.state is not WeekState.LOADED:
            raise LoadError(f"the week is already {self.state}")
        self._progress.discard_requested = True


def load_into(
    conn: psycopg.Connection,
    files: Iterable[Path],
    output_columns: Iterable[OutputColumnLike | Mapping[str, Any]],
    target: ResultTarget,
    *,
    results_root: Path | str | ResultsRoot,
) -> LoadedWeek:
    """Load a week's CSV result files into the caller's open transaction.

    `files` may be several CSV files of one result, each with a header (possibly header-only,
    possibly empty). The week is held (against other loads of it) from here until
    `finish_load`, which the caller calls after committing or rolling back its transaction;
    temporary Parquet files that a killed load of the same week left behind are removed first.
    Output columns or file headers that cannot be stored raise ResultColumnError or
    ResultFileError before anything starts; a failure while loading raises LoadError, with the
    week let go and its Parquet file removed (the caller rolls back).
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise LoadError(
            f"loading a week needs a connection inside an open transaction, got one that is "
            f"{conn.info.transaction_status.name}"
        )
    paths = [Path(path) for path in files]
    columns = tuple(map_output_columns(output_columns))
    validate_headers(paths, columns)
    root = ResultsRoot.parse(results_root)
    final_path = root.week_path(target)
    temp_path = root.temp_path(final_path)
    week_key = _week_key(target)
    conn.execute(compose("lock_results_week"), {"week_key": week_key})
    try:
        root.remove_leftovers(final_path)
        # A savepoint, so that a failed load leaves the caller's transaction usable (to record
        # why) and the week can be let go at once: the lock outlives a rollback.
        with conn.transaction():
            return _load(conn, paths, columns, target, root, final_path, temp_path, week_key)
    except BaseException:
        root.discard(temp_path)
        _unlock_week(conn, week_key)
        raise


def finish_load(conn: psycopg.Connection, week: LoadedWeek, *, committed: bool) -> None:
    """After the caller's transaction: the Parquet file into place if it committed, else gone.

    A crash in between leaves the previous Parquet file, never a partial one; the week is still
    held until here, so no later load's file can be overwritten. Then the week is let go.
    """
    try:
        if committed and week.state is WeekState.LOADED:
            week.root.publish(week.temp_path, week.final_path)
            week._progress.state = WeekState.PUBLISHED
        else:
            week.root.discard(week.temp_path)
            if week.state is WeekState.LOADED:
                week._progress.state = WeekState.DISCARDED
    finally:
        _unlock_week(conn, week.week_key)


@contextmanager
def load_week(
    conn: psycopg.Connection,
    files: Iterable[Path],
    output_columns: Iterable[OutputColumnLike | Mapping[str, Any]],
    target: ResultTarget,
    *,
    results_root: Path | str | ResultsRoot,
) -> Iterator[LoadedWeek]:
    """Load a week's CSV result files; publish them when the block ends, unless discarded.

    The block is one transaction on `conn` (which must not be inside one), committed when it
    ends without an exception or a discard; a week whose columns drifted raises
    SchemaDriftError unless it was discarded. On every failure nothing is kept, not even the
    Parquet file. `load_into` and `finish_load` are the same for a caller that owns its
    transaction.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise LoadError(
            f"loading a week needs a connection outside any transaction, got one that is "
            f"{conn.info.transaction_status.name}"
        )
    week: LoadedWeek | None = None
    committed = False
    try:
        with conn.transaction() as transaction:
            week = load_into(conn, files, output_columns, target, results_root=results_root)
            yield week
            if week.discard_requested:
                raise psycopg.Rollback(transaction)
            if week.drifts:
                raise SchemaDriftError(week.results_table, week.drifts)
        committed = not week.discard_requested
    finally:
        if week is not None:
            finish_load(conn, week, committed=committed)


def _week_key(target: ResultTarget) -> str:
    return (
        f"{qualified_table_name(target.workflow_id)}/{target.source_kind}/{target.source_id}/"
        f"{target.window_start.isoformat()}/{target.window_end.isoformat()}"
    )


def _unlock_week(conn: psycopg.Connection, week_key: str) -> None:
    """Let the week go, without hiding an error being handled if the connection is broken."""
    if conn.closed:
        return
    try:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.rollback()
        with conn.transaction():
            conn.execute(compose("unlock_results_week"), {"week_key": week_key})
    except psycopg.Error:
        log.warning("could not release the lock on results week %s", week_key)


def _load(
    conn: psycopg.Connection,
    paths: Sequence[Path],
    columns: tuple[ResultColumn, ...],
    target: ResultTarget,
    root: ResultsRoot,
    final_path: str,
    temp_path: str,
    week_key: str,
) -> LoadedWeek:
    """Prepare the table, delete the week's previous rows and COPY the new ones in."""
    workflow_id = target.workflow_id
    table_name = qualified_table_name(workflow_id)
    with conn.cursor() as cur:
        expected = published_columns(conn, workflow_id)
        if not schema_drift(expected, columns) and (not expected or new_columns(expected, columns)):
            cur.execute(compose("lock_results_table"), {"table_name": table_name})
            # As left by the loads that held the lock before this one.
            expected = published_columns(conn, workflow_id)
        drifts = tuple(schema_drift(expected, columns))
        added: tuple[str, ...] = ()
        replaced = 0
        if drifts:
            table: sql.Composable = sql.Identifier(f"week_{uuid.uuid4().hex}")
            rows: sql.Composable = sql.SQL("true")
            cur.execute(
                compose("create_week_table", week_table=table, columns=column_definitions(columns))
            )
        else:
            table, rows = results_table(workflow_id), week_rows(target)
            if not expected:
                create_results_table(cur, workflow_id, columns)
            else:
                added = tuple(new_columns(expected, columns))
                add_columns(cur, workflow_id, [c for c in columns if c.name in added])
            cur.execute(compose("delete_published_week", results_table=table, week_rows=rows))
            replaced = max(cur.rowcount, 0)
        loaded_rows, parquet = _copy_week(
            cur, table, paths, columns, target, root, temp_path, drifts
        )
    return LoadedWeek(
        target=target,
        columns=columns,
        results_table=table_name,
        table=table,
        rows=rows,
        expected_columns=tuple(expected),
        drifts=drifts,
        added_columns=added,
        row_count=loaded_rows,
        replaced_row_count=replaced,
        csv_bytes=sum(path.stat().st_size for path in paths),
        checksum=parquet.checksum,
        summary_stats=parquet.summary_stats,
        profile=parquet.profile,
        parquet_path=Path(final_path),
        parquet_bytes=parquet.parquet_bytes,
        parquet_uri=root.location(final_path),
        root=root,
        final_path=final_path,
        temp_path=temp_path,
        week_key=week_key,
    )


def _copy_week(
    cur: psycopg.Cursor,
    table: sql.Composable,
    paths: Sequence[Path],
    columns: tuple[ResultColumn, ...],
    target: ResultTarget,
    root: ResultsRoot,
    temp_path: str,
    drifts: tuple[SchemaDrift, ...],
) -> tuple[int, ParquetWeek]:
    """Binary COPY of the week's batches, the Parquet file written beside it; rows loaded."""
    with_metadata = not drifts
    schema = arrow_schema(columns)
    names = column_list(columns)
    if with_metadata:
        metadata = zip(RESERVED_COLUMNS, _METADATA_TYPES, strict=True)
        schema = pa.schema([*(pa.field(name, kind) for name, kind in metadata), *schema])
        names = sql.SQL(", ").join([*map(sql.Identifier, RESERVED_COLUMNS), names])
    encoder = ArrowToPostgresBinaryEncoder(schema)
    background = _BackgroundWriter(WeekFileWriter(columns, temp_path, root))

    def encoded() -> Generator[bytes]:
        yield encoder.write_header()
        for batch in background.tee(read_batches(paths, columns)):
            if with_metadata:
                batch = _add_metadata(batch, target, schema)
            yield encoder.write_batch(batch)
        yield encoder.finish()

    # Parsing and encoding run ahead on their own thread, so that PostgreSQL never waits for
    # the next block while this thread hands it the previous one.
    producer = _Producer(encoded())
    try:
        with cur.copy(compose("copy_week", table=table, columns=names)) as copy:
            for chunk in producer:
                copy.write(chunk)
        loaded_rows = cur.rowcount
        parquet = background.finish()
        if loaded_rows >= 0 and loaded_rows != parquet.row_count:
            raise LoadError(
                f"PostgreSQL loaded {loaded_rows} rows but the Parquet writer saw "
                f"{parquet.row_count}"
            )
    except BaseException as exc:
        producer.stop()
        background.abort()
        if not isinstance(exc, Exception):
            raise
        # What went wrong while reading, not PostgreSQL's answer to the COPY being abandoned.
        cause = producer.failure or exc
        raise LoadError(
            f"loading {target.source_kind} {target.source_id} ({target.period_label}) "
            f"failed: {cause}"
        ) from cause
    return parquet.row_count, parquet


def _add_metadata(batch: pa.RecordBatch, target: ResultTarget, schema: pa.Schema) -> pa.RecordBatch:
    """The batch behind the metadata columns every row of the results table carries."""
    values = (
        target.window_start,
        target.window_end,
        target.source_kind,
        target.source_id.bytes,
        target.user_id.bytes,
        target.week_start_date,
    )
    metadata = [
        pa.repeat(pa.scalar(value, kind), batch.num_rows)
        for value, kind in zip(values, _METADATA_TYPES, strict=True)
    ]
    return pa.RecordBatch.from_arrays([*metadata, *batch.columns], schema=schema)


_DONE = object()


class _Producer:
    """Runs an iterator on a worker thread, a few items ahead of the thread that consumes it."""

    def __init__(self, items: Generator[bytes]) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING_BATCHES)
        self._stopped = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="week-copy-encoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    # The consumer gave up: let go of the files being read.
                    self._items.close()
                    return
        except BaseException as exc:
            self.failure = exc
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        """Queue an item unless the consumer stopped; whether it was queued."""
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[bytes]:
        while (item := self._queue.get()) is not _DONE:
            yield cast(bytes, item)
        self._thread.join()
        if self.failure is not None:
            raise self.failure

    def stop(self) -> None:
        """Stop the worker after a failure on either side, and wait for it."""
        self._stopped.set()
        self._thread.join()


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


def remove_abandoned_files(
    results_root: Path | str | ResultsRoot, *, older_than: timedelta = ABANDONED_AFTER
) -> int:
    """Remove temporary Parquet files that a process which died left behind; how many."""
    return ResultsRoot.parse(results_root).remove_stale_temp_files(older_than)


def preview_rows(
    conn: psycopg.Connection, week: LoadedWeek, limit: int = DEFAULT_PREVIEW_ROWS
) -> list[dict[str, JsonValue]]:
    """The first `limit` loaded rows as JSON-safe dicts, for `workflow_executions.result_data`."""
    if limit < 0:
        raise ValueError(f"preview limit {limit}: expected 0 or more rows")
    with conn.cursor() as cur:
        cur.execute(
            compose(
                "preview_week_rows",
                columns=column_list(week.columns),
                table=week.table,
                week_rows=week.rows,
            ),
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
