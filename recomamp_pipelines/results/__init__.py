"""One week's AMC result: loaded into its workflow's typed table, summarised, written as Parquet.

The life of a week, as the orchestration drives it:

    with load_week(conn, csv_paths, execution.output_columns, target, results_root=root) as week:
        outcomes = check_loaded_week(conn, week, previous_weeks_stats=[...])  # quality package
        if any(outcome.blocks_publish for outcome in outcomes):
            week.discard()
        else:
            ...  # execution and week rows, in the same transaction as the results
    # week.published: row_count, bytes, checksum, parquet_path

`week.summary_stats` goes to `report_data_weeks.summary_stats`, `preview_rows(conn, week)` to
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
from recomamp_pipelines.results.load import (
    LoadedWeek,
    LoadError,
    WeekState,
    load_week,
    preview_rows,
    remove_abandoned_files,
)
from recomamp_pipelines.results.parquet import ResultFileError
from recomamp_pipelines.results.summary_stats import (
    WeekSummary,
    collection_report_metadata,
    collection_totals,
    primary_metric,
    week_over_week_change,
)
from recomamp_pipelines.results.table import (
    SchemaDrift,
    SchemaDriftError,
    TableColumn,
    published_columns,
    schema_drift,
)
from recomamp_pipelines.results.target import (
    ResultTarget,
    ResultTargetError,
    parquet_path,
    results_table_name,
)

__all__ = [
    "LoadError",
    "LoadedWeek",
    "ResultColumn",
    "ResultColumnError",
    "ResultFileError",
    "ResultTarget",
    "ResultTargetError",
    "SchemaDrift",
    "SchemaDriftError",
    "TableColumn",
    "WeekState",
    "WeekSummary",
    "collection_report_metadata",
    "collection_totals",
    "load_week",
    "map_output_column",
    "map_output_columns",
    "parquet_path",
    "preview_rows",
    "primary_metric",
    "published_columns",
    "remove_abandoned_files",
    "results_table_name",
    "schema_drift",
    "week_over_week_change",
]
