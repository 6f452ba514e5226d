"""Schedule cadences: when a cron or every-N-days schedule fires, in its own time zone.

Fire times follow Dagster's documented daylight-saving rules
(docs.dagster.io/guides/automate/schedules/customizing-execution-timezone), so a schedule
evaluated here agrees with one evaluated by Dagster's scheduler:

- a local time skipped by spring-forward fires once, at the first instant after the gap
  (02:30 -> 03:00 on the spring-forward day);
- a local time repeated by fall-back fires once, at its second occurrence (01:30 -> 01:30 in
  standard time);
- cron expressions whose hour field is `*` (hourly, every 15 minutes, ...) keep firing once per
  matching wall-clock slot in real time: both passes through a repeated hour fire, and slots
  that do not exist on the spring-forward day are skipped.

Matching is done on naive wall-clock times, then each match is resolved to an instant with
zoneinfo; croniter alone would yield a repeated local time twice for a daily schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from recomamp_pipelines.timekeeping import (
    AMC_DATA_LAG,
    TimeRuleError,
    load_timezone,
    to_utc,
)

MIDNIGHT = time(0, 0)

_CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, L, nW or LW"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT (0 and 7 are Sunday), n#k or Ln"),
)
_CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# croniter has no `LW` (last weekday of the month); it always falls on day 26 or later, so
# those days are matched by croniter and filtered here.
_LAST_WEEKDAY = "LW"
_LAST_WEEKDAY_CANDIDATES = "26-31"
# Typical spacing is measured on wall-clock times from a fixed date, so it is the same on every
# call and daylight-saving shifts do not bend it.
_SPACING_REFERENCE = datetime(2025, 1, 1)
_SPACING_HORIZON = timedelta(days=400)
_SPACING_MAX_SAMPLES = 1000


#: Errors of a schedule's cadence are errors of time rules (time zones and instants too).
CadenceError = TimeRuleError


class InvalidCronError(CadenceError):
    """The cron expression is malformed or never fires."""


class InvalidIntervalError(CadenceError):
    """The every-N-days fields (interval, anchor date, time of day) are unusable."""


@dataclass(frozen=True)
class _CronSpec:
    croniter_expression: str
    last_weekday_only: bool
    hourly: bool


def _parse_cron(expression: object) -> _CronSpec:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidCronError(
            f"cron_expression {expression!r}: expected five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 9 * * 1'"
        )
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in _CRON_ALIASES:
            raise InvalidCronError(
                f"cron_expression {expression!r}: unknown alias; expected one of "
                f"{', '.join(sorted(_CRON_ALIASES))}"
            )
        text = _CRON_ALIASES[text.lower()]
    fields = text.split()
    if len(fields) != len(_CRON_FIELDS):
        raise InvalidCronError(
            f"cron_expression {expression!r}: expected five fields "
            f"'minute hour day-of-month month day-of-week', got {len(fields)}"
        )
    last_weekday_only = fields[2].upper() == _LAST_WEEKDAY
    if last_weekday_only:
        if fields[4] != "*":
            raise InvalidCronError(
                f"cron_expression {expression!r}: day-of-month LW (last weekday of the month) "
                f"needs day-of-week '*', got {fields[4]!r}"
            )
        fields[2] = _LAST_WEEKDAY_CANDIDATES
    # Each field is tried alone so the message can say which one is wrong.
    for position, (name, allowed) in enumerate(_CRON_FIELDS):
        probe = ["*"] * len(_CRON_FIELDS)
        probe[position] = fields[position]
        try:
            croniter(" ".join(probe))
        except CroniterError:
            shown = _LAST_WEEKDAY if last_weekday_only and position == 2 else fields[position]
            raise InvalidCronError(
                f"cron_expression {expression!r}: {name} must be {allowed}, got {shown!r}"
            ) from None
    croniter_expression = " ".join(fields)
    try:
        croniter(croniter_expression, _SPACING_REFERENCE).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidCronError(
            f"cron_expression {expression!r}: never fires (no calendar date matches its "
            "day-of-month, month and day-of-week together)"
        ) from None
    except CroniterError as error:
        raise InvalidCronError(f"cron_expression {expression!r}: {error}") from None
    hours = croniter.expand(croniter_expression)[0][1]
    return _CronSpec(
        croniter_expression=croniter_expression,
        last_weekday_only=last_weekday_only,
        hourly=hours == ["*"],
    )


# What a day-of-month step probably meant: the preset that fires every N days indeed.
_STEP_PRESETS = {3: "every_3_days", 7: "weekly", 14: "biweekly"}


def day_of_month_step_problem(expression: str) -> str | None:
    """Why a cron's day-of-month step (`*/14`) is likely not what was meant, or None.

    A step counts from the 1st again every month: `*/14` fires on the 1st, 15th and 29th, so
    two runs fall 1-3 days apart at each month's end. The message names the preset that fires
    every N days across month ends, and how to keep those days of the month on purpose.
    """
    text = expression.strip()
    text = _CRON_ALIASES.get(text.lower(), text)
    fields = text.split()
    if len(fields) != len(_CRON_FIELDS) or "/" not in fields[2]:
        return None
    try:
        days = croniter.expand(" ".join(fields))[0][2]
        step = int(fields[2].rsplit("/", 1)[1])
    except (CroniterError, ValueError):
        return None
    if step < 2 or days == ["*"]:
        return None
    listed = ",".join(str(day) for day in days)
    name = _STEP_PRESETS.get(step, "every_n_days")
    if name == "weekly":
        instead = "--preset weekly --weekday N (0 = Monday)"
    elif name == "every_n_days":
        instead = f"--every-days {step} --anchor YYYY-MM-DD (the preset every_n_days)"
    else:
        instead = f"--preset {name} --anchor YYYY-MM-DD"
    fields[2] = listed
    return (
        f"cron_expression {expression!r}: day-of-month {text.split()[2]!r} starts over every "
        f"month (days {listed}), so runs are not {step} days apart across month ends; for "
        f"every {step} days use {instead}; to run on exactly those days of each month, list "
        f"them: {' '.join(fields)!r}"
    )


def _is_last_weekday_of_month(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    following_weekday = day + timedelta(days=3 if day.weekday() == 4 else 1)
    return following_weekday.month != day.month


def _offsets(local: datetime, zone: ZoneInfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a naive local time read before (fold=0) and after (fold=1) a transition.

    Equal: an ordinary time. fold=0 larger: repeated by fall-back. fold=0 smaller: skipped by
    spring-forward (PEP 495 semantics).
    """
    before = local.replace(tzinfo=zone, fold=0).utcoffset()
    after = local.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    return before, after


