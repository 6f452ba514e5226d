from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recomamp_pipelines.scheduling.cadence import (
    Cadence,
    CadenceError,
    InvalidCronError,
    InvalidIntervalError,
    biweekly,
    daily,
    day_of_month_step_problem,
    every_3_days,
    every_n_days,
    first_business_day,
    last_business_day,
    last_day_of_month,
    monthly,
    preset,
    quarterly,
    rolling_window,
    weekly,
)
from recomamp_pipelines.timekeeping import InvalidTimezoneError, NaiveDatetimeError

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def instant(fire_time: datetime | None) -> datetime | None:
    # Python never finds a zoned time inside a repeated hour equal to a time in another zone
    # (PEP 495), so fire times are compared as UTC instants.
    return None if fire_time is None else fire_time.astimezone(UTC)


def as_utc(fire_times: list[datetime]) -> list[datetime]:
    return [fire_time.astimezone(UTC) for fire_time in fire_times]


def wall_clock(fire_times: list[datetime]) -> list[str]:
    return [fire_time.strftime("%m-%d %H:%M %Z") for fire_time in fire_times]


def gaps(fire_times: list[datetime]) -> set[timedelta]:
    instants = as_utc(fire_times)
    return {later - earlier for earlier, later in pairwise(instants)}


# Daily schedules across daylight-saving changes


def test_daily_time_skipped_by_spring_forward_fires_at_end_of_gap_in_new_york() -> None:
    cadence = Cadence.cron("30 2 * * *", NEW_YORK)

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2026, 3, 6, 12), 3)

    assert wall_clock(fire_times) == ["03-07 02:30 EST", "03-08 03:00 EDT", "03-09 02:30 EDT"]
    assert as_utc(fire_times) == [
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7),
        utc(2026, 3, 9, 6, 30),
    ]


def test_daily_time_repeated_by_fall_back_fires_once_on_second_pass_in_new_york() -> None:
    cadence = Cadence.cron("30 1 * * *", NEW_YORK)

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2027, 11, 6, 12), 3)

    # croniter alone yields 01:30 twice on 2027-11-07; Dagster fires once, in standard time.
    assert wall_clock(fire_times) == ["11-07 01:30 EST", "11-08 01:30 EST", "11-09 01:30 EST"]
    assert as_utc(fire_times)[0] == utc(2027, 11, 7, 6, 30)


def test_daily_schedule_in_berlin_across_both_changes() -> None:
    cadence = Cadence.cron("30 2 * * *", BERLIN)

    spring = cadence.next_fire_times(local(BERLIN, 2026, 3, 28, 12), 2)
    autumn = cadence.next_fire_times(local(BERLIN, 2026, 10, 24, 12), 2)

    assert wall_clock(spring) == ["03-29 03:00 CEST", "03-30 02:30 CEST"]
    assert as_utc(spring)[0] == utc(2026, 3, 29, 1)
    assert wall_clock(autumn) == ["10-25 02:30 CET", "10-26 02:30 CET"]
    assert as_utc(autumn)[0] == utc(2026, 10, 25, 1, 30)


def test_daily_fire_time_inside_repeated_hour_is_found_from_first_pass() -> None:
    cadence = Cadence.cron("30 1 * * *", NEW_YORK)

    first_pass = local(NEW_YORK, 2026, 11, 1, 1, 15, fold=0)
    second_pass_after_fire = local(NEW_YORK, 2026, 11, 1, 1, 45, fold=1)

    assert instant(cadence.next_fire_time(first_pass)) == utc(2026, 11, 1, 6, 30)
    assert instant(cadence.next_fire_time(second_pass_after_fire)) == utc(2026, 11, 2, 6, 30)


