"""`recomamp templates`: the AMC query template library."""

from __future__ import annotations

import json

import typer

from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.templates.catalog import (
    TemplateNotFoundError,
    find_template,
    installed_templates,
)
from recomamp_pipelines.templates.official import TemplateLibraryError
from recomamp_pipelines.templates.sync import sync as sync_library

app = typer.Typer(help="The AMC query template library: list, show, install.", no_args_is_help=True)


@app.command("list")
def list_templates() -> None:
    """List the templates installed in the database."""
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        templates = installed_templates(conn)
    if not templates:
        typer.echo("No templates installed; run `recomamp templates sync`.")
        return
    typer.echo(f"{'KEY':<28} {'VERSION':>7}  {'CATEGORY':<15} NAME")
    for template in templates:
        key = template.key or "(user template)"
        typer.echo(f"{key:<28} {template.version:>7}  {template.category:<15} {template.name}")


@app.command()
def show(
    name: str = typer.Argument(..., help="The template's key (e.g. asin_performance) or name."),
    sql: bool = typer.Option(True, "--sql/--no-sql", help="Print the template's SQL too."),
) -> None:
    """Show a template: description, parameters, output columns and SQL."""
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        try:
            template = find_template(conn, name)
        except TemplateNotFoundError as exc:
            fail(str(exc))
    typer.echo(f"{template.name} [{template.key or 'user template'}] version {template.version}")
    typer.echo(f"Category: {template.category}")
    typer.echo(template.description)
    typer.echo("\nParameters:")
    for p in template.parameters:
        required = "required" if p.required and p.default is None else "optional"
        typer.echo(f"  {p.name} ({p.type.value}, {required}): {p.display_name}")
        if p.description:
            typer.echo(f"      {p.description}")
        typer.echo(f"      default: {json.dumps(p.default)}")
        if p.rules:
            typer.echo(f"      rules: {json.dumps(dict(p.rules))}")
    typer.echo("\nOutput columns:")
    for column in template.output_columns:
        typer.echo(f"  {column.name} {column.type}  {column.description}")
    if sql:
        typer.echo("\nSQL:\n" + template.sql)


@app.command()
def sync() -> None:
    """Install or update the official templates (safe to run again)."""
    config = settings()
    with user_errors(), connect(database_url(config)) as conn:
        try:
            report = sync_library(conn)
        except TemplateLibraryError as exc:
            fail(str(exc))
    typer.echo(report.summary())
    for label, keys in (
        ("created", report.created),
        ("new SQL, version bumped", report.new_version),
        ("updated", report.updated),
    ):
        for key in keys:
            typer.echo(f"  {label}: {key}")
