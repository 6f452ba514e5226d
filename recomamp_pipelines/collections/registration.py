"""Registering collections: a partition key each, and a PENDING row for every week."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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


#: Collections registered per transaction (and per statement of weeks).
REGISTRATION_BATCH = 200


def register_collections(
    conn: psycopg.Connection, week_start_day: int, *, batch: int = REGISTRATION_BATCH
) -> list[CollectionRegistration]:
    """Register new collections and changed ranges, `batch` collections per transaction.

    Each transaction writes the weeks of all its collections in three statements, so that a
    first registration of 1,000 collections costs a few round trips, not thousands.
    """
    registered: list[CollectionRegistration] = []
    while True:
        with conn.transaction():
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(load("collections_to_register"), {"batch": batch}).fetchall()
            if not rows:
                return registered
            weeks = _RegisteredWeeks()
            for row in rows:
                collection_id, partition_key = row["id"], row["partition_key"]
                key = partition_key or collection_partition_key(collection_id, row["name"])
                count = weeks.add(
                    collection_id,
                    key,
                    weeks_overlapping(row["start_date"], row["end_date"], week_start_day),
                )
                registered.append(
                    CollectionRegistration(collection_id, key, count, partition_key is None)
                )
            conn.execute(load("ensure_weeks"), weeks.spans())
            conn.execute(load("remove_pending_weeks_outside"), weeks.spans())
            conn.execute(load("mark_registered"), weeks.keys())


@dataclass
class _RegisteredWeeks:
    """The weeks of one batch of collections, as the arrays its statements take: a collection's
    first and last week (its weeks run every 7 days between them; none for an empty range)."""

    collection_ids: list[uuid.UUID] = field(default_factory=list)
    partition_keys: list[str] = field(default_factory=list)
    first_dates: list[date | None] = field(default_factory=list)
    last_dates: list[date | None] = field(default_factory=list)

    def add(self, collection_id: uuid.UUID, partition_key: str, weeks: list[Week]) -> int:
        self.collection_ids.append(collection_id)
        self.partition_keys.append(partition_key)
        self.first_dates.append(weeks[0].start_date if weeks else None)
        self.last_dates.append(weeks[-1].start_date if weeks else None)
        return len(weeks)

    def spans(self) -> dict[str, list[Any]]:
        return {
            "collection_ids": self.collection_ids,
            "first_week_start_dates": self.first_dates,
            "last_week_start_dates": self.last_dates,
        }

    def keys(self) -> dict[str, list[Any]]:
        return {"collection_ids": self.collection_ids, "partition_keys": self.partition_keys}


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
