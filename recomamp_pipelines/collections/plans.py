"""Which collection weeks run without anyone asking: backfills of new ranges, nightly weeks.

- A collection registered for a range (new, or its range changed) gets one backfill of the
  weeks it lacks that AMC can answer now.
- The week grid of the UI starts at the oldest week AMC still holds for any owner.
- Every night, each ACTIVE collection whose range reaches the newest week AMC has completed
  (48 hours after the week ends) gets that week, and weeks of ACTIVE and COMPLETED collections
  are fetched again when they become 7, 14 and 30 days old, because AMC's data for a window
  keeps changing for about a month. Each age is tried once: a week is resubmitted a few times
  in its life, never every night.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from recomamp_pipelines.collections.queries import load
from recomamp_pipelines.timekeeping import load_timezone, to_utc
from recomamp_pipelines.weeks.calendar import (
    REFRESH_AGES_DAYS,
    Week,
    refresh_due,
    week_ends_at,
    week_refusal,
    week_start,
    weeks_overlapping,
)

#: Nightly attempts at a collection's newest week before it is left to `retry-failed`.
NEWEST_WEEK_ATTEMPTS = 3
#: The zone whose today comes last on Earth (UTC-12): AMC's history, counted back from an
#: owner's today, reaches furthest back there.
_LATEST_ZONE = "Etc/GMT+12"
#: More than AMC's history (13 months are at most 397 days), so the search starts before it.
_BEFORE_HISTORY = timedelta(days=400)
_BACKFILL_KEY_PREFIX = "collection-backfill-"


@dataclass(frozen=True)
class RegisteredCollection:
    collection_id: uuid.UUID
    name: str
    partition_key: str
    status: str
    start_date: date
    end_date: date
    timezone: str

    def weeks(self, week_start_day: int) -> list[Week]:
        return weeks_overlapping(self.start_date, self.end_date, week_start_day)

    @property
    def backfill_run_key(self) -> str:
        """The run_key of the backfill of this registered range: one per collection and range."""
        return (
            f"{_BACKFILL_KEY_PREFIX}{self.partition_key}-"
            f"{self.start_date:%Y%m%d}-{self.end_date:%Y%m%d}"
        )


def registered_collections(
    conn: psycopg.Connection, statuses: Sequence[str] = ("ACTIVE",)
) -> list[RegisteredCollection]:
    """Collections registered for their current range, in the given statuses."""
    rows = conn.execute(load("registered_collections"), {"statuses": list(statuses)}).fetchall()
    return [RegisteredCollection(*row) for row in rows]


@dataclass(frozen=True)
class WeekState:
    status: str
    has_result: bool
    refreshed_at: datetime | None
    retry_count: int
    last_attempt_at: datetime | None


def week_states(
    conn: psycopg.Connection, collection_ids: Sequence[uuid.UUID], since: date
) -> dict[tuple[uuid.UUID, date], WeekState]:
    """(collection id, week start) -> the week's row, for weeks starting on or after `since`."""
    if not collection_ids:
        return {}
    rows = conn.execute(
        load("collection_week_states"),
        {"collection_ids": list(collection_ids), "since": since},
    ).fetchall()
    return {(row[0], row[1]): WeekState(*row[2:]) for row in rows}


def missing_weeks(
    conn: psycopg.Connection,
    collections: Sequence[RegisteredCollection],
    now: datetime,
    week_start_day: int,
) -> dict[uuid.UUID, list[Week]]:
    """Each collection's weeks without a result that AMC can answer at `now`, oldest first.

    One query for all of them, however many there are.
    """
    if not collections:
        return {}
    weeks = {c.collection_id: c.weeks(week_start_day) for c in collections}
    since = min(found[0].start_date for found in weeks.values())
    states = week_states(conn, list(weeks), since)
    return {
        collection.collection_id: [
            week
            for week in weeks[collection.collection_id]
            if not _has_result(states.get((collection.collection_id, week.start_date)))
            and week_refusal(week, now=now, timezone=collection.timezone) is None
        ]
        for collection in collections
    }


def _has_result(state: WeekState | None) -> bool:
    return state is not None and state.status == "SUCCESS" and state.has_result


