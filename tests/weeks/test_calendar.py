from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recomamp_pipelines.timekeeping import InvalidTimezoneError, NaiveDatetimeError
from recomamp_pipelines.weeks.calendar import (
    AmcWindow,
    InvalidDateRangeError,
    InvalidPartitionKeyError,
    InvalidWeekStartDayError,
    Week,
    WeekCalendarError,
    amc_window,
    refresh_due,
    week_ends_at,
    week_from_partition_key,
    week_refusal,
    week_start,
    weeks_overlapping,
)

MONDAY = 0
SATURDAY = 5
SUNDAY = 6
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


def keys(weeks: list[Week]) -> list[str]:
    return [week.partition_key for week in weeks]


# The grid


def test_week_start_on_monday_sunday_and_saturday_grids() -> None:
    wednesday = date(2026, 11, 18)

    assert week_start(wednesday) == date(2026, 11, 16)
    assert week_start(wednesday, SUNDAY) == date(2026, 11, 15)
    assert week_start(wednesday, SATURDAY) == date(2026, 11, 14)
    assert week_start(date(2026, 11, 16), MONDAY) == date(2026, 11, 16)
    assert week_start(date(2026, 11, 22), MONDAY) == date(2026, 11, 16)
    assert week_start(date(2026, 11, 22), SUNDAY) == date(2026, 11, 22)


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    start_day=st.integers(min_value=0, max_value=6),
)
def test_every_day_belongs_to_exactly_one_grid_week(day: date, start_day: int) -> None:
    start = week_start(day, start_day)

    assert start.weekday() == start_day
    assert start <= day <= Week(start).end_date
    assert weeks_overlapping(day, day, start_day) == [Week(start)]


def test_week_fields() -> None:
    week = Week(date(2026, 11, 16))

    assert week.end_date == date(2026, 11, 22)
    assert week.next_start_date == date(2026, 11, 23)
    assert week.partition_key == "2026-11-16"


@pytest.mark.parametrize("bad", [7, -1, True, "0"])
def test_week_start_day_outside_monday_to_sunday_is_refused(bad: object) -> None:
    with pytest.raises(
        InvalidWeekStartDayError, match=re.escape("expected 0 (Monday) to 6 (Sunday)")
    ):
        week_start(date(2026, 1, 1), bad)  # type: ignore[arg-type]


# Ranges


def test_range_starting_mid_week_covers_every_overlapping_week() -> None:
    start, end = date(2026, 11, 18), date(2026, 12, 2)

    assert keys(weeks_overlapping(start, end)) == ["2026-11-16", "2026-11-23", "2026-11-30"]
    assert keys(weeks_overlapping(start, end, SUNDAY)) == [
        "2026-11-15",
        "2026-11-22",
        "2026-11-29",
    ]


def test_one_day_and_whole_week_ranges() -> None:
    assert keys(weeks_overlapping(date(2026, 11, 18), date(2026, 11, 18))) == ["2026-11-16"]
    assert keys(weeks_overlapping(date(2026, 11, 16), date(2026, 11, 22))) == ["2026-11-16"]
    assert keys(weeks_overlapping(date(2026, 11, 22), date(2026, 11, 22), SUNDAY)) == ["2026-11-22"]


def test_range_across_year_end() -> None:
    weeks = weeks_overlapping(date(2026, 12, 30), date(2027, 1, 5))

    assert keys(weeks) == ["2026-12-28", "2027-01-04"]


def test_a_year_of_weeks_has_no_gaps() -> None:
    weeks = weeks_overlapping(date(2026, 1, 1), date(2026, 12, 31), SUNDAY)

    assert len(weeks) == 53
    assert all(later.start_date == earlier.next_start_date for earlier, later in pairwise(weeks))


def test_range_ending_before_it_starts_names_both_dates() -> None:
    with pytest.raises(InvalidDateRangeError) as error:
        weeks_overlapping(date(2026, 2, 1), date(2026, 1, 1))

    assert str(error.value) == "end_date 2026-01-01 is before start_date 2026-02-01"


# Partition keys


