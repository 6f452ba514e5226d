"""AMC result CSV files read in typed batches, and the week's Parquet file written from them.

Everything here streams: the CSV reader hands over one block at a time, each block is folded
into the summary statistics and the checksum, and blocks are written in row groups of about
128k rows, so memory stays bounded whatever the size of the result.

CSV values are read the way PostgreSQL's CSV COPY reads them: only an unquoted empty field is
NULL, a quoted empty string stays a string.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from recomamp_pipelines.results.checksum import RowDigest
from recomamp_pipelines.results.columns import ResultColumn
from recomamp_pipelines.results.storage import ResultsRoot
from recomamp_pipelines.results.summary_stats import SummaryAccumulator, SummaryStats, WeekProfile

# Arrow's streaming CSV reader keeps many blocks in flight (its pool peaked at about 400 MB with
# 16 MB blocks and 140 MB with 4 MB blocks on a 5-million-row file): the block size is what
# bounds the memory of an ingest.
CSV_BLOCK_SIZE = 2 * 1024 * 1024
# Batches are gathered into row groups of about this many rows before they are written.
ROW_GROUP_ROWS = 128 * 1024

# PostgreSQL's `timestamp` ignores a zone suffix on input; Arrow refuses it, so strip it first.
_ZONE_SUFFIX = r"^(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_TRUE_VALUES = ["true", "True", "TRUE", "t", "1"]
_FALSE_VALUES = ["false", "False", "FALSE", "f", "0"]


class ResultFileError(ValueError):
    """A CSV result file does not match the execution's output columns or cannot be parsed."""


def read_header(path: Path) -> list[str] | None:
    """The column names in a CSV file's header, or None for an empty (0-byte) file."""
    # utf-8-sig: a byte-order mark must not become part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first_row = next(csv.reader(handle), None)
    if first_row is None:
        return None
    return first_row


def validate_headers(files: Sequence[Path], columns: Sequence[ResultColumn]) -> None:
    """Every non-empty file's header names exactly the output columns (in any order)."""
    expected = {column.name for column in columns}
    for path in files:
        header = read_header(path)
        if header is None:
            continue
        names = set(header)
        unknown = sorted(names - expected)
        missing = sorted(expected - names)
        if unknown or missing or len(header) != len(names):
            raise ResultFileError(
                f"CSV result file {path.name}: header {header} does not match outputColumns "
                f"(unknown {unknown}, missing {missing})"
            )


@dataclass(frozen=True)
class ParquetWeek:
    """A week's Parquet file written to its temporary path, and what was learnt on the way."""

    temp_path: str
    row_count: int
    parquet_bytes: int
    summary_stats: SummaryStats
    profile: WeekProfile
    checksum: str


def arrow_schema(columns: Sequence[ResultColumn]) -> pa.Schema:
    return pa.schema([pa.field(column.name, column.arrow_type) for column in columns])


class WeekFileWriter:
    """Writes batches to the week's temporary Parquet file, folding in summary_stats and checksum.

    The file goes to the results root (a local directory by default, or an object store);
    the caller moves the temporary file into place when the week is published.
    """

    def __init__(
        self,
        columns: Sequence[ResultColumn],
        temp_path: Path | str,
        root: ResultsRoot | None = None,
    ) -> None:
        self._root = root or ResultsRoot.parse(Path(temp_path).parent)
        self._temp_path = str(temp_path)
        self._summary = SummaryAccumulator(columns)
        self._digest = RowDigest(columns)
        self._schema = arrow_schema(columns)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._sink = self._root.open_output(self._temp_path)
        self._writer = pq.ParquetWriter(self._sink, self._schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._summary.add_batch(batch)
        self._digest.add_batch(batch)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending, schema=self._schema)
            self._writer.write_table(table, row_group_size=max(self._pending_rows, 1))
        self._pending, self._pending_rows = [], 0

    def close(self) -> ParquetWeek:
        """Finish the file; on an object store this completes its upload (or raises)."""
        self._flush()
        self._writer.close()
        self._sink.close()
        return ParquetWeek(
            temp_path=self._temp_path,
            row_count=self._digest.row_count,
            parquet_bytes=self._root.size(self._temp_path),
            summary_stats=self._summary.summary_stats(),
            profile=self._summary.profile(),
            checksum=self._digest.hexdigest(),
        )

    def abort(self) -> None:
        """Close and delete the temporary file after a failure."""
        try:
            self._writer.close()
            self._sink.close()
        except (OSError, pa.ArrowException):
            pass  # the upload that failed; nothing of it is kept
        finally:
            self._root.discard(self._temp_path)


def read_batches(
    files: Sequence[Path], columns: Sequence[ResultColumn], block_size: int = CSV_BLOCK_SIZE
) -> Iterator[pa.RecordBatch]:
    """Every file's rows as batches typed and ordered as `columns`, one block at a time."""
    schema = arrow_schema(columns)
    for path in files:
        yield from _read_file(path, columns, schema, block_size)


def _read_file(
    path: Path, columns: Sequence[ResultColumn], schema: pa.Schema, block_size: int
) -> Iterator[pa.RecordBatch]:
    if path.stat().st_size == 0:
        return
    convert = pa_csv.ConvertOptions(
        column_types={
            column.name: pa.string() if column.is_timestamp else column.arrow_type
            for column in columns
        },
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=_TRUE_VALUES,
        false_values=_FALSE_VALUES,
    )
    try:
        reader = pa_csv.open_csv(
            path,
            # One parsing thread: the Parquet writer and PostgreSQL need the other cores.
            read_options=pa_csv.ReadOptions(block_size=block_size, use_threads=False),
            convert_options=convert,
        )
        for batch in reader:
            yield _conform(batch, path, columns, schema)
    except pa.ArrowInvalid as exc:
        raise ResultFileError(f"CSV result file {path.name} cannot be read: {exc}") from exc


def _conform(
    batch: pa.RecordBatch, path: Path, columns: Sequence[ResultColumn], schema: pa.Schema
) -> pa.RecordBatch:
    """The batch with columns in outputColumns order and timestamps parsed."""
    arrays = []
    for column in columns:
        values = batch.column(column.name)
        if column.is_timestamp:
            values = _parse_timestamps(values, path, column.name)
        arrays.append(values)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _parse_timestamps(values: pa.Array, path: Path, name: str) -> pa.Array:
    naive = pc.replace_substring_regex(values, pattern=_ZONE_SUFFIX, replacement=r"\1")
    try:
        return pc.cast(naive, pa.timestamp("us"))
    except pa.ArrowInvalid as exc:
        raise ResultFileError(
            f"CSV result file {path.name}, column {name!r}: not a timestamp ({exc})"
        ) from exc
