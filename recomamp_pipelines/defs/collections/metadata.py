"""What a published week's materialization tells in the UI: figures to plot, schema, preview.

The key figures are top-level numbers, so that the asset page plots them over weeks; the whole
summary_stats stays beside them as JSON. The preview is a table with a column schema, so that a
value holding `|` stays in its column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from recomamp_pipelines.results.summary_stats import metric_sum_key

PREVIEW_METADATA_ROWS = 10

#: (metadata key, summary_stats role): the figures plotted over weeks.
KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("impressions", "impressions"),
    ("clicks", "clicks"),
    ("spend", "cost"),
    ("purchases", "purchases"),
    ("sales", "sales"),
)
#: Spend already converted to dollars by a template, when the query has no raw cost column.
SPEND_USD_SUM = "spend_usd_sum"


@dataclass(frozen=True)
class PublishedWeekFigures:
    """A published week as its materialization describes it."""

    row_count: int
    amc_execution_id: str
    amc_run_seconds: float | None
    amc_queue_seconds: float | None
    results_table: str
    columns: Sequence[tuple[str, str]]  # (name, PostgreSQL type)
    parquet_path: Path | None
    checksum: str
    summary_stats: Mapping[str, Any]
    preview: Sequence[Mapping[str, Any]]


def key_figures(stats: Mapping[str, Any]) -> dict[str, float | int]:
    """Impressions, clicks, spend, purchases, sales and ROAS, those the week's query has."""
    figures: dict[str, float | int] = {}
    for name, role in KEY_FIGURES:
        key = metric_sum_key(stats, role)
        if key is None and name == "spend" and SPEND_USD_SUM in stats:
            key = SPEND_USD_SUM
        if key is not None and isinstance(stats.get(key), int | float):
            figures[name] = stats[key]
    if isinstance(stats.get("roas"), int | float):
        figures["roas"] = stats["roas"]
    return figures


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def preview_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]
) -> dg.TableMetadataValue:
    """The first rows of the week as a table; its columns are the result's, in order."""
    names = [name for name, _ in columns] or (list(rows[0]) if rows else [])
    types = dict(columns)
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, types.get(name, "text")) for name in names]
    )
    records = [
        dg.TableRecord({name: _cell(row.get(name)) for name in names})
        for row in rows[:PREVIEW_METADATA_ROWS]
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def week_metadata(figures: PublishedWeekFigures) -> dict[str, dg.RawMetadataValue]:
    """The materialization metadata of a published week."""
    metadata: dict[str, dg.RawMetadataValue] = {
        "dagster/row_count": figures.row_count,
        **{name: value for name, value in key_figures(figures.summary_stats).items()},
        "amc_execution_id": figures.amc_execution_id,
        "dagster/table_name": figures.results_table,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, kind) for name, kind in figures.columns]
        ),
        "data_checksum": figures.checksum,
        "summary_stats": dg.MetadataValue.json(dict(figures.summary_stats)),
        "preview": preview_table(figures.preview, figures.columns),
    }
    if figures.amc_run_seconds is not None:
        metadata["amc_run_seconds"] = float(figures.amc_run_seconds)
    if figures.amc_queue_seconds is not None:
        metadata["amc_queue_seconds"] = float(figures.amc_queue_seconds)
    if figures.parquet_path is not None:
        metadata["parquet_file"] = dg.MetadataValue.url(figures.parquet_path.resolve().as_uri())
        metadata["parquet_path"] = dg.MetadataValue.path(str(figures.parquet_path))
    return metadata
