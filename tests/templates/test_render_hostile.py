"""Hostile values cannot change the shape of the rendered SQL.

Every string-ish parameter type is fed quotes, backslashes, comments, semicolons, UNION SELECT,
Unicode look-alikes of the apostrophe, NULs and very long values through `{{placeholder}}`
rendering. Whatever is accepted must parse (sqlglot, Spark dialect) to the same tree as a
harmless value once string literals are blanked out, and must come back out of the literal
exactly as it went in. Whatever is refused must be refused by a ParameterError that says why.
Inside backticks only identifiers pass; in a LIKE pattern a plain string matches itself only
(its `%` and `_` escaped, checked by DuckDB's LIKE); VALUES rows keep their shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from recomamp_pipelines.templates.params import (
    DefinitionError,
    MappedSource,
    ParameterDefinition,
    ParameterError,
    ParameterType,
    escape_like,
    like_pattern,
)
from recomamp_pipelines.templates.render import (
    LIKE_ESCAPE_CLAUSE,
    RenderError,
    RunWindow,
    render,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = RunWindow(datetime(2024, 1, 8), datetime(2024, 1, 15), "UTC")
SOURCE = {"workflow_id": "8d3c1e0e-3f59-4a51-9a53-2f7dbb0e3c11", "column": "campaign"}

FRAGMENTS = [
    "'",
    "''",
    "\\",
    "\\'",
    "\\\\'",
    '"',
    "`",
    "--",
    "-- comment",
    "/*",
    "*/",
    ";",
    "; drop table users;",
    "UNION SELECT user_id FROM dsp_impressions",
    "' OR '1'='1",
    "') OR ('1'='1",
    "\u02bc",  # modifier letter apostrophe
    "\uff07",  # fullwidth apostrophe
    "\u2019",
    "\x00",
    "\n",
    "\t",
    "%",
    "_",
    "{{start_date}}",
    "CUSTOM_PARAMETER('asins')",
    "${x}",
    "Update",
    "Drop Shipping",
]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=8).map("".join),
    st.sampled_from(["x" * 5000, "'" * 3000, "\\" * 2001]),
)

# Why a value may be refused: its type or its rules, never because it looks like SQL.
ACCEPTABLE_REFUSALS = (
    "control characters",
    "at most",
    "without empty entries",
    "between",
    "ASINs: 'B' and 9 letters or digits",
)


def definition(kind: ParameterType, **rules: object) -> ParameterDefinition:
    return ParameterDefinition(name="p", type=kind, display_name="p", required=False, rules=rules)


def blank_literals(sql: str) -> exp.Expr:
    tree = sqlglot.parse_one(sql, read="spark")

    def blank(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Literal) and node.is_string:
            return exp.Literal.string("?")
        return node

    return tree.transform(blank)


def string_literals(sql: str) -> list[str]:
    tree = sqlglot.parse_one(sql, read="spark")
    return [node.this for node in tree.find_all(exp.Literal) if node.is_string]


def rendered_or_refused(
    sql: str, kind: ParameterType, value: object, **rules: object
) -> tuple[str, object] | None:
    """The rendered SQL and the value it holds, or None when the value was refused for a
    reason that has nothing to do with SQL."""
    resolver: Callable[[MappedSource], list[object]] | None = None
    saved: object = value
    if kind is ParameterType.MAPPED_FROM_NODE:
        assert isinstance(value, list)

        def resolver(source: MappedSource) -> list[object]:
            return list(value)

        saved = SOURCE
    try:
        rendered = render(
            sql,
            window=WINDOW,
            definitions=[definition(kind, **rules)],
            saved={"p": saved},
            resolve_mapped=resolver,
            now=NOW,
        )
    except ParameterError as exc:
        assert exc.parameter == "p"
        assert any(reason in exc.expected for reason in ACCEPTABLE_REFUSALS), str(exc)
        return None
    return rendered.sql, value


SCALAR_SQL = [
    "select count(distinct user_id) as users from dsp_impressions where c = {{p}} group by 1",
    "select count(distinct user_id) as users from dsp_impressions where campaign = '{{p}}'",
    'select count(distinct user_id) as users from dsp_impressions where campaign = "{{ p }}"',
    "select max(campaign) as c from dsp_impressions where campaign like '%{{p}}%' and x = 1",
    "select count(1) as n from t where a = {{p}}-- trailing comment\n and b = 2",
    "select count(1) as n from t where campaign not like {{p}} and x = 1",
    "select x from (values ({{p}}, 1), ('b', 2)) as v (x, y) where y = 1",
    "select x from (values ('{{p}}'), ('b')) as v (x)",
]
LIST_SQL = [
    "select count(distinct user_id) as users from t where campaign in ({{p}}) and x = 1",
    "select count(distinct user_id) as users from t where campaign in {{p}} group by 1",
    "select count(distinct user_id) as users from t where campaign in ( '{{p}}' )",
    "select * from (values ({{p}})) as v",
]


def assert_same_shape(sql: str, harmless_sql: str) -> None:
    assert blank_literals(sql) == blank_literals(harmless_sql), sql


def like(text: str, pattern: str) -> bool:
    """DuckDB's LIKE with the escape the renderer names (the simulator's engine)."""
    row = duckdb.execute("select ? like ? escape '\\'", [text, pattern]).fetchone()
    assert row is not None
    return bool(row[0])


def assert_like_matches_only_itself(pattern: str, value: str, *, anywhere: bool) -> None:
    """The pattern matches the value (within other text if `anywhere`), and no text in which
    a `%` or `_` of the value stands for something else."""
    around = ("before ", " after") if anywhere else ("", "")
    assert like(around[0] + value + around[1], pattern), (pattern, value)
    # Each stand-in lacks the wildcard it replaces: the text matches only if the wildcard of
    # the value was left to stand for any text (or any one character).
    for wildcard, stand_in in (("%", "xy"), ("_", "z")):
        if wildcard in value:
            other = value.replace(wildcard, stand_in)
            assert not like(around[0] + other + around[1], pattern), (pattern, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile_text, position=st.integers(0, len(SCALAR_SQL) - 1))
@example(value="%", position=3)  # a lone % inside `like '%...%'`
def test_hostile_strings_keep_the_shape_of_the_query(value: str, position: int) -> None:
    sql = SCALAR_SQL[position]
    outcome = rendered_or_refused(sql, ParameterType.STRING, value)
    if outcome is None:
        return
    rendered, _ = outcome
    harmless = rendered_or_refused(sql, ParameterType.STRING, "harmless")
    assert harmless is not None
    assert_same_shape(rendered, harmless[0])
    if "like" in sql:
        # Plain strings are literal in a LIKE pattern: escaped, with the escape named.
        assert LIKE_ESCAPE_CLAUSE in rendered
        body = escape_like(value)
        expected = f"%{body}%" if "like '%" in sql else body
        assert_like_matches_only_itself(expected, value, anywhere="like '%" in sql)
    else:
        expected = value
    assert expected in string_literals(rendered)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=hostile_text,
    position=st.integers(0, len(SCALAR_SQL) - 1),
    match=st.sampled_from(["contains", "starts_with", "ends_with", "exact"]),
    wildcards=st.booleans(),
)
def test_hostile_campaign_filters_keep_the_shape_and_their_literal_meaning(
    value: str, position: int, match: str, wildcards: bool
) -> None:
    sql = SCALAR_SQL[position]
    rules = {"match": match, "wildcards": wildcards}
    outcome = rendered_or_refused(sql, ParameterType.CAMPAIGN_FILTER, value, **rules)
    if outcome is None:
        return
    rendered, _ = outcome
    harmless = rendered_or_refused(sql, ParameterType.CAMPAIGN_FILTER, "harmless", **rules)
    assert harmless is not None
    assert_same_shape(rendered, harmless[0])
    body = value if wildcards else escape_like(value)
    expected = f"%{body}%" if "like '%" in sql else like_pattern(value, rules)
    assert expected in string_literals(rendered)
    if "like '%" in sql and not wildcards:
        assert_like_matches_only_itself(expected, value, anywhere=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile_text, position=st.integers(0, len(SCALAR_SQL) - 1))
def test_hostile_enum_options_keep_the_shape_of_the_query(value: str, position: int) -> None:
    sql = SCALAR_SQL[position]
    try:
        outcome = rendered_or_refused(sql, ParameterType.ENUM_SELECT, value, options=[value, "b"])
    except DefinitionError as exc:  # options are checked when the template is defined
        assert "control characters" in str(exc)
        return
    if outcome is None:
        return
    harmless = rendered_or_refused(sql, ParameterType.ENUM_SELECT, "b", options=[value, "b"])
    assert harmless is not None
    assert_same_shape(outcome[0], harmless[0])


LIST_KINDS = [
    (ParameterType.STRING_LIST, {}),
    (ParameterType.CAMPAIGN_LIST, {}),
    (ParameterType.ASIN_LIST, {}),
    (ParameterType.MAPPED_FROM_NODE, {"element_type": "string"}),
    (ParameterType.MAPPED_FROM_NODE, {"element_type": "campaign"}),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(hostile_text, min_size=1, max_size=4),
    position=st.integers(0, len(LIST_SQL) - 1),
    kind_index=st.integers(0, len(LIST_KINDS) - 1),
)
def test_hostile_list_items_keep_the_shape_of_the_query(
    items: list[str], position: int, kind_index: int
) -> None:
    sql = LIST_SQL[position]
    kind, rules = LIST_KINDS[kind_index]
    outcome = rendered_or_refused(sql, kind, items, **rules)
    if outcome is None:
        return
    rendered, _ = outcome
    kept = string_literals(rendered)
    harmless_items = [f"B00000000{i}" for i in range(len(kept))]
    harmless = rendered_or_refused(sql, kind, harmless_items, **rules)
    assert harmless is not None
    assert_same_shape(rendered, harmless[0])
    if kind is not ParameterType.ASIN_LIST:
        assert kept == list(dict.fromkeys(item.strip() for item in items))


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "line\nbreak", "\x1b[31m"])
def test_control_characters_are_refused_not_rendered(value: str) -> None:
    with pytest.raises(ParameterError, match="control characters"):
        render(
            "select 1 as x from t where c = {{p}}",
            window=WINDOW,
            definitions=[definition(ParameterType.STRING)],
            saved={"p": value},
            now=NOW,
        )


IDENTIFIER_SQL = [
    "select `{{p}}` as c, sum(total_cost) as cost from dsp_impressions group by 1",
    "select campaign as `{{p}}` from dsp_impressions",
    "select count(1) as n from t group by `{{p}}`",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.one_of(hostile_text, st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)),
    position=st.integers(0, len(IDENTIFIER_SQL) - 1),
)
def test_only_identifiers_fill_a_placeholder_in_backticks(value: str, position: int) -> None:
    sql = IDENTIFIER_SQL[position]
    try:
        rendered = render(
            sql,
            window=WINDOW,
            definitions=[definition(ParameterType.STRING)],
            saved={"p": value},
            now=NOW,
        )
    except ParameterError as exc:
        assert exc.parameter == "p"
        assert "an identifier inside backticks" in exc.expected or any(
            reason in exc.expected for reason in ACCEPTABLE_REFUSALS
        ), str(exc)
        assert not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value)
        return
    assert rendered.sql == sql.replace("{{p}}", value)
    harmless = render(
        sql,
        window=WINDOW,
        definitions=[definition(ParameterType.STRING)],
        saved={"p": "harmless"},
        now=NOW,
    )
    assert blank_identifiers(rendered.sql) == blank_identifiers(harmless.sql)


def blank_identifiers(sql: str) -> exp.Expr:
    def blank(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Identifier):
            return exp.Identifier(this="?", quoted=node.quoted)
        return node

    return sqlglot.parse_one(sql, read="spark").transform(blank)


def test_a_column_smuggled_through_backticks_is_refused() -> None:
    """A saved value closing the backticks added a column AMC ran."""
    hostile = "label`, sum(total_cost) as `injected_cost"
    with pytest.raises(ParameterError, match="expected an identifier inside backticks"):
        render(
            "select `{{p}}`, count(1) as n from dsp_impressions group by 1",
            window=WINDOW,
            definitions=[definition(ParameterType.STRING)],
            saved={"p": hostile},
            now=NOW,
        )


def test_a_string_declared_a_pattern_keeps_its_wildcards() -> None:
    rendered = render(
        "select 1 as n from t where campaign like '{{p}}'",
        window=WINDOW,
        definitions=[definition(ParameterType.STRING, wildcards=True)],
        saved={"p": "Brand_%"},
        now=NOW,
    )
    assert sorted(string_literals(rendered.sql)) == ["Brand_%", "\\"]
    assert like("BrandX anything", "Brand_%")


def test_another_escape_character_after_a_pattern_with_values_is_refused() -> None:
    with pytest.raises(RenderError, match="write ESCAPE"):
        render(
            "select 1 as n from t where campaign like '%{{p}}%' escape '!'",
            window=WINDOW,
            definitions=[definition(ParameterType.STRING)],
            saved={"p": "50%"},
            now=NOW,
        )
