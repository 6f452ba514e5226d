"""Registering collections: a partition key each, and a PENDING row for every week."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import psycopg

from recomamp_pipelines.weeks.calendar import weeks_overlapping
from recomamp_pipelines.weeks.queries import load

_SLUG_LENGTH = 40


@dataclass(frozen=True)
class RegisteredCollection:
    collection_id: uuid.UUID
    partition_key: str
    week_count: int
    is_new: bool


def collection_partition_key(collection_id: uuid.UUID, name: str) -> str:
    """A partition key valid whatever the collection is called: a slug of its name and its id.

    Dagster joins multi-partition keys with `|`; the slug keeps only lower-case letters, digits
    and dashes, and the id keeps keys unique. The key is kept when the collection is renamed.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_LENGTH].strip("-")
    return f"{slug or 'collection'}-{collection_id.hex[:12]}"


def register_collections(
    conn: psycopg.Connection, week_start_day: int
) -> list[RegisteredCollection]:
    """Register new collections and changed ranges; each collection in its own transaction."""
    registered: list[RegisteredCollection] = []
    while True:
        with conn.transaction():
            row = conn.execute(load("collections_to_register") + " limit 1").fetchone()
            if row is None:
                return registered
            collection_id, name, start_date, end_date, partition_key = row
            weeks = weeks_overlapping(start_date, end_date, week_start_day)
            key = partition_key or collection_partition_key(collection_id, name)
            with conn.cursor() as cur:
                cur.executemany(
                    load("ensure_week"),
                    [
                        {
                            "collection_id": collection_id,
                            "week_start_date": week.start_date,
                            "week_end_date": week.end_date,
                            "week_number": number,
                        }
                        for number, week in enumerate(weeks, start=1)
                    ],
                )
            conn.execute(
                load("remove_pending_weeks_outside"),
                {
                    "collection_id": collection_id,
                    "week_start_dates": [week.start_date for week in weeks],
                },
            )
            conn.execute(
                load("mark_registered"), {"collection_id": collection_id, "partition_key": key}
            )
            registered.append(
                RegisteredCollection(collection_id, key, len(weeks), partition_key is None)
            )


def registered_partition_keys(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select partition_key from report_data_collections where partition_key is not null"
    ).fetchall()
    return {row[0] for row in rows}
