"""Render a workflow's SQL for one run: the single place where parameter values meet SQL.

Inputs: the workflow's SQL, its parameter definitions and saved values, overrides (a
schedule's, a collection's; later ones win) and the run's window. Output: the SQL to send,
AMC `parameterValues` for every `CUSTOM_PARAMETER('name')` the SQL reads, the matching
`inputParameters` definitions for a saved workflow, and the (possibly clamped) time window.

Two ways a value reaches AMC:
- `CUSTOM_PARAMETER('name')`: the value travels as data in `parameterValues`, never as SQL.
- `{{name}}` placeholders (the original application's syntax, still in saved workflows): the
  value is validated by its type and written by that type's quoting function (params.py).
  A placeholder may stand alone (`IN ({{asins}})`), fill a whole literal (`'{{start_date}}'`)
  or sit inside one (`LIKE '%{{campaign}}%'`); placeholders inside comments stay untouched.
  Inside backticks (`` `{{column}}` ``) a value must be an identifier (letters, digits and _).
  In a LIKE pattern a value's `%` and `_` are matched literally (escaped with a backslash,
  and `ESCAPE '\\\\'` written after the pattern) unless its parameter declares
  `wildcards: true`.

The run's dates always win: `{{start_date}}`/`{{end_date}}` (and their camelCase spellings)
come from the run window, and saved fixed dates never override it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from recomamp_pipelines.templates.dates import (
    AMC_DATA_LAG,
    DateExpressionError,
    TimeWindow,
    amc_timestamp,
    clamp_window,
    resolve_date_expression,
    zone,
)
from recomamp_pipelines.templates.params import (
    DATE_TYPES,
    LIST_TYPES,
    PARAMETER_NAME,
    DateRange,
    JsonValue,
    MappedSource,
    MappedValueResolver,
    ParameterDefinition,
    ParameterError,
    ParameterType,
    amc_data_type,
    amc_value,
    escape_like,
    escape_string_content,
    infer_definition,
    mapped_element_definition,
    sql_fragment,
    sql_literal,
    timestamp_literal,
    validate_value,
)

#: Names that always mean the run's window, whatever the saved parameters say.
RUN_START_NAMES = frozenset(
    {"start_date", "startDate", "start_time", "time_window_start", "timeWindowStart"}
)
RUN_END_NAMES = frozenset({"end_date", "endDate", "end_time", "time_window_end", "timeWindowEnd"})
RUN_DATE_NAMES = RUN_START_NAMES | RUN_END_NAMES

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE_PLACEHOLDER = re.compile(r"\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*")
_CUSTOM_PARAMETER_OPEN = re.compile(r"CUSTOM_PARAMETER\s*\(\s*$", re.IGNORECASE)
_CLOSE = re.compile(r"^\s*\)")
# A pattern operand follows LIKE or ILIKE (NOT LIKE too); RLIKE takes a regular expression.
_LIKE_BEFORE = re.compile(r"(?<![A-Za-z0-9_])I?LIKE\s*$", re.IGNORECASE)
_ESCAPE_AFTER = re.compile(r"^\s*ESCAPE\b", re.IGNORECASE)
#: The escape character of LIKE patterns holding values, as written after them in AMC SQL.
LIKE_ESCAPE_CLAUSE = " ESCAPE '\\\\'"
_LIKE_ESCAPE_LITERALS = frozenset({"'\\\\'", '"\\\\"'})
#: Text types whose `%` and `_` are escaped in a LIKE pattern unless declared wildcards.
_LIKE_TEXT_TYPES = frozenset(
    {ParameterType.STRING, ParameterType.ENUM_SELECT, ParameterType.CAMPAIGN_FILTER}
)


class RenderError(ValueError):
    """The SQL cannot be rendered for this run; nothing may be sent to AMC."""


class UnresolvedParameterError(RenderError):
    """Placeholders or CUSTOM_PARAMETERs with no value: listed by name."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(
            "no value for "
            + ", ".join(f"{{{{{name}}}}}" for name in names)
            + ": give each a saved value, an override or a default"
        )


