"""Every parameter type validates against its rules and refuses values with a precise message."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from recomamp_pipelines.templates.params import (
    DateRange,
    DefinitionError,
    MappedSource,
    ParameterDefinition,
    ParameterError,
    ParameterType,
    amc_data_type,
    amc_value,
    infer_definition,
    parameters_schema,
    parse_text_value,
    quote_string,
    sql_literal,
    to_json,
    validate_parameters,
    validate_value,
)


def param(kind: str, name: str = "p", **rules: Any) -> ParameterDefinition:
    return ParameterDefinition(name=name, type=ParameterType(kind), display_name=name, rules=rules)


def refused(definition: ParameterDefinition, value: object) -> str:
    with pytest.raises(ParameterError) as caught:
        validate_value(definition, value)
    return str(caught.value)


# --- asin_list ----------------------------------------------------------------------------------


def test_asins_are_upper_cased_and_deduplicated_in_order() -> None:
    asins = param("asin_list", "asins")
    value = validate_value(asins, [" b07xj8c8f5", "0306406152", "B07XJ8C8F5", "030640615x"])
    assert value == ["B07XJ8C8F5", "0306406152", "030640615X"]


def test_asins_may_be_pasted_as_one_line() -> None:
    assert validate_value(param("asin_list"), "B07XJ8C8F5, B000000001\nB000000002") == [
        "B07XJ8C8F5",
        "B000000001",
        "B000000002",
    ]


@pytest.mark.parametrize(
    "bad", ["B07XJ8C8F", "A07XJ8C8F5", "B07XJ8C8F5X", "03064061Y2", "B07-J8C8F5"]
)
def test_malformed_asins_are_refused_naming_the_parameter_and_the_asin(bad: str) -> None:
    message = refused(param("asin_list", "asins"), ["B07XJ8C8F5", bad])
    assert message.startswith("parameter 'asins': got ")
    assert repr(bad.upper()) in message or repr(bad) in message
    assert "10-digit book ASIN" in message


def test_list_counts_follow_min_and_max_items() -> None:
    message = refused(param("asin_list", max_items=2), ["B000000001", "B000000002", "B000000003"])
    assert "between 0 and 2 ASINs (got 3)" in message
    assert "between 1 and" in refused(param("campaign_list", min_items=1), [])


def test_a_list_type_wants_a_list() -> None:
    assert "a list of campaigns" in refused(param("campaign_list"), "Brand, Generic")


# --- campaign_list, string_list, string -----------------------------------------------------------


def test_campaign_names_keep_ordinary_words_that_are_sql_keywords() -> None:
    names = ["Update - Q3", "Created 2024", "Selection: Drop Shipping", "O'Brien's \"Best\""]
    assert validate_value(param("campaign_list"), names) == names


def test_campaign_names_are_trimmed_and_empty_entries_refused() -> None:
    assert validate_value(param("campaign_list"), ["  Brand  ", "Brand"]) == ["Brand"]
    assert "without empty entries" in refused(param("campaign_list"), ["Brand", "  "])


def test_string_list_options_and_pattern() -> None:
    kinds = param("string_list", options=["AD_IMP", "AD_CLICK"])
    assert validate_value(kinds, ["AD_CLICK"]) == ["AD_CLICK"]
    assert "among ['AD_IMP', 'AD_CLICK']" in refused(kinds, ["AD_VIEW"])
    coded = param("string_list", pattern=r"[A-Z]{2}\d+")
    assert "matching" in refused(coded, ["AB12", "ab12"])


def test_strings_follow_length_and_pattern_rules() -> None:
    text = param("string", min_length=2, max_length=5, pattern=r"[a-z]+")
    assert validate_value(text, "drop") == "drop"
    assert "at least 2 characters" in refused(text, "d")
    assert "at most 5 characters" in refused(text, "dropped")
    assert "matching '[a-z]+'" in refused(text, "DROP")
    assert "a text" in refused(text, 42)


def test_control_characters_are_refused_with_their_code_point() -> None:
    assert "control characters (found U+0000)" in refused(param("string"), "a\x00b")
    assert "U+000A" in refused(param("campaign_list"), ["line\nbreak"])
    assert validate_value(param("string"), "tab\tseparated") == "tab\tseparated"


def test_long_values_are_truncated_in_messages() -> None:
    message = refused(param("string", "note"), "x" * 5000)
    assert "(5000 chars)" in message
    assert len(message) < 250
    assert "at most 1000 characters" in message


# --- campaign_filter -----------------------------------------------------------------------------


def test_campaign_filter_escapes_like_wildcards_by_default() -> None:
    contains = param("campaign_filter", "campaign")
    value = validate_value(contains, "50%_off")
    assert amc_value(contains, value) == "%50\\%\\_off%"
    assert sql_literal(contains, value) == "'%50\\\\%\\\\_off%'"


def test_campaign_filter_match_modes_and_wildcards() -> None:
    assert amc_value(param("campaign_filter", match="starts_with"), "Brand_") == "Brand\\_%"
    assert amc_value(param("campaign_filter", match="ends_with"), "Q3") == "%Q3"
    assert amc_value(param("campaign_filter", match="exact"), "a%b") == "a\\%b"
    assert amc_value(param("campaign_filter", wildcards=True), "Brand_%Q3") == "%Brand_%Q3%"


def test_an_empty_campaign_filter_matches_every_campaign() -> None:
    assert amc_value(param("campaign_filter"), "") == "%%"


# --- numbers -------------------------------------------------------------------------------------


def test_numbers_accept_numeric_text_and_keep_precision() -> None:
    number = param("number")
    assert validate_value(number, "10") == 10
    assert validate_value(number, 0.1) == Decimal("0.1")
    assert validate_value(number, "2.50") == Decimal("2.50")
    assert sql_literal(number, validate_value(number, 1e-7)) == "0.0000001"


@pytest.mark.parametrize("bad", [True, "ten", float("nan"), float("inf"), None, [1]])
def test_non_numbers_are_refused(bad: object) -> None:
    assert "a finite number" in refused(param("number"), bad)


def test_number_rules_min_max_integer() -> None:
    bounded = param("number", min=1, max=10, integer=True)
    assert "a number >= 1" in refused(bounded, 0)
    assert "a number <= 10" in refused(bounded, 11)
    assert "a whole number" in refused(bounded, 2.5)
    assert validate_value(bounded, "4.0") == 4


def test_thresholds_are_never_negative() -> None:
    assert "a number >= 0" in refused(param("threshold_numeric", "min_impressions"), -1)


def test_negative_numbers_cannot_start_a_comment() -> None:
    assert sql_literal(param("number"), -5) == "(-5)"


# --- percentage ----------------------------------------------------------------------------------


def test_percent_scale_takes_0_to_100_and_refuses_fractions() -> None:
    pct = param("percentage", "share", scale="percent")
    assert validate_value(pct, 25) == 25
    message = refused(pct, 0.25)
    assert "a percent between 0 and 100" in message and "looks like a fraction" in message
    assert validate_value(pct, "0.25%") == Decimal("0.25")
    assert "a number <= 100" in refused(pct, 150)


def test_fraction_scale_takes_0_to_1_and_refuses_percents() -> None:
    fraction = param("percentage", "share", scale="fraction")
    assert validate_value(fraction, 0.25) == Decimal("0.25")
    message = refused(fraction, 25)
    assert "a fraction between 0 and 1" in message and "looks like a percent" in message
    assert validate_value(fraction, "25%") == Decimal("0.25")


# --- boolean, enum -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), ("yes", True), ("0", False), (1, True)]
)
def test_booleans(raw: object, expected: bool) -> None:
    assert validate_value(param("boolean"), raw) is expected


def test_other_values_are_not_booleans() -> None:
    assert "true or false" in refused(param("boolean"), "maybe")
    assert "true or false" in refused(param("boolean"), 2)


def test_enum_takes_one_of_its_options() -> None:
    choice = param(
        "enum_select", options=[{"value": "all", "label": "All"}, {"value": "dsp", "label": "DSP"}]
    )
    assert validate_value(choice, "dsp") == "dsp"
    assert "one of ['all', 'dsp']" in refused(choice, "DSP")


# --- dates, mapped_from_node ---------------------------------------------------------------------


def test_date_ranges_accept_dates_timestamps_and_camel_case_keys() -> None:
    dates = param("date_range")
    whole_days = validate_value(dates, {"start": "2024-01-01", "end": "2024-01-31"})
    assert whole_days == DateRange(datetime(2024, 1, 1), datetime(2024, 2, 1))
    camel = validate_value(
        dates, {"startDate": "2024-01-01T06:00:00", "endDate": "2024-01-02T06:00:00"}
    )
    assert camel == DateRange(datetime(2024, 1, 1, 6), datetime(2024, 1, 2, 6))
    assert to_json(dates, whole_days) == {
        "start": "2024-01-01T00:00:00",
        "end": "2024-02-01T00:00:00",
    }


def test_date_range_rules_and_refusals() -> None:
    dates = param("date_range", max_days=7)
    assert "at most 7 days" in refused(dates, {"start": "2024-01-01", "end": "2024-01-31"})
    assert "end is after its start" in refused(dates, {"start": "2024-01-05", "end": "2024-01-01"})
    assert "a date range" in refused(dates, {"start": "2024-01-01Z", "end": "2024-01-02"})
    assert "a date range" in refused(dates, "last_week")


def test_date_expressions_are_checked_against_the_known_forms_and_rules() -> None:
    expression = param("date_expression", allowed=["last_week", "last_month"])
    assert validate_value(expression, "Last_Week") == "last_week"
    assert "one of ['last_week', 'last_month']" in refused(expression, "ytd")
    assert "today, yesterday" in refused(param("date_expression"), "fortnight")


def test_mapped_from_node_takes_a_workflow_and_an_output_column() -> None:
    mapped = param("mapped_from_node", "top_asins", element_type="asin")
    workflow_id = "8d3c1e0e-3f59-4a51-9a53-2f7dbb0e3c11"
    value = validate_value(mapped, {"workflow_id": workflow_id, "column": "tracked_asin"})
    assert value == MappedSource(workflow_id, "tracked_asin")
    assert "a source {'workflow_id'" in refused(mapped, {"workflow_id": "abc", "column": "x"})
    assert "a source" in refused(mapped, {"workflow_id": workflow_id, "column": "a;b"})
    fixed = param("mapped_from_node", column="campaign")
    assert "the source column 'campaign'" in refused(
        fixed, {"workflow_id": workflow_id, "column": "tracked_asin"}
    )


# --- definitions ---------------------------------------------------------------------------------


def test_definitions_refuse_unknown_types_rules_and_bad_defaults() -> None:
    with pytest.raises(DefinitionError, match="type 'asin' is not one of"):
        ParameterDefinition.from_mapping({"name": "a", "type": "asin"})
    with pytest.raises(DefinitionError, match=r"unknown rules \['max_item'\]"):
        param("asin_list", max_item=3)
    with pytest.raises(DefinitionError, match="options must be a non-empty list"):
        param("enum_select")
    with pytest.raises(DefinitionError, match="default of parameter 'n'"):
        ParameterDefinition.from_mapping({"name": "n", "type": "number", "default": "many"})
    with pytest.raises(DefinitionError, match="parameter name 'drop table'"):
        ParameterDefinition.from_mapping({"name": "drop table", "type": "string"})


def test_definitions_read_database_rows() -> None:
    row = {
        "parameter_name": "asins",
        "parameter_type": "asin_list",
        "display_name": "ASINs",
        "default_value": [],
        "validation_rules": {"max_items": 5},
        "display_order": 2,
        "group_name": "Products",
        "required": False,
    }
    definition = ParameterDefinition.from_mapping(row)
    assert definition.type is ParameterType.ASIN_LIST
    assert (definition.order, definition.group, definition.rules) == (
        2,
        "Products",
        {"max_items": 5},
    )
    assert ParameterDefinition.from_mapping(definition.to_mapping()) == definition


def test_validate_parameters_applies_defaults_and_refuses_missing_and_unknown_names() -> None:
    definitions = [
        ParameterDefinition(
            name="asins", type=ParameterType.ASIN_LIST, display_name="A", default=[]
        ),
        ParameterDefinition(name="cap", type=ParameterType.NUMBER, display_name="C"),
    ]
    assert validate_parameters(definitions, {"cap": "3"}) == {"asins": [], "cap": 3}
    with pytest.raises(
        ParameterError, match="'cap': got None; expected a value: the parameter is required"
    ):
        validate_parameters(definitions, {})
    with pytest.raises(ParameterError, match="one of the template's parameters"):
        validate_parameters(definitions, {"cap": 3, "capp": 4})


def test_untyped_saved_values_get_an_inferred_type() -> None:
    assert infer_definition("flag", True).type is ParameterType.BOOLEAN
    assert infer_definition("names", ["a"]).type is ParameterType.STRING_LIST
    assert infer_definition("window", {"start": "2024-01-01", "end": "2024-01-02"}).type is (
        ParameterType.DATE_RANGE
    )
    with pytest.raises(ParameterError, match="'odd'"):
        infer_definition("odd", {"nested": {"x": 1}})


def test_amc_data_types_of_input_parameters() -> None:
    assert amc_data_type(param("asin_list")) == {"type": "ARRAY", "elementDataType": "STRING"}
    assert amc_data_type(param("number", integer=True)) == "LONG"
    assert amc_data_type(param("percentage")) == "DOUBLE"
    assert amc_data_type(param("boolean")) == "BOOLEAN"
    assert amc_data_type(param("campaign_filter")) == "STRING"


def test_the_one_string_quoting_function() -> None:
    assert quote_string("O'Brien") == "'O\\'Brien'"
    assert quote_string("back\\slash") == "'back\\\\slash'"
    assert quote_string("\u02bc\uff07") == "'\u02bc\uff07'"
    with pytest.raises(ValueError, match=r"U\+0000"):
        quote_string("nul\x00")


# --- command-line text and JSON Schema -----------------------------------------------------------


def test_command_line_text_becomes_typed_values() -> None:
    asins = param("asin_list")
    assert validate_value(
        asins, parse_text_value(asins, ["b000000001, B000000002", "B000000003"])
    ) == [
        "B000000001",
        "B000000002",
        "B000000003",
    ]
    names = param("campaign_list")
    assert parse_text_value(names, ['["Brand, Generic", "Other"]']) == ["Brand, Generic", "Other"]
    dates = param("date_range")
    assert validate_value(dates, parse_text_value(dates, ["2024-01-01..2024-01-07"])) == DateRange(
        datetime(2024, 1, 1), datetime(2024, 1, 8)
    )
    mapped = param("mapped_from_node")
    workflow_id = "8d3c1e0e-3f59-4a51-9a53-2f7dbb0e3c11"
    assert parse_text_value(mapped, [f"{workflow_id}:campaign"]) == {
        "workflow_id": workflow_id,
        "column": "campaign",
    }
    assert validate_value(param("boolean"), parse_text_value(param("boolean"), ["yes"])) is True
    with pytest.raises(ParameterError, match="a single value"):
        parse_text_value(param("number"), ["1", "2"])


def test_parameters_schema_describes_each_type_for_forms() -> None:
    schema = parameters_schema(
        [
            ParameterDefinition(
                name="asins", type=ParameterType.ASIN_LIST, display_name="ASINs", default=[]
            ),
            ParameterDefinition(
                name="share",
                type=ParameterType.PERCENTAGE,
                display_name="Share",
                rules={"scale": "fraction"},
            ),
            ParameterDefinition(
                name="product",
                type=ParameterType.ENUM_SELECT,
                display_name="Product",
                rules={"options": [{"value": "all", "label": "All"}, "dsp"]},
            ),
        ]
    )
    properties = schema["properties"]
    assert properties["asins"]["items"]["pattern"] == "^(B[0-9A-Z]{9}|[0-9]{9}[0-9X])$"
    assert properties["asins"]["default"] == []
    assert (properties["share"]["minimum"], properties["share"]["maximum"]) == (0, 1)
    assert properties["product"]["enum"] == ["all", "dsp"]
    assert schema["required"] == ["share", "product"]
