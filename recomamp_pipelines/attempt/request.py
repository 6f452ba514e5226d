"""What one attempt sends to AMC: the rendered query, its saved workflow's id, its hashes.

A collection week and a schedule run render the same way: the workflow's SQL and its saved
values, the caller's overrides, the run's window (which must end before AMC's data lag), and
`mapped_from_node` values read from the source workflow's newest published week.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from recomamp_pipelines.amc.models import TimeWindow
from recomamp_pipelines.attempt.queries import load
from recomamp_pipelines.db.sql_files import compose_sql
from recomamp_pipelines.results.target import results_table
from recomamp_pipelines.templates.params import MappedSource, ParameterDefinition
from recomamp_pipelines.templates.render import RenderedQuery, RenderError, RunWindow, render

#: Values of a `mapped_from_node` parameter taken from the source workflow's newest week.
MAPPED_VALUES_LIMIT = 1000


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def amc_workflow_id(sql_query: str, input_parameters: Sequence[dict[str, Any]]) -> str:
    """The saved AMC workflow of a query: a full sha256 of its SQL and parameter definitions.

    Definitions are names and data types only: values differ per run and travel as
    parameterValues. The hash is never shortened (short ids collided in the original app).
    """
    definitions = [
        {"name": p["name"], "dataType": p.get("dataType")}
        for p in sorted(input_parameters, key=lambda p: str(p["name"]))
    ]
    return "recomamp-" + _sha256(_canonical({"sql": sql_query, "inputParameters": definitions}))


def request_hash(workflow_id: str, window: TimeWindow, parameter_values: dict[str, Any]) -> str:
    """The identity of one request: saved workflow, window and parameter values."""
    return _sha256(
        _canonical(
            {
                "workflowId": workflow_id,
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "timeZone": window.time_zone,
                "parameterValues": parameter_values,
            }
        )
    )


@dataclass(frozen=True)
class AmcRequest:
    """What one attempt (a collection week's or a schedule run's) sends to AMC, and the hashes
    that identify it."""

    rendered: RenderedQuery
    amc_workflow_id: str
    request_hash: str
    window: TimeWindow

    @classmethod
    def of(cls, rendered: RenderedQuery, window: TimeWindow) -> AmcRequest:
        workflow_id = amc_workflow_id(rendered.sql, rendered.input_parameters)
        return cls(
            rendered=rendered,
            amc_workflow_id=workflow_id,
            request_hash=request_hash(workflow_id, window, rendered.parameter_values),
            window=window,
        )


@dataclass(frozen=True)
class QuerySource:
    """A workflow's query as an attempt renders it."""

    sql_query: str
    definitions: Sequence[ParameterDefinition]
    saved: Mapping[str, object]
    overrides: Sequence[Mapping[str, object]]


def render_request(
    conn: psycopg.Connection,
    source: QuerySource,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    now: datetime,
    week_start_day: int,
    what: str,
) -> AmcRequest:
    """Render `source` for the window [start, end) in `timezone`; `what` names the run in errors.

    Raises RenderError (or ParameterError, a ValueError) before anything could reach AMC,
    including when the window reaches into AMC's data lag.
    """
    rendered = render(
        source.sql_query,
        window=RunWindow(start, end, timezone),
        definitions=source.definitions,
        saved=source.saved,
        overrides=source.overrides,
        now=now,
        week_start_day=week_start_day,
        resolve_mapped=lambda mapped: resolve_mapped_values(conn, mapped),
    )
    if rendered.clamped:
        raise RenderError(f"{what} reaches into AMC's 48-hour data lag; run it later")
    return AmcRequest.of(rendered, TimeWindow(start, end, timezone))


def resolve_mapped_values(conn: psycopg.Connection, source: MappedSource) -> list[object]:
    """A column of the source workflow's newest successful week (a mapped_from_node value)."""
    with conn.cursor(row_factory=dict_row) as cur:
        newest = cur.execute(
            load("newest_published_week"), {"workflow_id": source.workflow_id}
        ).fetchone()
    if newest is None:
        raise RenderError(
            f"workflow {source.workflow_id} has no successful week yet to take "
            f"{source.column!r} from"
        )
    query = compose_sql(
        "recomamp_pipelines.attempt.queries",
        "mapped_values",
        column=sql.Identifier(source.column),
        results_table=results_table(uuid.UUID(str(source.workflow_id))),
    )
    rows = conn.execute(query, {**newest, "limit": MAPPED_VALUES_LIMIT}).fetchall()
    return [row[0] for row in rows]
