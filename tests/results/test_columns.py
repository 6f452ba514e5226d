from __future__ import annotations

import pyarrow as pa
import pytest

from recomamp_pipelines.amc.models import OutputColumn
from recomamp_pipelines.results import ResultColumnError, map_output_columns


def test_each_amc_data_type_has_one_postgres_and_one_arrow_type() -> None:
    columns = map_output_columns(
        [
            {"name": "s", "dataType": "STRING", "columnType": "DIMENSION"},
            {"name": "l", "dataType": "LONG", "columnType": "METRIC"},
            {"name": "i", "dataType": "INTEGER", "columnType": "METRIC"},
            {"name": "d", "dataType": "DOUBLE", "columnType": "METRIC"},
            {"name": "m", "dataType": "DECIMAL", "columnType": "METRIC"},
            {"name": "b", "dataType": "BOOLEAN", "columnType": "DIMENSION"},
            {"name": "day", "dataType": "DATE", "columnType": "DIMENSION"},
            {"name": "at", "dataType": "timestamp", "columnType": "DIMENSION"},
        ]
    )

    assert [(c.name, c.postgres_type, c.arrow_type) for c in columns] == [
        ("s", "text", pa.string()),
        ("l", "bigint", pa.int64()),
        ("i", "integer", pa.int32()),
        ("d", "double precision", pa.float64()),
        ("m", "double precision", pa.float64()),
        ("b", "boolean", pa.bool_()),
        ("day", "date", pa.date32()),
        ("at", "timestamp without time zone", pa.timestamp("us")),
    ]
    assert all(column.is_typed for column in columns)
    assert [c.name for c in columns if c.is_metric] == ["l", "i", "d", "m"]


def test_an_unknown_data_type_becomes_text_and_is_flagged() -> None:
    (column, missing) = map_output_columns(
        [
            {"name": "asins", "dataType": "ARRAY", "columnType": "DIMENSION"},
            {"name": "mystery", "columnType": "DIMENSION"},
        ]
    )

    assert (column.postgres_type, column.arrow_type, column.is_typed) == (
        "text",
        pa.string(),
        False,
    )
    assert column.amc_data_type == "ARRAY"
    assert (missing.postgres_type, missing.amc_data_type, missing.is_typed) == (
        "text",
        "UNSPECIFIED",
        False,
    )


def test_the_amc_client_models_are_accepted() -> None:
    columns = map_output_columns(
        [OutputColumn.from_api({"name": "clicks", "dataType": "LONG", "columnType": "METRIC"})]
    )

    assert (columns[0].name, columns[0].postgres_type) == ("clicks", "bigint")


@pytest.mark.parametrize(
    ("output_columns", "message"),
    [
        ([{"name": "user_id", "dataType": "STRING"}], "'user_id' collides"),
        ([{"name": "x" * 64, "dataType": "LONG"}], "63-byte"),
        ([{"name": "a", "dataType": "LONG"}, {"name": "a", "dataType": "LONG"}], "appears twice"),
        ([{"name": "", "dataType": "LONG"}], "empty name"),
        ([], "outputColumns is empty"),
    ],
)
def test_columns_that_cannot_be_stored_are_refused(
    output_columns: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ResultColumnError, match=message):
        map_output_columns(output_columns)
