"""The weekly calendar of report collections: one deployment-wide grid of whole weeks.

A week runs from its start date 00:00 to the next week's start date 00:00 local time; its
partition key is its start date. Which weekday starts a week (0=Monday .. 6=Sunday) is a
deployment setting, so every collection's weeks line up.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from recomamp_pipelines.timekeeping import (
    AMC_DATA_LAG,
    AMC_HISTORY_MONTHS,
    load_timezone,
    to_utc,
)

REFRESH_AGES_DAYS = (7, 14, 30)
_DAYS_PER_WEEK = 7
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class WeekCalendarError(ValueError):
    """A week, date range or grid setting is unusable as given."""


class InvalidWeekStartDayError(WeekCalendarError):
    """The week start day is not 0 (Monday) to 6 (Sunday)."""


class InvalidDateRangeError(WeekCalendarError):
    """A date range ends before it starts."""


class InvalidPartitionKeyError(WeekCalendarError):
    """A partition key is not a date on the week grid."""


@dataclass(frozen=True, order=True)
class Week:
    """One calendar week, start_date to end_date inclusive."""

    start_date: date

    @property
    def end_date(self) -> date:
        return self.start_date + timedelta(days=_DAYS_PER_WEEK - 1)

    @property
    def next_start_date(self) -> date:
        return self.start_date + timedelta(days=_DAYS_PER_WEEK)

    @property
    def partition_key(self) -> str:
        return self.start_date.isoformat()


@dataclass(frozen=True)
class AmcWindow:
    """An AMC time window: naive local timestamps read in the IANA zone `time_zone`."""

    start: datetime
    end: datetime
    time_zone: str


def _check_week_start_day(week_start_day: int) -> None:
    if (
        isinstance(week_start_day, bool)
        or not isinstance(week_start_day, int)
        or not 0 <= week_start_day <= 6
    ):
        raise InvalidWeekStartDayError(
            f"week_start_day {week_start_day!r}: expected 0 (Monday) to 6 (Sunday)"
        )


def _check_date(value: date, name: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name}={value!r}: expected a calendar date (datetime.date)")


def week_start(day: date, week_start_day: int = 0) -> date:
    """The start date of the week that contains `day`."""
    _check_week_start_day(week_start_day)
    _check_date(day, "day")
    return day - timedelta(days=(day.weekday() - week_start_day) % _DAYS_PER_WEEK)


def weeks_overlapping(start_date: date, end_date: date, week_start_day: int = 0) -> list[Week]:
    """Every week that shares at least one day with [start_date, end_date], oldest first."""
    _check_date(start_date, "start_date")
    _check_date(end_date, "end_date")
    if end_date < start_date:
        raise InvalidDateRangeError(
            f"end_date {end_date.isoformat()} is before start_date {start_date.isoformat()}"
        )
    week = Week(week_start(start_date, week_start_day))
    weeks = []
    while week.start_date <= end_date:
        weeks.append(week)
        week = Week(week.next_start_date)
    return weeks


def week_from_partition_key(key: str, week_start_day: int = 0) -> Week:
    """The week whose partition key is `key` (its start date, YYYY-MM-DD)."""
    _check_week_start_day(week_start_day)
    if not isinstance(key, str) or not _ISO_DATE.fullmatch(key):
        raise InvalidPartitionKeyError(
            f"partition key {key!r}: expected a week start date as YYYY-MM-DD"
        )
    try:
        start = date.fromisoformat(key)
    except ValueError:
        raise InvalidPartitionKeyError(
            f"partition key {key!r}: not a calendar date (expected YYYY-MM-DD)"
        ) from None
    if start.weekday() != week_start_day:
        raise InvalidPartitionKeyError(
            f"partition key {key!r} is a {_WEEKDAY_NAMES[start.weekday()]}; weeks start on "
            f"{_WEEKDAY_NAMES[week_start_day]} (week_start_day={week_start_day})"
        )
    return Week(start)


def amc_window(week: Week, timezone: str) -> AmcWindow:
    """The AMC window of `week`: its start 00:00 to the next week's start 00:00, local time."""
    load_timezone(timezone)
    return AmcWindow(
        start=datetime.combine(week.start_date, time(0, 0)),
        end=datetime.combine(week.next_start_date, time(0, 0)),
        time_zone=timezone,
    )


def week_ends_at(week: Week, timezone: str) -> datetime:
    """The instant `week` ends: the next week's start 00:00 in `timezone`, aware."""
    zone = load_timezone(timezone)
    # fold=0 reads a midnight that a spring-forward skips (e.g. America/Santiago) as the
    # first instant after the gap, and a repeated midnight as its first pass: the day's start.
    midnight = datetime.combine(week.next_start_date, time(0, 0), tzinfo=zone)
    return midnight.astimezone(UTC).astimezone(zone)


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def week_refusal(
    week: Week,
    *,
    now: datetime,
    timezone: str,
    history_months: int = AMC_HISTORY_MONTHS,
    data_lag: timedelta = AMC_DATA_LAG,
) -> str | None:
    """Why AMC cannot give complete data for `week` at `now`, or None if the week can run.

    Refused: a week starting before AMC's rolling history (`history_months` before today), and a
    week that ended less than `data_lag` ago (AMC data lands within 48 hours).
    """
    zone = load_timezone(timezone)
    now_utc = to_utc(now, "now")
    today = now_utc.astimezone(zone).date()
    history_start = _months_before(today, history_months)
    if week.start_date < history_start:
        return (
            f"week {week.partition_key} starts before AMC's {history_months}-month history, "
            f"which begins {history_start.isoformat()} ({timezone}); AMC no longer holds its data"
        )
    ends_at = week_ends_at(week, timezone)
    complete_at = ends_at.astimezone(UTC) + data_lag
    if now_utc < complete_at:
        return (
            f"week {week.partition_key} ends {ends_at:%Y-%m-%d %H:%M} {timezone}; "
            f"AMC data for it is complete from {complete_at:%Y-%m-%d %H:%M} UTC"
        )
    return None


def refresh_due(
    week: Week,
    *,
    now: datetime,
    timezone: str,
    last_refreshed_at: datetime | None,
    ages_days: Sequence[int] = REFRESH_AGES_DAYS,
) -> bool:
    """Whether `week` should be fetched again at `now`.

    AMC's traffic-time data keeps changing for about 30 days after a window closes, so a week is
    re-fetched once when it becomes each of `ages_days` days old (counted from its end). It is
    due when the latest such age it has reached is later than `last_refreshed_at`, the last time
    its data was fetched (its first collection counts); None means never fetched.
    """
    now_utc = to_utc(now, "now")
    for age in ages_days:
        if isinstance(age, bool) or not isinstance(age, int) or age < 1:
            raise WeekCalendarError(
                f"ages_days {tuple(ages_days)!r}: expected whole days, 1 or more"
            )
    ends_at = week_ends_at(week, timezone).astimezone(UTC)
    reached = [ends_at + timedelta(days=age) for age in ages_days]
    reached = [moment for moment in reached if moment <= now_utc]
    if not reached:
        return False
    if last_refreshed_at is None:
        return True
    return to_utc(last_refreshed_at, "last_refreshed_at") < max(reached)
