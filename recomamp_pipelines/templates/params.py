"""Template parameters: their types, their validation, and the one way each type enters SQL.

Safety comes from typing and quoting, not from a keyword blacklist: a campaign called
"Update - Drop Shipping" is an ordinary string. Every value is validated against its
parameter's definition (type plus rules) and, when it must be pasted into SQL, rendered by the
quoting function of its type. Text enters AMC SQL only through `quote_string`.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from recomamp_pipelines.templates.dates import (
    DateExpressionError,
    amc_timestamp,
    check_date_expression,
)

JsonValue = Any


class ParameterType(StrEnum):
    """The parameter types of `query_template_parameters.parameter_type`."""

    ASIN_LIST = "asin_list"
    CAMPAIGN_LIST = "campaign_list"
    DATE_RANGE = "date_range"
    DATE_EXPRESSION = "date_expression"
    CAMPAIGN_FILTER = "campaign_filter"
    THRESHOLD_NUMERIC = "threshold_numeric"
    PERCENTAGE = "percentage"
    ENUM_SELECT = "enum_select"
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING_LIST = "string_list"
    MAPPED_FROM_NODE = "mapped_from_node"


#: Types whose value is a window of time; the run's dates take their place when a run has them.
DATE_TYPES = frozenset({ParameterType.DATE_RANGE, ParameterType.DATE_EXPRESSION})
LIST_TYPES = frozenset(
    {
        ParameterType.ASIN_LIST,
        ParameterType.CAMPAIGN_LIST,
        ParameterType.STRING_LIST,
        ParameterType.MAPPED_FROM_NODE,
    }
)

PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
ASIN = re.compile(r"B[0-9A-Z]{9}")
BOOK_ASIN = re.compile(r"[0-9]{9}[0-9X]")
DEFAULT_MAX_ITEMS = 1000
DEFAULT_MAX_ITEM_LENGTH = 256
DEFAULT_MAX_STRING_LENGTH = 1000
_SHOWN_VALUE_LENGTH = 60


class ParameterError(ValueError):
    """A value that does not fit its parameter: names the parameter, the value and the rule."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.parameter = name
        self.value = value
        self.expected = expected
        super().__init__(f"parameter {name!r}: got {show_value(value)}; expected {expected}")


class DefinitionError(ValueError):
    """A parameter definition that cannot be used (unknown type, bad rules, invalid default)."""


def show_value(value: object) -> str:
    """A value for an error message, cut short when long."""
    text = repr(value)
    if len(text) <= _SHOWN_VALUE_LENGTH:
        return text
    size = f" ({len(value)} chars)" if isinstance(value, str) else ""
    return text[: _SHOWN_VALUE_LENGTH - 3] + "..." + size


# --- the quoting functions: the only way values become SQL text --------------------------------


def escape_string_content(text: str, quote: str = "'") -> str:
    """The body of a string literal delimited by `quote`, with backslash escapes (Spark SQL).

    Spark reads two adjacent quotes as two literals to concatenate, so a quote is escaped with
    a backslash, and a backslash is doubled so that nothing after it can start an escape.
    """
    if quote not in ("'", '"'):
        raise ValueError(f"string literals are delimited by ' or \", not {quote!r}")
    bad = next((char for char in text if _is_control(char)), None)
    if bad is not None:
        raise ValueError(f"control character U+{ord(bad):04X} cannot appear in a SQL literal")
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote)


def quote_string(text: str) -> str:
    """A text value as a single-quoted AMC SQL literal."""
    return "'" + escape_string_content(text) + "'"


def quote_list(items: Sequence[str], *, in_parens: bool) -> str:
    """Quoted items for `IN (...)`; wrapped in parentheses unless the SQL already has them."""
    body = ", ".join(quote_string(item) for item in items)
    return body if in_parens else f"({body})"


def number_literal(value: int | Decimal) -> str:
    """A number as SQL text: plain digits, never an exponent; negatives in parentheses.

    The parentheses keep `x -{{n}}` from turning into a `--` comment.
    """
    text = str(value) if isinstance(value, int) else format(value, "f")
    return f"({text})" if text.startswith("-") else text