def test_half_hour_and_midnight_changes_follow_the_same_rules() -> None:
    # Lord Howe springs forward 02:00 -> 02:30; Santiago falls back at midnight to 23:00.
    lord_howe = Cadence.cron("15 2 * * *", "Australia/Lord_Howe")
    santiago = Cadence.cron("45 23 * * *", "America/Santiago")

    spring = lord_howe.next_fire_times(local("Australia/Lord_Howe", 2026, 10, 3, 12), 2)
    autumn = santiago.next_fire_times(local("America/Santiago", 2026, 4, 4, 12), 1)

    assert [item.strftime("%m-%d %H:%M") for item in spring] == ["10-04 02:30", "10-05 02:15"]
    assert as_utc(autumn) == [utc(2026, 4, 5, 3, 45)]


# Hourly schedules: once per real hour (Dagster's documented behaviour)


@pytest.mark.parametrize(
    ("zone", "day", "expected_hours"),
    [
        (NEW_YORK, date(2026, 3, 8), [0, 1, *range(3, 24)]),
        (NEW_YORK, date(2026, 11, 1), [0, 1, 1, *range(2, 24)]),
        (BERLIN, date(2026, 3, 29), [0, 1, *range(3, 24)]),
        (BERLIN, date(2026, 10, 25), [0, 1, 2, 2, *range(3, 24)]),
    ],
)
def test_hourly_schedule_fires_once_per_real_hour_on_change_days(
    zone: str, day: date, expected_hours: list[int]
) -> None:
    cadence = Cadence.cron("30 * * * *", zone)
    day_start = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))

    fire_times = cadence.next_fire_times(day_start, len(expected_hours))

    assert [fire_time.hour for fire_time in fire_times] == expected_hours
    assert all(fire_time.minute == 30 for fire_time in fire_times)
    assert gaps(fire_times) == {HOUR}
    next_day = cadence.next_fire_time(fire_times[-1])
    assert next_day is not None and next_day.date() == day + timedelta(days=1)


def test_quarter_hourly_schedule_keeps_15_minute_spacing_through_repeated_hour() -> None:
    cadence = Cadence.cron("*/15 * * * *", NEW_YORK)

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2026, 10, 31, 23, 50), 100)

    assert gaps(fire_times) == {timedelta(minutes=15)}
    assert fire_times[-1] == utc(2026, 11, 2, 4, 45)


def test_hourly_schedule_started_inside_repeated_hour_still_fires_second_pass() -> None:
    cadence = Cadence.cron("30 * * * *", NEW_YORK)

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2026, 11, 1, 1, 45, fold=0), 2)

    assert wall_clock(fire_times) == ["11-01 01:30 EST", "11-01 02:30 EST"]


# Weekly schedules


def test_weekly_schedules_across_changes_in_both_zones() -> None:
    new_york_spring = Cadence.cron("30 2 * * 0", NEW_YORK)
    new_york_autumn = Cadence.cron("30 1 * * SUN", NEW_YORK)
    berlin = Cadence.cron("30 2 * * 0", BERLIN)

    assert wall_clock(new_york_spring.next_fire_times(local(NEW_YORK, 2026, 3, 2), 2)) == [
        "03-08 03:00 EDT",
        "03-15 02:30 EDT",
    ]
    assert as_utc(new_york_autumn.next_fire_times(local(NEW_YORK, 2026, 10, 26), 2)) == [
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 8, 6, 30),
    ]
    assert wall_clock(berlin.next_fire_times(local(BERLIN, 2026, 3, 23), 1)) == ["03-29 03:00 CEST"]
    assert wall_clock(berlin.next_fire_times(local(BERLIN, 2026, 10, 19), 1)) == ["10-25 02:30 CET"]


def test_fire_times_are_strictly_after_and_in_schedule_zone() -> None:
    cadence = Cadence.cron("0 9 * * *", BERLIN)
    fire_time = local(BERLIN, 2026, 6, 1, 9)

    following = cadence.next_fire_times(fire_time.astimezone(UTC), 2)

    assert following == [local(BERLIN, 2026, 6, 2, 9), local(BERLIN, 2026, 6, 3, 9)]
    assert all(item.tzinfo == ZoneInfo(BERLIN) for item in following)
    assert cadence.next_fire_times(fire_time, 0) == []


