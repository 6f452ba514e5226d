"""A sha256 checksum of a week's rows that depends on neither row order nor file split.

Each row (its columns taken in name order) is hashed to 64 bits; the digest keeps the row
count and two sums over the row hashes modulo 2^64 (of h and of h^2), which no reordering or
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

from recomamp_pipelines.results.columns import ResultColumn

_MODULUS = 2**64


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
        by_name = batch.select([column.name for column in self._ordered])
        # Arrow-backed dtypes keep a column's type whatever its nulls (no int -> float upcast),
        # so a row hashes the same in whichever batch or file it arrives.
        frame = by_name.to_pandas(types_mapper=pd.ArrowDtype)
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        self._rows += batch.num_rows
        self._sum = (self._sum + int(hashes.sum(dtype=np.uint64))) % _MODULUS
        squares = hashes * hashes  # wraps modulo 2^64, as intended
        self._square_sum = (self._square_sum + int(squares.sum(dtype=np.uint64))) % _MODULUS

    @property
    def row_count(self) -> int:
        return self._rows

    def hexdigest(self) -> str:
        signature = ",".join(f"{column.name}:{column.postgres_type}" for column in self._ordered)
        text = f"{signature}|{self._rows}|{self._sum}|{self._square_sum}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