def boolean_literal(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def timestamp_literal(moment: datetime) -> str:
    """A naive local timestamp as an AMC timestamp literal, e.g. TIMESTAMP '2024-01-20 00:00:00'."""
    return f"TIMESTAMP '{amc_timestamp(moment).replace('T', ' ')}'"


def like_pattern(text: str, rules: Mapping[str, Any]) -> str:
    """A LIKE pattern from a campaign name filter: its `%` and `_` stay literal unless the
    rules allow wildcards; `match` says where the name may sit (default: anywhere)."""
    body = text if rules.get("wildcards", False) else escape_like(text)
    match = rules.get("match", "contains")
    if match == "contains":
        return f"%{body}%"
    if match == "starts_with":
        return f"{body}%"
    if match == "ends_with":
        return f"%{body}"
    return body


def escape_like(text: str) -> str:
    """Text matched literally by LIKE with its default escape character, the backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_control(char: str) -> bool:
    return char != "\t" and unicodedata.category(char) == "Cc"


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """An explicit window [start, end) of naive local timestamps."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class MappedSource:
    """Where a mapped_from_node value comes from: a column of another workflow's results."""

    workflow_id: str
    column: str


#: Resolves a mapped_from_node parameter at run time to the values of its source column.
MappedValueResolver = Callable[[MappedSource], Sequence[object]]


# --- definitions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterDefinition:
    """One parameter of a template, as in query_template_parameters."""

    name: str
    type: ParameterType
    display_name: str
    description: str = ""
    default: JsonValue = None
    required: bool = True
    rules: Mapping[str, Any] = field(default_factory=dict)
    order: int = 0
    group: str | None = None
    ui_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not PARAMETER_NAME.fullmatch(self.name):
            raise DefinitionError(
                f"parameter name {self.name!r}: expected letters, digits and _ "
                "(starting with a letter or _), at most 63 characters"
            )
        try:
            kind = ParameterType(self.type)
        except ValueError as exc:
            raise DefinitionError(
                f"parameter {self.name!r}: type {self.type!r} is not one of "
                f"{', '.join(t.value for t in ParameterType)}"
            ) from exc
        object.__setattr__(self, "type", kind)
        _check_rules(self)
        if self.default is not None:
            try:
                validate_value(self, self.default)
            except ParameterError as exc:
                raise DefinitionError(f"default of {exc}") from exc

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ParameterDefinition:
        """From a library file entry or a query_template_parameters row."""
        name = raw.get("name", raw.get("parameter_name"))
        return cls(
            name=name,
            type=raw.get("type", raw.get("parameter_type")),
            display_name=raw.get("display_name") or str(name),
            description=raw.get("description") or "",
            default=raw.get("default", raw.get("default_value")),
            required=bool(raw.get("required", True)),
            rules=dict(raw.get("rules", raw.get("validation_rules")) or {}),
            order=int(raw.get("order", raw.get("display_order")) or 0),
            group=raw.get("group", raw.get("group_name")),
            ui_config=dict(raw.get("ui_config") or {}),
        )

    def to_mapping(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "type": self.type.value,
            "display_name": self.display_name,
            "description": self.description,
            "default": self.default,
            "required": self.required,
            "rules": dict(self.rules),
            "order": self.order,
            "group": self.group,
            "ui_config": dict(self.ui_config),
        }


_LIST_RULES = {"min_items", "max_items"}
_TEXT_RULES = {"min_length", "max_length", "pattern"}
_NUMBER_RULES = {"min", "max", "integer"}
_ALLOWED_RULES: dict[ParameterType, frozenset[str]] = {
    ParameterType.ASIN_LIST: frozenset(_LIST_RULES),
    ParameterType.CAMPAIGN_LIST: frozenset(_LIST_RULES | {"max_length", "pattern"}),
    ParameterType.STRING_LIST: frozenset(_LIST_RULES | {"max_length", "pattern", "options"}),
    # wildcards: true declares a LIKE pattern, whose % and _ keep their meaning.
    ParameterType.STRING: frozenset(_TEXT_RULES | {"wildcards"}),
    ParameterType.CAMPAIGN_FILTER: frozenset({"match", "wildcards", "max_length"}),
    ParameterType.NUMBER: frozenset(_NUMBER_RULES),
    ParameterType.THRESHOLD_NUMERIC: frozenset(_NUMBER_RULES),
    ParameterType.PERCENTAGE: frozenset({"scale", "min", "max"}),
    ParameterType.BOOLEAN: frozenset(),
    ParameterType.ENUM_SELECT: frozenset({"options"}),
    ParameterType.DATE_RANGE: frozenset({"min_days", "max_days", "follows_run_window"}),
    ParameterType.DATE_EXPRESSION: frozenset({"allowed", "follows_run_window"}),
    ParameterType.MAPPED_FROM_NODE: frozenset({"column", "element_type", "max_items"}),
}
_MATCH_MODES = ("contains", "starts_with", "ends_with", "exact")
_SCALES = ("percent", "fraction")
_ELEMENT_TYPES = ("string", "asin", "campaign")


def _check_rules(definition: ParameterDefinition) -> None:
    rules = definition.rules
    where = f"parameter {definition.name!r} ({definition.type.value})"
    unknown = sorted(set(rules) - _ALLOWED_RULES[definition.type])
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED_RULES[definition.type])) or "none"
        raise DefinitionError(f"{where}: unknown rules {unknown}; allowed: {allowed}")
    for key in ("min_items", "max_items", "min_length", "max_length", "min_days", "max_days"):
        if key in rules and (not isinstance(rules[key], int) or rules[key] < 0):
            raise DefinitionError(f"{where}: rule {key}={rules[key]!r} must be an integer >= 0")
    for key in ("min", "max"):
        if key in rules and _as_decimal(rules[key]) is None:
            raise DefinitionError(f"{where}: rule {key}={rules[key]!r} must be a number")
    if "pattern" in rules:
        try:
            re.compile(rules["pattern"])
        except (re.error, TypeError) as exc:
            raise DefinitionError(f"{where}: rule pattern={rules['pattern']!r}: {exc}") from exc
    if "options" in rules or definition.type is ParameterType.ENUM_SELECT:
        options = rules.get("options")
        if (
            not isinstance(options, list)
            or not options
            or not all(isinstance(o, str) for o in option_values(options))
        ):
            raise DefinitionError(f"{where}: rule options must be a non-empty list of strings")
        if any(_is_control(char) for option in option_values(options) for char in option):
            raise DefinitionError(f"{where}: rule options may not hold control characters")
    if rules.get("match", "contains") not in _MATCH_MODES:
        raise DefinitionError(f"{where}: rule match={rules['match']!r}; expected {_MATCH_MODES}")
    if rules.get("scale", "percent") not in _SCALES:
        raise DefinitionError(f"{where}: rule scale={rules['scale']!r}; expected {_SCALES}")
    if rules.get("element_type", "string") not in _ELEMENT_TYPES:
        raise DefinitionError(
            f"{where}: rule element_type={rules['element_type']!r}; expected {_ELEMENT_TYPES}"
        )
    for key in ("wildcards", "integer", "follows_run_window"):
        if key in rules and not isinstance(rules[key], bool):
            raise DefinitionError(f"{where}: rule {key}={rules[key]!r} must be true or false")
    if "allowed" in rules:
        try:
            [check_date_expression(e) for e in rules["allowed"]]
        except (DateExpressionError, TypeError) as exc:
            raise DefinitionError(f"{where}: rule allowed: {exc}") from exc
    if "column" in rules and not _is_identifier(rules["column"]):
        raise DefinitionError(f"{where}: rule column={rules['column']!r} is not a column name")


