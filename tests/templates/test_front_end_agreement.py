"""The template validator and the simulator's compiler agree on what AMC accepts.

Hypothesis writes queries of one family (a table, dimensions, aggregates, an optional WITH
query, filter, join, window and one of AMC's restrictions broken or not); for each, the
validator finds no problem exactly when the simulator's compiler (DuckDB binding included)
compiles it, and when both refuse they say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recomamp_pipelines.amc_sql.catalogue import TABLES
from recomamp_pipelines.amc_sql.frontend import AmcSqlError
from recomamp_pipelines.simulator.engine import AmcSqlCompiler
from recomamp_pipelines.templates.amc_sql import amc_sql_problems

FAMILY_TABLES = (
    "dsp_impressions",
    "dsp_clicks",
    "dsp_views",
    "sponsored_ads_traffic",
    "amazon_attributed_events_by_traffic_time",
    "conversions_with_relevance",
    "amazon_brand_store_page_views",
)
BREAKS = (None, "limit", "order_by", "right_join", "star", "user_id", "unknown_column", "no_agg")


@dataclass(frozen=True)
class Shape:
    table: str
    dimensions: tuple[str, ...]
    metric: str
    aggregate: str
    filter_column: str | None
    with_cte: bool
    with_window: bool
    with_self_join: bool
    broken: str | None


def _columns(table: str, kinds: set[str], types: set[str], classes: set[str]) -> list[str]:
    return sorted(
        c.name
        for c in TABLES[table].columns
        if c.column_type in kinds and c.data_type in types and c.sensitivity in classes
    )


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    table = draw(st.sampled_from(FAMILY_TABLES))
    dimensions = _columns(table, {"DIMENSION"}, {"STRING", "LONG", "DATE"}, {"LOW", "MEDIUM"})
    # Brand store tables document no METRIC column: their numbers are dimensions.
    metrics = _columns(table, {"METRIC"}, {"LONG", "DOUBLE", "DECIMAL"}, {"NONE", "LOW"}) or (
        _columns(table, {"DIMENSION"}, {"LONG", "DECIMAL", "INTEGER"}, {"NONE", "LOW"})
    )
    filters = _columns(table, {"DIMENSION"}, {"STRING"}, {"LOW", "HIGH"})
    return Shape(
        table=table,
        dimensions=tuple(
            draw(st.lists(st.sampled_from(dimensions), min_size=1, max_size=3, unique=True))
        ),
        metric=draw(st.sampled_from(metrics)),
        aggregate=draw(st.sampled_from(("SUM", "MAX", "AVG", "MEDIAN", "COUNT"))),
        filter_column=draw(st.none() | st.sampled_from(filters)),
        with_cte=draw(st.booleans()),
        with_window=draw(st.booleans()),
        with_self_join=draw(st.booleans()),
        broken=draw(st.sampled_from(BREAKS)),
    )


def query(shape: Shape) -> str:
    """The AMC SQL of one shape."""
    dims = list(shape.dimensions)
    source = shape.table
    alias = "t"
    where = f"\nWHERE t.{shape.filter_column} = 'x'" if shape.filter_column else ""
    join = ""
    if shape.with_self_join or shape.broken == "right_join":
        side = "RIGHT" if shape.broken == "right_join" else "LEFT"
        join = f"\n{side} JOIN {source} AS o ON t.user_id = o.user_id"
    if shape.broken == "unknown_column":
        dims[0] = "no_such_column"
    selected = [f"t.{d}" for d in dims]
    if shape.broken == "user_id":
        selected.append("t.user_id")
    measure = f"{shape.aggregate}(t.{shape.metric}) AS measure"
    users = "COUNT(DISTINCT t.user_id) AS users"
    group = f"\nGROUP BY {', '.join(str(i + 1) for i in range(len(selected)))}"
    if shape.broken == "no_agg":
        body = f"SELECT {', '.join(selected)}\nFROM {source} AS {alias}{join}{where}"
    elif shape.broken == "star":
        body = f"SELECT *\nFROM {source} AS {alias}{join}{where}"
    else:
        body = f"SELECT {', '.join([*selected, measure, users])}\nFROM {source} AS {alias}"
        body += f"{join}{where}{group}"
    if shape.with_cte and shape.broken not in ("no_agg", "star"):
        outer = ", ".join([*dims, "user_id"] if shape.broken == "user_id" else dims)
        window = (
            ", RANK() OVER (ORDER BY measure DESC) AS measure_rank" if shape.with_window else ""
        )
        body = f"WITH summary AS (\n{body}\n)\nSELECT {outer}, measure, users{window}\nFROM summary"
    if shape.broken == "limit":
        body += "\nLIMIT 10"
    if shape.broken == "order_by":
        body += "\nORDER BY 1"
    return body


@pytest.fixture(scope="module")
def compiler() -> AmcSqlCompiler:
    return AmcSqlCompiler()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(shape=shapes())
def test_validator_and_simulator_agree(compiler: AmcSqlCompiler, shape: Shape) -> None:
    sql = query(shape)
    problems = amc_sql_problems(sql)
    try:
        compiler.compile(sql, {}, [], None, require_values=False)
        refusal = None
    except AmcSqlError as exc:
        refusal = str(exc)
    assert problems == ([] if refusal is None else [refusal]), sql
    if shape.broken is not None:
        # Every broken rule is caught, by both.
        assert refusal is not None, sql
    filtered = TABLES[shape.table].column(shape.filter_column or "")
    if filtered is not None and filtered.sensitivity == "HIGH":
        # A literal filter on a HIGH column is refused, by both.
        assert refusal is not None, sql


def test_the_family_holds_queries_both_accept(compiler: AmcSqlCompiler) -> None:
    shape = Shape(
        "dsp_impressions",
        ("campaign", "device_type"),
        "impressions",
        "SUM",
        None,
        True,
        True,
        True,
        None,
    )
    sql = query(shape)
    assert amc_sql_problems(sql) == [], sql
    assert compiler.compile(sql, {}, [], None).names == (
        "campaign",
        "device_type",
        "measure",
        "users",
        "measure_rank",
    )


#: AMC functions whose form the front end checks, each well and badly called.
FUNCTION_CALLS = {
    "STR_TO_MAP(t.campaign, ',', ':')['a']": True,
    "STR_TO_MAP(t.campaign)['a']": True,
    "NAMED_ROW('a', t.campaign, 'b', 1)": True,
    "NAMED_ROW('a', t.campaign, 'b')": False,
    "NAMED_ROW(t.campaign, 1)": False,
    "NAMED_ROW('a', 1, 'A', 2)": False,
    "FROM_VARBINARY(TO_VARBINARY(t.campaign, 'utf-8'), 'hex')": True,
    "FROM_VARBINARY(TO_VARBINARY(t.campaign, 'HEX'), 'base64')": True,
    "TO_VARBINARY(t.campaign, 'utf8')": False,
    "FROM_VARBINARY(t.campaign)": False,
    "JSON_SERIALIZE(JSON_EXTRACT(t.campaign, '$.a'))": True,
    "JSON_SERIALIZE(t.campaign, 1)": False,
}


@pytest.mark.parametrize("call", sorted(FUNCTION_CALLS))
def test_validator_and_simulator_agree_on_each_function(
    compiler: AmcSqlCompiler, call: str
) -> None:
    sql = (
        f"SELECT {call} AS value, COUNT(DISTINCT t.user_id) AS users\n"
        "FROM dsp_impressions AS t\nGROUP BY 1"
    )
    problems = amc_sql_problems(sql)
    try:
        compiler.compile(sql, {}, [], None)
        refusal = None
    except AmcSqlError as exc:
        refusal = str(exc)
    assert problems == ([] if refusal is None else [refusal]), sql
    assert (refusal is None) is FUNCTION_CALLS[call], refusal


@pytest.mark.parametrize(
    "ending", ["GROUP BY 1,", "GROUP BY 1,\nHAVING SUM(t.impressions) > 0", "GROUP BY 1, 2,"]
)
def test_a_group_by_ending_with_a_comma_is_refused_by_both(
    compiler: AmcSqlCompiler, ending: str
) -> None:
    sql = (
        "SELECT t.campaign, t.device_type, SUM(t.impressions) AS impressions\n"
        f"FROM dsp_impressions AS t\n{ending}"
    )
    problems = amc_sql_problems(sql)
    with pytest.raises(AmcSqlError) as refused:
        compiler.compile(sql, {}, [], None)
    assert problems == [str(refused.value)]
    assert "the GROUP BY list ends with a comma" in problems[0]
    comma_column = ending.split("\n")[0].rindex(",") + 1
    assert f"From line 3, column {comma_column} to line 3, column {comma_column}: " in problems[0]