def test_partition_key_round_trip_on_both_grids() -> None:
    assert week_from_partition_key("2026-11-16") == Week(date(2026, 11, 16))
    assert week_from_partition_key("2026-11-15", SUNDAY) == Week(date(2026, 11, 15))
    week = weeks_overlapping(date(2026, 3, 4), date(2026, 3, 4), SUNDAY)[0]
    assert week_from_partition_key(week.partition_key, SUNDAY) == week


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("last-week", "partition key 'last-week': expected a week start date as YYYY-MM-DD"),
        ("20261116", "partition key '20261116': expected a week start date as YYYY-MM-DD"),
        ("2026-13-01", "partition key '2026-13-01': not a calendar date"),
        (
            "2026-11-17",
            "partition key '2026-11-17' is a Tuesday; weeks start on Monday (week_start_day=0)",
        ),
    ],
)
def test_bad_partition_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(InvalidPartitionKeyError) as error:
        week_from_partition_key(key)

    assert str(error.value).startswith(message)


def test_monday_key_is_off_a_sunday_grid() -> None:
    with pytest.raises(InvalidPartitionKeyError, match="is a Monday; weeks start on Sunday"):
        week_from_partition_key("2026-11-16", SUNDAY)


# AMC windows


def test_amc_window_is_naive_local_midnight_to_next_week_start() -> None:
    window = amc_window(Week(date(2026, 11, 16)), NEW_YORK)

    assert window == AmcWindow(datetime(2026, 11, 16), datetime(2026, 11, 23), NEW_YORK)
    assert window.start.isoformat() == "2026-11-16T00:00:00"
    assert window.end.isoformat() == "2026-11-23T00:00:00"


@pytest.mark.parametrize(
    ("zone", "start", "real_hours"),
    [(NEW_YORK, date(2026, 3, 2), 167), (BERLIN, date(2026, 10, 19), 169)],
)
def test_window_of_a_dst_week_stays_whole_local_days(
    zone: str, start: date, real_hours: int
) -> None:
    window = amc_window(Week(start), zone)

    assert window.end - window.start == timedelta(days=7)
    zoned = ZoneInfo(window.time_zone)
    length = window.end.replace(tzinfo=zoned).astimezone(UTC) - window.start.replace(
        tzinfo=zoned
    ).astimezone(UTC)
    assert length == timedelta(hours=real_hours)


def test_amc_window_refuses_unknown_timezone() -> None:
    with pytest.raises(InvalidTimezoneError, match="timezone 'New York'"):
        amc_window(Week(date(2026, 11, 16)), "New York")


def test_week_end_instant_when_midnight_is_skipped() -> None:
    # Santiago springs forward at midnight: 2026-09-06 starts at 01:00.
    ends_at = week_ends_at(Week(date(2026, 8, 30)), "America/Santiago")

    assert ends_at.astimezone(UTC) == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert ends_at.strftime("%Y-%m-%d %H:%M") == "2026-09-06 01:00"


# Refusals


def test_week_within_the_data_lag_says_when_it_can_run() -> None:
    week = Week(date(2026, 11, 16))
    expected = (
        "week 2026-11-16 ends 2026-11-23 00:00 America/New_York; "
        "AMC data for it is complete from 2026-11-25 05:00 UTC"
    )

    assert week_refusal(week, now=datetime(2026, 11, 24, 12, tzinfo=UTC), timezone=NEW_YORK) == (
        expected
    )
    just_before = datetime(2026, 11, 25, 4, 59, 59, tzinfo=UTC)
    assert week_refusal(week, now=just_before, timezone=NEW_YORK) == expected
    on_time = datetime(2026, 11, 25, 5, tzinfo=UTC)
    assert week_refusal(week, now=on_time, timezone=NEW_YORK) is None


def test_current_and_future_weeks_are_refused_with_the_same_explanation() -> None:
    now = datetime(2026, 11, 18, 12, tzinfo=UTC)

    current = week_refusal(Week(date(2026, 11, 16)), now=now, timezone=BERLIN)
    future = week_refusal(Week(date(2026, 12, 7)), now=now, timezone=BERLIN)

    assert current == (
        "week 2026-11-16 ends 2026-11-23 00:00 Europe/Berlin; "
        "AMC data for it is complete from 2026-11-24 23:00 UTC"
    )
    assert future is not None and "complete from 2026-12-15 23:00 UTC" in future


def test_data_lag_of_a_week_ending_on_a_dst_change() -> None:
    # The Monday grid week ending 2026-03-30 00:00 in Berlin: clocks went forward that Sunday.
    refusal = week_refusal(
        Week(date(2026, 3, 23)), now=datetime(2026, 3, 30, tzinfo=UTC), timezone=BERLIN
    )

    assert refusal == (
        "week 2026-03-23 ends 2026-03-30 00:00 Europe/Berlin; "
        "AMC data for it is complete from 2026-03-31 22:00 UTC"
    )