def option_values(options: Sequence[Any]) -> list[Any]:
    """Option values; an option is a value or a {"value": ..., "label": ...} mapping."""
    return [o.get("value") if isinstance(o, Mapping) else o for o in options]


def infer_definition(name: str, value: object) -> ParameterDefinition:
    """A definition for a saved value that has none (workflows saved before typed parameters)."""
    inferred: ParameterType
    if isinstance(value, bool):
        inferred = ParameterType.BOOLEAN
    elif isinstance(value, int | float | Decimal):
        inferred = ParameterType.NUMBER
    elif isinstance(value, str):
        inferred = ParameterType.STRING
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        inferred = ParameterType.STRING_LIST
    elif isinstance(value, Mapping) and _date_range_bounds(value) is not None:
        inferred = ParameterType.DATE_RANGE
    else:
        raise ParameterError(
            name, value, "a text, number, boolean, list of texts or {start, end} date range"
        )
    return ParameterDefinition(name=name, type=inferred, display_name=name, required=False)


# --- validation -----------------------------------------------------------------------------------


def validate_value(definition: ParameterDefinition, raw: object) -> Any:
    """The value as its type holds it, or a ParameterError saying what was expected."""
    validator = _VALIDATORS[definition.type]
    return validator(definition, raw)


def validate_parameters(
    definitions: Sequence[ParameterDefinition],
    values: Mapping[str, object],
    *,
    allow_unknown: bool = False,
) -> dict[str, Any]:
    """Every defined parameter's value (given, else default), validated.

    Missing required values and, unless `allow_unknown`, values for undefined names are errors.
    """
    by_name = {d.name: d for d in definitions}
    if not allow_unknown:
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ParameterError(
                unknown[0],
                values[unknown[0]],
                f"one of the template's parameters ({', '.join(sorted(by_name)) or 'none'})",
            )
    validated: dict[str, Any] = {}
    for definition in definitions:
        raw = values.get(definition.name, definition.default)
        if raw is None:
            if definition.required:
                raise ParameterError(definition.name, None, "a value: the parameter is required")
            continue
        validated[definition.name] = validate_value(definition, raw)
    return validated


