"""Report data collections: create, list, pause and resume a user's collections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.weeks.calendar import AMC_HISTORY_MONTHS, InvalidDateRangeError

COLLECTION_STATUSES = ("ACTIVE", "PAUSED", "COMPLETED", "FAILED")


class CollectionInputError(ValueError):
    """A collection cannot be created or changed as asked."""


@dataclass(frozen=True)
class CollectionRow:
    collection_id: uuid.UUID
    name: str
    owner: str
    workflow: str
    start_date: date
    end_date: date
    status: str
    total_weeks: int
    completed_weeks: int
    failed_weeks: int
    progress_percentage: float
    partition_key: str | None


def _months_ago(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, min(today.day, 28))


def create_collection(
    conn: psycopg.Connection,
    *,
    user_email: str,
    workflow: str,
    start_date: date,
    end_date: date,
    name: str | None = None,
    today: date | None = None,
) -> uuid.UUID:
    """Create a collection of a user's workflow over [start_date, end_date]."""
    if end_date < start_date:
        raise InvalidDateRangeError(
            f"collection range {start_date} .. {end_date}: the end date is before the start date"
        )
    today = today or datetime.now(UTC).date()
    oldest = _months_ago(today, AMC_HISTORY_MONTHS)
    if start_date < oldest:
        raise CollectionInputError(
            f"start date {start_date} is beyond AMC's {AMC_HISTORY_MONTHS}-month history "
            f"(the oldest date AMC still holds is about {oldest})"
        )
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        owner = cur.execute(
            "select id from users where email = %s", (user_email.strip().lower(),)
        ).fetchone()
        if owner is None:
            raise CollectionInputError(f"no user with email {user_email!r}")
        try:
            workflow_id: uuid.UUID | None = uuid.UUID(workflow)
        except ValueError:
            workflow_id = None
        found = cur.execute(
            "select id, name, instance_id from workflows where user_id = %s "
            "and (id = %s or name = %s)",
            (owner["id"], workflow_id, workflow),
        ).fetchall()
        if not found:
            raise CollectionInputError(f"user {user_email} has no workflow {workflow!r}")
        if len(found) > 1:
            raise CollectionInputError(
                f"user {user_email} has several workflows called {workflow!r}; give its id"
            )
        row = cur.execute(
            "insert into report_data_collections "
            "(name, workflow_id, instance_id, user_id, start_date, end_date) "
            "values (%s, %s, %s, %s, %s, %s) returning id",
            (
                name or f"{found[0]['name']} {start_date}..{end_date}",
                found[0]["id"],
                found[0]["instance_id"],
                owner["id"],
                start_date,
                end_date,
            ),
        ).fetchone()
    assert row is not None
    created: uuid.UUID = row["id"]
    return created


def list_collections(
    conn: psycopg.Connection, user_email: str | None = None
) -> list[CollectionRow]:
    with conn.cursor() as cur:
        rows = cur.execute(
            "select c.id, c.name, u.email, w.name, c.start_date, c.end_date, c.status, "
            "c.total_weeks, c.completed_weeks, c.failed_weeks, c.progress_percentage, "
            "c.partition_key from report_data_collections as c "
            "join users as u on u.id = c.user_id join workflows as w on w.id = c.workflow_id "
            "where %(email)s::text is null or u.email = %(email)s "
            "order by c.created_at",
            {"email": user_email.strip().lower() if user_email else None},
        ).fetchall()
    return [
        CollectionRow(
            collection_id=row[0],
            name=row[1],
            owner=row[2],
            workflow=row[3],
            start_date=row[4],
            end_date=row[5],
            status=row[6],
            total_weeks=row[7],
            completed_weeks=row[8],
            failed_weeks=row[9],
            progress_percentage=float(row[10]),
            partition_key=row[11],
        )
        for row in rows
    ]


def set_collection_status(conn: psycopg.Connection, collection_id: uuid.UUID, status: str) -> str:
    """Pause or resume a collection by its id (never another row's id); returns the old status."""
    if status not in ("ACTIVE", "PAUSED"):
        raise CollectionInputError(f"status {status!r}: a user can only set ACTIVE or PAUSED")
    with conn.transaction():
        row = conn.execute(
            "select status from report_data_collections where id = %s for update",
            (collection_id,),
        ).fetchone()
        if row is None:
            raise CollectionInputError(f"no collection with id {collection_id}")
        if row[0] == "COMPLETED" and status == "PAUSED":
            raise CollectionInputError(f"collection {collection_id} is COMPLETED")
        conn.execute(
            "update report_data_collections set status = %s where id = %s",
            (status, collection_id),
        )
    old: str = row[0]
    return old
