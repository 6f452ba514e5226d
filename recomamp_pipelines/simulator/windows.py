"""Execution time windows: AMC's window types, time zones, and what a `Z` suffix does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recomamp_pipelines.simulator.requests import bad_request

WINDOW_TYPES = (
    "EXPLICIT",
    "MOST_RECENT_DAY",
    "MOST_RECENT_WEEK",
    "CURRENT_MONTH",
    "PREVIOUS_MONTH",
    "ALL",
)


@dataclass(frozen=True)
class ResolvedWindow:
    """A window as instants, with what the client sent (or what AMC reports for it)."""

    start: datetime
    end: datetime
    time_zone: str
    window_type: str
    start_original: str
    end_original: str


def zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise bad_request(f"timeWindowTimeZone {name!r} is not an IANA time zone name.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad_request(f"timeWindowTimeZone {name!r} is not an IANA time zone name.") from exc


def _local_text(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_window_time(value: Any, name: str, tz: ZoneInfo) -> datetime:
    """A window bound as an instant.

    A naive timestamp is wall-clock time in `tz`, as AMC reads it. A `Z` suffix or an offset is
    taken as the instant it names (so `2024-01-20T00:00:00Z` in America/New_York starts at 19:00
    local the day before): the results are shifted, never silently empty.
    """
    if not isinstance(value, str) or not value.strip():
        raise bad_request(
            f"{name} is required for timeWindowType EXPLICIT, as 2024-01-20T00:00:00."
        )
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as exc:
        raise bad_request(f"{name} {value!r} is not a timestamp like 2024-01-20T00:00:00.") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz).astimezone(UTC)
    return parsed.astimezone(UTC)


def resolve_window(body: dict[str, Any], now: datetime, history_start: datetime) -> ResolvedWindow:
    """The execution window of a create-execution body, relative to the simulator's clock."""
    tz_name = body.get("timeWindowTimeZone") or "UTC"
    tz = zone(tz_name)
    start_raw, end_raw = body.get("timeWindowStart"), body.get("timeWindowEnd")
    window_type = body.get("timeWindowType") or (
        "EXPLICIT" if start_raw or end_raw else "MOST_RECENT_DAY"
    )
    if window_type not in WINDOW_TYPES:
        raise bad_request(
            f"timeWindowType {window_type!r} must be one of {', '.join(WINDOW_TYPES)}."
        )
    local_now = now.astimezone(tz)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window_type == "EXPLICIT":
        start = parse_window_time(start_raw, "timeWindowStart", tz)
        end = parse_window_time(end_raw, "timeWindowEnd", tz)
        if end <= start:
            raise bad_request(
                f"timeWindowEnd {end_raw!r} must be after timeWindowStart {start_raw!r}."
            )
        return ResolvedWindow(start, end, tz_name, window_type, str(start_raw), str(end_raw))
    if window_type == "MOST_RECENT_DAY":
        start_local, end_local = today - timedelta(days=1), today
    elif window_type == "MOST_RECENT_WEEK":
        start_local, end_local = today - timedelta(days=7), today
    elif window_type == "CURRENT_MONTH":
        start_local, end_local = today.replace(day=1), local_now
    elif window_type == "PREVIOUS_MONTH":
        end_local = today.replace(day=1)
        start_local = (end_local - timedelta(days=1)).replace(day=1)
    else:
        start_local, end_local = history_start.astimezone(tz), local_now
    start, end = start_local.astimezone(UTC), end_local.astimezone(UTC)
    if end <= start:
        end = start + timedelta(seconds=1)
    return ResolvedWindow(
        start, end, tz_name, window_type, _local_text(start, tz), _local_text(end, tz)
    )