def to_json(definition: ParameterDefinition, value: Any) -> JsonValue:
    """A validated value as it is saved in workflows.parameters (JSON)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, DateRange):
        return {"start": amc_timestamp(value.start), "end": amc_timestamp(value.end)}
    if isinstance(value, MappedSource):
        return {"workflow_id": value.workflow_id, "column": value.column}
    if isinstance(value, tuple):
        return list(value)
    return value


def _text(definition: ParameterDefinition, raw: object, *, what: str, max_length: int) -> str:
    if not isinstance(raw, str):
        raise ParameterError(definition.name, raw, what)
    bad = next((char for char in raw if _is_control(char)), None)
    if bad is not None:
        raise ParameterError(
            definition.name, raw, f"{what} without control characters (found U+{ord(bad):04X})"
        )
    if len(raw) > max_length:
        raise ParameterError(definition.name, raw, f"{what} of at most {max_length} characters")
    return raw


def _validate_string(definition: ParameterDefinition, raw: object) -> str:
    rules = definition.rules
    text = _text(
        definition,
        raw,
        what="a text",
        max_length=rules.get("max_length", DEFAULT_MAX_STRING_LENGTH),
    )
    if len(text) < rules.get("min_length", 0):
        raise ParameterError(
            definition.name, raw, f"a text of at least {rules['min_length']} characters"
        )
    if "pattern" in rules and not re.fullmatch(rules["pattern"], text):
        raise ParameterError(definition.name, raw, f"a text matching {rules['pattern']!r}")
    return text


def _validate_campaign_filter(definition: ParameterDefinition, raw: object) -> str:
    return _text(
        definition,
        raw,
        what="a campaign name or part of one",
        max_length=definition.rules.get("max_length", DEFAULT_MAX_ITEM_LENGTH),
    )


def _items(definition: ParameterDefinition, raw: object, what: str) -> list[object]:
    if isinstance(raw, list | tuple):
        return list(raw)
    raise ParameterError(definition.name, raw, f"a list of {what}")


def _check_count(definition: ParameterDefinition, items: list[str], what: str) -> list[str]:
    rules = definition.rules
    low = rules.get("min_items", 0)
    high = rules.get("max_items", DEFAULT_MAX_ITEMS)
    if not low <= len(items) <= high:
        raise ParameterError(
            definition.name, items, f"between {low} and {high} {what} (got {len(items)})"
        )
    return items


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _validate_asin_list(definition: ParameterDefinition, raw: object) -> list[str]:
    # ASINs never contain commas or spaces, so a pasted "B0..., B0..." line is a list too.
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    asins = []
    for item in _items(definition, raw, "ASINs"):
        asin = item.strip().upper() if isinstance(item, str) else item
        if not isinstance(asin, str) or not (ASIN.fullmatch(asin) or BOOK_ASIN.fullmatch(asin)):
            raise ParameterError(
                definition.name,
                item,
                "ASINs: 'B' and 9 letters or digits (B07XJ8C8F5), or a 10-digit book ASIN "
                "(0306406152, last digit may be X)",
            )
        asins.append(asin)
    return _check_count(definition, _unique(asins), "ASINs")


def _validate_text_list(definition: ParameterDefinition, raw: object, what: str) -> list[str]:
    rules = definition.rules
    allowed = option_values(rules["options"]) if "options" in rules else None
    texts = []
    for item in _items(definition, raw, what):
        text = _text(
            definition,
            item.strip() if isinstance(item, str) else item,
            what=f"{what} (each a text)",
            max_length=rules.get("max_length", DEFAULT_MAX_ITEM_LENGTH),
        )
        if not text:
            raise ParameterError(definition.name, item, f"{what} without empty entries")
        if "pattern" in rules and not re.fullmatch(rules["pattern"], text):
            raise ParameterError(definition.name, item, f"{what} matching {rules['pattern']!r}")
        if allowed is not None and text not in allowed:
            raise ParameterError(definition.name, item, f"{what} among {allowed}")
        texts.append(text)
    return _check_count(definition, _unique(texts), what)


def _validate_campaign_list(definition: ParameterDefinition, raw: object) -> list[str]:
    return _validate_text_list(definition, raw, "campaigns")


def _validate_string_list(definition: ParameterDefinition, raw: object) -> list[str]:
    return _validate_text_list(definition, raw, "texts")


def _as_decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float | str | Decimal):
        try:
            number = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _check_range(
    definition: ParameterDefinition, raw: object, number: Decimal, low: object, high: object
) -> None:
    if low is not None and number < Decimal(str(low)):
        raise ParameterError(definition.name, raw, f"a number >= {low}")
    if high is not None and number > Decimal(str(high)):
        raise ParameterError(definition.name, raw, f"a number <= {high}")


def _validate_number(definition: ParameterDefinition, raw: object) -> int | Decimal:
    number = _as_decimal(raw)
    if number is None:
        raise ParameterError(definition.name, raw, "a finite number")
    rules = definition.rules
    default_min = 0 if definition.type is ParameterType.THRESHOLD_NUMERIC else None
    _check_range(definition, raw, number, rules.get("min", default_min), rules.get("max"))
    if rules.get("integer", False):
        if number != number.to_integral_value():
            raise ParameterError(definition.name, raw, "a whole number")
        return int(number)
    return int(number) if number == number.to_integral_value() else number


def _validate_percentage(definition: ParameterDefinition, raw: object) -> int | Decimal:
    scale = definition.rules.get("scale", "percent")
    explicit_percent = isinstance(raw, str) and raw.strip().endswith("%")
    number = _as_decimal(str(raw).strip().removesuffix("%") if explicit_percent else raw)
    if number is None:
        raise ParameterError(definition.name, raw, f"a percentage ({_scale_hint(scale)})")
    if explicit_percent:
        # "25%" says which scale it is written in; convert it to the parameter's own.
        if scale == "fraction":
            number = number / 100
    elif scale == "fraction" and number > 1:
        raise ParameterError(
            definition.name,
            raw,
            f"a fraction between 0 and 1 ({_scale_hint(scale)}); {raw} looks like a percent: "
            f"write {number / 100} or '{raw}%'",
        )
    elif scale == "percent" and 0 < number < 1:
        raise ParameterError(
            definition.name,
            raw,
            f"a percent between 0 and 100 ({_scale_hint(scale)}); {raw} looks like a fraction: "
            f"write {number * 100} or, for less than one percent, '{raw}%'",
        )
    top = 1 if scale == "fraction" else 100
    rules = definition.rules
    _check_range(definition, raw, number, rules.get("min", 0), rules.get("max", top))
    return int(number) if number == number.to_integral_value() else number


def _scale_hint(scale: str) -> str:
    return "0-1, e.g. 0.25 for 25%" if scale == "fraction" else "0-100, e.g. 25 for 25%"


_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def _validate_boolean(definition: ParameterDefinition, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ParameterError(definition.name, raw, "true or false")


def _validate_enum(definition: ParameterDefinition, raw: object) -> str:
    allowed = option_values(definition.rules["options"])
    if raw not in allowed:
        raise ParameterError(definition.name, raw, f"one of {allowed}")
    return str(raw)


def _validate_date_expression(definition: ParameterDefinition, raw: object) -> str:
    if not isinstance(raw, str):
        raise ParameterError(definition.name, raw, "a date expression such as 'last_week'")
    try:
        expression = check_date_expression(raw)
    except DateExpressionError as exc:
        raise ParameterError(definition.name, raw, str(exc).split("expected ")[-1]) from exc
    allowed = [check_date_expression(e) for e in definition.rules.get("allowed", [])]
    if allowed and expression not in allowed:
        raise ParameterError(definition.name, raw, f"one of {allowed}")
    return expression


_DATE_RANGE_KEYS = (("start", "end"), ("start_date", "end_date"), ("startDate", "endDate"))


def _date_range_bounds(raw: Mapping[str, Any]) -> tuple[object, object] | None:
    for start_key, end_key in _DATE_RANGE_KEYS:
        if start_key in raw and end_key in raw:
            return raw[start_key], raw[end_key]
    return None


def parse_moment(raw: object, *, is_end: bool) -> datetime | None:
    """A naive timestamp from 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS'.

    A date alone as the end of a range means the whole day: the range ends at the next midnight.
    """
    if isinstance(raw, datetime):
        return raw if raw.tzinfo is None else None
    if isinstance(raw, date):
        day = raw
    elif isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        try:
            day = date.fromisoformat(raw.strip())
        except ValueError:
            return None
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo is None else None
    else:
        return None
    return datetime.combine(day + timedelta(days=1) if is_end else day, time.min)


def _validate_date_range(definition: ParameterDefinition, raw: object) -> DateRange:
    expected = (
        "a date range {'start': 'YYYY-MM-DD', 'end': 'YYYY-MM-DD'} (naive local dates or "
        "timestamps; a date-only end includes that day)"
    )
    if isinstance(raw, DateRange):
        return raw
    bounds = _date_range_bounds(raw) if isinstance(raw, Mapping) else None
    if bounds is None:
        raise ParameterError(definition.name, raw, expected)
    start = parse_moment(bounds[0], is_end=False)
    end = parse_moment(bounds[1], is_end=True)
    if start is None or end is None:
        raise ParameterError(definition.name, raw, expected)
    if end <= start:
        raise ParameterError(definition.name, raw, "a date range whose end is after its start")
    days = (end - start) / timedelta(days=1)
    rules = definition.rules
    if days < rules.get("min_days", 0):
        raise ParameterError(definition.name, raw, f"a range of at least {rules['min_days']} days")
    if "max_days" in rules and days > rules["max_days"]:
        raise ParameterError(definition.name, raw, f"a range of at most {rules['max_days']} days")
    return DateRange(start=start, end=end)


def _is_identifier(text: object) -> bool:
    return isinstance(text, str) and PARAMETER_NAME.fullmatch(text) is not None


def _validate_mapped(definition: ParameterDefinition, raw: object) -> MappedSource:
    expected = "a source {'workflow_id': '<workflow uuid>', 'column': '<output column>'}"
    if isinstance(raw, MappedSource):
        return raw
    if not isinstance(raw, Mapping):
        raise ParameterError(definition.name, raw, expected)
    workflow_id = raw.get("workflow_id", raw.get("source_workflow_id"))
    column = raw.get("column", definition.rules.get("column"))
    try:
        workflow_id = str(uuid.UUID(str(workflow_id)))
    except ValueError as exc:
        raise ParameterError(definition.name, raw, expected) from exc
    if not _is_identifier(column):
        raise ParameterError(definition.name, raw, expected)
    fixed = definition.rules.get("column")
    if fixed is not None and column != fixed:
        raise ParameterError(definition.name, raw, f"the source column {fixed!r}")
    return MappedSource(workflow_id=workflow_id, column=str(column))


def mapped_element_definition(definition: ParameterDefinition) -> ParameterDefinition:
    """The list type that a mapped_from_node parameter's resolved values must satisfy."""
    element = definition.rules.get("element_type", "string")
    list_type = {
        "asin": ParameterType.ASIN_LIST,
        "campaign": ParameterType.CAMPAIGN_LIST,
        "string": ParameterType.STRING_LIST,
    }[element]
    rules = {"min_items": 1}
    if "max_items" in definition.rules:
        rules["max_items"] = definition.rules["max_items"]
    return ParameterDefinition(
        name=definition.name, type=list_type, display_name=definition.display_name, rules=rules
    )


