"""The official templates are valid AMC SQL, fully defined, and render on their defaults."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from recomamp_pipelines.templates.amc_sql import AMC_TABLES, amc_sql_problems
from recomamp_pipelines.templates.official import (
    LIBRARY_DIR,
    TemplateLibraryError,
    UnknownTemplateError,
    custom_parameter_names,
    load_template,
    official_template,
    official_templates,
)
from recomamp_pipelines.templates.params import ParameterType
from recomamp_pipelines.templates.render import RunWindow, render

TEMPLATES = official_templates()
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_the_library_answers_what_analysts_ask() -> None:
    assert len(TEMPLATES) >= 24
    assert {t.key for t in TEMPLATES} >= {
        "weekly_dsp_performance",
        "sponsored_ads_performance",
        "frequency_distribution",
        "dsp_sponsored_ads_overlap",
        "path_to_conversion",
        "new_to_brand_sales",
        "time_to_conversion",
        "asin_performance",
    }
    assert "SECONDS_BETWEEN(" in official_template("time_to_conversion").sql


# Each use-case family of AMC's instructional queries has at least one template.
USE_CASE_FAMILIES = {
    "reach and frequency": {"campaign_reach_frequency", "frequency_distribution"},
    "path to conversion": {"path_to_conversion"},
    "new-to-brand": {"new_to_brand_sales"},
    "audience overlap": {"dsp_sponsored_ads_overlap", "segment_reach_conversion"},
    "exposed vs unexposed": {"exposed_vs_unexposed"},
    "time to conversion": {"time_to_conversion"},
    "lifetime value": {"customer_value_tiers"},
    "brand store": {"brand_store_engagement"},
    "search term and keyword": {"search_term_performance", "keyword_conversions"},
    "video completion": {"video_completion", "sponsored_ads_video"},
    "cross-channel": {"dsp_sponsored_ads_overlap", "path_to_conversion"},
    "geography": {"dsp_geography"},
    "device": {"dsp_device_performance"},
}


@pytest.mark.parametrize("family", sorted(USE_CASE_FAMILIES))
def test_every_use_case_family_has_templates(family: str) -> None:
    assert USE_CASE_FAMILIES[family] <= {t.key for t in TEMPLATES}


def test_templates_name_the_paid_features_they_need() -> None:
    needs = {t.key: t.paid_features for t in TEMPLATES if t.paid_features}
    assert needs == {"brand_store_engagement": ("BRAND_STORE_INSIGHTS",)}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_templates_follow_amcs_sql_rules(template: object) -> None:
    sql = template.sql  # type: ignore[attr-defined]
    assert amc_sql_problems(sql) == []
    tree = sqlglot.parse_one(sql, read="spark")
    assert not list(tree.find_all(exp.Limit))
    assert all(isinstance(o.parent, exp.Window) for o in tree.find_all(exp.Order))
    tables = {t.name for t in tree.find_all(exp.Table)} - {
        c.alias_or_name for c in tree.find_all(exp.CTE)
    }
    assert tables and tables <= set(AMC_TABLES)
    outputs = [p.alias_or_name for p in tree.expressions] if isinstance(tree, exp.Select) else []
    assert outputs == [c.name for c in template.output_columns]  # type: ignore[attr-defined]
    assert "user_id" not in outputs


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_templates_render_on_their_defaults(template: object) -> None:
    window = RunWindow(datetime(2024, 5, 6), datetime(2024, 5, 13), "America/New_York")
    rendered = render(
        template.sql,  # type: ignore[attr-defined]
        window=window,
        definitions=template.parameters,  # type: ignore[attr-defined]
        now=NOW,
    )
    assert rendered.sql == template.sql  # type: ignore[attr-defined]
    used = custom_parameter_names(template.sql)  # type: ignore[attr-defined]
    assert list(rendered.parameter_values) == used
    assert [p["name"] for p in rendered.input_parameters] == used
    assert not rendered.clamped


def test_empty_list_defaults_mean_all_and_parse_in_spark() -> None:
    template = official_template("asin_performance")
    assert template.parameter("asins").default == []
    tree = sqlglot.parse_one(template.sql, read="spark")
    cardinality = [f for f in tree.find_all(exp.Anonymous) if f.name.upper() == "CARDINALITY"]
    assert cardinality and all(isinstance(f.find_ancestor(exp.Or), exp.Or) for f in cardinality)


def test_every_parameter_type_used_by_the_library_is_a_known_type() -> None:
    used = {p.type for t in TEMPLATES for p in t.parameters}
    assert used <= set(ParameterType)
    assert {
        ParameterType.ASIN_LIST,
        ParameterType.CAMPAIGN_LIST,
        ParameterType.CAMPAIGN_FILTER,
        ParameterType.ENUM_SELECT,
        ParameterType.BOOLEAN,
        ParameterType.NUMBER,
        ParameterType.THRESHOLD_NUMERIC,
        ParameterType.PERCENTAGE,
        ParameterType.STRING_LIST,
        ParameterType.DATE_EXPRESSION,
    } <= used


def test_dashboards_only_show_declared_columns() -> None:
    for template in TEMPLATES:
        names = {c.name for c in template.output_columns}
        widgets = template.report.dashboard_config["widgets"]
        assert widgets and list(template.report.widget_order) == [w["id"] for w in widgets]
        for widget in widgets:
            fields = [
                widget.get("x"),
                widget.get("field"),
                *widget.get("y", []),
                *widget.get("columns", []),
            ]
            assert {f for f in fields if f} <= names, (template.key, widget["id"])


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("select * from dsp_impressions", "column 8: SELECT * is not supported"),
        ("select campaign, count(1) as n from dsp_impressions group by 1 limit 10", "LIMIT"),
        ("select campaign, count(1) as n from dsp_impressions group by 1 order by 2", "ORDER BY"),
        ("select campaign from dsp_impressions", "must aggregate"),
        ("select user_id, count(1) as n from dsp_impressions group by 1", "user_id cannot appear"),
        (
            "select concat(user_id, 'x') as u, count(1) as n from dsp_impressions group by 1",
            "column 15 to line 1, column 21: user_id cannot appear",
        ),
        (
            "select count(1) as n from dsp_viewz",
            "column 27 to line 1, column 35: Object 'dsp_viewz'",
        ),
        ("select sum(impresions) as n from dsp_impressions", "Column 'impresions' not found"),
        (
            "select a.campaign, count(1) as n from dsp_impressions a "
            "right join dsp_clicks b on a.user_id = b.user_id group by 1",
            "RIGHT JOIN is not supported",
        ),
        (
            "select count(1) as n from dsp_impressions where postal_code in ('10001', '10002')",
            "'postal_code' has a HIGH aggregation threshold",
        ),
        ("select 1 as a; select 2 as b", "exactly one query"),
        ("select sum(x as n from dsp_impressions", 'Encountered "as" at line 1, column 14'),
    ],
)
def test_the_amc_rules_catch_what_amc_refuses(sql: str, problem: str) -> None:
    assert any(problem in p for p in amc_sql_problems(sql)), amc_sql_problems(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "/* block comment */ select count(distinct user_id) as users from dsp_views",
        "with dsp (campaign_id_string) as (values ('1'), ('2'))\n"
        "select d.campaign_id_string, count(distinct i.user_id) as users\n"
        "from dsp_impressions i inner join dsp d on i.campaign_id_string = d.campaign_id_string\n"
        "group by 1",
        "select campaign, collect(distinct line_item_price_type) as types, "
        "sum(video_complete) as completes from dsp_video_events_feed group by 1",
        "select campaign, sum(five_sec_views) as views from sponsored_ads_traffic group by 1",
        "with t as (select campaign, count(1) as n from dsp_impressions group by 1) "
        "select * from t",
        "select tracked_item, sum(conversions) as n from conversions_with_relevance group by 1",
    ],
)
def test_what_amc_documents_is_accepted(sql: str) -> None:
    assert amc_sql_problems(sql) == []


def test_window_order_by_and_counted_users_are_allowed() -> None:
    sql = (
        "select campaign, count(distinct user_id) as users, "
        "sum(rank() over (partition by campaign order by impression_dt)) as r "
        "from dsp_impressions group by 1"
    )
    assert amc_sql_problems(sql) == []


def broken_copy(tmp_path: Path, key: str) -> tuple[Path, dict[str, object]]:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    return library / f"{key}.sql", json.loads((library / f"{key}.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("undefined", "CUSTOM_PARAMETER('tracked') has no definition"),
        ("unused", "parameter 'extra' is never read"),
        ("no_default", "parameter 'min_purchases' has no default"),
        ("dashboard", "dashboard uses undeclared column 'revenue'"),
        ("output_type", "has type 'MONEY'"),
        ("placeholder", "not {{placeholders}}"),
    ],
)
def test_the_loader_refuses_inconsistent_templates(
    tmp_path: Path, change: str, message: str
) -> None:
    sql_path, body = broken_copy(tmp_path, "asin_performance")
    sql = sql_path.read_text()
    parameters = body["parameters"]
    assert isinstance(parameters, list)
    if change == "undefined":
        sql = sql.replace("CUSTOM_PARAMETER('min_purchases')", "CUSTOM_PARAMETER('tracked')")
    elif change == "unused":
        parameters.append(
            {"name": "extra", "type": "boolean", "display_name": "X", "default": True}
        )
    elif change == "no_default":
        for p in parameters:
            if p["name"] == "min_purchases":
                p["default"] = None
    elif change == "dashboard":
        body["report"]["dashboard_config"]["widgets"][0]["field"] = "revenue"  # type: ignore[index]
    elif change == "output_type":
        body["output_columns"][0]["type"] = "MONEY"  # type: ignore[index]
    else:
        sql = sql.replace("CUSTOM_PARAMETER('min_purchases')", "{{min_purchases}}")
    sql_path.write_text(sql)
    sql_path.with_suffix(".json").write_text(json.dumps(body))
    with pytest.raises(TemplateLibraryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_template(sql_path)


def test_unknown_template_keys_list_the_library() -> None:
    with pytest.raises(UnknownTemplateError, match="expected one of asin_performance"):
        official_template("asin_perf")
