"""Templates as installed in the database: what users list, show and instantiate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.templates.official import OutputColumn
from recomamp_pipelines.templates.params import (
    MappedSource,
    ParameterDefinition,
    ParameterError,
    ParameterType,
)
from recomamp_pipelines.templates.queries import load


class TemplateNotFoundError(LookupError):
    """No installed template by that key or name."""


@dataclass(frozen=True)
class InstalledTemplate:
    """A row of query_templates with its parameter definitions and declared output columns."""

    template_id: uuid.UUID
    key: str | None
    name: str
    description: str
    category: str
    version: int
    sql: str
    is_official: bool
    usage_count: int
    parameters: tuple[ParameterDefinition, ...]
    output_columns: tuple[OutputColumn, ...]


def _output_columns(report_config: Any) -> tuple[OutputColumn, ...]:
    columns = (report_config or {}).get("output_columns") or []
    return tuple(
        OutputColumn(name=c["name"], type=c["type"], description=c.get("description", ""))
        for c in columns
    )


def template_parameters(
    conn: psycopg.Connection, template_id: uuid.UUID
) -> tuple[ParameterDefinition, ...]:
    """The parameter definitions of a template, in display order."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("template_parameters"), {"template_id": template_id}).fetchall()
    return tuple(ParameterDefinition.from_mapping(row) for row in rows)


def _installed(conn: psycopg.Connection, row: dict[str, Any]) -> InstalledTemplate:
    return InstalledTemplate(
        template_id=row["id"],
        key=row["template_key"],
        name=row["name"],
        description=row["description"] or "",
        category=row["category"],
        version=row["version"],
        sql=row["sql_template"],
        is_official=bool(row["is_official"]),
        usage_count=row["usage_count"] or 0,
        parameters=template_parameters(conn, row["id"]),
        output_columns=_output_columns(row["report_config"]),
    )


def installed_templates(conn: psycopg.Connection) -> list[InstalledTemplate]:
    """Every template in the database, official ones first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("installed_templates")).fetchall()
    return [_installed(conn, row) for row in rows]


def find_template(conn: psycopg.Connection, name: str) -> InstalledTemplate:
    """The template with this key, else the one with this name (case-insensitive)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("find_template"), {"name": name}).fetchall()
    if not rows:
        raise TemplateNotFoundError(
            f"no template with key or name {name!r}; `recomamp templates list` shows them "
            "(run `recomamp templates sync` to install the official ones)"
        )
    if rows[0]["template_key"] != name and len(rows) > 1:
        raise TemplateNotFoundError(
            f"several templates are called {name!r}; give the template key instead"
        )
    return _installed(conn, rows[0])


def check_mapped_source(
    conn: psycopg.Connection,
    definition: ParameterDefinition,
    source: MappedSource,
    *,
    user_id: uuid.UUID,
) -> None:
    """A mapped_from_node source must be a workflow of the same user, made from a template
    that declares the column among its output columns."""
    if definition.type is not ParameterType.MAPPED_FROM_NODE:
        raise ValueError(f"parameter {definition.name!r} is not a mapped_from_node parameter")
    shown = {"workflow_id": source.workflow_id, "column": source.column}
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            load("workflow_output_columns"),
            {"workflow_id": source.workflow_id, "user_id": user_id},
        ).fetchone()
    if row is None:
        raise ParameterError(definition.name, shown, "the id of one of this user's workflows")
    columns = [c["name"] for c in row["output_columns"] or []]
    if not columns:
        raise ParameterError(
            definition.name,
            shown,
            f"a workflow with declared output columns; {row['name']!r} was not made from a "
            "template that declares them",
        )
    if source.column not in columns:
        raise ParameterError(
            definition.name, shown, f"one of the output columns of {row['name']!r}: {columns}"
        )


def mapped_sources(
    definitions: Sequence[ParameterDefinition], values: dict[str, Any]
) -> list[tuple[ParameterDefinition, MappedSource]]:
    """The mapped_from_node parameters among validated values, with their sources."""
    return [
        (d, values[d.name])
        for d in definitions
        if d.type is ParameterType.MAPPED_FROM_NODE and isinstance(values.get(d.name), MappedSource)
    ]