_VALIDATORS: dict[ParameterType, Callable[[ParameterDefinition, object], Any]] = {
    ParameterType.ASIN_LIST: _validate_asin_list,
    ParameterType.CAMPAIGN_LIST: _validate_campaign_list,
    ParameterType.STRING_LIST: _validate_string_list,
    ParameterType.STRING: _validate_string,
    ParameterType.CAMPAIGN_FILTER: _validate_campaign_filter,
    ParameterType.NUMBER: _validate_number,
    ParameterType.THRESHOLD_NUMERIC: _validate_number,
    ParameterType.PERCENTAGE: _validate_percentage,
    ParameterType.BOOLEAN: _validate_boolean,
    ParameterType.ENUM_SELECT: _validate_enum,
    ParameterType.DATE_RANGE: _validate_date_range,
    ParameterType.DATE_EXPRESSION: _validate_date_expression,
    ParameterType.MAPPED_FROM_NODE: _validate_mapped,
}


# --- how a validated value reaches AMC ------------------------------------------------------------


def sql_literal(definition: ParameterDefinition, value: Any, *, in_parens: bool = False) -> str:
    """A validated value as SQL text for a `{{name}}` placeholder: the one function per type.

    `in_parens` says the placeholder already sits inside parentheses, as in `IN ({{asins}})`.
    """
    kind = definition.type
    if kind in LIST_TYPES:
        if not value:
            raise ParameterError(
                definition.name,
                value,
                "at least one item: an empty list cannot be written into SQL "
                f"(read it with CUSTOM_PARAMETER('{definition.name}') to mean 'all')",
            )
        return quote_list(value, in_parens=in_parens)
    if kind in (ParameterType.STRING, ParameterType.ENUM_SELECT):
        return quote_string(value)
    if kind is ParameterType.CAMPAIGN_FILTER:
        return quote_string(like_pattern(value, definition.rules))
    if kind in (ParameterType.NUMBER, ParameterType.THRESHOLD_NUMERIC, ParameterType.PERCENTAGE):
        return number_literal(value)
    if kind is ParameterType.BOOLEAN:
        return boolean_literal(value)
    raise ParameterError(
        definition.name,
        value,
        f"no direct placeholder: a {kind.value} is written as {{{{{definition.name}_start}}}} "
        f"and {{{{{definition.name}_end}}}}",
    )


