"""One week's AMC result: staged in PostgreSQL, summarised, published as a table and Parquet.

The life of a week, as the orchestration drives it:

    staged = stage_week(conn, csv_paths, execution.output_columns, target, results_root=root)
    outcomes = check_staged_week(conn, staged, previous_weeks_stats=[...])  # quality package
    if any(outcome.blocks_publish for outcome in outcomes):
        discard_staged_week(conn, staged)
    else:
        published = publish_week(conn, staged)  # row_count, bytes, checksum, parquet_path

`staged.summary_stats` goes to `report_data_weeks.summary_stats`, `preview_rows(conn, staged)` to
`workflow_executions.result_data`, and `collection_report_metadata(weeks)` recomputes the
collection's `report_metadata`.
"""

from __future__ import annotations

from recomamp_pipelines.results.columns import (
    ResultColumn,
    ResultColumnError,
    map_output_column,
    map_output_columns,
)
from recomamp_pipelines.results.parquet import ResultFileError
from recomamp_pipelines.results.staging import (
    StagedWeek,
    StagingError,
    discard_staged_week,
    drop_abandoned_staging,
    preview_rows,
    stage_week,
)
from recomamp_pipelines.results.summary_stats import (
    WeekSummary,
    collection_report_metadata,
    collection_totals,
    primary_metric,
    week_over_week_change,
)
from recomamp_pipelines.results.target import (
    ResultTarget,
    ResultTargetError,
    parquet_path,
    results_table_name,
)
from recomamp_pipelines.results.writer import (
    PublishedWeek,
    SchemaDrift,
    SchemaDriftError,
    TableColumn,
    publish_week,
    published_columns,
    schema_drift,
)

__all__ = [
    "PublishedWeek",
    "ResultColumn",
    "ResultColumnError",
    "ResultFileError",
    "ResultTarget",
    "ResultTargetError",
    "SchemaDrift",
    "SchemaDriftError",
    "StagedWeek",
    "StagingError",
    "TableColumn",
    "WeekSummary",
    "collection_report_metadata",
    "collection_totals",
    "discard_staged_week",
    "drop_abandoned_staging",
    "map_output_column",
    "map_output_columns",
    "parquet_path",
    "preview_rows",
    "primary_metric",
    "publish_week",
    "published_columns",
    "results_table_name",
    "schema_drift",
    "stage_week",
    "week_over_week_change",
]
