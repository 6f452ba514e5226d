"""`recomamp workflows`: workflows saved from templates."""

from __future__ import annotations

import json

import typer

from recomamp_pipelines.cli.common import (
    JSON_OPTION,
    WIDE_OPTION,
    fail,
    print_rows,
    settings,
    user_errors,
)
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.db.listing import list_workflows
from recomamp_pipelines.templates.catalog import TemplateNotFoundError, find_template
from recomamp_pipelines.templates.params import ParameterError, parse_text_value
from recomamp_pipelines.templates.render import RenderError
from recomamp_pipelines.templates.workflows import WorkflowOwnerError, create_workflow

app = typer.Typer(help="Workflows saved from templates.", no_args_is_help=True)


def _parse_params(pairs: list[str]) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--param {pair!r}: expected NAME=VALUE")
        texts.setdefault(key.strip(), []).append(value)
    return texts


@app.command()
def create(
    user: str = typer.Option(..., "--user", help="Email of the user who owns the workflow."),
    instance: str = typer.Option(
        ..., "--instance", help="AMC instance id (e.g. amcibersblt), one of the user's instances."
    ),
    template: str = typer.Option(..., "--template", help="Template key or name."),
    param: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [],
        "--param",
        help=(
            "NAME=VALUE, repeatable. Lists: comma-separated, a JSON array, or the option "
            "repeated; date ranges: START..END; omitted parameters take their defaults."
        ),
    ),
    name: str | None = typer.Option(None, "--name", help="Workflow name (default: template name)."),
) -> None:
    """Save a workflow from a template for a user, validating every parameter."""
    config = settings()
    texts = _parse_params(param)
    with user_errors(), connect(database_url(config)) as conn:
        try:
            definitions = {p.name: p for p in find_template(conn, template).parameters}
            unknown = sorted(set(texts) - set(definitions))
            if unknown:
                fail(
                    f"--param {unknown[0]}: template {template!r} has no such parameter; "
                    f"its parameters: {', '.join(definitions) or 'none'}"
                )
            values = {key: parse_text_value(definitions[key], t) for key, t in texts.items()}
            created = create_workflow(
                conn,
                user_email=user,
                amc_instance_id=instance,
                template_name=template,
                values=values,
                name=name,
            )
        except (TemplateNotFoundError, WorkflowOwnerError, ParameterError, RenderError) as exc:
            fail(str(exc))
    typer.echo(
        f"Created workflow {created.name!r} ({created.workflow_id}) from "
        f"{created.template.key or created.template.name} v{created.template.version}"
    )
    typer.echo("Parameters: " + json.dumps(created.parameters, sort_keys=True))


@app.command("list")
def list_command(as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """List workflows: id, name, owner, AMC instance and template."""
    with user_errors(), connect(database_url(settings())) as conn:
        rows = list_workflows(conn)
    columns = [
        ("workflow_id", "id"),
        ("name", "name"),
        ("owner", "owner"),
        ("amc_instance_id", "instance"),
        ("template_name", "template"),
    ]
    print_rows(rows, columns, as_json=as_json, wide=wide, empty="no workflows yet")