@dataclass(frozen=True)
class RunWindow:
    """The run's dates: naive local [start, end) in `timezone`, as AMC wants them."""

    start: datetime
    end: datetime
    timezone: str

    def __post_init__(self) -> None:
        try:
            zone(self.timezone)
        except DateExpressionError as exc:
            raise RenderError(str(exc)) from exc
        for label, moment in (("start", self.start), ("end", self.end)):
            if not isinstance(moment, datetime) or moment.tzinfo is not None:
                raise RenderError(
                    f"run window {label} {moment!r}: expected a naive local datetime in "
                    f"{self.timezone}"
                )
        if self.end <= self.start:
            raise RenderError(
                f"run window {amc_timestamp(self.start)} .. {amc_timestamp(self.end)}: "
                "the end must be after the start"
            )


@dataclass(frozen=True)
class RenderedQuery:
    """What to send to AMC for one run."""

    sql: str
    parameter_values: dict[str, JsonValue]
    input_parameters: list[dict[str, JsonValue]]
    window: TimeWindow
    superseded: tuple[str, ...] = field(default=())

    @property
    def clamped(self) -> bool:
        """True when the run's end was pulled back to AMC's data horizon."""
        return self.window.clamped

    def time_window_fields(self) -> dict[str, str]:
        """The create-execution fields of the window: naive local times, no `Z`."""
        return {
            "timeWindowType": "EXPLICIT",
            "timeWindowStart": self.window.amc_start,
            "timeWindowEnd": self.window.amc_end,
            "timeWindowTimeZone": self.window.timezone,
        }


# --- scanning the SQL ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    kind: Literal["code", "string", "comment", "identifier"]
    text: str


def _scan(sql: str) -> list[_Segment]:
    """Split SQL into code, string literals, `quoted` identifiers and comments (Spark rules:
    backslash escapes in strings)."""
    segments: list[_Segment] = []
    code_start = 0
    i = 0
    n = len(sql)

    def flush_code(until: int) -> None:
        if until > code_start:
            segments.append(_Segment("code", sql[code_start:until]))

    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n and sql[end] != char:
                end += 2 if sql[end] == "\\" else 1
            if end >= n:
                raise RenderError(f"unterminated string literal at line {_line(sql, i)}")
            flush_code(i)
            segments.append(_Segment("string", sql[i : end + 1]))
            i = code_start = end + 1
        elif char == "`":
            end = sql.find("`", i + 1)
            if end < 0:
                raise RenderError(f"unterminated quoted identifier at line {_line(sql, i)}")
            flush_code(i)
            segments.append(_Segment("identifier", sql[i : end + 1]))
            i = code_start = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            flush_code(i)
            segments.append(_Segment("comment", sql[i:end]))
            i = code_start = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise RenderError(f"unterminated comment at line {_line(sql, i)}")
            flush_code(i)
            segments.append(_Segment("comment", sql[i : end + 2]))
            i = code_start = end + 2
        else:
            i += 1
    flush_code(n)
    return segments


def _line(sql: str, index: int) -> int:
    return sql.count("\n", 0, index) + 1


@dataclass
class _Usage:
    placeholders: list[str] = field(default_factory=list)
    custom_parameters: list[str] = field(default_factory=list)