def test_weeks_older_than_amc_history_are_refused() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)

    too_old = week_refusal(Week(date(2025, 10, 13)), now=now, timezone=NEW_YORK)
    oldest_kept = week_refusal(Week(date(2025, 10, 20)), now=now, timezone=NEW_YORK)

    assert too_old == (
        "week 2025-10-13 starts before AMC's 13-month history, which begins 2025-10-20 "
        "(America/New_York); AMC no longer holds its data"
    )
    assert oldest_kept is None


def test_history_start_uses_the_local_date_and_clamps_to_month_end() -> None:
    # 2027-03-01 03:00 UTC is 1 March in Berlin but still 28 February in New York.
    now = datetime(2027, 3, 1, 3, tzinfo=UTC)
    week = Week(date(2026, 1, 26))

    berlin = week_refusal(week, now=now, timezone=BERLIN)
    new_york = week_refusal(week, now=now, timezone=NEW_YORK)
    month_end = week_refusal(week, now=datetime(2027, 3, 31, 12, tzinfo=UTC), timezone=BERLIN)
    one_month = week_refusal(
        week, now=datetime(2027, 3, 31, 12, tzinfo=UTC), timezone=BERLIN, history_months=1
    )

    assert berlin is not None and "history, which begins 2026-02-01 (Europe/Berlin)" in berlin
    assert new_york is not None and "which begins 2026-01-28 (America/New_York)" in new_york
    assert month_end is not None and "which begins 2026-02-28 (Europe/Berlin)" in month_end
    assert one_month is not None and "1-month history, which begins 2027-02-28" in one_month


def test_week_refusal_needs_an_aware_now_and_a_real_zone() -> None:
    week = Week(date(2026, 11, 16))

    with pytest.raises(
        NaiveDatetimeError, match=re.escape("now=datetime.datetime(2026, 12, 1, 0, 0)")
    ):
        week_refusal(week, now=datetime(2026, 12, 1), timezone=NEW_YORK)
    with pytest.raises(InvalidTimezoneError):
        week_refusal(week, now=datetime(2026, 12, 1, tzinfo=UTC), timezone="EST5")


# Scheduled re-runs while AMC's traffic-time data settles


def _days_after_end(days: float) -> datetime:
    # Week 2026-11-16 ends 2026-11-23 05:00 UTC (midnight in New York).
    return datetime(2026, 11, 23, 5, tzinfo=UTC) + timedelta(days=days)


def test_refresh_is_due_once_at_each_age() -> None:
    week = Week(date(2026, 11, 16))
    first_collection = _days_after_end(2.5)

    def due(days: float, last: datetime | None) -> bool:
        return refresh_due(
            week, now=_days_after_end(days), timezone=NEW_YORK, last_refreshed_at=last
        )

    assert not due(6.9, first_collection)
    assert due(7, first_collection)
    assert not due(8, _days_after_end(7.1))
    assert due(14, _days_after_end(7.1))
    assert not due(29, _days_after_end(14.2))
    assert due(30, _days_after_end(14.2))
    assert not due(400, _days_after_end(30.5))


def test_refresh_after_downtime_runs_once_for_the_latest_age() -> None:
    week = Week(date(2026, 11, 16))

    assert refresh_due(
        week,
        now=_days_after_end(40),
        timezone=NEW_YORK,
        last_refreshed_at=_days_after_end(3),
    )
    assert not refresh_due(
        week,
        now=_days_after_end(41),
        timezone=NEW_YORK,
        last_refreshed_at=_days_after_end(40),
    )


def test_refresh_of_a_week_never_fetched_and_custom_ages() -> None:
    week = Week(date(2026, 11, 16))

    assert not refresh_due(week, now=_days_after_end(1), timezone=NEW_YORK, last_refreshed_at=None)
    assert refresh_due(week, now=_days_after_end(8), timezone=NEW_YORK, last_refreshed_at=None)
    assert not refresh_due(
        week,
        now=_days_after_end(8),
        timezone=NEW_YORK,
        last_refreshed_at=_days_after_end(4),
        ages_days=(10, 20),
    )


def test_refresh_ages_must_be_positive_whole_days() -> None:
    with pytest.raises(WeekCalendarError, match=re.escape("ages_days (7, 0): expected whole days")):
        refresh_due(
            Week(date(2026, 11, 16)),
            now=_days_after_end(8),
            timezone=NEW_YORK,
            last_refreshed_at=None,
            ages_days=(7, 0),
        )
