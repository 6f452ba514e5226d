"""Date expressions ('last_week', 'last_30_days', 'qtd', ...) resolved to AMC time windows.

AMC takes a time window as naive local timestamps plus an IANA time zone
(`timeWindowStart`, `timeWindowEnd`, `timeWindowTimeZone`). Every window here is half-open,
[start, end), in the user's time zone, and never reaches into the last 48 hours, where AMC's
data is still incomplete: the end is clamped to the data horizon and the window says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recomamp_pipelines.timekeeping import AMC_DATA_LAG

#: AMC data lands within 48 hours; a window ending later than that is incomplete.

#: AMC keeps a rolling 13 months of history; longer relative windows cannot be answered.
MAX_RELATIVE_COUNT = {"days": 400, "weeks": 57, "months": 13}

_FIXED_EXPRESSIONS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "wtd",
    "mtd",
    "qtd",
    "ytd",
)
_RELATIVE = re.compile(r"last_(\d{1,4})_(days|weeks|months)")

#: Every accepted spelling, for messages and for UIs that offer a choice.
DATE_EXPRESSION_FORMS = (*_FIXED_EXPRESSIONS, "last_N_days", "last_N_weeks", "last_N_months")


class DateExpressionError(ValueError):
    """A date expression, time zone or window that cannot be resolved."""


class DataLagError(DateExpressionError):
    """The whole window lies within AMC's data lag: there is no complete data for it yet."""


@dataclass(frozen=True)
class TimeWindow:
    """A half-open window [start, end) of naive local timestamps in `timezone`.

    `unclamped_end` is set when the end was pulled back to AMC's data horizon.
    """

    start: datetime
    end: datetime
    timezone: str
    unclamped_end: datetime | None = None

    @property
    def clamped(self) -> bool:
        return self.unclamped_end is not None

    @property
    def amc_start(self) -> str:
        """`timeWindowStart` as AMC wants it: naive, no `Z`, no offset."""
        return amc_timestamp(self.start)

    @property
    def amc_end(self) -> str:
        return amc_timestamp(self.end)


def amc_timestamp(moment: datetime) -> str:
    """A naive local timestamp in AMC's format, e.g. '2024-01-20T00:00:00'."""
    if moment.tzinfo is not None:
        raise DateExpressionError(
            f"timestamp {moment.isoformat()} carries an offset; AMC wants naive local time "
            "plus timeWindowTimeZone"
        )
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def zone(timezone: str) -> ZoneInfo:
    """The IANA time zone named `timezone`, or a DateExpressionError saying it is unknown."""
    if not isinstance(timezone, str) or not timezone.strip():
        raise DateExpressionError(f"time zone {timezone!r}: expected an IANA name such as UTC")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DateExpressionError(
            f"time zone {timezone!r}: not an IANA time zone name (e.g. 'America/New_York')"
        ) from exc


def local_now(now: datetime | None, timezone: str) -> datetime:
    """`now` (aware; default the current time) as a naive local time in `timezone`."""
    tz = zone(timezone)
    current = _aware_now(now)
    return current.astimezone(tz).replace(tzinfo=None)


def data_horizon(
    timezone: str, *, now: datetime | None = None, lag: timedelta = AMC_DATA_LAG
) -> datetime:
    """The latest naive local time with complete AMC data: now - lag, floored to the hour."""
    horizon = local_now(_aware_now(now) - lag, timezone)
    return horizon.replace(minute=0, second=0, microsecond=0)


