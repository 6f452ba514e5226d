"""`recomamp workflows`: workflows saved from templates or from a user's own AMC SQL."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from recomamp_pipelines.amc.client import PollPolicy
from recomamp_pipelines.amc.errors import AmcBadRequest
from recomamp_pipelines.amc.models import AmcExecution, AmcStatus, ProjectStatus, TimeWindow
from recomamp_pipelines.attempt.owner import owner_client
from recomamp_pipelines.cli.common import (
    EXIT_AMC_UNREACHABLE,
    JSON_OPTION,
    WIDE_OPTION,
    fail,
    print_rows,
    settings,
    user_errors,
)
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.db.listing import list_workflows
from recomamp_pipelines.settings import Settings
from recomamp_pipelines.templates.amc_sql import AmcSqlError
from recomamp_pipelines.templates.catalog import TemplateNotFoundError, find_template
from recomamp_pipelines.templates.params import PARAMETER_NAME, ParameterError, parse_text_value
from recomamp_pipelines.templates.render import RenderedQuery, RenderError
from recomamp_pipelines.templates.workflows import (
    SqlParameterInput,
    SqlParameterType,
    SqlWorkflowDraft,
    SqlWorkflowError,
    WorkflowOwner,
    WorkflowOwnerError,
    create_workflow,
    draft_sql_workflow,
    find_workflow_owner,
    save_sql_workflow,
)

app = typer.Typer(
    help="Workflows saved from templates or from your own AMC SQL.", no_args_is_help=True
)

_TYPES = ", ".join(t.value for t in SqlParameterType)


def _split_param(pair: str) -> tuple[str, str | None, str]:
    """NAME[:TYPE]=VALUE as (name, type or None, value)."""
    key, sep, value = pair.partition("=")
    name, colon, kind = key.strip().partition(":")
    if not sep or not name.strip():
        fail(f"--param {pair!r}: expected NAME=VALUE (or NAME:TYPE=VALUE with --sql-file)")
    return name.strip(), kind.strip() if colon else None, value


def _template_params(pairs: list[str]) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for pair in pairs:
        name, kind, value = _split_param(pair)
        if kind is not None:
            fail(
                f"--param {pair!r}: a template declares its parameters' types; write "
                f"{name}=VALUE (NAME:TYPE=VALUE is for --sql-file)"
            )
        texts.setdefault(name, []).append(value)
    return texts


def _sql_params(pairs: list[str]) -> dict[str, SqlParameterInput]:
    texts: dict[str, list[str]] = {}
    declared: dict[str, SqlParameterType | None] = {}
    for pair in pairs:
        name, kind, value = _split_param(pair)
        if not PARAMETER_NAME.fullmatch(name):
            fail(
                f"--param {pair!r}: {name!r} is not a parameter name (letters, digits and _, "
                "as in CUSTOM_PARAMETER('name'))"
            )
        try:
            typed = SqlParameterType(kind.lower()) if kind else None
        except ValueError:
            fail(f"--param {pair!r}: type {kind!r} is not one of {_TYPES}")
        if name in declared and typed is not None and declared[name] not in (None, typed):
            fail(f"--param {pair!r}: {name} was declared {declared[name]} before, not {typed}")
        declared[name] = typed or declared.get(name)
        texts.setdefault(name, []).append(value)
    return {
        name: SqlParameterInput(texts=tuple(values), declared=declared[name])
        for name, values in texts.items()
    }


@app.command()
def create(
    user: str = typer.Option(..., "--user", help="Email of the user who owns the workflow."),
    instance: str = typer.Option(
        ..., "--instance", help="AMC instance id (e.g. amcibersblt), one of the user's instances."
    ),
    template: str | None = typer.Option(
        None, "--template", help="Template key or name (or give --sql-file instead)."
    ),
    sql_file: str | None = typer.Option(
        None,
        "--sql-file",
        help="A file of your own AMC SQL, one query (or give --template instead).",
    ),
    param: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [],
        "--param",
        help=(
            "NAME=VALUE, repeatable. Lists: comma-separated, a JSON array, or the option "
            "repeated; date ranges: START..END; omitted template parameters take their "
            f"defaults. With --sql-file: NAME:TYPE=VALUE declares the type ({_TYPES})."
        ),
    ),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Workflow name (default: the template's name, or the SQL file's, and the instance).",
    ),
    wait: float = typer.Option(
        600.0, "--wait", min=0.1, help="With --sql-file: seconds to wait for AMC's dry-run verdict."
    ),
) -> None:
    """Save a workflow for a user: from a template, or from your own AMC SQL.

    With --template, every parameter is validated against the template's definitions.

    With --sql-file, the query is checked as AMC compiles it (a refusal names line and column).
    Each name read by CUSTOM_PARAMETER('name') needs a value, --param name=VALUE, and no other
    name may be given; start_date, end_date and the other names of the run's window take each
    run's dates. A parameter's type is the one declared (--param name:TYPE=VALUE, TYPE one of
    list, string, number, date, boolean), else list where ARRAY_CONTAINS, CARDINALITY or
    another array function reads it, else what its value reads as: a number, a date
    (YYYY-MM-DD), true or false, a list (a JSON array, or the option repeated), or text. The
    rendered query then goes to AMC as a dry run over the last seven days with complete data;
    nothing is saved unless AMC accepts it.
    """
    if template is not None and sql_file is not None:
        fail(
            f"give --template or --sql-file, not both (got --template {template!r} and "
            f"--sql-file {sql_file!r})"
        )
    if sql_file is not None:
        _create_from_sql(user, instance, sql_file, param, name, wait)
    elif template is not None:
        _create_from_template(user, instance, template, param, name)
    else:
        fail(
            "give --template NAME (a template of the library, see `recomamp templates list`) "
            "or --sql-file FILE (your own AMC SQL)"
        )


def _create_from_template(
    user: str, instance: str, template: str, param: list[str], name: str | None
) -> None:
    config = settings()
    texts = _template_params(param)
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


def _read_sql(sql_file: str) -> str:
    path = Path(sql_file)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"--sql-file {sql_file!r}: no such file")
    except IsADirectoryError:
        fail(f"--sql-file {sql_file!r} is a directory; expected a file of AMC SQL")
    except UnicodeDecodeError:
        fail(f"--sql-file {sql_file!r}: not UTF-8 text; expected a file of AMC SQL")
    except OSError as exc:
        fail(f"--sql-file {sql_file!r}: {exc.strerror}")


def _create_from_sql(
    user: str, instance: str, sql_file: str, param: list[str], name: str | None, wait: float
) -> None:
    source = Path(sql_file).name
    text = _read_sql(sql_file)
    inputs = _sql_params(param)
    config = settings()
    try:
        draft = draft_sql_workflow(text, inputs)
    except (AmcSqlError, SqlWorkflowError, ParameterError, RenderError) as exc:
        fail(f"{source}: {exc}; nothing saved")
    with user_errors():
        with connect(database_url(config)) as conn:
            try:
                owner = find_workflow_owner(conn, user, instance)
            except WorkflowOwnerError as exc:
                fail(str(exc))
        try:
            rendered = draft.render_for_check(owner.timezone)
        except (ParameterError, RenderError) as exc:
            fail(f"{source}: {exc}; nothing saved")
        verdict = _dry_run(config, owner, rendered, wait, source)
        with connect(database_url(config)) as conn:
            saved = save_sql_workflow(
                conn,
                owner,
                draft,
                name=name or f"{Path(sql_file).stem} ({instance})",
                description=f"AMC SQL saved from {source}",
            )
    window = rendered.window
    typer.echo(
        f"AMC accepted {source} in a dry run (execution {verdict.workflow_execution_id}, "
        f"{window.amc_start} .. {window.amc_end} {window.timezone})."
    )
    typer.echo(f"Created workflow {saved.name!r} ({saved.workflow_id}) from {source}")
    typer.echo("Parameters: " + json.dumps(saved.parameters, sort_keys=True))
    _echo_types(draft)
    typer.echo("Output columns: " + ", ".join(draft.output_names))


def _echo_types(draft: SqlWorkflowDraft) -> None:
    for parameter in draft.parameters:
        typer.echo(f"  {parameter.name}: {parameter.type.value} ({parameter.typed_by})")


def _dry_run(
    config: Settings, owner: WorkflowOwner, rendered: RenderedQuery, wait: float, source: str
) -> AmcExecution:
    """AMC's dry-run verdict on the rendered query, as the owner; a refusal ends the command."""
    window = TimeWindow(rendered.window.start, rendered.window.end, rendered.window.timezone)
    policy = PollPolicy(
        initial_interval=config.amc_poll_initial_seconds,
        max_interval=max(config.amc_poll_max_seconds, config.amc_poll_initial_seconds),
        max_wait=wait,
    )
    with owner_client(
        config,
        user_email=owner.email,
        encrypted_refresh_token=owner.encrypted_refresh_token,
        amc_account_id=owner.amc_account_id,
    ) as client:
        try:
            verdict = client.instance(owner.amc_instance_id).dry_run(
                window,
                rendered.sql,
                parameter_values=rendered.parameter_values,
                input_parameters=[
                    {"name": p["name"], "dataType": p["dataType"]}
                    for p in rendered.input_parameters
                ],
                policy=policy,
            )
        except AmcBadRequest as exc:
            fail(f"{source}: AMC refused it in a dry run: {exc.amc_message or exc}; nothing saved")
    if verdict.status is ProjectStatus.TIMEOUT:
        fail(
            f"{source}: no verdict from AMC's dry run {verdict.workflow_execution_id} within "
            f"{wait:g} s ({verdict.status_reason}); nothing saved (try again, or a longer --wait)",
            EXIT_AMC_UNREACHABLE,
        )
    if verdict.amc_status is not AmcStatus.SUCCEEDED:
        fail(
            f"{source}: AMC's dry run {verdict.workflow_execution_id} ended "
            f"{verdict.amc_status.value}: {verdict.status_reason}; nothing saved"
        )
    return verdict


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
