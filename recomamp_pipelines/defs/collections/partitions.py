"""Partitions of the weekly results: collection x week.

The `collection` dimension is dynamic: the collections sensor adds one key per collection as
soon as it exists. The `week` dimension is the deployment's weekly grid. In the UI, "backfill
weeks X to Y of collection C" is one collection key and a week range, launched as a single run.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.weeks.calendar import week_start

COLLECTIONS_PARTITIONS_NAME = "collections"
COLLECTION_DIMENSION = "collection"
WEEK_DIMENSION = "week"
#: The first week of the grid. Weeks before AMC's 13-month history are refused when run.
GRID_START = date(2024, 1, 1)


def weeks_partitions(week_start_day: int) -> dg.WeeklyPartitionsDefinition:
    first = week_start(GRID_START, week_start_day)
    if first < GRID_START:
        first += timedelta(days=7)
    # Dagster counts weekdays from Sunday = 0; ours from Monday = 0.
    return dg.WeeklyPartitionsDefinition(
        start_date=first.isoformat(), day_offset=(week_start_day + 1) % 7
    )


collections_partitions = dg.DynamicPartitionsDefinition(name=COLLECTIONS_PARTITIONS_NAME)


def collection_weeks_partitions(week_start_day: int | None = None) -> dg.MultiPartitionsDefinition:
    day = load_settings().week_start_day if week_start_day is None else week_start_day
    return dg.MultiPartitionsDefinition(
        {COLLECTION_DIMENSION: collections_partitions, WEEK_DIMENSION: weeks_partitions(day)}
    )


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(collection key, week key) of a collection-week partition key."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
    else:
        collection_key, _, week_key = key.partition("|")
        dims = {COLLECTION_DIMENSION: collection_key, WEEK_DIMENSION: week_key}
    return dims[COLLECTION_DIMENSION], dims[WEEK_DIMENSION]