def sql_fragment(definition: ParameterDefinition, value: Any, quote: str) -> str:
    """A validated value written inside an existing string literal, e.g. `LIKE '%{{name}}%'`."""
    kind = definition.type
    if kind is ParameterType.CAMPAIGN_FILTER:
        body = value if definition.rules.get("wildcards", False) else escape_like(value)
        return escape_string_content(body, quote)
    if kind in (ParameterType.STRING, ParameterType.ENUM_SELECT):
        return escape_string_content(value, quote)
    if kind in (ParameterType.NUMBER, ParameterType.THRESHOLD_NUMERIC, ParameterType.PERCENTAGE):
        return number_literal(value).strip("()")
    if kind is ParameterType.BOOLEAN:
        return boolean_literal(value).lower()
    raise ParameterError(
        definition.name,
        value,
        f"a placeholder outside string literals: a {kind.value} cannot sit inside quotes",
    )


def amc_value(definition: ParameterDefinition, value: Any) -> JsonValue:
    """A validated value for AMC's `parameterValues` (read in SQL by CUSTOM_PARAMETER)."""
    kind = definition.type
    if kind is ParameterType.CAMPAIGN_FILTER:
        return like_pattern(value, definition.rules)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str | bool | int):
        return value
    raise ParameterError(
        definition.name,
        value,
        f"a value AMC can take: a {kind.value} is passed as {definition.name}_start and "
        f"{definition.name}_end",
    )


