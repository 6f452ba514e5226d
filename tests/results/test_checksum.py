from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from recomamp_pipelines.results import map_output_columns
from recomamp_pipelines.results.checksum import RowDigest
from recomamp_pipelines.results.parquet import arrow_schema

COLUMNS = map_output_columns(
    [
        {"name": "campaign", "dataType": "STRING"},
        {"name": "clicks", "dataType": "LONG"},
        {"name": "spend", "dataType": "DOUBLE"},
        {"name": "filtered", "dataType": "BOOLEAN"},
    ]
)
SCHEMA = arrow_schema(COLUMNS)

rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(["a", "b"]), st.text(max_size=5)),
        st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        st.one_of(st.none(), st.floats(allow_nan=True)),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=30,
)


def digest(*batches: Sequence[tuple[object, ...]]) -> str:
    row_digest = RowDigest(COLUMNS)
    for batch in batches:
        row_digest.add_batch(
            pa.RecordBatch.from_pylist(
                [dict(zip(SCHEMA.names, row, strict=True)) for row in batch], schema=SCHEMA
            )
        )
    return row_digest.hexdigest()


@given(rows, st.data())
def test_the_digest_ignores_order_and_batches(
    items: list[tuple[object, ...]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(items))
    cut = data.draw(st.integers(0, len(items)))

    assert digest(items) == digest(shuffled[:cut], [], shuffled[cut:])


def test_the_digest_sees_a_changed_value_a_moved_value_and_a_null() -> None:
    base = [("a", 1, 1.0, False), ("b", 2, 2.0, True)]

    variants: list[list[tuple[object, ...]]] = [
        [("a", 1, 1.0, False), ("b", 3, 2.0, True)],
        [("a", 2, 1.0, False), ("b", 1, 2.0, True)],  # clicks swapped between rows
        [("a", 1, 1.0, False), ("b", None, 2.0, True)],
        [("a", 1, 1.0, False), (None, 2, 2.0, True)],
        [("a", 1, 1.0, False), ("", 2, 2.0, True)],
        [*base, ("a", 1, 1.0, False)],  # a duplicate row counts
    ]

    assert len({digest(base), *(digest(variant) for variant in variants)}) == len(variants) + 1