# Previous fire times and consistency


def test_previous_fire_time_across_changes() -> None:
    hourly = Cadence.cron("30 * * * *", NEW_YORK)
    daily_0230 = Cadence.cron("30 2 * * *", NEW_YORK)

    assert instant(hourly.previous_fire_time(utc(2026, 11, 1, 7))) == utc(2026, 11, 1, 6, 30)
    assert instant(hourly.previous_fire_time(utc(2026, 11, 1, 6, 30))) == utc(2026, 11, 1, 5, 30)
    assert instant(hourly.previous_fire_time(utc(2026, 3, 8, 7, 30))) == utc(2026, 3, 8, 6, 30)
    assert instant(daily_0230.previous_fire_time(local(NEW_YORK, 2026, 3, 8, 12))) == utc(
        2026, 3, 8, 7
    )


_CONSISTENCY_CADENCES = [
    Cadence.cron(expression, zone)
    for zone in (NEW_YORK, BERLIN)
    for expression in ("30 * * * *", "30 2 * * *", "30 1 * * *", "0 2 * * 0", "15 1,2,3 * * *")
] + [Cadence.every(3, date(2026, 1, 2), NEW_YORK, time(2, 30))]
_CHANGES = [
    utc(2026, 3, 8, 7),
    utc(2026, 11, 1, 6),
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
]


@settings(max_examples=150, deadline=None)
@given(
    cadence=st.sampled_from(_CONSISTENCY_CADENCES),
    change=st.sampled_from(_CHANGES),
    offset_minutes=st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
)
def test_previous_and_next_fire_times_agree_around_changes(
    cadence: Cadence, change: datetime, offset_minutes: int
) -> None:
    moment = change + timedelta(minutes=offset_minutes, seconds=17)

    following = cadence.next_fire_time(moment)
    preceding = cadence.previous_fire_time(moment)

    assert following is not None and preceding is not None
    assert preceding < moment < following
    # Nothing fires between the two.
    assert instant(cadence.next_fire_time(preceding)) == instant(following)
    assert instant(cadence.previous_fire_time(following)) == instant(preceding)


# Every-N-days schedules


def test_every_3_days_runs_on_across_month_ends_without_restarting_on_the_1st() -> None:
    cadence = every_3_days(date(2026, 1, 28), NEW_YORK, time(9))

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2026, 1, 1), 6)

    assert [item.date() for item in fire_times] == [
        date(2026, 1, 28),
        date(2026, 1, 31),
        date(2026, 2, 3),
        date(2026, 2, 6),
        date(2026, 2, 9),
        date(2026, 2, 12),
    ]
    later = cadence.next_fire_times(local(NEW_YORK, 2026, 2, 25), 3)
    assert [item.date() for item in later] == [
        date(2026, 2, 27),
        date(2026, 3, 2),
        date(2026, 3, 5),
    ]


def test_biweekly_is_exactly_14_days_apart_across_months_and_dst() -> None:
    cadence = biweekly(date(2026, 1, 5), NEW_YORK, time(9))

    fire_times = cadence.next_fire_times(local(NEW_YORK, 2026, 1, 1), 8)

    dates = [item.date() for item in fire_times]
    assert dates[:3] == [date(2026, 1, 5), date(2026, 1, 19), date(2026, 2, 2)]
    assert {later - earlier for earlier, later in pairwise(dates)} == {timedelta(days=14)}
    assert {item.time() for item in fire_times} == {time(9)}
    # Local time is kept, so the fortnight spanning the spring change is an hour shorter.
    assert gaps(fire_times) == {timedelta(days=14), timedelta(days=14) - HOUR}


