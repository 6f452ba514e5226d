"""AMC's data sources, read from `catalogue.json` (one entry per table of Amazon's reference).

Each table has its documented columns (name, data type, metric or dimension, aggregation
threshold), its family (dsp, sponsored_ads, conversions, audience_segments, ...), the paid
feature that unlocks it (None for the tables every instance has) and its main event time.
`_for_audiences` twins share their analytics table's columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CATALOGUE_FILE = Path(__file__).parent / "catalogue.json"

#: Aggregation thresholds whose columns may never appear in a query's output.
NEVER_OUTPUT = frozenset({"VERY_HIGH", "INTERNAL"})
#: Aggregation thresholds whose columns may not be compared with literal values.
NO_LITERAL_FILTERS = frozenset({"HIGH", "VERY_HIGH"})

_SCALAR_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "LONG": "BIGINT",
    "INTEGER": "INTEGER",
    "DOUBLE": "DOUBLE",
    "DECIMAL": "DECIMAL(38,4)",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
}


def duckdb_type(data_type: str) -> str:
    """The DuckDB type of an AMC column type (`ARRAY<LONG>` -> `BIGINT[]`)."""
    if data_type.startswith("ARRAY<") and data_type.endswith(">"):
        return f"{duckdb_type(data_type[6:-1])}[]"
    return _SCALAR_DUCKDB_TYPES[data_type]


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    sensitivity: str = "LOW"
    column_type: str = "DIMENSION"
    description: str = ""

    def as_api(self) -> dict[str, object]:
        return {
            "name": self.name,
            "dataType": self.data_type,
            "columnType": self.column_type,
            "aggregationThreshold": self.sensitivity,
            "description": self.description,
        }


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    event_time: str | None
    columns: tuple[Column, ...]
    family: str = "dsp"
    paid_feature: str | None = None
    audience_twin_of: str | None = None
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name.lower())

    @property
    def analytics_name(self) -> str:
        """The analytics table this one is (itself, or the table an audience twin mirrors)."""
        return self.audience_twin_of or self.name

    def as_api(self) -> dict[str, object]:
        return {
            "dataSourceId": self.name,
            "description": self.description,
            "owner": "AMAZON",
            "provider": "AMAZON",
            "family": self.family,
            "paidFeature": self.paid_feature,
            "mainEventTimeColumn": self.event_time,
            "columns": [c.as_api() for c in self.columns],
        }


def _load() -> dict[str, Table]:
    raw = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    tables: dict[str, Table] = {}
    for entry in raw["tables"]:
        twin = entry.get("audience_twin_of")
        if twin is not None:
            base = tables[twin]
            tables[entry["name"]] = Table(
                entry["name"],
                f"{base.description} Audience table: for AMC Audiences queries.",
                base.event_time,
                base.columns,
                base.family,
                base.paid_feature,
                twin,
            )
            continue
        columns = tuple(
            Column(name, data_type, threshold, column_type)
            for name, data_type, column_type, threshold in entry["columns"]
        )
        tables[entry["name"]] = Table(
            entry["name"],
            entry["description"],
            entry["main_event_time"],
            columns,
            entry["family"],
            entry["paid_feature"],
        )
    return tables


TABLES: dict[str, Table] = _load()
#: Paid features and the tables each unlocks.
PAID_FEATURES: dict[str, frozenset[str]] = {
    feature: frozenset(t.name for t in TABLES.values() if t.paid_feature == feature)
    for feature in sorted({t.paid_feature for t in TABLES.values() if t.paid_feature})
}


def tables_for(paid_features: frozenset[str] | set[str] | None = None) -> dict[str, Table]:
    """The tables an instance with `paid_features` sees (None: every table)."""
    if paid_features is None:
        return TABLES
    return {
        name: table
        for name, table in TABLES.items()
        if table.paid_feature is None or table.paid_feature in paid_features
    }


def duckdb_schema(tables: dict[str, Table] | None = None) -> dict[str, dict[str, str]]:
    """Table -> column -> DuckDB type, for sqlglot's qualification and type checks."""
    return {
        t.name: {c.name: duckdb_type(c.data_type) for c in t.columns}
        for t in (tables or TABLES).values()
    }