def oldest_answerable_week(now: datetime, week_start_day: int) -> Week:
    """The oldest week AMC still holds at `now` for an owner in any time zone.

    AMC keeps 13 months counted back from the owner's today, and refuses a week that starts
    before them; the owner whose today comes last (UTC-12) has the oldest such week.
    """
    today = to_utc(now, "now").astimezone(load_timezone(_LATEST_ZONE)).date()
    week = Week(week_start(today - _BEFORE_HISTORY, week_start_day))
    while week_refusal(week, now=now, timezone=_LATEST_ZONE) is not None:
        week = Week(week.next_start_date)
    return week


def newest_complete_week(now: datetime, timezone: str, week_start_day: int) -> Week:
    """The newest week whose AMC data is complete at `now` in `timezone`."""
    today = to_utc(now, "now").astimezone(load_timezone(timezone)).date()
    week = Week(week_start(today, week_start_day))
    while week_refusal(week, now=now, timezone=timezone) is not None:
        week = Week(week.start_date - timedelta(days=7))
    return week


@dataclass(frozen=True)
class NightlyWeek:
    """One week the nightly run materializes: the newest one, or a refresh at an age."""

    collection: RegisteredCollection
    week: Week
    refresh_age_days: int | None

    @property
    def is_refresh(self) -> bool:
        return self.refresh_age_days is not None

    @property
    def run_key(self) -> str:
        what = f"refresh-{self.refresh_age_days}d" if self.is_refresh else "newest"
        return f"nightly-{self.collection.partition_key}-{self.week.partition_key}-{what}"


def _reached_age(
    week: Week, now: datetime, timezone: str, ages: Sequence[int]
) -> tuple[int, datetime] | None:
    """The oldest refresh age `week` has reached at `now`, and when it reached it."""
    ends_at = week_ends_at(week, timezone).astimezone(UTC)
    reached = [(age, ends_at + timedelta(days=age)) for age in sorted(ages)]
    reached = [(age, moment) for age, moment in reached if moment <= now]
    return reached[-1] if reached else None


def nightly_weeks(
    conn: psycopg.Connection,
    now: datetime,
    week_start_day: int,
    *,
    ages: Sequence[int] = REFRESH_AGES_DAYS,
) -> list[NightlyWeek]:
    """What the nightly run materializes at `now`: newest weeks first, then refreshes."""
    now = to_utc(now, "now")
    collections = registered_collections(conn, ("ACTIVE", "COMPLETED"))
    # Only weeks young enough for a refresh or the newest week matter.
    since = (now - timedelta(days=max(ages) + 21)).date()
    states = week_states(conn, [c.collection_id for c in collections], since)
    newest: list[NightlyWeek] = []
    refreshes: list[NightlyWeek] = []
    by_collection: dict[uuid.UUID, list[tuple[date, WeekState]]] = defaultdict(list)
    for (collection_id, start), state in states.items():
        by_collection[collection_id].append((start, state))
    for collection in collections:
        weeks = collection.weeks(week_start_day)
        if collection.status == "ACTIVE":
            latest = newest_complete_week(now, collection.timezone, week_start_day)
            found = states.get((collection.collection_id, latest.start_date))
            if (
                latest in weeks
                and not _has_result(found)
                and (found is None or found.status != "RUNNING")
                and (found is None or found.retry_count < NEWEST_WEEK_ATTEMPTS)
            ):
                newest.append(NightlyWeek(collection, latest, None))
        for start, state in sorted(by_collection[collection.collection_id]):
            week = Week(start)
            if not _has_result(state) or week not in weeks:
                continue
            if not refresh_due(
                week,
                now=now,
                timezone=collection.timezone,
                last_refreshed_at=state.refreshed_at,
                ages_days=ages,
            ):
                continue
            reached = _reached_age(week, now, collection.timezone, ages)
            assert reached is not None  # refresh_due says an age was reached
            age, reached_at = reached
            if state.last_attempt_at is not None and state.last_attempt_at >= reached_at:
                continue  # this age was tried already (and failed): wait for the next one
            refreshes.append(NightlyWeek(collection, week, age))
    return newest + refreshes
