"""Registering collections: a partition key each, and a PENDING row for every week."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.collections.queries import load
from recomamp_pipelines.weeks.calendar import Week, weeks_overlapping

_SLUG_LENGTH = 40


@dataclass(frozen=True)
class CollectionRegistration:
    """A collection registered (or its range changed) by one registration pass."""

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
) -> list[CollectionRegistration]:
    """Register new collections and changed ranges; each collection in its own transaction."""
    registered: list[CollectionRegistration] = []
    while True:
        with conn.transaction():
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(load("collections_to_register")).fetchone()
            if row is None:
                return registered
            collection_id, partition_key = row["id"], row["partition_key"]
            weeks = weeks_overlapping(row["start_date"], row["end_date"], week_start_day)
            key = partition_key or collection_partition_key(collection_id, row["name"])
            conn.execute(
                load("ensure_weeks"),
                {
                    "collection_id": collection_id,
                    "week_start_dates": [week.start_date for week in weeks],
                    "week_end_dates": [week.end_date for week in weeks],
                    "week_numbers": list(range(1, len(weeks) + 1)),
                },
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
                CollectionRegistration(collection_id, key, len(weeks), partition_key is None)
            )


def registered_partition_keys(conn: psycopg.Connection) -> set[str]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("registered_partition_keys")).fetchall()
    return {row["partition_key"] for row in rows}


def ensure_week_row(
    conn: psycopg.Connection, collection_id: uuid.UUID, week: Week, week_number: int | None
) -> None:
    """The week's `report_data_weeks` row, PENDING unless it exists already."""
    conn.execute(
        load("ensure_week"),
        {
            "collection_id": collection_id,
            "week_start_date": week.start_date,
            "week_end_date": week.end_date,
            "week_number": week_number,
        },
    )