def test_interval_schedule_keeps_local_time_and_dagster_rules_across_changes() -> None:
    at_0230 = every_n_days(1, date(2026, 3, 1), NEW_YORK, time(2, 30))
    at_0130 = every_n_days(2, date(2026, 10, 30), NEW_YORK, time(1, 30))
    berlin = every_n_days(7, date(2026, 3, 15), BERLIN, time(2, 30))

    assert wall_clock(at_0230.next_fire_times(local(NEW_YORK, 2026, 3, 7, 12), 2)) == [
        "03-08 03:00 EDT",
        "03-09 02:30 EDT",
    ]
    assert as_utc(at_0130.next_fire_times(local(NEW_YORK, 2026, 10, 31), 1)) == [
        utc(2026, 11, 1, 6, 30)
    ]
    assert wall_clock(berlin.next_fire_times(local(BERLIN, 2026, 3, 16), 3)) == [
        "03-22 02:30 CET",
        "03-29 03:00 CEST",
        "04-05 02:30 CEST",
    ]


def test_interval_schedule_starts_on_its_anchor_date() -> None:
    cadence = every_n_days(10, date(2026, 5, 20), BERLIN, time(6))

    assert cadence.next_fire_time(utc(2020, 1, 1)) == local(BERLIN, 2026, 5, 20, 6)
    assert cadence.previous_fire_time(local(BERLIN, 2026, 5, 20, 6)) is None
    assert cadence.previous_fire_time(local(BERLIN, 2026, 6, 5)) == local(BERLIN, 2026, 5, 30, 6)


def test_interval_time_of_day_defaults_to_midnight() -> None:
    cadence = Cadence("interval", "UTC", interval_days=2, anchor_date=date(2026, 1, 1))

    assert cadence.time_of_day == time(0)
    assert cadence.next_fire_time(utc(2026, 1, 1, 12)) == utc(2026, 1, 3)


# Catch-up after downtime


def test_catch_up_after_downtime_runs_once_and_counts_missed_ticks() -> None:
    cadence = daily(NEW_YORK, time(9))
    last = local(NEW_YORK, 2026, 3, 1, 9)
    now = local(NEW_YORK, 2026, 3, 5, 12)

    due, missed = cadence.due_tick(last, now)

    assert due == local(NEW_YORK, 2026, 3, 5, 9)
    assert missed == 3
    assert cadence.due_tick(due, now) == (None, 0)


def test_due_tick_in_normal_operation() -> None:
    cadence = daily(NEW_YORK, time(9))
    fire_time = local(NEW_YORK, 2026, 3, 6, 9)

    assert cadence.due_tick(local(NEW_YORK, 2026, 3, 5, 9), fire_time) == (fire_time, 0)
    assert cadence.due_tick(fire_time, fire_time + timedelta(hours=5)) == (None, 0)
    assert cadence.due_tick(None, fire_time + timedelta(hours=5)) == (fire_time, 0)


def test_due_tick_counts_both_passes_of_repeated_hour() -> None:
    cadence = Cadence.cron("30 * * * *", NEW_YORK)

    due, missed = cadence.due_tick(utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 45))

    assert due == utc(2026, 11, 1, 7, 30)
    assert missed == 2


def test_nothing_due_before_an_interval_schedule_starts() -> None:
    cadence = every_n_days(3, date(2026, 6, 1), "UTC")

    assert cadence.due_tick(None, utc(2026, 5, 31)) == (None, 0)
    assert cadence.due_tick(None, utc(2026, 6, 1)) == (utc(2026, 6, 1), 0)


