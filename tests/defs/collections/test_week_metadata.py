"""A published week's materialization metadata, built from its figures."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.definitions.metadata import normalize_metadata

from recomamp_pipelines.defs.collections.metadata import (
    PublishedWeekFigures,
    preview_table,
    week_metadata,
)

COLUMNS = [("campaign", "text"), ("impressions", "bigint"), ("spend", "double precision")]


def test_a_value_holding_a_pipe_stays_in_its_column() -> None:
    rows = [{"campaign": "Books | DSP | Brand Awareness", "impressions": 10, "spend": 1.5}]

    table = preview_table(rows, COLUMNS)

    assert [column.name for column in table.schema.columns] == ["campaign", "impressions", "spend"]
    assert [column.type for column in table.schema.columns] == [kind for _, kind in COLUMNS]
    assert table.records[0].data == rows[0]


def test_key_figures_are_top_level_numbers_beside_the_summary(tmp_path: Path) -> None:
    figures = PublishedWeekFigures(
        row_count=3,
        amc_execution_id="exec-1",
        amc_run_seconds=12.0,
        amc_queue_seconds=4.0,
        results_table="results.workflow_x",
        columns=COLUMNS,
        parquet_path=tmp_path / "week.parquet",
        checksum="0" * 64,
        summary_stats={"row_count": 3, "impressions_sum": 30, "spend_sum": 6.0, "roas": 2.5},
        preview=[],
    )

    metadata = normalize_metadata(week_metadata(figures))

    assert metadata["impressions"] == dg.IntMetadataValue(30)
    assert metadata["spend"] == dg.FloatMetadataValue(6.0)
    assert metadata["roas"] == dg.FloatMetadataValue(2.5)
    assert "clicks" not in metadata  # the query has none
    assert metadata["amc_queue_seconds"] == dg.FloatMetadataValue(4.0)
    assert metadata["dagster/row_count"] == dg.IntMetadataValue(3)
    assert isinstance(metadata["summary_stats"], dg.JsonMetadataValue)
    assert metadata["parquet_file"] == dg.UrlMetadataValue((tmp_path / "week.parquet").as_uri())
