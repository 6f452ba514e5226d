"""A schedule row's timing: its cadence, its next run times and the window each run reads.

The sensor that claims ticks, the runs that execute them and `recomamp schedules preview` all
go through these functions, so what the preview shows is what the sensor does.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from recomamp_pipelines.scheduling.cadence import Cadence, CadenceError, rolling_window, to_utc

#: A timezone column left empty means the column's default.
DEFAULT_TIMEZONE = "UTC"
_JUST_BEFORE = timedelta(microseconds=1)


class ScheduleDefinitionError(ValueError):
    """A schedule row cannot be scheduled as stored (its message names the row and the field)."""


@dataclass(frozen=True)
class ScheduleTiming:
    """The columns of a workflow_schedules row that say when it runs."""

    schedule_id: uuid.UUID
    schedule_type: str
    timezone: str | None
    cron_expression: str | None = None
    interval_days: int | None = None
    anchor_date: date | None = None
    time_of_day: time | None = None

    @classmethod
    def of_row(cls, row: Mapping[str, Any], id_column: str = "schedule_id") -> ScheduleTiming:
        """The timing of a row read by name (`dict_row`) with the schedule's timing columns."""
        return cls(
            row[id_column],
            row["schedule_type"],
            row["timezone"],
            row["cron_expression"],
            row["interval_days"],
            row["anchor_date"],
            row["time_of_day"],
        )

    @property
    def zone_name(self) -> str:
        return self.timezone or DEFAULT_TIMEZONE

    def describe(self) -> str:
        """The cadence in a few words, as listings show it."""
        if self.schedule_type == "interval":
            at = (self.time_of_day or time(0, 0)).strftime("%H:%M")
            return f"every {self.interval_days} days from {self.anchor_date} at {at}"
        return f"cron '{self.cron_expression}'"


def cadence_of(timing: ScheduleTiming) -> Cadence:
    """The cadence of a schedule row; ScheduleDefinitionError naming the row when unusable."""
    try:
        if timing.schedule_type == "interval":
            return Cadence.every(
                timing.interval_days,  # type: ignore[arg-type]  # checked by Cadence
                timing.anchor_date,  # type: ignore[arg-type]
                timing.zone_name,
                timing.time_of_day,
            )
        return Cadence(
            timing.schedule_type, timing.zone_name, cron_expression=timing.cron_expression
        )
    except CadenceError as exc:
        raise ScheduleDefinitionError(f"schedule {timing.schedule_id}: {exc}") from None


def lookback_days(cadence: Cadence, configured: int | None) -> int:
    """The schedule's lookback, or else the days between its runs (rounded up, at least 1)."""
    if configured is not None:
        return configured
    return _typical_lookback(cadence)


@lru_cache(maxsize=4096)
def _typical_lookback(cadence: Cadence) -> int:
    # Sampling fire times costs up to tens of milliseconds; a run serves many schedules that
    # share a few cadences. Rounded first so that float noise (7.0000001) does not add a day.
    return max(1, math.ceil(round(cadence.typical_interval_days(), 6)))


def run_window(
    cadence: Cadence, scheduled_at: datetime, configured_lookback: int | None
) -> tuple[datetime, datetime]:
    """Naive local (start, end) of the run at `scheduled_at`, ending before AMC's data lag."""
    return rolling_window(
        scheduled_at, lookback_days(cadence, configured_lookback), cadence.timezone
    )


def upcoming_runs(
    cadence: Cadence, next_run_at: datetime, after: datetime, count: int
) -> list[datetime]:
    """The next `count` run times after `after`, in the schedule's zone.

    The sensor fires the fire times at or after `next_run_at`, so none earlier is shown.
    """
    start = max(to_utc(after, "after"), to_utc(next_run_at, "next_run_at") - _JUST_BEFORE)
    return cadence.next_fire_times(start, count)


def due_tick(cadence: Cadence, next_run_at: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The tick to run at `now` for a row due since `next_run_at`, and how many it stands for.

    That is the latest fire time at or before `now` that is not before `next_run_at`; the count
    says how many earlier fire times since `next_run_at` it replaces (missed while the sensor
    was not running).
    """
    return cadence.due_tick(to_utc(next_run_at, "next_run_at") - _JUST_BEFORE, now)
