"""Save a workflow from a template for a user: parameters validated, parameter set recorded."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.templates.catalog import (
    InstalledTemplate,
    check_mapped_source,
    find_template,
    mapped_sources,
)
from recomamp_pipelines.templates.params import JsonValue, to_json, validate_parameters
from recomamp_pipelines.templates.queries import load
from recomamp_pipelines.templates.render import UnresolvedParameterError, unresolved_names


class WorkflowOwnerError(LookupError):
    """The user or their AMC instance does not exist."""


@dataclass(frozen=True)
class CreatedWorkflow:
    """A workflow saved from a template, and the parameter set recorded for it."""

    workflow_id: uuid.UUID
    template_instance_id: uuid.UUID
    name: str
    template: InstalledTemplate
    parameters: dict[str, JsonValue]


def create_workflow(
    conn: psycopg.Connection,
    *,
    user_email: str,
    amc_instance_id: str,
    template_name: str,
    values: Mapping[str, object],
    name: str | None = None,
) -> CreatedWorkflow:
    """Save a workflow from the template `template_name` on the user's AMC instance.

    `amc_instance_id` is AMC's instance id (e.g. 'amcibersblt'), looked up among the user's own
    instances. Every parameter is validated (defaults fill the gaps) and every name the SQL
    reads must have a value. The workflow, the query_template_instances record and the
    template's usage count are written together.
    """
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        user = cur.execute(load("find_user"), {"email": user_email.strip()}).fetchone()
        if user is None:
            raise WorkflowOwnerError(
                f"no user with email {user_email!r}; add one with `recomamp users add`"
            )
        instances = cur.execute(load("user_instances"), {"user_id": user["id"]}).fetchall()
        instance = next((i for i in instances if i["instance_id"] == amc_instance_id), None)
        if instance is None:
            known = ", ".join(i["instance_id"] for i in instances) or "none"
            raise WorkflowOwnerError(
                f"user {user['email']} has no AMC instance {amc_instance_id!r} (their "
                f"instances: {known})"
            )
        template = find_template(conn, template_name)
        validated = validate_parameters(template.parameters, values)
        for definition, source in mapped_sources(template.parameters, validated):
            check_mapped_source(conn, definition, source, user_id=user["id"])
        parameters = {
            d.name: to_json(d, validated[d.name])
            for d in template.parameters
            if d.name in validated
        }
        missing = unresolved_names(template.sql, template.parameters, parameters)
        if missing:
            raise UnresolvedParameterError(missing)
        workflow_name = name or f"{template.name} ({amc_instance_id})"
        workflow = cur.execute(
            load("insert_workflow"),
            {
                "name": workflow_name,
                "description": template.description,
                "sql_query": template.sql,
                "user_id": user["id"],
                "instance_id": instance["id"],
                "template_id": template.template_id,
                "parameters": Jsonb(parameters),
                "tags": [template.key] if template.key else [],
            },
        ).fetchone()
        record = cur.execute(
            load("insert_template_instance"),
            {
                "template_id": template.template_id,
                "user_id": user["id"],
                "instance_name": workflow_name,
                "saved_parameters": Jsonb(parameters),
            },
        ).fetchone()
        cur.execute(load("count_template_use"), {"template_id": template.template_id})
    assert workflow is not None and record is not None
    return CreatedWorkflow(
        workflow_id=workflow["id"],
        template_instance_id=record["id"],
        name=workflow_name,
        template=template,
        parameters=parameters,
    )
