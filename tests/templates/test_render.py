"""The renderer: run dates win, placeholders are typed and quoted, nothing unresolved escapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlglot

from recomamp_pipelines.templates.params import (
    MappedSource,
    ParameterDefinition,
    ParameterError,
    ParameterType,
)
from recomamp_pipelines.templates.render import (
    RenderError,
    RunWindow,
    UnresolvedParameterError,
    default_window,
    render,
    unresolved_names,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WEEK = RunWindow(datetime(2024, 1, 8), datetime(2024, 1, 15), "America/New_York")


def definition(name: str, kind: str, **kwargs: object) -> ParameterDefinition:
    return ParameterDefinition(
        name=name,
        type=ParameterType(kind),
        display_name=name,
        required=False,
        **kwargs,  # type: ignore[arg-type]
    )


def parses(sql: str) -> None:
    sqlglot.parse_one(sql, read="spark")


# --- run dates (original bugs 7, 8, 19) ----------------------------------------------------------


def test_run_dates_win_over_fixed_dates_saved_in_the_workflow() -> None:
    sql = (
        "select count(distinct user_id) as users from dsp_impressions "
        "where impression_dt >= {{start_date}} and impression_dt < {{end_date}}"
    )
    saved = {
        "start_date": "2023-06-01",
        "end_date": "2023-06-30",
        "window": {"start": "2023-06-01", "end": "2023-06-30"},
    }
    definitions = [definition("window", "date_range")]
    weeks = [
        RunWindow(datetime(2024, 1, 1), datetime(2024, 1, 8), "UTC"),
        RunWindow(datetime(2024, 1, 8), datetime(2024, 1, 15), "UTC"),
    ]
    rendered = [render(sql, window=w, definitions=definitions, saved=saved, now=NOW) for w in weeks]
    assert "TIMESTAMP '2024-01-01 00:00:00'" in rendered[0].sql
    assert "TIMESTAMP '2024-01-08 00:00:00'" in rendered[1].sql
    assert rendered[0].sql != rendered[1].sql
    assert [r.time_window_fields()["timeWindowStart"] for r in rendered] == [
        "2024-01-01T00:00:00",
        "2024-01-08T00:00:00",
    ]
    assert "2023-06" not in rendered[0].sql
    assert set(rendered[0].superseded) == {"start_date", "end_date", "window"}


def test_start_date_resolves_when_the_saved_parameters_use_camel_case() -> None:
    sql = (
        "select sum(impressions) as impressions from dsp_impressions "
        "where impression_dt >= {{start_date}} and impression_dt < '{{end_date}}'"
    )
    rendered = render(
        sql, window=WEEK, saved={"startDate": "2023-01-01", "endDate": "2023-01-08"}, now=NOW
    )
    assert "{{" not in rendered.sql
    assert "TIMESTAMP '2024-01-08 00:00:00'" in rendered.sql
    assert "TIMESTAMP '2024-01-15 00:00:00'" in rendered.sql
    parses(rendered.sql)


def test_camel_case_placeholders_resolve_from_the_run_too() -> None:
    rendered = render("select {{startDate}} as s, {{timeWindowEnd}} as e", window=WEEK, now=NOW)
    assert rendered.sql == (
        "select TIMESTAMP '2024-01-08 00:00:00' as s, TIMESTAMP '2024-01-15 00:00:00' as e"
    )


def test_date_parameters_render_as_timestamp_literals_never_json() -> None:
    # 'last_month' on 2024-06-01 08:00 in New York ends at the data horizon, 48 h back.
    definitions = [
        definition("period", "date_range", rules={"follows_run_window": False}),
        definition("lookback", "date_expression", rules={"follows_run_window": False}),
    ]
    saved = {"period": {"start": "2024-01-01", "end": "2024-01-31"}, "lookback": "last_month"}
    sql = (
        "select 1 as x from t where d >= {{period_start}} and d < {{period_end}} "
        "and e >= {{lookback_start}} and e < {{lookback_end}}"
    )
    rendered = render(sql, window=WEEK, definitions=definitions, saved=saved, now=NOW)
    assert rendered.sql == (
        "select 1 as x from t where d >= TIMESTAMP '2024-01-01 00:00:00' and "
        "d < TIMESTAMP '2024-02-01 00:00:00' and e >= TIMESTAMP '2024-05-01 00:00:00' and "
        "e < TIMESTAMP '2024-05-30 08:00:00'"
    )
    assert '"start"' not in rendered.sql and "{" not in rendered.sql
    with pytest.raises(ParameterError, match=r"written as \{\{period_start\}\}"):
        render("select {{period}} as p", window=WEEK, definitions=definitions, saved=saved, now=NOW)


def test_date_bounds_of_a_window_parameter_follow_the_run_by_default() -> None:
    definitions = [definition("time_window", "date_expression", default="last_week")]
    rendered = render(
        "select {{time_window_start}} as s", window=WEEK, definitions=definitions, now=NOW
    )
    assert rendered.sql == "select TIMESTAMP '2024-01-08 00:00:00' as s"


def test_a_run_window_inside_the_data_lag_is_clamped_and_says_so() -> None:
    window = RunWindow(datetime(2024, 5, 27), datetime(2024, 6, 3), "UTC")
    rendered = render("select 1 as x", window=window, now=NOW)
    assert rendered.clamped
    assert rendered.time_window_fields() == {
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2024-05-27T00:00:00",
        "timeWindowEnd": "2024-05-30T12:00:00",
        "timeWindowTimeZone": "UTC",
    }
    with pytest.raises(RenderError, match="data lag"):
        render(
            "select 1 as x",
            window=RunWindow(datetime(2024, 5, 31), datetime(2024, 6, 1), "UTC"),
            now=NOW,
        )


def test_run_windows_are_naive_ordered_and_in_a_known_zone() -> None:
    with pytest.raises(RenderError, match="naive local datetime"):
        RunWindow(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2), "UTC")
    with pytest.raises(RenderError, match="end must be after"):
        RunWindow(datetime(2024, 1, 2), datetime(2024, 1, 1), "UTC")
    with pytest.raises(RenderError, match="not an IANA time zone"):
        RunWindow(datetime(2024, 1, 1), datetime(2024, 1, 2), "Nowhere/Land")


# --- unresolved and malformed placeholders -------------------------------------------------------


def test_unresolved_placeholders_and_custom_parameters_fail_before_anything_is_sent() -> None:
    sql = (
        "select campaign, count(distinct user_id) as u from t "
        "where campaign in ({{campaigns}}) and a = CUSTOM_PARAMETER('brand') group by 1"
    )
    with pytest.raises(UnresolvedParameterError) as caught:
        render(sql, window=WEEK, now=NOW)
    assert caught.value.names == ("campaigns", "brand")
    assert "{{campaigns}}, {{brand}}" in str(caught.value)


def test_a_malformed_placeholder_is_an_error_not_sql() -> None:
    with pytest.raises(RenderError, match="malformed placeholder near '\\{\\{ campaign-name"):
        render("select 1 as x from t where c = {{ campaign-name }}", window=WEEK, now=NOW)


def test_placeholders_inside_comments_are_left_alone() -> None:
    sql = "-- set {{nothing}} here\nselect 1 as x /* {{nor_here}} */"
    assert render(sql, window=WEEK, now=NOW).sql == sql


def test_a_required_parameter_without_a_value_is_refused_even_if_unused() -> None:
    required = ParameterDefinition(name="brand", type=ParameterType.STRING, display_name="Brand")
    with pytest.raises(ParameterError, match="'brand': got None; expected a value"):
        render("select 1 as x", window=WEEK, definitions=[required], now=NOW)


# --- values: CUSTOM_PARAMETER and placeholders ---------------------------------------------------


def test_custom_parameter_values_travel_as_data_never_as_sql() -> None:
    definitions = [
        definition("asins", "asin_list", default=[]),
        definition("campaign", "campaign_filter", default=""),
        definition("cap", "number", rules={"integer": True}, default=10),
    ]
    sql = (
        "select count(distinct user_id) as users from amazon_attributed_events_by_conversion_time "
        "where (cardinality(CUSTOM_PARAMETER('asins')) = 0 "
        "or array_contains(CUSTOM_PARAMETER('asins'), tracked_asin)) "
        "and campaign like CUSTOM_PARAMETER('campaign') and purchases < CUSTOM_PARAMETER('cap')"
    )
    hostile = "x' or 1=1; drop table users --"
    rendered = render(
        sql,
        window=WEEK,
        definitions=definitions,
        saved={"asins": ["b07xj8c8f5"], "campaign": hostile},
        now=NOW,
    )
    assert rendered.sql == sql
    assert rendered.parameter_values == {
        "asins": ["B07XJ8C8F5"],
        "campaign": "%x' or 1=1; drop table users --%",
        "cap": 10,
    }
    assert rendered.input_parameters == [
        {
            "name": "asins",
            "dataType": {"type": "ARRAY", "elementDataType": "STRING"},
            "defaultValue": ["B07XJ8C8F5"],
        },
        {
            "name": "campaign",
            "dataType": "STRING",
            "defaultValue": "%x' or 1=1; drop table users --%",
        },
        {"name": "cap", "dataType": "LONG", "defaultValue": 10},
    ]


def test_overrides_apply_in_order_over_saved_values_and_defaults() -> None:
    definitions = [definition("cap", "number", default=1)]
    sql = "select least(x, {{cap}}) as c"
    assert render(sql, window=WEEK, definitions=definitions, now=NOW).sql.endswith("1) as c")
    schedule, collection = {"cap": 5}, {"cap": 7}
    assert render(
        sql, window=WEEK, definitions=definitions, saved={"cap": 3}, overrides=[schedule], now=NOW
    ).sql.endswith("5) as c")
    assert render(
        sql,
        window=WEEK,
        definitions=definitions,
        saved={"cap": 3},
        overrides=[schedule, collection],
        now=NOW,
    ).sql.endswith("7) as c")


def test_a_bad_value_names_the_parameter_value_and_expectation() -> None:
    definitions = [definition("asins", "asin_list")]
    with pytest.raises(ParameterError) as caught:
        render(
            "select 1 as x from t where a in ({{asins}})",
            window=WEEK,
            definitions=definitions,
            saved={"asins": ["B07XJ8C8F5", "nope"]},
            now=NOW,
        )
    assert caught.value.parameter == "asins"
    assert "got 'nope'" in str(caught.value)
    assert "'B' and 9 letters or digits" in str(caught.value)


def test_list_placeholders_work_with_and_without_parentheses() -> None:
    definitions = [definition("asins", "asin_list")]
    saved = {"asins": ["B000000001", "B000000002"]}
    with_parens = render(
        "select 1 as x from t where a in ({{asins}})",
        window=WEEK,
        definitions=definitions,
        saved=saved,
        now=NOW,
    )
    bare = render(
        "select 1 as x from t where a in {{asins}}",
        window=WEEK,
        definitions=definitions,
        saved=saved,
        now=NOW,
    )
    expected = "select 1 as x from t where a in ('B000000001', 'B000000002')"
    assert with_parens.sql == bare.sql == expected


def test_an_empty_list_cannot_be_written_into_sql() -> None:
    definitions = [definition("asins", "asin_list", default=[])]
    with pytest.raises(ParameterError, match="empty list cannot be written"):
        render(
            "select 1 as x from t where a in ({{asins}})",
            window=WEEK,
            definitions=definitions,
            now=NOW,
        )


def test_placeholders_inside_string_literals_are_escaped_for_that_literal() -> None:
    definitions = [definition("campaign", "campaign_filter"), definition("brand", "string")]
    saved = {"campaign": "50%_off 'sale'", "brand": 'Acme "Pro"'}
    sql = "select 1 as x from t where c like '%{{campaign}}%' and b = \"{{brand}} line\""
    rendered = render(sql, window=WEEK, definitions=definitions, saved=saved, now=NOW)
    assert rendered.sql == (
        "select 1 as x from t where c like '%50\\\\%\\\\_off \\'sale\\'%' ESCAPE '\\\\' "
        'and b = "Acme \\"Pro\\" line"'
    )
    tree = sqlglot.parse_one(rendered.sql, read="spark")
    literals = sorted(lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.is_string)
    assert literals == ["%50\\%\\_off 'sale'%", 'Acme "Pro" line', "\\"]


def test_a_whole_quoted_placeholder_becomes_the_typed_literal() -> None:
    definitions = [definition("min_spend", "number"), definition("brand", "string")]
    rendered = render(
        "select 1 as x from t where s > '{{min_spend}}' and b = '{{ brand }}'",
        window=WEEK,
        definitions=definitions,
        saved={"min_spend": "2.5", "brand": "Update"},
        now=NOW,
    )
    assert rendered.sql == "select 1 as x from t where s > 2.5 and b = 'Update'"


def test_ordinary_words_with_sql_keywords_are_rendered_as_text() -> None:
    words = ["Update", "Created", "Selection", "Drop Shipping", "Union Select Deals"]
    rendered = render(
        "select 1 as x from t where campaign in ({{names}})",
        window=WEEK,
        definitions=[definition("names", "campaign_list")],
        saved={"names": words},
        now=NOW,
    )
    assert rendered.sql.endswith(
        "('Update', 'Created', 'Selection', 'Drop Shipping', 'Union Select Deals')"
    )


def test_untyped_saved_values_are_typed_by_inference_and_quoted() -> None:
    rendered = render(
        "select 1 as x from t where a = {{brand}} and b = {{flag}} and c in ({{names}})",
        window=WEEK,
        saved={"brand": "O'Brien", "flag": True, "names": ["a", "b"]},
        now=NOW,
    )
    assert (
        rendered.sql
        == "select 1 as x from t where a = 'O\\'Brien' and b = TRUE and c in ('a', 'b')"
    )


# --- mapped_from_node ----------------------------------------------------------------------------

SOURCE = {"workflow_id": "8d3c1e0e-3f59-4a51-9a53-2f7dbb0e3c11", "column": "tracked_asin"}


def test_mapped_values_come_from_the_resolver_and_are_validated() -> None:
    definitions = [definition("top_asins", "mapped_from_node", rules={"element_type": "asin"})]
    asked: list[MappedSource] = []

    def resolver(source: MappedSource) -> list[str]:
        asked.append(source)
        return ["b000000001", "B000000002"]

    rendered = render(
        "select 1 as x from t where a in ({{top_asins}}) "
        "and array_contains(CUSTOM_PARAMETER('top_asins'), a)",
        window=WEEK,
        definitions=definitions,
        saved={"top_asins": SOURCE},
        resolve_mapped=resolver,
        now=NOW,
    )
    assert asked == [MappedSource(SOURCE["workflow_id"], "tracked_asin")]
    assert "in ('B000000001', 'B000000002')" in rendered.sql
    assert rendered.parameter_values == {"top_asins": ["B000000001", "B000000002"]}

    with pytest.raises(ParameterError, match="'top_asins': got \"x' or 1=1\""):
        render(
            "select 1 as x from t where a in ({{top_asins}})",
            window=WEEK,
            definitions=definitions,
            saved={"top_asins": SOURCE},
            resolve_mapped=lambda source: ["x' or 1=1"],
            now=NOW,
        )


def test_a_mapped_parameter_without_a_resolver_is_an_error() -> None:
    definitions = [definition("top_asins", "mapped_from_node")]
    with pytest.raises(RenderError, match="no resolver was given"):
        render(
            "select 1 as x from t where a in ({{top_asins}})",
            window=WEEK,
            definitions=definitions,
            saved={"top_asins": SOURCE},
            now=NOW,
        )


# --- ad hoc windows ------------------------------------------------------------------------------


def test_the_window_of_an_ad_hoc_run_comes_from_the_date_parameter() -> None:
    definitions = [definition("time_window", "date_expression", default="last_week")]
    window = default_window(definitions, {}, "UTC", now=NOW)
    assert window == RunWindow(datetime(2024, 5, 20), datetime(2024, 5, 27), "UTC")
    sunday_weeks = default_window(definitions, {}, "UTC", now=NOW, week_start_day=6)
    assert sunday_weeks == RunWindow(datetime(2024, 5, 19), datetime(2024, 5, 26), "UTC")
    fixed = default_window(
        [definition("period", "date_range")],
        {"period": {"start": "2024-02-01", "end": "2024-02-29"}},
        "UTC",
        now=NOW,
    )
    assert fixed == RunWindow(datetime(2024, 2, 1), datetime(2024, 3, 1), "UTC")
    assert default_window([], {}, "UTC", now=NOW) is None


def test_unresolved_names_are_found_before_a_workflow_is_saved() -> None:
    definitions = [
        definition("asins", "asin_list", default=[]),
        definition("period", "date_range"),
        definition("brand", "string"),
    ]
    sql = (
        "select 1 as x from t where a in ({{asins}}) and b = {{brand}} and c = {{other}} "
        "and d >= {{period_start}} and e < {{endDate}} and f = CUSTOM_PARAMETER('cap')"
    )
    assert unresolved_names(sql, definitions, {}) == ["brand", "other", "cap"]
    assert unresolved_names(sql, definitions, {"brand": "Acme", "other": 1, "cap": 2}) == []