# Validation


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "cron_expression '61 * * * *': minute must be 0-59, got '61'"),
        ("0 24 * * *", "cron_expression '0 24 * * *': hour must be 0-23, got '24'"),
        (
            "0 0 32 * *",
            "cron_expression '0 0 32 * *': day-of-month must be 1-31, L, nW or LW, got '32'",
        ),
        ("0 0 1 13 *", "cron_expression '0 0 1 13 *': month must be 1-12 or JAN-DEC, got '13'"),
        ("0 0 * * 8", "cron_expression '0 0 * * 8': day-of-week must be 0-7 or SUN-SAT"),
        ("0 0 * * FUNDAY", "day-of-week must be 0-7 or SUN-SAT"),
        ("0 0 * *", "cron_expression '0 0 * *': expected five fields"),
        ("0 0 * * * *", "got 6"),
        ("", "expected five fields"),
        ("0 0 30 2 *", "cron_expression '0 0 30 2 *': never fires"),
        ("@fortnightly", "cron_expression '@fortnightly': unknown alias"),
        ("0 9 LW * 1", "LW (last weekday of the month) needs day-of-week '*', got '1'"),
    ],
)
def test_invalid_cron_expression_names_value_and_expectation(expression: str, message: str) -> None:
    with pytest.raises(InvalidCronError) as error:
        Cadence.cron(expression, "UTC")

    assert message in str(error.value)


@pytest.mark.parametrize("zone", ["America/New_Yrok", "", "EST+5", "../../etc/passwd", "utc"])
def test_invalid_timezone_is_refused(zone: str) -> None:
    with pytest.raises(InvalidTimezoneError, match="expected an IANA time zone name") as error:
        Cadence.cron("0 9 * * *", zone)

    assert repr(zone) in str(error.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval_days": 0}, "interval_days 0: expected a whole number of days, 1 or more"),
        ({"interval_days": -3}, "interval_days -3"),
        ({"interval_days": 1.5}, "interval_days 1.5"),
        ({"interval_days": True}, "interval_days True"),
        ({"anchor_date": None}, "anchor_date None: expected a local calendar date"),
        ({"anchor_date": datetime(2026, 1, 1)}, "anchor_date datetime.datetime(2026, 1, 1, 0, 0)"),
        ({"time_of_day": time(9, tzinfo=UTC)}, "time_of_day"),
    ],
)
def test_invalid_interval_names_value_and_expectation(
    fields: dict[str, object], message: str
) -> None:
    row: dict[str, object] = {"interval_days": 3, "anchor_date": date(2026, 1, 1)}
    row.update(fields)

    with pytest.raises(InvalidIntervalError) as error:
        Cadence("interval", "UTC", **row)  # type: ignore[arg-type]

    assert message in str(error.value)


def test_schedule_kind_and_stray_fields_are_refused() -> None:
    with pytest.raises(CadenceError, match="schedule kind 'weekly': expected 'cron' or 'interval'"):
        Cadence("weekly", "UTC")
    with pytest.raises(CadenceError, match="interval_days=14 does not apply to a 'cron' schedule"):
        Cadence("cron", "UTC", cron_expression="0 9 * * *", interval_days=14)
    with pytest.raises(CadenceError, match="cron_expression='0 9 \\* \\* \\*' does not apply"):
        Cadence("interval", "UTC", cron_expression="0 9 * * *", interval_days=14)


def test_cadence_errors_are_value_errors() -> None:
    for error_type in (InvalidCronError, InvalidTimezoneError, InvalidIntervalError):
        assert issubclass(error_type, CadenceError)
    assert issubclass(CadenceError, ValueError)


def test_naive_datetimes_are_refused() -> None:
    cadence = daily("UTC")

    with pytest.raises(
        NaiveDatetimeError, match=re.escape("after=datetime.datetime(2026, 1, 1, 0, 0)")
    ):
        cadence.next_fire_times(datetime(2026, 1, 1), 1)
    with pytest.raises(NaiveDatetimeError, match="last_scheduled="):
        cadence.due_tick(datetime(2026, 1, 1), utc(2026, 1, 2))


# Presets


def _dates(cadence: Cadence, after: datetime, count: int) -> list[str]:
    return [item.strftime("%Y-%m-%d %H:%M") for item in cadence.next_fire_times(after, count)]