def _usage(segments: Sequence[_Segment]) -> _Usage:
    usage = _Usage()
    for index, segment in enumerate(segments):
        if segment.kind == "comment":
            continue
        for match in PLACEHOLDER.finditer(segment.text):
            usage.placeholders.append(match.group(1))
        if segment.kind == "code":
            leftover = PLACEHOLDER.sub("", segment.text)
            if "{{" in leftover or "}}" in leftover:
                bad = leftover[leftover.find("{{") :][:40] if "{{" in leftover else "}}"
                raise RenderError(
                    f"malformed placeholder near {bad!r}: expected {{{{name}}}} with a name of "
                    "letters, digits and _"
                )
        if _is_custom_parameter_argument(segments, index):
            name = segment.text[1:-1]
            if "{{" not in name:
                usage.custom_parameters.append(name)
    usage.placeholders = list(dict.fromkeys(usage.placeholders))
    usage.custom_parameters = list(dict.fromkeys(usage.custom_parameters))
    return usage


def _is_custom_parameter_argument(segments: Sequence[_Segment], index: int) -> bool:
    return (
        segments[index].kind == "string"
        and 0 < index < len(segments) - 1
        and segments[index - 1].kind == "code"
        and _CUSTOM_PARAMETER_OPEN.search(segments[index - 1].text) is not None
        and segments[index + 1].kind == "code"
        and _CLOSE.match(segments[index + 1].text) is not None
    )


# --- resolving values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    definition: ParameterDefinition
    value: Any


class _Values:
    """Each referenced name's definition and validated value, resolved on first use."""

    def __init__(
        self,
        *,
        definitions: Sequence[ParameterDefinition],
        layers: Sequence[Mapping[str, object]],
        window: TimeWindow,
        now: datetime | None,
        week_start_day: int,
        resolve_mapped: MappedValueResolver | None,
        lag: timedelta,
    ) -> None:
        self.by_name = {d.name: d for d in definitions}
        self.window = window
        self.now = now
        self.week_start_day = week_start_day
        self.resolve_mapped = resolve_mapped
        self.lag = lag
        self.merged: dict[str, object] = {}
        superseded: list[str] = []
        for layer in layers:
            for key, raw in layer.items():
                if key in RUN_DATE_NAMES or self._follows_run(key):
                    superseded.append(key)
                else:
                    self.merged[key] = raw
        self.superseded = tuple(dict.fromkeys(superseded))
        self.cache: dict[str, _Resolved | None] = {}

    def _follows_run(self, name: str) -> bool:
        definition = self.by_name.get(name)
        return (
            definition is not None
            and definition.type in DATE_TYPES
            and definition.rules.get("follows_run_window", True)
        )

    def check_all(self) -> None:
        """Validate every value that has a definition, used by the SQL or not."""
        for name, definition in self.by_name.items():
            if self._follows_run(name):
                continue
            raw = self.merged.get(name, definition.default)
            if raw is None:
                if definition.required:
                    raise ParameterError(name, None, "a value: the parameter is required")
                continue
            validate_value(definition, raw)

    def get(self, name: str) -> _Resolved | None:
        if name not in self.cache:
            self.cache[name] = self._resolve(name)
        return self.cache[name]

    def _resolve(self, name: str) -> _Resolved | None:
        if name in RUN_DATE_NAMES:
            moment = self.window.start if name in RUN_START_NAMES else self.window.end
            return _timestamp(name, moment)
        date_bound = self._date_bound(name)
        if date_bound is not None:
            return date_bound
        definition = self.by_name.get(name)
        if definition is not None:
            raw = self.merged.get(name, definition.default)
        elif name in self.merged:
            raw = self.merged[name]
            definition = infer_definition(name, raw)
        else:
            return None
        if raw is None:
            return None
        value = validate_value(definition, raw)
        if definition.type is ParameterType.MAPPED_FROM_NODE:
            return self._mapped(definition, value)
        return _Resolved(definition, value)

    def _date_bound(self, name: str) -> _Resolved | None:
        base, _, bound = name.rpartition("_")
        definition = self.by_name.get(base)
        if bound not in ("start", "end") or definition is None:
            return None
        if definition.type not in DATE_TYPES:
            return None
        window = self._date_window(definition)
        return _timestamp(name, window.start if bound == "start" else window.end)

    def _date_window(self, definition: ParameterDefinition) -> TimeWindow | DateRange:
        if self._follows_run(definition.name):
            return self.window
        raw = self.merged.get(definition.name, definition.default)
        if raw is None:
            raise ParameterError(definition.name, None, "a value: the parameter is required")
        value = validate_value(definition, raw)
        if isinstance(value, DateRange):
            return value
        try:
            return resolve_date_expression(
                value,
                self.window.timezone,
                now=self.now,
                week_start_day=self.week_start_day,
                lag=self.lag,
            )
        except DateExpressionError as exc:
            raise ParameterError(definition.name, raw, str(exc)) from exc

    def _mapped(self, definition: ParameterDefinition, source: MappedSource) -> _Resolved:
        if self.resolve_mapped is None:
            raise RenderError(
                f"parameter {definition.name!r} takes its values from column {source.column!r} "
                f"of workflow {source.workflow_id}, but no resolver was given for this run"
            )
        values = [str(v) for v in self.resolve_mapped(source) if v is not None]
        element = mapped_element_definition(definition)
        return _Resolved(element, validate_value(element, values))


