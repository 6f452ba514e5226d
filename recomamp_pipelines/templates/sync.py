"""Install the official templates into query_templates, query_template_parameters and
query_template_reports.

Safe to run again and again, and from two processes at once: each official template is found
by its `template_key`, updated in place (never duplicated), and its `version` goes up only
when its SQL changes. Declared output columns travel in `report_config.output_columns`,
beside the dashboard they feed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.templates.official import OfficialTemplate, official_templates
from recomamp_pipelines.templates.params import JsonValue, ParameterDefinition, parameters_schema
from recomamp_pipelines.templates.queries import load

# pg_advisory_xact_lock key of the template library ("tmpllib").
_LOCK_KEY = 0x746D706C6C6962


@dataclass(frozen=True)
class SyncReport:
    """What a sync did to each official template, by key."""

    created: tuple[str, ...] = ()
    # SQL changed: the template's version went up.
    new_version: tuple[str, ...] = ()
    # Description, parameters or dashboard changed; same SQL, same version.
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created or self.new_version or self.updated)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.new_version)} with new SQL (version bumped)",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        return "official templates: " + ", ".join(parts)


def sql_checksum(sql: str) -> str:
    """sha256 (lower-case hex) of a template's SQL, as in query_templates.sql_checksum."""
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def sync(
    conn: psycopg.Connection, templates: Sequence[OfficialTemplate] | None = None
) -> SyncReport:
    """Install or update every official template in one transaction."""
    library = official_templates() if templates is None else tuple(templates)
    outcome: dict[str, list[str]] = {
        "created": [],
        "new_version": [],
        "updated": [],
        "unchanged": [],
    }
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("lock_library"), {"lock_key": _LOCK_KEY})
        for template in library:
            outcome[_sync_template(cur, template)].append(template.key)
    return SyncReport(**{kind: tuple(keys) for kind, keys in outcome.items()})


def _template_row(template: OfficialTemplate) -> dict[str, Any]:
    return {
        "template_key": template.key,
        "name": template.name,
        "description": template.description,
        "category": template.category,
        "sql_template": template.sql,
        "sql_checksum": sql_checksum(template.sql),
        # The legacy column held definitions keyed by name; readers of it still find them there.
        "parameters": {p.name: p.to_mapping() for p in template.parameters},
        "parameters_schema": parameters_schema(template.parameters),
        "report_config": {
            "report_name": template.report.report_name,
            "output_columns": template.output_columns_json(),
            "dashboard_config": dict(template.report.dashboard_config),
        },
        "tags": list(template.tags),
        "difficulty_level": template.difficulty_level,
        "estimated_runtime": template.estimated_runtime,
        "is_official": True,
        "is_public": True,
    }


_JSON_COLUMNS = ("parameters", "parameters_schema", "report_config")


def _bind(row: Mapping[str, Any], json_columns: Sequence[str]) -> dict[str, Any]:
    return {k: Jsonb(v) if k in json_columns and v is not None else v for k, v in row.items()}


def _sync_template(cur: psycopg.Cursor[dict[str, Any]], template: OfficialTemplate) -> str:
    desired = _template_row(template)
    existing = cur.execute(load("installed_template"), {"template_key": template.key}).fetchone()
    if existing is None:
        inserted = cur.execute(load("insert_template"), _bind(desired, _JSON_COLUMNS)).fetchone()
        assert inserted is not None
        _sync_parameters(cur, inserted["id"], template.parameters)
        _sync_report(cur, inserted["id"], template)
        return "created"

    template_id = existing["id"]
    sql_changed = existing["sql_checksum"] != desired["sql_checksum"] or (
        existing["sql_template"] != desired["sql_template"]
    )
    row_changed = any(existing[k] != v for k, v in desired.items() if k != "template_key")
    parameters_changed = _sync_parameters(cur, template_id, template.parameters)
    report_changed = _sync_report(cur, template_id, template)
    if row_changed:
        version = existing["version"] + 1 if sql_changed else existing["version"]
        cur.execute(
            load("update_template"),
            {**_bind(desired, _JSON_COLUMNS), "version": version, "template_id": template_id},
        )
    if sql_changed:
        return "new_version"
    if row_changed or parameters_changed or report_changed:
        return "updated"
    return "unchanged"


def _parameter_row(template_id: uuid.UUID, definition: ParameterDefinition) -> dict[str, Any]:
    return {
        "template_id": template_id,
        "parameter_name": definition.name,
        "parameter_type": definition.type.value,
        "display_name": definition.display_name,
        "description": definition.description,
        "display_order": definition.order,
        "group_name": definition.group,
        "required": definition.required,
        "default_value": definition.default,
        "validation_rules": dict(definition.rules),
        "ui_config": dict(definition.ui_config),
    }


_PARAMETER_JSON = ("default_value", "validation_rules", "ui_config")


def _sync_parameters(
    cur: psycopg.Cursor[dict[str, Any]],
    template_id: uuid.UUID,
    definitions: Sequence[ParameterDefinition],
) -> bool:
    """Make the template's parameter rows match the definitions; True when anything changed."""
    existing = {
        row["parameter_name"]: {"template_id": template_id, **row}
        for row in cur.execute(load("template_parameters"), {"template_id": template_id})
    }
    desired = {d.name: _parameter_row(template_id, d) for d in definitions}
    changed = False
    for name, row in desired.items():
        if existing.get(name) != row:
            cur.execute(load("upsert_parameter"), _bind(row, _PARAMETER_JSON))
            changed = True
    if set(existing) - set(desired):
        cur.execute(
            load("delete_stale_parameters"),
            {"template_id": template_id, "parameter_names": list(desired)},
        )
        changed = True
    return changed


_REPORT_JSON = ("dashboard_config", "field_mappings", "default_filters", "widget_order")


def _report_row(template: OfficialTemplate) -> dict[str, JsonValue]:
    report = template.report
    return {
        "report_name": report.report_name,
        "dashboard_config": dict(report.dashboard_config),
        "field_mappings": dict(report.field_mappings),
        "default_filters": dict(report.default_filters),
        "widget_order": list(report.widget_order),
    }


def _sync_report(
    cur: psycopg.Cursor[dict[str, Any]], template_id: uuid.UUID, template: OfficialTemplate
) -> bool:
    """Keep exactly one report for an official template; True when anything changed."""
    desired = _report_row(template)
    reports = list(cur.execute(load("template_reports"), {"template_id": template_id}))
    keep = next((r for r in reports if r["report_name"] == desired["report_name"]), None)
    if keep is None and reports:
        keep = reports[0]
    stale = [r["id"] for r in reports if keep is None or r["id"] != keep["id"]]
    if stale:
        cur.execute(load("delete_reports"), {"report_ids": stale})
    bound = {**_bind(desired, _REPORT_JSON), "template_id": template_id}
    if keep is None:
        cur.execute(load("insert_report"), bound)
        return True
    if any(keep[k] != v for k, v in desired.items()):
        cur.execute(load("update_report"), {**bound, "report_id": keep["id"]})
        return True
    return bool(stale)
