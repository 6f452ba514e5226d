"""Date expressions resolve in the user's time zone, on the configured week, short of AMC's lag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recomamp_pipelines.templates.dates import (
    DataLagError,
    DateExpressionError,
    clamp_window,
    data_horizon,
    resolve_date_expression,
)

# Wednesday 2024-05-15 15:30 UTC = 11:30 in New York (EDT, UTC-4).
NOW = datetime(2024, 5, 15, 15, 30, tzinfo=UTC)
NY = "America/New_York"


def window(expression: str, tz: str = NY, **kwargs: object) -> tuple[str, str, bool]:
    resolved = resolve_date_expression(expression, tz, now=NOW, **kwargs)  # type: ignore[arg-type]
    return resolved.amc_start, resolved.amc_end, resolved.clamped


@pytest.mark.parametrize(
    ("expression", "start", "end", "clamped"),
    [
        ("last_week", "2024-05-06T00:00:00", "2024-05-13T00:00:00", False),
        ("last_month", "2024-04-01T00:00:00", "2024-05-01T00:00:00", False),
        ("last_quarter", "2024-01-01T00:00:00", "2024-04-01T00:00:00", False),
        ("last_year", "2023-01-01T00:00:00", "2024-01-01T00:00:00", False),
        ("last_2_weeks", "2024-04-29T00:00:00", "2024-05-13T00:00:00", False),
        ("last_3_months", "2024-02-01T00:00:00", "2024-05-01T00:00:00", False),
        # Ends today at midnight, but data is complete only up to now - 48 h, 11:00 two days ago.
        ("last_7_days", "2024-05-08T00:00:00", "2024-05-13T11:00:00", True),
        ("this_week", "2024-05-13T00:00:00", "2024-05-13T11:00:00", True),
        ("this_month", "2024-05-01T00:00:00", "2024-05-13T11:00:00", True),
        ("mtd", "2024-05-01T00:00:00", "2024-05-13T11:00:00", True),
        ("this_quarter", "2024-04-01T00:00:00", "2024-05-13T11:00:00", True),
        ("qtd", "2024-04-01T00:00:00", "2024-05-13T11:00:00", True),
        ("ytd", "2024-01-01T00:00:00", "2024-05-13T11:00:00", True),
        ("this_year", "2024-01-01T00:00:00", "2024-05-13T11:00:00", True),
    ],
)
def test_expressions_resolve_to_naive_local_windows(
    expression: str, start: str, end: str, clamped: bool
) -> None:
    assert window(expression) == (start, end, clamped)


def test_expressions_are_case_and_space_tolerant() -> None:
    assert window("  Last_Week ") == window("last_week")


def test_the_week_starts_on_the_configured_day() -> None:
    # Sunday weeks: the week of Wednesday 2024-05-15 began on Sunday 2024-05-12.
    assert window("last_week", week_start_day=6)[:2] == (
        "2024-05-05T00:00:00",
        "2024-05-12T00:00:00",
    )
    # Wednesday weeks: last week is 05-08 .. 05-15, of which data is complete to 05-13 11:00.
    assert window("last_week", week_start_day=2) == (
        "2024-05-08T00:00:00",
        "2024-05-13T11:00:00",
        True,
    )


def test_dates_follow_the_users_time_zone() -> None:
    # 2024-05-15 02:00 UTC is still 2024-05-14 in New York but already the 15th in Tokyo.
    early = datetime(2024, 5, 15, 2, 0, tzinfo=UTC)
    ny = resolve_date_expression("last_30_days", NY, now=early)
    tokyo = resolve_date_expression("last_30_days", "Asia/Tokyo", now=early)
    assert ny.start == datetime(2024, 4, 14)
    assert tokyo.start == datetime(2024, 4, 15)
    assert ny.timezone == NY and tokyo.timezone == "Asia/Tokyo"


def test_the_data_horizon_is_48_hours_back_floored_to_the_hour_in_local_time() -> None:
    assert data_horizon(NY, now=NOW) == datetime(2024, 5, 13, 11, 0)
    assert data_horizon("UTC", now=NOW) == datetime(2024, 5, 13, 15, 0)


def test_the_horizon_is_exact_across_a_dst_change() -> None:
    # 2024-03-12 12:00 UTC; 48 h earlier is 2024-03-10 12:00 UTC = 08:00 EDT (after the switch).
    now = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
    assert data_horizon(NY, now=now) == datetime(2024, 3, 10, 8, 0)


@pytest.mark.parametrize("expression", ["today", "yesterday"])
def test_windows_entirely_inside_the_data_lag_are_refused(expression: str) -> None:
    with pytest.raises(DataLagError, match="48-hour data lag"):
        window(expression)


def test_a_month_to_date_on_the_first_days_of_a_month_is_refused() -> None:
    with pytest.raises(DataLagError, match="2024-05-01T00:00:00"):
        resolve_date_expression("mtd", "UTC", now=datetime(2024, 5, 2, 9, tzinfo=UTC))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("last_fortnight", "expected one of today, yesterday"),
        ("last_0_days", "between 1 and 400"),
        ("last_500_days", "between 1 and 400"),
        ("last_14_months", "between 1 and 13"),
        ("next_week", "expected one of"),
        ("", "expected one of"),
    ],
)
def test_invalid_expressions_say_what_is_accepted(expression: str, message: str) -> None:
    with pytest.raises(DateExpressionError, match=message):
        window(expression)


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(DateExpressionError, match="'Mars/Olympus_Mons': not an IANA time zone"):
        window("last_week", tz="Mars/Olympus_Mons")


def test_an_invalid_week_start_day_is_a_clear_error() -> None:
    with pytest.raises(DateExpressionError, match="week start day 7"):
        window("last_week", week_start_day=7)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(DateExpressionError, match="naive"):
        resolve_date_expression("last_week", "UTC", now=datetime(2024, 5, 15))


def test_clamping_reports_the_original_end() -> None:
    clamped = clamp_window(
        datetime(2024, 5, 6), datetime(2024, 5, 20), "UTC", now=NOW, lag=timedelta(hours=48)
    )
    assert clamped.end == datetime(2024, 5, 13, 15, 0)
    assert clamped.unclamped_end == datetime(2024, 5, 20)
    untouched = clamp_window(datetime(2024, 5, 6), datetime(2024, 5, 13), "UTC", now=NOW)
    assert not untouched.clamped and untouched.end == datetime(2024, 5, 13)


def test_a_window_with_an_offset_or_reversed_is_refused() -> None:
    with pytest.raises(DateExpressionError, match="carries an offset"):
        clamp_window(datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 5, 13), "UTC", now=NOW)
    with pytest.raises(DateExpressionError, match="end must be after"):
        clamp_window(datetime(2024, 5, 13), datetime(2024, 5, 6), "UTC", now=NOW)