def _instant(local: datetime, zone: ZoneInfo, fold: int) -> datetime:
    return local.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _end_of_gap(local: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the spring-forward gap that swallowed `local`."""
    _, offset_after = _offsets(local, zone)
    # Reading `local` with the post-transition offset lands before the transition, with the
    # pre-transition offset after it; bisect to the second (tz transitions are whole seconds).
    low = int(_instant(local, zone, fold=1).timestamp())
    high = int(_instant(local, zone, fold=0).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _resolve_once(local: datetime, zone: ZoneInfo) -> datetime:
    """The single instant a non-hourly schedule fires for wall-clock time `local`."""
    before, after = _offsets(local, zone)
    if before < after:
        return _end_of_gap(local, zone)
    return _instant(local, zone, fold=1 if before > after else 0)


@dataclass(frozen=True)
class Cadence:
    """When one schedule fires: `kind` 'cron' or 'interval', in an IANA `timezone`.

    Built from a schedule row's fields. A cron cadence needs `cron_expression` (croniter syntax,
    plus LW in day-of-month for the last weekday of the month). An interval cadence fires every
    `interval_days` days at `time_of_day` (default 00:00) local time, first on `anchor_date`;
    cron cannot say this (`*/14` in day-of-month restarts on every 1st).
    """

    kind: str
    timezone: str
    cron_expression: str | None = None
    interval_days: int | None = None
    anchor_date: date | None = None
    time_of_day: time | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _cron: _CronSpec | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", load_timezone(self.timezone))
        if self.kind == "cron":
            self._check_unused("interval_days", "anchor_date", "time_of_day")
            object.__setattr__(self, "_cron", _parse_cron(self.cron_expression))
        elif self.kind == "interval":
            self._check_unused("cron_expression")
            self._check_interval()
            object.__setattr__(self, "_cron", None)
            if self.time_of_day is None:
                object.__setattr__(self, "time_of_day", MIDNIGHT)
        else:
            raise CadenceError(f"schedule kind {self.kind!r}: expected 'cron' or 'interval'")

    def _check_unused(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) is not None:
                raise CadenceError(
                    f"{name}={getattr(self, name)!r} does not apply to a {self.kind!r} schedule"
                )

    def _check_interval(self) -> None:
        days = self.interval_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InvalidIntervalError(
                f"interval_days {days!r}: expected a whole number of days, 1 or more"
            )
        if not isinstance(self.anchor_date, date) or isinstance(self.anchor_date, datetime):
            raise InvalidIntervalError(
                f"anchor_date {self.anchor_date!r}: expected a local calendar date (datetime.date)"
                " of the first run"
            )
        at = self.time_of_day
        if at is not None and (not isinstance(at, time) or at.tzinfo is not None):
            raise InvalidIntervalError(
                f"time_of_day {at!r}: expected a local wall-clock time without a time zone"
            )

    @classmethod
    def cron(cls, cron_expression: str, timezone: str) -> Cadence:
        """A cadence that fires when `cron_expression` matches local time in `timezone`."""
        return cls("cron", timezone, cron_expression=cron_expression)

    @classmethod
    def every(
        cls, interval_days: int, anchor_date: date, timezone: str, time_of_day: time | None = None
    ) -> Cadence:
        """A cadence that fires every `interval_days` days from `anchor_date` at `time_of_day`."""
        return cls(
            "interval",
            timezone,
            interval_days=interval_days,
            anchor_date=anchor_date,
            time_of_day=time_of_day,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return self._zone

    def next_fire_times(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` fire times strictly after `after`, aware, in the schedule's zone.

        Compare the results as instants (`.astimezone(UTC)` or `.timestamp()`): inside a
        repeated hour Python compares two datetimes of one zone by wall clock alone, and never
        finds one equal to a datetime of another zone (PEP 495).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise CadenceError(f"count {count!r}: expected a whole number, 0 or more")
        fire_times: list[datetime] = []
        if count == 0:
            return fire_times
        for instant in self._fire_instants(to_utc(after, "after")):
            fire_times.append(instant.astimezone(self._zone))
            if len(fire_times) == count:
                break
        return fire_times

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after`, or None if the schedule never fires again."""
        fire_times = self.next_fire_times(after, 1)
        return fire_times[0] if fire_times else None

    def previous_fire_time(self, before: datetime) -> datetime | None:
        """The last fire time strictly before `before`, or None if there is none."""
        before_utc = to_utc(before, "before")
        if self._cron is None:
            instant = self._previous_interval_instant(before_utc)
        else:
            instant = self._previous_cron_instant(before_utc, self._cron)
        return None if instant is None else instant.astimezone(self._zone)

    def due_tick(
        self, last_scheduled: datetime | None, now: datetime
    ) -> tuple[datetime | None, int]:
        """The tick to run now, if any, and how many earlier ticks it stands in for.

        The tick is the latest fire time at or before `now` that is later than `last_scheduled`:
        after downtime the schedule catches up with ONE run, and the count says how many fire
        times between `last_scheduled` and that tick were skipped. `last_scheduled=None` means
        the schedule never fired; then the latest fire time at or before `now` is due (pass the
        schedule's creation time instead to wait for its first fire time after creation).
        """
        now_utc = to_utc(now, "now")
        latest = self.previous_fire_time(now_utc + timedelta(microseconds=1))
        if latest is None:
            return None, 0
        if last_scheduled is None:
            return latest, 0
        last_utc = to_utc(last_scheduled, "last_scheduled")
        latest_utc = latest.astimezone(UTC)
        if latest_utc <= last_utc:
            return None, 0
        missed = 0
        for instant in self._fire_instants(last_utc):
            if instant >= latest_utc:
                break
            missed += 1
        return latest, missed

    def typical_interval_days(self) -> float:
        """Days between consecutive fire times on average (daily 1, weekly 7, monthly ~30.4).

        Used as the default lookback of a schedule's rolling window.
        """
        if self._cron is None:
            assert self.interval_days is not None
            return float(self.interval_days)
        samples: list[datetime] = []
        for local in self._naive_matches(_SPACING_REFERENCE, self._cron, ascending=True):
            samples.append(local)
            if len(samples) >= _SPACING_MAX_SAMPLES or (
                len(samples) >= 2 and local - _SPACING_REFERENCE > _SPACING_HORIZON
            ):
                break
        span = samples[-1] - samples[0]
        return span / timedelta(days=1) / (len(samples) - 1)

    def _fire_instants(self, after_utc: datetime) -> Iterator[datetime]:
        """Fire instants in UTC, strictly after `after_utc`, ascending, without repeats."""
        if self._cron is None:
            source = self._interval_instants(after_utc)
        else:
            source = self._cron_instants(after_utc, self._cron)
        latest = after_utc
        for instant in source:
            # Several skipped wall-clock times resolve to the same end of a gap: fire once.
            if instant > latest:
                latest = instant
                yield instant

    def _naive_matches(
        self, start: datetime, spec: _CronSpec, *, ascending: bool
    ) -> Iterator[datetime]:
        matcher = croniter(spec.croniter_expression, start)
        while True:
            try:
                local = matcher.get_next(datetime) if ascending else matcher.get_prev(datetime)
            except CroniterBadDateError:
                return
            if spec.last_weekday_only and not _is_last_weekday_of_month(local.date()):
                continue
            yield local

    def _cron_instants(self, after_utc: datetime, spec: _CronSpec) -> Iterator[datetime]:
        zone = self._zone
        local_after = after_utc.astimezone(zone).replace(tzinfo=None, fold=0)
        before, after = _offsets(local_after, zone)
        # Inside a repeated hour, earlier wall-clock times still fire later (on the second
        # pass), so matching starts one repeat-length back.
        start = local_after - max(before - after, timedelta(0))
        matches = self._naive_matches(start, spec, ascending=True)
        held: datetime | None = None
        while True:
            local = held if held is not None else next(matches, None)
            held = None
            if local is None:
                return
            before, after = _offsets(local, zone)
            if before == after:
                yield _instant(local, zone, fold=0)
            elif not spec.hourly:
                yield _resolve_once(local, zone)
            elif before > after:
                # Every match inside the repeated hour fires on the first pass, then again on
                # the second; the whole block is read before emitting to keep instants ordered.
                block = [local]
                for later in matches:
                    later_before, later_after = _offsets(later, zone)
                    if later_before <= later_after:
                        held = later
                        break
                    block.append(later)
                yield from (_instant(item, zone, fold=0) for item in block)
                yield from (_instant(item, zone, fold=1) for item in block)
            # An hourly match skipped by spring-forward does not fire: the next slot comes
            # one real hour later anyway.

    def _interval_instants(self, after_utc: datetime) -> Iterator[datetime]:
        assert self.interval_days is not None and self.anchor_date is not None
        assert self.time_of_day is not None
        local_after = after_utc.astimezone(self._zone).date()
        step = max(0, (local_after - self.anchor_date).days // self.interval_days - 1)
        while True:
            day = self.anchor_date + timedelta(days=step * self.interval_days)
            yield _resolve_once(datetime.combine(day, self.time_of_day), self._zone)
            step += 1

    def _previous_interval_instant(self, before_utc: datetime) -> datetime | None:
        assert self.interval_days is not None and self.anchor_date is not None
        assert self.time_of_day is not None
        local_before = before_utc.astimezone(self._zone).date()
        step = (local_before - self.anchor_date).days // self.interval_days + 1
        while step >= 0:
            day = self.anchor_date + timedelta(days=step * self.interval_days)
            instant = _resolve_once(datetime.combine(day, self.time_of_day), self._zone)
            if instant < before_utc:
                return instant
            step -= 1
        return None

    def _previous_cron_instant(self, before_utc: datetime, spec: _CronSpec) -> datetime | None:
        zone = self._zone
        local_before = before_utc.astimezone(zone).replace(tzinfo=None, fold=0)
        # Walk matches backwards; for each, replay forwards from just before its earliest
        # reading up to `before`. The replay also covers later wall-clock matches that fire
        # earlier (first pass of a repeated hour), and keeps the DST rules in _cron_instants.
        for local in self._naive_matches(local_before, spec, ascending=False):
            earliest = min(_instant(local, zone, fold=0), _instant(local, zone, fold=1))
            latest: datetime | None = None
            for instant in self._fire_instants(earliest - timedelta(seconds=1)):
                if instant >= before_utc:
                    break
                latest = instant
            if latest is not None:
                return latest
        return None


def rolling_window(
    fire_time: datetime,
    lookback_days: int,
    tz: str,
    data_lag: timedelta = AMC_DATA_LAG,
) -> tuple[datetime, datetime]:
    """The AMC time window for a run at `fire_time`: naive local (start, end) in zone `tz`.

    The window ends at the local midnight at or before `fire_time - data_lag` (AMC data lands
    within 48 hours; a window ending later is incomplete) and starts `lookback_days` days
    before its end.
    """
    zone = load_timezone(tz)
    fire_utc = to_utc(fire_time, "fire_time")
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 1:
        raise CadenceError(f"lookback_days {lookback_days!r}: expected a whole number, 1 or more")
    if data_lag < timedelta(0):
        raise CadenceError(f"data_lag {data_lag!r}: expected zero or more")
    complete_until = (fire_utc - data_lag).astimezone(zone)
    end = datetime.combine(complete_until.date(), MIDNIGHT)
    return end - timedelta(days=lookback_days), end


def _cron_time(at: time) -> tuple[int, int]:
    if at.second or at.microsecond or at.tzinfo is not None:
        raise InvalidCronError(
            f"time of day {at.isoformat()}: expected a local time on a whole minute"
        )
    return at.minute, at.hour


def daily(timezone: str, at: time = MIDNIGHT) -> Cadence:
    """Every day at `at`."""
    minute, hour = _cron_time(at)
    return Cadence.cron(f"{minute} {hour} * * *", timezone)


def weekly(timezone: str, at: time = MIDNIGHT, weekday: int = 0) -> Cadence:
    """Every week on `weekday` (0=Monday .. 6=Sunday) at `at`."""
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise InvalidCronError(f"weekday {weekday!r}: expected 0 (Monday) to 6 (Sunday)")
    minute, hour = _cron_time(at)
    # cron counts days from Sunday=0.
    return Cadence.cron(f"{minute} {hour} * * {(weekday + 1) % 7}", timezone)


def monthly(timezone: str, at: time = MIDNIGHT, day_of_month: int = 1) -> Cadence:
    """Every month on `day_of_month` (1-28; see last_day_of_month for the end) at `at`."""
    if isinstance(day_of_month, bool) or not isinstance(day_of_month, int):
        raise InvalidCronError(f"day_of_month {day_of_month!r}: expected a number 1-28")
    if not 1 <= day_of_month <= 28:
        raise InvalidCronError(
            f"day_of_month {day_of_month!r}: expected 1-28 so that every month has it; "
            "use last_day_of_month for month ends"
        )
    minute, hour = _cron_time(at)
    return Cadence.cron(f"{minute} {hour} {day_of_month} * *", timezone)


def last_day_of_month(timezone: str, at: time = MIDNIGHT) -> Cadence:
    """On the last calendar day of every month at `at`."""
    minute, hour = _cron_time(at)
    return Cadence.cron(f"{minute} {hour} L * *", timezone)


def quarterly(timezone: str, at: time = MIDNIGHT) -> Cadence:
    """On the first day of January, April, July and October at `at`."""
    minute, hour = _cron_time(at)
    return Cadence.cron(f"{minute} {hour} 1 1,4,7,10 *", timezone)


def first_business_day(timezone: str, at: time = MIDNIGHT) -> Cadence:
    """On the first Monday-to-Friday day of every month at `at` (public holidays not known)."""
    minute, hour = _cron_time(at)
    # croniter's `1W`: the weekday nearest the 1st without leaving the month.
    return Cadence.cron(f"{minute} {hour} 1W * *", timezone)


def last_business_day(timezone: str, at: time = MIDNIGHT) -> Cadence:
    """On the last Monday-to-Friday day of every month at `at` (public holidays not known)."""
    minute, hour = _cron_time(at)
    return Cadence.cron(f"{minute} {hour} {_LAST_WEEKDAY} * *", timezone)


def every_n_days(
    interval_days: int, anchor_date: date, timezone: str, at: time = MIDNIGHT
) -> Cadence:
    """Every `interval_days` days from `anchor_date` at `at`, across month and year ends."""
    return Cadence.every(interval_days, anchor_date, timezone, at)


def every_3_days(anchor_date: date, timezone: str, at: time = MIDNIGHT) -> Cadence:
    """Every third day from `anchor_date` at `at`."""
    return every_n_days(3, anchor_date, timezone, at)


def biweekly(anchor_date: date, timezone: str, at: time = MIDNIGHT) -> Cadence:
    """Every 14 days from `anchor_date` at `at` (not cron's `*/14`, which restarts monthly)."""
    return every_n_days(14, anchor_date, timezone, at)


PRESET_NAMES = (
    "daily",
    "every_3_days",
    "weekly",
    "biweekly",
    "monthly",
    "last_day_of_month",
    "quarterly",
    "first_business_day",
    "last_business_day",
    "every_n_days",
)


def preset(
    name: str,
    *,
    timezone: str,
    at: time = MIDNIGHT,
    anchor_date: date | None = None,
    interval_days: int | None = None,
) -> Cadence:
    """The cadence of a named preset; interval presets need `anchor_date` (and every_n_days N)."""
    calendar_presets = {
        "daily": daily,
        "weekly": weekly,
        "monthly": monthly,
        "last_day_of_month": last_day_of_month,
        "quarterly": quarterly,
        "first_business_day": first_business_day,
        "last_business_day": last_business_day,
    }
    interval_presets = {"every_3_days": 3, "biweekly": 14, "every_n_days": interval_days}
    if name in calendar_presets:
        if anchor_date is not None or interval_days is not None:
            raise CadenceError(
                f"preset {name!r}: follows the calendar; anchor_date and interval_days "
                "apply to every_3_days, biweekly and every_n_days only"
            )
        return calendar_presets[name](timezone, at)
    if name not in interval_presets:
        raise CadenceError(f"preset {name!r}: expected one of {', '.join(PRESET_NAMES)}")
    days = interval_presets[name]
    if name != "every_n_days" and interval_days is not None:
        raise CadenceError(
            f"preset {name!r}: fires every {days} days; interval_days does not apply"
        )
    if days is None:
        raise InvalidIntervalError(
            "preset 'every_n_days': needs interval_days, the N in every N days"
        )
    if anchor_date is None:
        raise InvalidIntervalError(f"preset {name!r}: needs anchor_date, the date of the first run")
    return every_n_days(days, anchor_date, timezone, at)
