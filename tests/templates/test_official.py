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
        ("select * from dsp_impressions", "SELECT * is not allowed"),
        ("select campaign, count(1) as n from dsp_impressions group by 1 limit 10", "LIMIT"),
        ("select campaign, count(1) as n from dsp_impressions group by 1 order by 2", "ORDER BY"),
        ("select campaign from dsp_impressions", "must aggregate"),
        ("select user_id, count(1) as n from dsp_impressions group by 1", "user_id may never"),
        (
            "select concat(user_id, 'x') as u, count(1) as n from dsp_impressions group by 1",
            "exposes user_id",
        ),
        ("select count(1) as n from dsp_views", "unknown AMC table 'dsp_views'"),
        ("select sum(impresions) as n from dsp_impressions", "unknown column 'impresions'"),
        ("select 1 as a; select 2 as b", "exactly one query"),
        ("select sum(x as n from dsp_impressions", "does not parse"),
    ],
)
def test_the_amc_rules_catch_what_amc_refuses(sql: str, problem: str) -> None:
    assert any(problem in p for p in amc_sql_problems(sql)), amc_sql_problems(sql)


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