def _timestamp(name: str, moment: datetime) -> _Resolved:
    definition = ParameterDefinition(
        name=name, type=ParameterType.STRING, display_name=name, required=False
    )
    return _Resolved(definition, moment)


# --- rendering ------------------------------------------------------------------------------------


def render(
    sql: str,
    *,
    window: RunWindow,
    definitions: Sequence[ParameterDefinition] = (),
    saved: Mapping[str, object] | None = None,
    overrides: Sequence[Mapping[str, object]] = (),
    now: datetime | None = None,
    week_start_day: int = 0,
    resolve_mapped: MappedValueResolver | None = None,
    lag: timedelta = AMC_DATA_LAG,
) -> RenderedQuery:
    """Render `sql` for one run, or raise before anything could reach AMC.

    Values come from the definitions' defaults, then `saved` (the workflow's parameters), then
    each of `overrides` in order. Dates come from `window`, clamped to AMC's data horizon
    relative to `now` (aware; default the current time).

    Raises ParameterError (a value does not fit its parameter), UnresolvedParameterError
    (a name without a value), RenderError (malformed SQL text, a window within the data lag).
    """
    segments = _scan(sql)
    usage = _usage(segments)
    try:
        time_window = clamp_window(window.start, window.end, window.timezone, now=now, lag=lag)
    except DateExpressionError as exc:
        raise RenderError(str(exc)) from exc
    values = _Values(
        definitions=definitions,
        layers=[saved or {}, *overrides],
        window=time_window,
        now=now,
        week_start_day=week_start_day,
        resolve_mapped=resolve_mapped,
        lag=lag,
    )
    values.check_all()
    missing = [
        name for name in (*usage.placeholders, *usage.custom_parameters) if values.get(name) is None
    ]
    if missing:
        raise UnresolvedParameterError(list(dict.fromkeys(missing)))

    parameter_values: dict[str, JsonValue] = {}
    input_parameters: list[dict[str, JsonValue]] = []
    for name in usage.custom_parameters:
        resolved = values.get(name)
        assert resolved is not None  # checked above
        if isinstance(resolved.value, datetime):
            amc: JsonValue = amc_timestamp(resolved.value)
            data_type: JsonValue = "TIMESTAMP"
        else:
            amc = amc_value(resolved.definition, resolved.value)
            data_type = amc_data_type(resolved.definition)
        parameter_values[name] = amc
        input_parameters.append({"name": name, "dataType": data_type, "defaultValue": amc})

    return RenderedQuery(
        sql=_substitute(segments, values),
        parameter_values=parameter_values,
        input_parameters=input_parameters,
        window=time_window,
        superseded=values.superseded,
    )


