"""Time helpers and AMC's limits, below everything that reckons with them.

Instants are aware datetimes, time zones IANA names; AMC's limits are the ones its
documentation sets: data complete 48 hours after the fact, 13 months of history, and at most
10 executions in flight per instance (the rest wait in AMC's queue).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

#: AMC's data for an hour is complete 48 hours later; a window must end before then.
AMC_DATA_LAG = timedelta(hours=48)
#: AMC keeps 13 months of history.
AMC_HISTORY_MONTHS = 13
#: Executions AMC runs at once per instance (amc_instances.max_concurrent_executions default).
AMC_MAX_CONCURRENT_EXECUTIONS = 10


class TimeRuleError(ValueError):
    """A time, time zone or time rule (a schedule's cadence included) is unusable as given."""


class InvalidTimezoneError(TimeRuleError):
    """The time zone is not an IANA time zone name."""


class NaiveDatetimeError(TimeRuleError):
    """A datetime without a time zone was given where an instant is required."""


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


def load_timezone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name such as 'America/New_York'."""
    if not isinstance(name, str) or name not in _iana_names():
        raise InvalidTimezoneError(
            f"timezone {name!r}: expected an IANA time zone name such as "
            "'America/New_York', 'Europe/Berlin' or 'UTC'"
        )
    return ZoneInfo(name)


def to_utc(value: datetime, name: str) -> datetime:
    """`value` as a UTC instant; NaiveDatetimeError (naming `name`) if it has no time zone."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={value!r} has no time zone; pass an aware datetime (an instant)"
        )
    return value.astimezone(UTC)
