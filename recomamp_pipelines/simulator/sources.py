"""Every AMC table as a view over one of the simulator's generated base views.

Six base views (views.sql) hold the generated events: DSP impressions and clicks, sponsored ads
traffic, attributed conversions by conversion and by traffic time, and conversions. Every table
of the catalogue, the six included, is a view over one of them (`sql/sources.json` says which,
with which rows kept), so that all tables see the same users, campaigns, ASINs and events.
A documented column is, in this order: the base's column of that name; another base column
named in `same_as`; the `_string` form of an id column; a part of an event time (`_dt`,
`_date`, `_day`, `_hour`, `_dt_hour`, with or without `_utc`) of the base's time of that prefix
(or the prefix named in `time_prefixes`); or a value drawn from a hash of the row's user and
event time, typed as documented. Drawn user-level values (a user's segment, vehicle, ...) hash
the user alone, so they agree wherever the user appears.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from recomamp_pipelines.amc_sql.catalogue import TABLES, Column, Table, duckdb_type

SOURCES_FILE = Path(__file__).parent / "sql" / "sources.json"
_TIME_PART = re.compile(r"^(?P<prefix>.+?)_(?P<part>dt_hour|dt|date|day|hour)(?P<utc>_utc)?$")
_EVENT_TIME = re.compile(r"^(?P<prefix>.+)_dt_utc$")


@dataclass(frozen=True)
class SourceSpec:
    """Where an AMC table's rows come from."""

    base: str
    keep: str | None = None
    time_prefixes: dict[str, str] = field(default_factory=dict)
    same_as: dict[str, str] = field(default_factory=dict)


@cache
def _raw() -> dict[str, object]:
    loaded = json.loads(SOURCES_FILE.read_text(encoding="utf-8"))
    return dict(loaded)


def base_views() -> tuple[str, ...]:
    """The generated base views, by AMC table name."""
    return tuple(str(b) for b in _raw()["bases"])  # type: ignore[attr-defined]


@cache
def source_spec(table_name: str) -> SourceSpec:
    """How `table_name` (an AMC table, audience twins included) is served."""
    table = TABLES[table_name]
    name = table.analytics_name
    if name in base_views():
        return SourceSpec(name)
    specs: dict[str, dict[str, object]] = _raw()["tables"]  # type: ignore[assignment]
    for pattern, raw in specs.items():
        if fnmatch.fnmatchcase(name, pattern):
            return SourceSpec(
                str(raw["base"]),
                str(raw["keep"]) if raw.get("keep") else None,
                dict(raw.get("time_prefixes") or {}),  # type: ignore[call-overload]
                dict(raw.get("same_as") or {}),  # type: ignore[call-overload]
            )
    raise KeyError(f"AMC table {table_name!r} has no source in sources.json")


def base_view_name(base: str) -> str:
    return f"__base_{base}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _event_time(base_columns: dict[str, str]) -> str:
    for name in base_columns:
        if _EVENT_TIME.match(name):
            return f"b.{_quoted(name)}"
    raise ValueError("base view without an event time")


def _time_part(part: str, moment: str) -> str:
    return {
        "dt": moment,
        "date": f"cast({moment} as date)",
        "day": f"cast(day({moment}) as integer)",
        "hour": f"cast(hour({moment}) as integer)",
        "dt_hour": f"date_trunc('hour', {moment})",
    }[part]


def _drawn(column: Column, event_time: str) -> str:
    """A deterministic value of the column's documented type for one row."""
    target = duckdb_type(column.data_type)
    per_user = column.column_type == "DIMENSION"
    seed = f"b.user_id, {_literal(column.name)}" if per_user else f"b.user_id, {event_time}, "
    seed = seed if per_user else seed + _literal(column.name)
    draw = f"hash({seed})"
    data_type = column.data_type
    if data_type.startswith("ARRAY<"):
        element = duckdb_type(data_type[6:-1])
        return f"[cast({draw} % 1000 as {element})]"
    if data_type == "BOOLEAN":
        return f"({draw} % 4 = 0)"
    if data_type == "STRING":
        return f"{_literal(column.name + ' ')} || cast({draw} % 6 + 1 as varchar)"
    if data_type in ("LONG", "INTEGER"):
        if column.column_type == "METRIC":
            return f"cast({draw} % 2 as {target})"
        # Few distinct values, as segment, category and id dimensions have.
        return f"cast({draw} % 24 as {target})"
    if data_type in ("DOUBLE", "DECIMAL"):
        return f"cast(({draw} % 10000) / 100.0 as {target})"
    if data_type == "DATE":
        return f"cast({event_time} as date)"
    if data_type == "TIMESTAMP":
        return event_time
    raise ValueError(f"column {column.name}: no generator for type {data_type}")


def column_expression(
    column: Column, spec: SourceSpec, base_columns: dict[str, str], event_time: str
) -> str:
    """The SQL giving `column` from the base row `b`, cast to the column's documented type."""
    target = duckdb_type(column.data_type)
    name = column.name
    source = name if name in base_columns else spec.same_as.get(name)
    if source is None and name.endswith("_string") and name[: -len("_string")] in base_columns:
        source = name[: -len("_string")]
    if source is not None:
        if base_columns.get(source, "").upper() == target.upper():
            return f"b.{_quoted(source)}"
        return f"try_cast(b.{_quoted(source)} as {target})"
    if name == "user_id_type":
        return "'adUserId'"
    match = _TIME_PART.match(name)
    if match and column.data_type in ("TIMESTAMP", "DATE", "INTEGER", "LONG"):
        prefix = spec.time_prefixes.get(match["prefix"], match["prefix"])
        utc = f"{prefix}_dt_utc"
        local = f"{prefix}_dt"
        chosen = utc if match["utc"] else local
        if chosen not in base_columns:
            chosen = utc if utc in base_columns else ""
        if chosen:
            return f"cast({_time_part(match['part'], f'b.{_quoted(chosen)}')} as {target})"
    return _drawn(column, event_time)


def view_sql(table: Table, base_columns: dict[str, str]) -> str:
    """`create temp view` of an AMC table over its base view (aliased `b`)."""
    spec = source_spec(table.name)
    event_time = _event_time(base_columns)
    columns = ",\n    ".join(
        f"{column_expression(c, spec, base_columns, event_time)} as {_quoted(c.name)}"
        for c in table.columns
    )
    where = f"\nwhere {spec.keep}" if spec.keep else ""
    return (
        f"create or replace temp view {_quoted(table.name)} as\nselect\n    {columns}\n"
        f"from {_quoted(base_view_name(spec.base))} as b{where}"
    )