def _substitute(segments: Sequence[_Segment], values: _Values) -> str:
    parts: list[str] = []
    for index, segment in enumerate(segments):
        if segment.kind == "comment":
            parts.append(segment.text)
        elif segment.kind == "identifier":
            parts.append(_substitute_identifier(segment.text, values))
        elif segment.kind == "code":
            parts.append(_substitute_code(segment.text, segments, index, values))
        else:
            parts.append(_substitute_string(segment.text, segments, index, values))
    return "".join(parts)


def _literal(
    name: str, values: _Values, *, in_parens: bool, like: bool = False, after: str = ""
) -> str:
    """The literal of a placeholder in code; `like` when it is a LIKE pattern."""
    resolved = values.get(name)
    assert resolved is not None  # every name was resolved before substitution
    if isinstance(resolved.value, datetime):
        return timestamp_literal(resolved.value)
    definition, value = resolved.definition, resolved.value
    if not like or definition.type not in _LIKE_TEXT_TYPES:
        return sql_literal(definition, value, in_parens=in_parens)
    if definition.type is not ParameterType.CAMPAIGN_FILTER:
        value = _like_text(definition, value)
    return sql_literal(definition, value, in_parens=in_parens) + _escape_clause(after)


def _like_text(definition: ParameterDefinition, value: str) -> str:
    """A text value within a LIKE pattern: literal unless the parameter declares wildcards."""
    return value if definition.rules.get("wildcards", False) else escape_like(value)


def _escape_clause(after: str) -> str:
    """The ESCAPE clause a LIKE pattern holding values needs, unless the SQL has one."""
    return "" if _ESCAPE_AFTER.match(after) else LIKE_ESCAPE_CLAUSE


def _check_escape_character(segments: Sequence[_Segment], index: int) -> None:
    """A LIKE pattern holding values is escaped with the backslash: refuse another ESCAPE."""
    after = _neighbour_text(segments, index, +1)
    if not _ESCAPE_AFTER.match(after):
        return
    escape = segments[index + 2] if index + 2 < len(segments) else None
    if (
        _ESCAPE_AFTER.fullmatch(after.rstrip())
        and escape is not None
        and escape.kind == "string"
        and escape.text in _LIKE_ESCAPE_LITERALS
    ):
        return
    shown = escape.text if escape is not None else after.strip()
    raise RenderError(
        f"LIKE pattern {segments[index].text[:40]!r} ... ESCAPE {shown[:10]}: a pattern holding "
        "{{placeholders}} escapes their % and _ with a backslash; write ESCAPE '\\\\' or "
        "leave the ESCAPE clause out"
    )


def _is_like_pattern(segments: Sequence[_Segment], index: int) -> bool:
    return _LIKE_BEFORE.search(_neighbour_text(segments, index, -1)) is not None


def _substitute_identifier(text: str, values: _Values) -> str:
    """A `quoted` identifier: a placeholder in it takes only an identifier as its value."""

    def replace(match: re.Match[str]) -> str:
        resolved = values.get(match.group(1))
        assert resolved is not None
        value = resolved.value
        if not isinstance(value, str) or PARAMETER_NAME.fullmatch(value) is None:
            raise ParameterError(
                resolved.definition.name,
                value,
                "an identifier inside backticks: letters, digits and _, not starting with a "
                "digit, at most 63 characters",
            )
        return value

    return PLACEHOLDER.sub(replace, text)


def _in_parens(before: str, after: str) -> bool:
    return before.rstrip().endswith("(") and after.lstrip().startswith(")")


def _neighbour_text(segments: Sequence[_Segment], index: int, step: int) -> str:
    neighbour = index + step
    if 0 <= neighbour < len(segments) and segments[neighbour].kind == "code":
        return segments[neighbour].text
    return ""


