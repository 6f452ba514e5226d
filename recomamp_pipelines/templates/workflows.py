"""Save a workflow for a user: from a template, or from the user's own AMC SQL.

From a template: parameters validated against the template's definitions, the parameter set
recorded. From the user's own SQL: the query checked by the shared AMC SQL front end, its
`CUSTOM_PARAMETER('name')` calls declaring the parameters, each value typed and validated, and
the workflow saved without a template: its values' JSON shapes (list, text, number, boolean)
are the types its runs read them with.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlglot import exp

from recomamp_pipelines.amc_sql.frontend import node_position
from recomamp_pipelines.templates.amc_sql import check_amc_sql, parse_amc_sql
from recomamp_pipelines.templates.catalog import (
    InstalledTemplate,
    check_mapped_source,
    find_template,
    mapped_sources,
)
from recomamp_pipelines.templates.dates import data_horizon
from recomamp_pipelines.templates.params import (
    JsonValue,
    ParameterDefinition,
    ParameterError,
    ParameterType,
    parse_text_value,
    to_json,
    validate_parameters,
    validate_value,
)
from recomamp_pipelines.templates.queries import load
from recomamp_pipelines.templates.render import (
    RUN_DATE_NAMES,
    RenderedQuery,
    RunWindow,
    UnresolvedParameterError,
    render,
    unresolved_names,
)


class WorkflowOwnerError(LookupError):
    """The user or their AMC instance does not exist."""


class SqlWorkflowError(ValueError):
    """A user's own SQL cannot be saved with these parameters: names the parameter and why."""


@dataclass(frozen=True)
class WorkflowOwner:
    """The user a workflow is saved for, and the AMC instance it runs on."""

    user_id: uuid.UUID
    email: str
    timezone: str
    encrypted_refresh_token: str | None
    instance_row_id: uuid.UUID
    amc_instance_id: str
    amc_account_id: str

    def __repr__(self) -> str:
        return f"WorkflowOwner({self.email}, instance={self.amc_instance_id})"


def find_workflow_owner(
    conn: psycopg.Connection, user_email: str, amc_instance_id: str
) -> WorkflowOwner:
    """The user with this email and their AMC instance `amc_instance_id` (AMC's instance id)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("workflow_owner"), {"email": user_email.strip()}).fetchall()
    if not rows:
        raise WorkflowOwnerError(
            f"no user with email {user_email!r}; add one with `recomamp users add`"
        )
    row = next((r for r in rows if r["amc_instance_id"] == amc_instance_id), None)
    if row is None:
        known = ", ".join(r["amc_instance_id"] for r in rows if r["amc_instance_id"]) or "none"
        raise WorkflowOwnerError(
            f"user {rows[0]['email']} has no AMC instance {amc_instance_id!r} (their "
            f"instances: {known})"
        )
    return WorkflowOwner(
        user_id=row["user_id"],
        email=row["email"],
        timezone=row["timezone"] or "UTC",
        encrypted_refresh_token=row["encrypted_refresh_token"],
        instance_row_id=row["instance_row_id"],
        amc_instance_id=row["amc_instance_id"],
        amc_account_id=row["amc_account_id"],
    )


# --- from a template ------------------------------------------------------------------------------


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
        owner = find_workflow_owner(conn, user_email, amc_instance_id)
        template = find_template(conn, template_name)
        validated = validate_parameters(template.parameters, values)
        for definition, source in mapped_sources(template.parameters, validated):
            check_mapped_source(conn, definition, source, user_id=owner.user_id)
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
                "user_id": owner.user_id,
                "instance_id": owner.instance_row_id,
                "template_id": template.template_id,
                "parameters": Jsonb(parameters),
                "tags": [template.key] if template.key else [],
            },
        ).fetchone()
        record = cur.execute(
            load("insert_template_instance"),
            {
                "template_id": template.template_id,
                "user_id": owner.user_id,
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


# --- from the user's own AMC SQL ------------------------------------------------------------------


class SqlParameterType(StrEnum):
    """The types of a parameter of a user's own SQL, as written after its name (`NAME:TYPE`)."""

    LIST = "list"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


