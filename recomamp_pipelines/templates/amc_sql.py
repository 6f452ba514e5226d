"""AMC's SQL rules, checked on a query before it is offered as a template.

AMC refuses `SELECT *`, `LIMIT` and `ORDER BY` outside window functions, answers only
aggregated queries, and never lets `user_id` out. Its tables and columns are the data sources
of the AMC reference (docs: AMC_API.md, "Data sources").
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

_DSP_DIMENSIONS = (
    "advertiser",
    "advertiser_id",
    "campaign",
    "campaign_id",
    "line_item",
    "line_item_id",
    "creative",
    "creative_id",
    "device_type",
    "supply_source",
    "site",
    "postal_code",
    "user_id",
)
_ATTRIBUTED_EVENTS = (
    "ad_product_type",
    "campaign",
    "campaign_id",
    "tracked_asin",
    "conversion_event_category",
    "conversion_event_dt",
    "conversion_event_dt_utc",
    "traffic_event_dt",
    "traffic_event_dt_utc",
    "traffic_event_subtype",
    "conversions",
    "purchases",
    "product_sales",
    "units_sold",
    "total_purchases",
    "total_product_sales",
    "new_to_brand",
    "new_to_brand_product_sales",
    "detail_page_view",
    "add_to_cart",
    "user_id",
)

#: AMC tables a template may read, with their columns.
AMC_TABLES: dict[str, frozenset[str]] = {
    "dsp_impressions": frozenset(
        (
            *_DSP_DIMENSIONS,
            "impression_dt",
            "impression_dt_utc",
            "impression_date",
            "impression_date_utc",
            "impressions",
            "total_cost",
        )
    ),
    "dsp_clicks": frozenset(
        (
            *_DSP_DIMENSIONS,
            "click_dt",
            "click_dt_utc",
            "click_date",
            "click_date_utc",
            "clicks",
            "click_cost",
            "impression_dt",
            "impression_dt_utc",
        )
    ),
    "sponsored_ads_traffic": frozenset(
        (
            "ad_product_type",
            "campaign",
            "campaign_id",
            "ad_group",
            "targeting",
            "customer_search_term",
            "match_type",
            "placement_type",
            "event_dt",
            "event_dt_utc",
            "event_date",
            "event_date_utc",
            "impressions",
            "clicks",
            "spend",
            "user_id",
        )
    ),
    "amazon_attributed_events_by_conversion_time": frozenset(_ATTRIBUTED_EVENTS),
    "amazon_attributed_events_by_traffic_time": frozenset(_ATTRIBUTED_EVENTS),
    "conversions": frozenset(
        (
            "conversion_id",
            "event_dt",
            "event_dt_utc",
            "event_date",
            "event_date_utc",
            "event_category",
            "event_subtype",
            "tracked_asin",
            "total_product_sales",
            "total_units_sold",
            "new_to_brand",
            "user_id",
        )
    ),
}

#: Column types AMC reports in `outputColumns[].dataType`.
AMC_OUTPUT_TYPES = frozenset(
    {"STRING", "LONG", "INTEGER", "DOUBLE", "DECIMAL", "BOOLEAN", "DATE", "TIMESTAMP"}
)

_PRIVATE_COLUMNS = frozenset({"user_id"})


class AmcSqlError(ValueError):
    """SQL that AMC would refuse or that breaks its privacy rules."""


def parse_amc_sql(sql: str) -> exp.Expr:
    """The one query in `sql`, parsed as Spark SQL (AMC's dialect)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="spark") if s is not None]
    except ParseError as exc:
        raise AmcSqlError(f"does not parse as AMC (Spark) SQL: {exc}") from exc
    if len(statements) != 1:
        raise AmcSqlError(f"expected exactly one query, found {len(statements)}")
    return statements[0]


def amc_sql_problems(sql: str) -> list[str]:
    """Every rule of AMC's that `sql` breaks; empty when AMC would take it."""
    try:
        tree = parse_amc_sql(sql)
    except AmcSqlError as exc:
        return [str(exc)]
    problems: list[str] = []
    if not isinstance(tree, exp.Query):
        return [f"expected a SELECT query, found {type(tree).__name__}"]
    if any(isinstance(star.parent, exp.Select) for star in tree.find_all(exp.Star)):
        problems.append("SELECT * is not allowed: name the columns")
    if any(True for _ in tree.find_all(exp.Limit)):
        problems.append("LIMIT is not allowed")
    for order in tree.find_all(exp.Order):
        if not isinstance(order.parent, exp.Window):
            problems.append("ORDER BY is allowed only inside window functions")
            break
    problems.extend(_source_problems(tree))
    for select in _final_selects(tree):
        problems.extend(_output_problems(select))
    return problems


def _final_selects(tree: exp.Query) -> list[exp.Select]:
    if isinstance(tree, exp.SetOperation):
        return [*_final_selects(tree.left), *_final_selects(tree.right)]
    if isinstance(tree, exp.Select):
        return [tree]
    if isinstance(tree, exp.Subquery) and isinstance(tree.this, exp.Query):
        return _final_selects(tree.this)
    return []


def _output_problems(select: exp.Select) -> list[str]:
    problems = []
    aggregates = any(
        isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window) is None
        for projection in select.expressions
        for node in projection.walk()
    )
    if not aggregates and not select.args.get("group"):
        problems.append("the final SELECT must aggregate (GROUP BY or aggregate functions)")
    for projection in select.expressions:
        name = projection.alias_or_name
        if name.lower() in _PRIVATE_COLUMNS:
            problems.append(f"{name} may never be output")
            continue
        for column in projection.find_all(exp.Column):
            if (
                column.name.lower() in _PRIVATE_COLUMNS
                and column.find_ancestor(exp.AggFunc) is None
            ):
                problems.append(f"output column {name!r} exposes user_id")
    return problems


def _source_problems(tree: exp.Query) -> list[str]:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = {table.name.lower() for table in tree.find_all(exp.Table)}
    problems = [
        f"unknown AMC table {name!r}; expected one of {sorted(AMC_TABLES)}"
        for name in sorted(tables - ctes - set(AMC_TABLES))
    ]
    known = set().union(*(AMC_TABLES[name] for name in tables if name in AMC_TABLES))
    aliases = {alias.alias.lower() for alias in tree.find_all(exp.Alias)}
    aliases |= {table.alias_or_name.lower() for table in tree.find_all(exp.Table)}
    for column in tree.find_all(exp.Column):
        name = column.name.lower()
        if name not in known and name not in aliases:
            problems.append(f"unknown column {column.name!r} in the tables read ({sorted(tables)})")
    return list(dict.fromkeys(problems))
