"""The AMC data sources the simulator serves: Amazon's catalogue, shared with the pipeline."""

from __future__ import annotations

from recomamp_pipelines.amc_sql.catalogue import (
    PAID_FEATURES,
    TABLES,
    Column,
    Table,
    duckdb_schema,
    tables_for,
)

__all__ = ["PAID_FEATURES", "TABLES", "Column", "Table", "duckdb_schema", "tables_for"]