#: How each type is validated; a date is a text that must be a real day as YYYY-MM-DD.
_DEFINITION_TYPES = {
    SqlParameterType.LIST: ParameterType.STRING_LIST,
    SqlParameterType.STRING: ParameterType.STRING,
    SqlParameterType.NUMBER: ParameterType.NUMBER,
    SqlParameterType.DATE: ParameterType.STRING,
    SqlParameterType.BOOLEAN: ParameterType.BOOLEAN,
}
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Functions whose first argument is an array: a CUSTOM_PARAMETER there is read as a list.
_ARRAY_READERS = re.compile(r"ARRAY_\w+|CARDINALITY|SIZE")
#: The window of the dry run: the last days with complete AMC data.
CHECK_WINDOW_DAYS = 7


@dataclass(frozen=True)
class SqlParameterInput:
    """A parameter's value as typed (the option repeated gives several texts), and the type
    declared with it, if any."""

    texts: tuple[str, ...]
    declared: SqlParameterType | None = None


@dataclass(frozen=True)
class CustomParameterCall:
    """One `CUSTOM_PARAMETER('name')` in the SQL, where it is, and the function reading it as a
    list (`ARRAY_CONTAINS`, `CARDINALITY`, ...) if one does."""

    name: str
    line: int
    column: int
    list_reader: str | None

    def where(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class SqlParameter:
    """A parameter of a user's own SQL: its type, how the type was decided, its saved value."""

    name: str
    type: SqlParameterType
    value: JsonValue
    typed_by: str


@dataclass(frozen=True)
class SqlWorkflowDraft:
    """A user's own AMC SQL, checked, with every parameter it reads typed and validated."""

    sql: str
    parameters: tuple[SqlParameter, ...]
    output_names: tuple[str, ...]
    tables: frozenset[str]

    @property
    def saved_parameters(self) -> dict[str, JsonValue]:
        """The values as workflows.parameters holds them (their JSON shape is their type)."""
        return {p.name: p.value for p in self.parameters}

    def render_for_check(self, timezone: str, *, now: datetime | None = None) -> RenderedQuery:
        """The query as a collection week or a schedule run renders it, over the last
        CHECK_WINDOW_DAYS whole days with complete AMC data in `timezone`."""
        end = data_horizon(timezone, now=now).replace(hour=0)
        window = RunWindow(end - timedelta(days=CHECK_WINDOW_DAYS), end, timezone)
        return render(self.sql, window=window, saved=self.saved_parameters, now=now)


def custom_parameter_calls(sql: str) -> list[CustomParameterCall]:
    """Every `CUSTOM_PARAMETER('name')` of a query AMC would compile, in the order written."""
    calls = []
    for call in parse_amc_sql(sql).find_all(exp.Anonymous):
        if str(call.name).upper() != "CUSTOM_PARAMETER" or len(call.expressions) != 1:
            continue
        argument = call.expressions[0]
        if not (isinstance(argument, exp.Literal) and argument.is_string):
            continue
        position = node_position(sql, call)
        calls.append(
            CustomParameterCall(
                name=argument.name,
                line=position.line if position else 0,
                column=position.column if position else 0,
                list_reader=_list_reader(call),
            )
        )
    return sorted(calls, key=lambda c: (c.line, c.column))


def _list_reader(call: exp.Expr) -> str | None:
    """The array function that takes `call` as its first argument, if any."""
    parent = call.parent
    if not isinstance(parent, exp.Func):
        return None
    first = call.arg_key == "this" or (
        call.arg_key == "expressions" and parent.expressions and parent.expressions[0] is call
    )
    name = str(parent.name).upper() if isinstance(parent, exp.Anonymous) else parent.sql_name()
    return name if first and _ARRAY_READERS.fullmatch(name) else None


def _inferred_type(texts: Sequence[str]) -> SqlParameterType:
    if len(texts) != 1 or texts[0].lstrip().startswith("["):
        return SqlParameterType.LIST
    text = texts[0].strip()
    if _NUMBER_TEXT.fullmatch(text):
        return SqlParameterType.NUMBER
    if _DATE_TEXT.fullmatch(text):
        return SqlParameterType.DATE
    if text.lower() in ("true", "false"):
        return SqlParameterType.BOOLEAN
    return SqlParameterType.STRING


def _typed_value(name: str, kind: SqlParameterType, texts: Sequence[str]) -> JsonValue:
    """The value of `texts` as a `kind`, validated, in its saved JSON form."""
    definition = ParameterDefinition(name=name, type=_DEFINITION_TYPES[kind], display_name=name)
    if kind is SqlParameterType.DATE:
        if len(texts) != 1:
            raise ParameterError(name, list(texts), "a single date (given once)")
        text = texts[0].strip()
        try:
            day = date.fromisoformat(text) if _DATE_TEXT.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            raise ParameterError(name, texts[0], "a date as YYYY-MM-DD")
        return day.isoformat()
    return to_json(definition, validate_value(definition, parse_text_value(definition, texts)))


def _run_window_name(name: str) -> str:
    return "start" if "start" in name.lower() else "end"


def draft_sql_workflow(sql: str, inputs: Mapping[str, SqlParameterInput]) -> SqlWorkflowDraft:
    """Check a user's own AMC SQL and type the value of every CUSTOM_PARAMETER it reads.

    The query passes the AMC SQL front end first (AmcSqlError in AMC's words, with line and
    column). Each name read by `CUSTOM_PARAMETER('name')` needs a value in `inputs`, and
    `inputs` may name no other; names of the run's window (start_date, end_date, ...) take no
    value. A type is the declared one, else `list` where an array function reads the
    parameter, else the one its value reads as (number, date as YYYY-MM-DD, true/false, a
    JSON array or repeated value for a list, text otherwise). Raises SqlWorkflowError or
    ParameterError naming the parameter.
    """
    if not sql.strip():
        raise SqlWorkflowError("the SQL is empty: expected one AMC query")
    checked = check_amc_sql(sql)
    calls = custom_parameter_calls(sql)
    first_call: dict[str, CustomParameterCall] = {}
    list_readers: dict[str, CustomParameterCall] = {}
    for call in calls:
        first_call.setdefault(call.name, call)
        if call.list_reader is not None:
            list_readers.setdefault(call.name, call)
    for name in inputs:
        if name in RUN_DATE_NAMES:
            raise SqlWorkflowError(
                f"--param {name}: CUSTOM_PARAMETER('{name}') takes the {_run_window_name(name)} "
                "of each run's window; give it no value"
            )
    declared = [name for name in first_call if name not in RUN_DATE_NAMES]
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        shown = ", ".join(declared) or "none"
        raise SqlWorkflowError(
            f"--param {', '.join(unknown)}: the SQL has no CUSTOM_PARAMETER('{unknown[0]}'); "
            f"the parameters it reads: {shown}"
        )
    missing = [name for name in declared if name not in inputs]
    if missing:
        call = first_call[missing[0]]
        raise SqlWorkflowError(
            f"no value for CUSTOM_PARAMETER('{call.name}') at {call.where()}: give it with "
            f"--param {call.name}=VALUE"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )
    parameters = []
    for name in declared:
        given = inputs[name]
        reader = list_readers.get(name)
        if given.declared is not None:
            kind, typed_by = given.declared, "declared"
            if reader is not None and kind is not SqlParameterType.LIST:
                raise SqlWorkflowError(
                    f"parameter {name!r} is declared {kind.value}, but {reader.list_reader} "
                    f"reads it as a list at {reader.where()}; declare it {name}:list"
                )
        elif reader is not None:
            kind = SqlParameterType.LIST
            typed_by = f"read as a list by {reader.list_reader} at {reader.where()}"
        else:
            kind, typed_by = _inferred_type(given.texts), "from its value"
        parameters.append(SqlParameter(name, kind, _typed_value(name, kind, given.texts), typed_by))
    return SqlWorkflowDraft(sql, tuple(parameters), checked.names, checked.tables)


@dataclass(frozen=True)
class SavedSqlWorkflow:
    """A workflow saved from a user's own SQL."""

    workflow_id: uuid.UUID
    name: str
    parameters: dict[str, JsonValue]


def save_sql_workflow(
    conn: psycopg.Connection,
    owner: WorkflowOwner,
    draft: SqlWorkflowDraft,
    *,
    name: str,
    description: str | None = None,
) -> SavedSqlWorkflow:
    """Save a checked draft as the owner's workflow on their instance, with no template."""
    parameters = draft.saved_parameters
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        workflow = cur.execute(
            load("insert_workflow"),
            {
                "name": name,
                "description": description,
                "sql_query": draft.sql,
                "user_id": owner.user_id,
                "instance_id": owner.instance_row_id,
                "template_id": None,
                "parameters": Jsonb(parameters),
                "tags": [],
            },
        ).fetchone()
    assert workflow is not None
    return SavedSqlWorkflow(workflow_id=workflow["id"], name=name, parameters=parameters)
