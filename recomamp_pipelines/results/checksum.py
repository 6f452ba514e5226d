"""A sha256 checksum of a week's rows that depends on neither row order nor file split.

Each row is hashed to 64 bits: every value is hashed on its own (pandas' siphash-based
`hash_array`, over a representation fixed by the column's type, with one constant for NULL),
the column hashes are combined in column-name order and the result is put through a non-linear
finaliser (splitmix64), so that swapping values between rows changes it. The digest keeps the
row count and two sums over the row hashes modulo 2^64 (of h and of h^2), which no reordering or
regrouping of rows changes. Hashing runs on the typed Arrow batches while the Parquet file is
written, so it costs no extra pass over the data. The checksum covers the column names and types
too: the same values under a changed type count as a change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recomamp_pipelines.results.columns import ResultColumn

_MODULUS = 2**64
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_COMBINE = np.uint64(0x100000001B3)


class RowDigest:
    """Accumulates the order-free digest batch by batch."""

    def __init__(self, columns: Sequence[ResultColumn]) -> None:
        self._ordered = sorted(columns, key=lambda column: column.name)
        self._rows = 0
        self._sum = 0
        self._square_sum = 0

    def add_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        hashes = np.zeros(batch.num_rows, dtype=np.uint64)
        for column in self._ordered:
            # uint64 arithmetic wraps modulo 2^64, as intended throughout.
            hashes = hashes * _COMBINE + _value_hashes(batch.column(column.name))
        hashes = _splitmix64(hashes)
        self._rows += batch.num_rows
        self._sum = (self._sum + int(hashes.sum(dtype=np.uint64))) % _MODULUS
        squares = hashes * hashes
        self._square_sum = (self._square_sum + int(squares.sum(dtype=np.uint64))) % _MODULUS

    @property
    def row_count(self) -> int:
        return self._rows

    def hexdigest(self) -> str:
        signature = ",".join(f"{column.name}:{column.postgres_type}" for column in self._ordered)
        text = f"{signature}|{self._rows}|{self._sum}|{self._square_sum}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value_hashes(values: pa.Array) -> np.ndarray:
    """One hash per value; the same value hashes the same whatever else is in the batch."""
    if pa.types.is_string(values.type):
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) == 0:
            return np.full(len(values), _NULL_HASH, dtype=np.uint64)
        if 2 * len(encoded.dictionary) <= len(values):
            # Few distinct strings (product types, devices): hash each once, spread by index.
            distinct = pd.util.hash_array(
                encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False
            )
            hashes = distinct[pc.fill_null(encoded.indices, 0).to_numpy()]
        else:
            strings = pc.fill_null(values, "").to_numpy(zero_copy_only=False)
            hashes = pd.util.hash_array(strings, categorize=False)
    else:
        hashes = pd.util.hash_array(_fixed_width(values).to_numpy(zero_copy_only=False))
    if values.null_count:
        hashes = np.where(values.is_valid().to_numpy(zero_copy_only=False), hashes, _NULL_HASH)
    return hashes


def _fixed_width(values: pa.Array) -> pa.Array:
    """The values as plain numbers, NULLs as 0 (their hash is replaced afterwards)."""
    if pa.types.is_boolean(values.type):
        values = values.cast(pa.uint8())
    elif pa.types.is_date32(values.type):
        values = values.cast(pa.int32())
    elif pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return pc.fill_null(values, 0)


def _splitmix64(hashes: np.ndarray) -> np.ndarray:
    hashes = (hashes ^ (hashes >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    hashes = (hashes ^ (hashes >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return hashes ^ (hashes >> np.uint64(31))
