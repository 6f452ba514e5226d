"""AMC output columns and the one mapping from AMC data types to PostgreSQL and Arrow types.

AMC describes every output column of an execution as `{name, dataType, columnType}`. Each known
`dataType` maps to one PostgreSQL type (spelled as `format_type()` prints it, so that a published
table's catalog can be compared with a new week directly) and one Arrow type for the Parquet file.
A data type this table does not know (ARRAY, MAP, STRUCT or anything new) is kept as text in
both and flagged as untyped, so that the quality checks can warn about it.

DECIMAL is `double precision` everywhere (results table, Arrow, Parquet): Arrow's decimal types
need a fixed scale, and AMC's CSV decimals carry as many digits as the division produced, so the
values are read as doubles; storing them as `numeric` afterwards would only show digits that
were never there. Digits beyond double precision (15-17 significant) are rounded.

TIMESTAMP is read from the CSV as text and converted per batch (see `parquet.py`), because AMC
files may carry a zone suffix that PostgreSQL's `timestamp` ignores and Arrow's CSV reader
refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

# The columns every results row carries besides AMC's own output.
RESERVED_COLUMNS = (
    "window_start",
    "window_end",
    "source_kind",
    "source_id",
    "user_id",
    "week_start_date",
)

# PostgreSQL truncates longer identifiers, which could silently merge two columns.
MAX_IDENTIFIER_BYTES = 63

TEXT = "text"


@dataclass(frozen=True)
class _TypeMapping:
    postgres_type: str
    arrow_type: pa.DataType
    is_numeric: bool


_AMC_TYPES: dict[str, _TypeMapping] = {
    "STRING": _TypeMapping(TEXT, pa.string(), is_numeric=False),
    "VARCHAR": _TypeMapping(TEXT, pa.string(), is_numeric=False),
    "LONG": _TypeMapping("bigint", pa.int64(), is_numeric=True),
    "BIGINT": _TypeMapping("bigint", pa.int64(), is_numeric=True),
    "INTEGER": _TypeMapping("integer", pa.int32(), is_numeric=True),
    "INT": _TypeMapping("integer", pa.int32(), is_numeric=True),
    "DOUBLE": _TypeMapping("double precision", pa.float64(), is_numeric=True),
    "FLOAT": _TypeMapping("double precision", pa.float64(), is_numeric=True),
    "DECIMAL": _TypeMapping("double precision", pa.float64(), is_numeric=True),
    "BOOLEAN": _TypeMapping("boolean", pa.bool_(), is_numeric=False),
    "DATE": _TypeMapping("date", pa.date32(), is_numeric=False),
    "TIMESTAMP": _TypeMapping("timestamp without time zone", pa.timestamp("us"), is_numeric=False),
}


class OutputColumnLike(Protocol):
    """An AMC output column as the AMC client models it."""

    @property
    def name(self) -> str: ...

    @property
    def data_type(self) -> str | None: ...

    @property
    def column_type(self) -> str | None: ...


class ResultColumnError(ValueError):
    """AMC's output columns cannot be stored as a results table."""


@dataclass(frozen=True)
class ResultColumn:
    """One output column of a week's result, with its PostgreSQL and Arrow types."""

    name: str
    amc_data_type: str
    postgres_type: str
    arrow_type: pa.DataType
    is_numeric: bool
    is_metric: bool
    is_typed: bool

    @property
    def is_timestamp(self) -> bool:
        return self.postgres_type == "timestamp without time zone"


def map_output_column(name: str, data_type: str | None, column_type: str | None) -> ResultColumn:
    """The typed column for one AMC output column; unknown data types become untyped text."""
    amc_type = (data_type or "").strip().upper()
    mapping = _AMC_TYPES.get(amc_type)
    is_typed = mapping is not None
    if mapping is None:
        mapping = _TypeMapping(TEXT, pa.string(), is_numeric=False)
    # AMC marks aggregates as METRIC; a numeric column with no columnType is treated as one.
    role = (column_type or "").strip().upper()
    return ResultColumn(
        name=name,
        amc_data_type=amc_type or "UNSPECIFIED",
        postgres_type=mapping.postgres_type,
        arrow_type=mapping.arrow_type,
        is_numeric=mapping.is_numeric,
        is_metric=mapping.is_numeric and role != "DIMENSION",
        is_typed=is_typed,
    )


def map_output_columns(
    output_columns: Iterable[OutputColumnLike | Mapping[str, Any]],
) -> list[ResultColumn]:
    """Typed columns for AMC's `outputColumns`, as dicts from the API or client models."""
    columns: list[ResultColumn] = []
    seen: set[str] = set()
    for raw in output_columns:
        if isinstance(raw, Mapping):
            name = str(raw.get("name") or "")
            data_type, column_type = raw.get("dataType"), raw.get("columnType")
        else:
            name, data_type, column_type = raw.name, raw.data_type, raw.column_type
        _validate_name(name, seen)
        seen.add(name)
        columns.append(
            map_output_column(
                name,
                None if data_type is None else str(data_type),
                None if column_type is None else str(column_type),
            )
        )
    if not columns:
        raise ResultColumnError("outputColumns is empty: AMC described no column to store")
    return columns


def _validate_name(name: str, seen: set[str]) -> None:
    if not name:
        raise ResultColumnError("an output column has an empty name")
    if name in RESERVED_COLUMNS:
        raise ResultColumnError(
            f"output column {name!r} collides with a column every results row carries "
            f"({', '.join(RESERVED_COLUMNS)}): alias it in the query"
        )
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ResultColumnError(
            f"output column {name!r} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte "
            "identifier limit: alias it in the query"
        )
    if name in seen:
        raise ResultColumnError(f"output column {name!r} appears twice in outputColumns")
