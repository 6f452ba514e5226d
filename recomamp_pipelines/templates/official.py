"""The official template library: `library/<key>.sql` beside `library/<key>.json`.

The JSON holds the template's metadata, its parameter definitions, its declared output columns
(names and AMC types) and its dashboard configuration. Loading checks the whole template:
valid AMC SQL, every CUSTOM_PARAMETER defined, every defined parameter used, valid defaults,
and a dashboard that only shows declared columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from recomamp_pipelines.amc_sql.catalogue import TABLES
from recomamp_pipelines.templates.amc_sql import (
    AMC_OUTPUT_TYPES,
    AmcSqlError,
    amc_sql_problems,
    check_amc_sql,
)
from recomamp_pipelines.templates.params import (
    DATE_TYPES,
    DefinitionError,
    ParameterDefinition,
)

LIBRARY_DIR = Path(__file__).parent / "library"
TEMPLATE_KEY = re.compile(r"[a-z][a-z0-9_]{2,62}")
_CUSTOM_PARAMETER = re.compile(r"CUSTOM_PARAMETER\s*\(\s*'([^']+)'\s*\)", re.IGNORECASE)
_FILE_KEYS = frozenset(
    {
        "name",
        "description",
        "category",
        "tags",
        "difficulty_level",
        "estimated_runtime",
        "parameters",
        "output_columns",
        "report",
    }
)
_REPORT_KEYS = frozenset(
    {"report_name", "dashboard_config", "field_mappings", "default_filters", "widget_order"}
)
_DIFFICULTIES = ("BEGINNER", "INTERMEDIATE", "ADVANCED")


class TemplateLibraryError(ValueError):
    """A template file that is missing, malformed or inconsistent."""


class UnknownTemplateError(LookupError):
    """No official template by that key."""


@dataclass(frozen=True)
class OutputColumn:
    """A column of a template's results, with the type AMC reports for it."""

    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class ReportConfig:
    """The dashboard of a template, as in query_template_reports."""

    report_name: str
    dashboard_config: Mapping[str, Any]
    field_mappings: Mapping[str, Any]
    default_filters: Mapping[str, Any] = field(default_factory=dict)
    widget_order: Sequence[str] = ()


@dataclass(frozen=True)
class OfficialTemplate:
    """One template of the library."""

    key: str
    name: str
    description: str
    category: str
    sql: str
    parameters: tuple[ParameterDefinition, ...]
    output_columns: tuple[OutputColumn, ...]
    report: ReportConfig
    tags: tuple[str, ...] = ()
    difficulty_level: str = "BEGINNER"
    estimated_runtime: str = ""
    #: AMC paid features whose tables the SQL reads: the instance must subscribe to each.
    paid_features: tuple[str, ...] = ()

    def parameter(self, name: str) -> ParameterDefinition:
        for definition in self.parameters:
            if definition.name == name:
                return definition
        raise KeyError(name)

    def output_columns_json(self) -> list[dict[str, str]]:
        return [
            {"name": c.name, "type": c.type, "description": c.description}
            for c in self.output_columns
        ]


def paid_features_read(sql: str) -> tuple[str, ...]:
    """The AMC paid features (e.g. BRAND_STORE_INSIGHTS) of the tables `sql` reads, sorted."""
    try:
        tables = check_amc_sql(sql).tables
    except AmcSqlError:
        return ()  # template_problems names what is wrong with the SQL
    features = {TABLES[name].paid_feature for name in tables if name in TABLES}
    return tuple(sorted(feature for feature in features if feature))


def custom_parameter_names(sql: str) -> list[str]:
    """Names read by CUSTOM_PARAMETER('name') in `sql`, in order of first use."""
    return list(dict.fromkeys(_CUSTOM_PARAMETER.findall(sql)))


@cache
def official_templates(directory: Path = LIBRARY_DIR) -> tuple[OfficialTemplate, ...]:
    """Every template of the library, checked, sorted by key."""
    sql_files = sorted(directory.glob("*.sql"))
    json_stems = {path.stem for path in directory.glob("*.json")}
    orphans = sorted(json_stems - {path.stem for path in sql_files})
    if orphans:
        raise TemplateLibraryError(f"{directory}: definitions without SQL: {orphans}")
    return tuple(load_template(path) for path in sql_files)


def official_template(key: str, directory: Path = LIBRARY_DIR) -> OfficialTemplate:
    """The official template `key`, or UnknownTemplateError listing the keys there are."""
    templates = official_templates(directory)
    for template in templates:
        if template.key == key:
            return template
    raise UnknownTemplateError(
        f"no official template {key!r}; expected one of {', '.join(t.key for t in templates)}"
    )