def amc_data_type(definition: ParameterDefinition) -> JsonValue:
    """The `dataType` of the parameter in a saved workflow's `inputParameters`."""
    kind = definition.type
    if kind in LIST_TYPES:
        return {"type": "ARRAY", "elementDataType": "STRING"}
    if kind is ParameterType.BOOLEAN:
        return "BOOLEAN"
    if kind in (ParameterType.NUMBER, ParameterType.THRESHOLD_NUMERIC):
        return "LONG" if definition.rules.get("integer", False) else "DOUBLE"
    if kind is ParameterType.PERCENTAGE:
        return "DOUBLE"
    return "STRING"


def json_schema(definition: ParameterDefinition) -> dict[str, JsonValue]:
    """A JSON Schema of the parameter's values (query_templates.parameters_schema), for UIs."""
    kind, rules = definition.type, definition.rules
    schema: dict[str, JsonValue]
    if kind in LIST_TYPES - {ParameterType.MAPPED_FROM_NODE}:
        item: dict[str, JsonValue] = {"type": "string", "minLength": 1}
        if kind is ParameterType.ASIN_LIST:
            item["pattern"] = f"^({ASIN.pattern}|{BOOK_ASIN.pattern})$"
        else:
            item["maxLength"] = rules.get("max_length", DEFAULT_MAX_ITEM_LENGTH)
        if "options" in rules:
            item["enum"] = option_values(rules["options"])
        schema = {
            "type": "array",
            "items": item,
            "minItems": rules.get("min_items", 0),
            "maxItems": rules.get("max_items", DEFAULT_MAX_ITEMS),
            "uniqueItems": True,
        }
    elif kind in (ParameterType.STRING, ParameterType.CAMPAIGN_FILTER):
        schema = {"type": "string", "maxLength": rules.get("max_length", DEFAULT_MAX_STRING_LENGTH)}
        if "pattern" in rules:
            schema["pattern"] = rules["pattern"]
    elif kind in (ParameterType.NUMBER, ParameterType.THRESHOLD_NUMERIC, ParameterType.PERCENTAGE):
        schema = {"type": "integer" if rules.get("integer", False) else "number"}
        low = rules.get("min", 0 if kind is not ParameterType.NUMBER else None)
        high = rules.get("max")
        if kind is ParameterType.PERCENTAGE and high is None:
            high = 1 if rules.get("scale", "percent") == "fraction" else 100
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
    elif kind is ParameterType.BOOLEAN:
        schema = {"type": "boolean"}
    elif kind is ParameterType.ENUM_SELECT:
        schema = {"enum": option_values(rules["options"])}
    elif kind is ParameterType.DATE_EXPRESSION:
        schema = {"type": "string", "examples": ["last_week", "last_30_days", "mtd"]}
    elif kind is ParameterType.DATE_RANGE:
        schema = {
            "type": "object",
            "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
            "required": ["start", "end"],
        }
    else:
        schema = {
            "type": "object",
            "properties": {
                "workflow_id": {"type": "string", "format": "uuid"},
                "column": {"type": "string"},
            },
            "required": ["workflow_id", "column"],
        }
    schema["title"] = definition.display_name
    if definition.description:
        schema["description"] = definition.description
    if definition.default is not None:
        schema["default"] = definition.default
    return schema


