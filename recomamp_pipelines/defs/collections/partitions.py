"""Partitions of the weekly results: collection x week.

The `collection` dimension is dynamic: the collections sensor adds one key per collection as
soon as it exists. The `week` dimension is the deployment's weekly grid over the weeks AMC can
answer: from the oldest week its 13-month history still holds (fixed when the code location
loads) to the newest week that has ended (Dagster adds each week as it ends). In the UI,
"backfill weeks X to Y of collection C" is one collection key and a week range, launched as a
single run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from recomamp_pipelines.collections.plans import oldest_answerable_week
from recomamp_pipelines.settings import load_settings

COLLECTIONS_PARTITIONS_NAME = "collections"
COLLECTION_DIMENSION = "collection"
WEEK_DIMENSION = "week"


def weeks_partitions(
    week_start_day: int, now: datetime | None = None
) -> dg.WeeklyPartitionsDefinition:
    """The week grid at `now` (default: the time the code location loads)."""
    first = oldest_answerable_week(now or datetime.now(UTC), week_start_day)
    # Dagster counts weekdays from Sunday = 0; ours from Monday = 0.
    return dg.WeeklyPartitionsDefinition(
        start_date=first.partition_key, day_offset=(week_start_day + 1) % 7
    )


collections_partitions = dg.DynamicPartitionsDefinition(name=COLLECTIONS_PARTITIONS_NAME)


def collection_weeks_partitions(
    week_start_day: int | None = None, now: datetime | None = None
) -> dg.MultiPartitionsDefinition:
    day = load_settings().week_start_day if week_start_day is None else week_start_day
    return dg.MultiPartitionsDefinition(
        {COLLECTION_DIMENSION: collections_partitions, WEEK_DIMENSION: weeks_partitions(day, now)}
    )


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(collection key, week key) of a collection-week partition key."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
    else:
        collection_key, _, week_key = key.partition("|")
        dims = {COLLECTION_DIMENSION: collection_key, WEEK_DIMENSION: week_key}
    return dims[COLLECTION_DIMENSION], dims[WEEK_DIMENSION]