def load_template(sql_path: Path) -> OfficialTemplate:
    """Load and check one template from its .sql file and the .json beside it."""
    key = sql_path.stem
    where = f"template {key!r}"
    if not TEMPLATE_KEY.fullmatch(key):
        raise TemplateLibraryError(f"{where}: a key is 3-63 lower-case letters, digits or _")
    json_path = sql_path.with_suffix(".json")
    try:
        raw = json.loads(json_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TemplateLibraryError(f"{where}: {json_path.name} is missing") from exc
    except json.JSONDecodeError as exc:
        raise TemplateLibraryError(f"{where}: {json_path.name}: {exc}") from exc
    unknown = sorted(set(raw) - _FILE_KEYS)
    if unknown:
        raise TemplateLibraryError(f"{where}: unknown keys {unknown} in {json_path.name}")
    sql = sql_path.read_text(encoding="utf-8").strip() + "\n"
    try:
        parameters = tuple(
            sorted(
                (ParameterDefinition.from_mapping(p) for p in raw.get("parameters", [])),
                key=lambda p: (p.order, p.name),
            )
        )
    except (DefinitionError, TypeError, ValueError) as exc:
        raise TemplateLibraryError(f"{where}: {exc}") from exc
    columns = tuple(
        OutputColumn(name=c["name"], type=c["type"], description=c.get("description", ""))
        for c in raw.get("output_columns", [])
    )
    report_raw = raw.get("report") or {}
    if set(report_raw) - _REPORT_KEYS or "report_name" not in report_raw:
        raise TemplateLibraryError(
            f"{where}: report needs report_name and may have {sorted(_REPORT_KEYS)}"
        )
    template = OfficialTemplate(
        key=key,
        name=_required_text(raw, "name", where),
        description=_required_text(raw, "description", where),
        category=_required_text(raw, "category", where),
        sql=sql,
        parameters=parameters,
        output_columns=columns,
        report=ReportConfig(
            report_name=report_raw["report_name"],
            dashboard_config=report_raw.get("dashboard_config") or {},
            field_mappings=report_raw.get("field_mappings") or {},
            default_filters=report_raw.get("default_filters") or {},
            widget_order=tuple(report_raw.get("widget_order") or ()),
        ),
        tags=tuple(raw.get("tags", ())),
        difficulty_level=raw.get("difficulty_level", "BEGINNER"),
        estimated_runtime=raw.get("estimated_runtime", ""),
        paid_features=paid_features_read(sql),
    )
    problems = template_problems(template)
    if problems:
        raise TemplateLibraryError(f"{where}: " + "; ".join(problems))
    return template


def _required_text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TemplateLibraryError(f"{where}: {key} must be a non-empty text")
    return value


def template_problems(template: OfficialTemplate) -> list[str]:
    """Everything inconsistent in a template; empty when it is fit for the library."""
    problems = amc_sql_problems(template.sql)
    defined = [p.name for p in template.parameters]
    duplicates = sorted({n for n in defined if defined.count(n) > 1})
    if duplicates:
        problems.append(f"parameters defined twice: {duplicates}")
    used = custom_parameter_names(template.sql)
    problems += [f"CUSTOM_PARAMETER({n!r}) has no definition" for n in used if n not in defined]
    problems += [
        f"parameter {p.name!r} is never read by CUSTOM_PARAMETER"
        for p in template.parameters
        if p.type not in DATE_TYPES and p.name not in used
    ]
    problems += [
        f"parameter {p.name!r} has no default: every official template runs on its defaults"
        for p in template.parameters
        if p.default is None
    ]
    if "{{" in template.sql:
        problems.append(
            "official templates read values with CUSTOM_PARAMETER, not {{placeholders}}"
        )
    if template.difficulty_level not in _DIFFICULTIES:
        problems.append(f"difficulty_level {template.difficulty_level!r}; expected {_DIFFICULTIES}")
    if not template.output_columns:
        problems.append("no output columns declared")
    names = [c.name for c in template.output_columns]
    problems += [
        f"output column {c.name!r} has type {c.type!r}; expected one of {sorted(AMC_OUTPUT_TYPES)}"
        for c in template.output_columns
        if c.type not in AMC_OUTPUT_TYPES
    ]
    problems += [
        f"dashboard uses undeclared column {f!r}"
        for f in _report_fields(template.report)
        if f not in names
    ]
    widget_ids = [w.get("id") for w in template.report.dashboard_config.get("widgets", [])]
    if list(template.report.widget_order) != [] and sorted(template.report.widget_order) != sorted(
        widget_ids
    ):
        problems.append("widget_order must list every widget id once")
    return problems


def _report_fields(report: ReportConfig) -> list[str]:
    fields: list[str] = []
    for widget in report.dashboard_config.get("widgets", []):
        for key in ("field", "x"):
            if isinstance(widget.get(key), str):
                fields.append(widget[key])
        for key in ("y", "columns"):
            fields.extend(widget.get(key) or [])
    for group in report.field_mappings.values():
        fields.extend(group)
    return list(dict.fromkeys(fields))