def test_calendar_presets() -> None:
    after = local(NEW_YORK, 2026, 1, 1)
    at = time(9)

    assert _dates(daily(NEW_YORK, at), after, 2) == ["2026-01-01 09:00", "2026-01-02 09:00"]
    assert _dates(weekly(NEW_YORK, at), after, 2) == ["2026-01-05 09:00", "2026-01-12 09:00"]
    assert _dates(weekly(NEW_YORK, at, weekday=6), after, 1) == ["2026-01-04 09:00"]
    assert _dates(monthly(NEW_YORK, at), after, 3) == [
        "2026-01-01 09:00",
        "2026-02-01 09:00",
        "2026-03-01 09:00",
    ]
    assert _dates(monthly(NEW_YORK, at, day_of_month=15), after, 1) == ["2026-01-15 09:00"]
    assert _dates(quarterly(NEW_YORK, at), after, 3) == [
        "2026-01-01 09:00",
        "2026-04-01 09:00",
        "2026-07-01 09:00",
    ]


def test_last_day_of_month_preset_includes_leap_days() -> None:
    cadence = last_day_of_month("UTC")

    assert _dates(cadence, utc(2026, 1, 1), 3) == [
        "2026-01-31 00:00",
        "2026-02-28 00:00",
        "2026-03-31 00:00",
    ]
    assert _dates(cadence, utc(2028, 2, 1), 1) == ["2028-02-29 00:00"]


def test_business_day_presets_skip_weekends() -> None:
    first = first_business_day(NEW_YORK, time(8))
    last = last_business_day(NEW_YORK, time(18))

    assert _dates(first, local(NEW_YORK, 2026, 1, 1), 3) == [
        "2026-01-01 08:00",
        "2026-02-02 08:00",
        "2026-03-02 08:00",
    ]
    assert _dates(first, local(NEW_YORK, 2026, 7, 15), 4) == [
        "2026-08-03 08:00",
        "2026-09-01 08:00",
        "2026-10-01 08:00",
        "2026-11-02 08:00",
    ]
    assert _dates(last, local(NEW_YORK, 2026, 1, 1), 3) == [
        "2026-01-30 18:00",
        "2026-02-27 18:00",
        "2026-03-31 18:00",
    ]
    assert _dates(last, local(NEW_YORK, 2026, 5, 1), 1) == ["2026-05-29 18:00"]
    assert last.previous_fire_time(local(NEW_YORK, 2026, 11, 1)) == local(
        NEW_YORK, 2026, 10, 30, 18
    )


def test_named_presets() -> None:
    anchor = date(2026, 1, 28)

    assert preset("weekly", timezone="UTC") == weekly("UTC")
    assert preset("every_3_days", timezone="UTC", anchor_date=anchor) == every_3_days(anchor, "UTC")
    assert preset("biweekly", timezone="UTC", anchor_date=anchor).interval_days == 14
    every_5 = preset("every_n_days", timezone="UTC", anchor_date=anchor, interval_days=5)
    assert _dates(every_5, utc(2026, 1, 29), 2) == ["2026-02-02 00:00", "2026-02-07 00:00"]


@pytest.mark.parametrize(
    ("build", "error_type", "message"),
    [
        (
            lambda: monthly("UTC", day_of_month=31),
            InvalidCronError,
            "day_of_month 31: expected 1-28",
        ),
        (lambda: weekly("UTC", weekday=7), InvalidCronError, "weekday 7: expected 0 (Monday)"),
        (lambda: daily("UTC", time(9, 0, 30)), InvalidCronError, "time of day 09:00:30"),
        (lambda: preset("fortnightly", timezone="UTC"), CadenceError, "preset 'fortnightly'"),
        (
            lambda: preset("every_n_days", timezone="UTC", anchor_date=date(2026, 1, 1)),
            InvalidIntervalError,
            "needs interval_days",
        ),
        (lambda: preset("biweekly", timezone="UTC"), InvalidIntervalError, "needs anchor_date"),
        (
            lambda: preset("daily", timezone="UTC", interval_days=2),
            CadenceError,
            "preset 'daily': follows the calendar",
        ),
        (lambda: every_n_days(0, date(2026, 1, 1), "UTC"), InvalidIntervalError, "interval_days 0"),
    ],
)
def test_invalid_presets_are_refused(
    build: Callable[[], Cadence], error_type: type[Exception], message: str
) -> None:
    with pytest.raises(error_type, match=re.escape(message)):
        build()


