"""A report data collection as one week's run needs it: workflow, owner, AMC instance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.collections.queries import load
from recomamp_pipelines.templates.catalog import template_parameters
from recomamp_pipelines.templates.params import ParameterDefinition
from recomamp_pipelines.weeks.calendar import Week, week_refusal, weeks_overlapping


class CollectionNotFoundError(LookupError):
    """No collection with that id or partition key."""


@dataclass(frozen=True)
class CollectionContext:
    """Everything about a collection that its weekly runs read, loaded once per run."""

    collection_id: uuid.UUID
    name: str
    status: str
    start_date: date
    end_date: date
    parameters: dict[str, Any]
    partition_key: str | None
    workflow_id: uuid.UUID
    workflow_name: str
    sql_query: str
    workflow_parameters: dict[str, Any]
    template_id: uuid.UUID | None
    parameter_definitions: tuple[ParameterDefinition, ...]
    user_id: uuid.UUID
    user_email: str
    timezone: str
    encrypted_refresh_token: str | None
    instance_row_id: uuid.UUID
    amc_instance_id: str
    amc_account_id: str
    country_code: str | None

    def __repr__(self) -> str:
        return f"CollectionContext({self.name!r}, {self.collection_id})"

    def weeks(self, week_start_day: int) -> list[Week]:
        return weeks_overlapping(self.start_date, self.end_date, week_start_day)

    def refusal(self, week: Week, *, now: datetime, week_start_day: int) -> str | None:
        """Why this week cannot run now, or None."""
        if week not in self.weeks(week_start_day):
            return (
                f"week {week.partition_key} is outside collection {self.name!r} "
                f"({self.start_date} .. {self.end_date})"
            )
        if self.status == "PAUSED":
            return f"collection {self.name!r} is PAUSED; resume it to run its weeks"
        return week_refusal(week, now=now, timezone=self.timezone)


def load_collection(conn: psycopg.Connection, collection_id: uuid.UUID) -> CollectionContext:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(load("collection_context"), {"collection_id": collection_id}).fetchone()
    if row is None:
        raise CollectionNotFoundError(f"no report data collection with id {collection_id}")
    definitions = template_parameters(conn, row["template_id"]) if row["template_id"] else ()
    return CollectionContext(
        collection_id=row["collection_id"],
        name=row["collection_name"],
        status=row["collection_status"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        parameters=row["collection_parameters"] or {},
        partition_key=row["partition_key"],
        workflow_id=row["workflow_id"],
        workflow_name=row["workflow_name"],
        sql_query=row["sql_query"],
        workflow_parameters=row["workflow_parameters"] or {},
        template_id=row["template_id"],
        parameter_definitions=definitions,
        user_id=row["user_id"],
        user_email=row["user_email"],
        timezone=row["user_timezone"],
        encrypted_refresh_token=row["encrypted_refresh_token"],
        instance_row_id=row["instance_row_id"],
        amc_instance_id=row["amc_instance_id"],
        amc_account_id=row["amc_account_id"],
        country_code=row["country_code"],
    )


def collection_id_for_partition(conn: psycopg.Connection, partition_key: str) -> uuid.UUID:
    row = conn.execute(
        load("collection_by_partition_key"), {"partition_key": partition_key}
    ).fetchone()
    if row is None:
        raise CollectionNotFoundError(
            f"no collection is registered under partition key {partition_key!r}"
        )
    collection_id: uuid.UUID = row[0]
    return collection_id