def _substitute_code(text: str, segments: Sequence[_Segment], index: int, values: _Values) -> str:
    before_segment = _neighbour_text(segments, index, -1)
    after_segment = _neighbour_text(segments, index, +1)

    def replace(match: re.Match[str]) -> str:
        before = before_segment + text[: match.start()]
        after = text[match.end() :] + after_segment
        return _literal(
            match.group(1),
            values,
            in_parens=_in_parens(before, after),
            like=_LIKE_BEFORE.search(before) is not None,
            after=after,
        )

    return PLACEHOLDER.sub(replace, text)


def _substitute_string(text: str, segments: Sequence[_Segment], index: int, values: _Values) -> str:
    quote, body = text[0], text[1:-1]
    like = PLACEHOLDER.search(body) is not None and _is_like_pattern(segments, index)
    if like:
        _check_escape_character(segments, index)
    after = _neighbour_text(segments, index, +1)
    whole = _WHOLE_PLACEHOLDER.fullmatch(body)
    if whole is not None:
        # '{{name}}' is the value itself: the literal of its type replaces the quotes too.
        in_parens = _in_parens(_neighbour_text(segments, index, -1), after)
        return _literal(whole.group(1), values, in_parens=in_parens, like=like, after=after)

    def replace(match: re.Match[str]) -> str:
        resolved = values.get(match.group(1))
        assert resolved is not None
        if isinstance(resolved.value, datetime):
            return amc_timestamp(resolved.value)
        if like and resolved.definition.type in (ParameterType.STRING, ParameterType.ENUM_SELECT):
            return escape_string_content(_like_text(resolved.definition, resolved.value), quote)
        if resolved.definition.type in LIST_TYPES:
            raise ParameterError(
                resolved.definition.name,
                resolved.value,
                "a placeholder outside quotes: a list is written as IN ({{"
                + resolved.definition.name
                + "}})",
            )
        return sql_fragment(resolved.definition, resolved.value, quote)

    rendered = quote + PLACEHOLDER.sub(replace, body) + quote
    return rendered + _escape_clause(after) if like else rendered


def default_window(
    definitions: Sequence[ParameterDefinition],
    values: Mapping[str, object],
    timezone: str,
    *,
    now: datetime | None = None,
    week_start_day: int = 0,
    lag: timedelta = AMC_DATA_LAG,
) -> RunWindow | None:
    """The window of an ad hoc run: from the first date parameter that follows the run window.

    Scheduled and collection runs bring their own window; an ad hoc run takes it from the
    workflow's date_range or date_expression parameter. None when the workflow has neither.
    """
    for definition in sorted(definitions, key=lambda d: d.order):
        if definition.type not in DATE_TYPES:
            continue
        if not definition.rules.get("follows_run_window", True):
            continue
        raw = values.get(definition.name, definition.default)
        if raw is None:
            continue
        value = validate_value(definition, raw)
        if isinstance(value, DateRange):
            return RunWindow(value.start, value.end, timezone)
        try:
            resolved = resolve_date_expression(
                value, timezone, now=now, week_start_day=week_start_day, lag=lag
            )
        except DateExpressionError as exc:
            raise ParameterError(definition.name, raw, str(exc)) from exc
        return RunWindow(resolved.start, resolved.end, timezone)
    return None


def unresolved_names(
    sql: str,
    definitions: Sequence[ParameterDefinition],
    values: Mapping[str, object],
) -> list[str]:
    """Names the SQL reads that would have no value at run time (checked when saving).

    Run dates and the bounds of date parameters always resolve; any other name needs a value
    or a default.
    """
    usage = _usage(_scan(sql))
    by_name = {d.name: d for d in definitions}

    def resolvable(name: str) -> bool:
        if name in RUN_DATE_NAMES:
            return True
        base, _, bound = name.rpartition("_")
        if bound in ("start", "end") and base in by_name and by_name[base].type in DATE_TYPES:
            return True
        if values.get(name) is not None:
            return True
        definition = by_name.get(name)
        return definition is not None and definition.default is not None

    names = dict.fromkeys([*usage.placeholders, *usage.custom_parameters])
    return [name for name in names if not resolvable(name)]