def clamp_window(
    start: datetime,
    end: datetime,
    timezone: str,
    *,
    now: datetime | None = None,
    lag: timedelta = AMC_DATA_LAG,
) -> TimeWindow:
    """The window [start, end) with its end pulled back to AMC's data horizon when needed."""
    zone(timezone)
    for label, moment in (("start", start), ("end", end)):
        if moment.tzinfo is not None:
            raise DateExpressionError(
                f"window {label} {moment.isoformat()} carries an offset; expected a naive local "
                f"time in {timezone}"
            )
    if end <= start:
        raise DateExpressionError(
            f"window {amc_timestamp(start)} .. {amc_timestamp(end)}: the end must be after "
            "the start"
        )
    horizon = data_horizon(timezone, now=now, lag=lag)
    if end <= horizon:
        return TimeWindow(start=start, end=end, timezone=timezone)
    if horizon <= start:
        hours = int(lag.total_seconds() // 3600)
        raise DataLagError(
            f"window {amc_timestamp(start)} .. {amc_timestamp(end)} ({timezone}) lies entirely "
            f"within AMC's {hours}-hour data lag: complete data reaches only "
            f"{amc_timestamp(horizon)}"
        )
    return TimeWindow(start=start, end=horizon, timezone=timezone, unclamped_end=end)


def check_date_expression(expression: str) -> str:
    """The normalised expression, or a DateExpressionError listing the accepted forms."""
    text = expression.strip().lower() if isinstance(expression, str) else ""
    if text in _FIXED_EXPRESSIONS:
        return text
    match = _RELATIVE.fullmatch(text)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if not 1 <= count <= MAX_RELATIVE_COUNT[unit]:
            raise DateExpressionError(
                f"date expression {expression!r}: the number of {unit} must be between 1 and "
                f"{MAX_RELATIVE_COUNT[unit]} (AMC keeps 13 months of data)"
            )
        return text
    shown = expression if isinstance(expression, str) else repr(expression)
    raise DateExpressionError(
        f"date expression {shown[:60]!r}: expected one of {', '.join(DATE_EXPRESSION_FORMS)}"
    )


def resolve_date_expression(
    expression: str,
    timezone: str,
    *,
    now: datetime | None = None,
    week_start_day: int = 0,
    lag: timedelta = AMC_DATA_LAG,
) -> TimeWindow:
    """Resolve a date expression in `timezone` to a clamped window [start, end).

    Weeks start on `week_start_day` (0 = Monday, 6 = Sunday). 'this_*' and '*td' windows end
    at the data horizon; 'today' and 'yesterday' always lie within the data lag and raise
    DataLagError.
    """
    text = check_date_expression(expression)
    if not 0 <= week_start_day <= 6:
        raise DateExpressionError(f"week start day {week_start_day}: expected 0-6 with 0 = Monday")
    today = local_now(now, timezone).date()
    start, end = _calendar_bounds(text, today, week_start_day)
    return clamp_window(_midnight(start), _midnight(end), timezone, now=now, lag=lag)


def _calendar_bounds(text: str, today: date, week_start_day: int) -> tuple[date, date]:
    week_start = today - timedelta(days=(today.weekday() - week_start_day) % 7)
    month_start = today.replace(day=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    year_start = date(today.year, 1, 1)
    tomorrow = today + timedelta(days=1)
    bounds: dict[str, tuple[date, date]] = {
        "today": (today, tomorrow),
        "yesterday": (today - timedelta(days=1), today),
        "this_week": (week_start, week_start + timedelta(days=7)),
        "last_week": (week_start - timedelta(days=7), week_start),
        "this_month": (month_start, _add_months(month_start, 1)),
        "last_month": (_add_months(month_start, -1), month_start),
        "this_quarter": (quarter_start, _add_months(quarter_start, 3)),
        "last_quarter": (_add_months(quarter_start, -3), quarter_start),
        "this_year": (year_start, date(today.year + 1, 1, 1)),
        "last_year": (date(today.year - 1, 1, 1), year_start),
        # To-date windows run to now; the data horizon then clamps them like any other.
        "wtd": (week_start, tomorrow),
        "mtd": (month_start, tomorrow),
        "qtd": (quarter_start, tomorrow),
        "ytd": (year_start, tomorrow),
    }
    if text in bounds:
        return bounds[text]
    match = _RELATIVE.fullmatch(text)
    assert match is not None  # check_date_expression accepted it
    count, unit = int(match.group(1)), match.group(2)
    if unit == "days":
        return today - timedelta(days=count), today
    if unit == "weeks":
        return week_start - timedelta(days=7 * count), week_start
    return _add_months(month_start, -count), month_start


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _aware_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(tz=ZoneInfo("UTC"))
    if now.tzinfo is None:
        raise DateExpressionError(
            f"now={now.isoformat()} is naive; pass an aware datetime (e.g. in UTC)"
        )
    return now