def parameters_schema(definitions: Sequence[ParameterDefinition]) -> dict[str, JsonValue]:
    """A JSON Schema of a whole parameter set."""
    return {
        "type": "object",
        "properties": {d.name: json_schema(d) for d in definitions},
        "required": [d.name for d in definitions if d.required and d.default is None],
        "additionalProperties": False,
    }


def parse_text_value(definition: ParameterDefinition, texts: Sequence[str]) -> object:
    """A raw value from command-line text (`--param name=value`, possibly repeated).

    Lists: a JSON array, or items separated by commas, or the option repeated. Date ranges:
    a JSON object or 'START..END'. mapped_from_node: a JSON object or 'WORKFLOW_ID:column'.
    Everything else is validated from its text.
    """
    kind = definition.type
    if kind in LIST_TYPES - {ParameterType.MAPPED_FROM_NODE}:
        items: list[object] = []
        for text in texts:
            parsed = _json_or_none(text) if text.lstrip().startswith("[") else None
            if isinstance(parsed, list):
                items.extend(parsed)
            elif text.strip():
                items.extend(part for part in text.split(","))
        return items
    if len(texts) != 1:
        raise ParameterError(definition.name, list(texts), "a single value (given once)")
    text = texts[0]
    if kind is ParameterType.DATE_RANGE:
        parsed = _json_or_none(text)
        if isinstance(parsed, dict):
            return parsed
        start, sep, end = text.partition("..")
        return {"start": start.strip(), "end": end.strip()} if sep else text
    if kind is ParameterType.MAPPED_FROM_NODE:
        parsed = _json_or_none(text)
        if isinstance(parsed, dict):
            return parsed
        workflow_id, sep, column = text.partition(":")
        return {"workflow_id": workflow_id.strip(), "column": column.strip()} if sep else text
    return text


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None