# Typical spacing and rolling windows


def test_typical_interval_days() -> None:
    assert daily(NEW_YORK).typical_interval_days() == 1
    assert weekly(NEW_YORK).typical_interval_days() == 7
    assert Cadence.cron("0 * * * *", BERLIN).typical_interval_days() == pytest.approx(1 / 24)
    assert 30 < monthly("UTC").typical_interval_days() < 31
    assert 90 < quarterly("UTC").typical_interval_days() < 92
    assert every_3_days(date(2026, 1, 1), "UTC").typical_interval_days() == 3
    assert biweekly(date(2026, 1, 1), "UTC").typical_interval_days() == 14


def test_rolling_window_ends_at_local_midnight_before_the_data_lag() -> None:
    start, end = rolling_window(local(NEW_YORK, 2026, 6, 10, 6), 7, NEW_YORK)

    assert (start, end) == (datetime(2026, 6, 1), datetime(2026, 6, 8))
    assert start.tzinfo is None and end.tzinfo is None
    assert end.isoformat() == "2026-06-08T00:00:00"


def test_rolling_window_subtracts_the_lag_in_real_time_across_spring_forward() -> None:
    # 2026-03-10 00:30 EDT minus 48 real hours is 2026-03-07 23:30 EST (not 03-08 00:30).
    _, end = rolling_window(local(NEW_YORK, 2026, 3, 10, 0, 30), 1, NEW_YORK)

    assert end == datetime(2026, 3, 7)


def test_rolling_window_with_custom_lag_and_exact_midnight() -> None:
    start, end = rolling_window(utc(2026, 6, 10), 30, "UTC", data_lag=timedelta(hours=24))

    assert (start, end) == (datetime(2026, 5, 10), datetime(2026, 6, 9))


def test_rolling_window_refuses_bad_lookback() -> None:
    with pytest.raises(CadenceError, match="lookback_days 0: expected a whole number, 1 or more"):
        rolling_window(utc(2026, 6, 10), 0, "UTC")
    with pytest.raises(InvalidTimezoneError, match="'Mars/Olympus'"):
        rolling_window(utc(2026, 6, 10), 7, "Mars/Olympus")


@pytest.mark.parametrize(
    ("expression", "days", "instead"),
    [
        ("0 0 */14 * *", "1,15,29", "--preset biweekly --anchor YYYY-MM-DD"),
        ("0 6 */3 * *", "1,4,7,10,13,16,19,22,25,28,31", "--preset every_3_days --anchor"),
        ("30 2 */7 * *", "1,8,15,22,29", "--preset weekly --weekday N"),
        ("0 0 2-31/10 * *", "2,12,22", "--every-days 10 --anchor YYYY-MM-DD"),
    ],
)
def test_a_day_of_month_step_names_the_preset_meant(
    expression: str, days: str, instead: str
) -> None:
    problem = day_of_month_step_problem(expression)
    assert problem is not None
    assert f"starts over every month (days {days})" in problem
    assert instead in problem
    listed = expression.split()
    listed[2] = days
    assert repr(" ".join(listed)) in problem
    # What the message offers instead is itself accepted.
    assert day_of_month_step_problem(" ".join(listed)) is None


@pytest.mark.parametrize(
    "expression", ["0 0 1,15 * *", "0 0 */1 * *", "*/15 * * * *", "0 9 * * 1/2", "@monthly"]
)
def test_crons_without_a_day_of_month_step_pass(expression: str) -> None:
    assert day_of_month_step_problem(expression) is None
