"""A collection's report: its weekly KPIs and its template's dashboard, from the marts.

The report reads `analytics.collection_weekly_kpis` for the weeks and the collection's template
family mart for the dashboard's widgets (the template's report configuration in
`query_template_reports`: KPI tiles, bar, pie and funnel charts, tables). It is kept as a row of
`collection_report_snapshots` and rendered as one self-contained HTML page (Vega-Lite charts
made with Altair, the Vega JavaScript inlined: the page needs no network), a PNG chart of the
key metrics by week (vl-convert) and a table of the weeks that fits 80 columns.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import jinja2
import psycopg
import vl_convert
from markupsafe import Markup
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recomamp_pipelines.analytics.queries import load
from recomamp_pipelines.analytics.views import ANALYTICS_SCHEMA, static_views

GENERATED_BY = "recomamp report"
TEMPLATE = Path(__file__).with_name("report.html")
# Columns of a template's results that are averages or ratios: averaged, never added up.
_NON_ADDITIVE = re.compile(r"rate|average|mean|pct|share|cpm|cpc|cost_per|frequency|_per_")
# The metric the weekly chart shows: the first one the collection's results have.
PRIMARY_METRICS = (
    ("sales_usd", "Sales ($)"),
    ("purchases", "Purchases"),
    ("spend_usd", "Spend ($)"),
    ("impressions", "Impressions"),
    ("result_rows", "Result rows"),
)
RATIO_METRICS = (("ctr", "CTR"), ("cvr", "CVR"), ("roas", "ROAS"), ("acos", "ACOS"))
TABLE_ROWS = 50


class UnknownCollectionError(LookupError):
    """No collection, or more than one, answers to the name given."""


@dataclass(frozen=True)
class ReportCollection:
    collection_id: uuid.UUID
    name: str
    user_id: uuid.UUID
    template_key: str | None
    template_name: str | None
    partition_key: str | None


@dataclass
class Widget:
    """One widget of the template's dashboard with the data it shows."""

    widget_id: str
    kind: str
    title: str
    config: Mapping[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    value: float | None = None


@dataclass
class CollectionReport:
    collection: ReportCollection
    weeks: list[dict[str, Any]]
    report_name: str
    widgets: list[Widget]
    generated_at: datetime

    @property
    def title(self) -> str:
        return f"{self.collection.name}: {self.report_name}"

    def primary_metric(self) -> tuple[str, str]:
        for column, label in PRIMARY_METRICS:
            if any(week.get(column) is not None for week in self.weeks if week["result_rows"]):
                return column, label
        return PRIMARY_METRICS[-1]

    def chart_weeks(self) -> list[dict[str, Any]]:
        """The weeks with results, the ones the weekly charts draw."""
        return [week for week in self.weeks if week["result_rows"] > 0]


def find_collection(conn: psycopg.Connection, value: str) -> ReportCollection:
    """The collection with this id, exact name or partition key; errors name what was given."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("find_collection"), {"value": value})
        found = cur.fetchall()
    if not found:
        raise UnknownCollectionError(
            f"no collection {value!r}: expected a collection id, its exact name or its "
            "partition key (`recomamp collections list` shows them)"
        )
    if len({row["collection_id"] for row in found}) > 1:
        ids = ", ".join(str(row["collection_id"]) for row in found)
        raise UnknownCollectionError(
            f"{len(found)} collections are named {value!r}: use an id ({ids})"
        )
    row = found[0]
    return ReportCollection(
        collection_id=row["collection_id"],
        name=row["collection_name"],
        user_id=row["user_id"],
        template_key=row["template_key"],
        template_name=row["template_name"],
        partition_key=row["partition_key"],
    )


@cache
def family_marts() -> dict[str, str]:
    """The family mart of each template key, from the view files."""
    return {view.template_key: view.name for view in static_views() if view.template_key}


def _aggregate(rows: Sequence[Mapping[str, Any]], field_name: str, how: str = "") -> float | None:
    values = [float(row[field_name]) for row in rows if row.get(field_name) is not None]
    if not values:
        return None
    if how == "avg" or (not how and _NON_ADDITIVE.search(field_name)):
        return sum(values) / len(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return math.fsum(values)


def _grouped(
    rows: Sequence[Mapping[str, Any]], by: str, metrics: Sequence[str]
) -> list[dict[str, Any]]:
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get(by), []).append(row)
    return [
        {by: key, **{metric: _aggregate(members, metric) for metric in metrics}}
        for key, members in groups.items()
    ]


def _widget(config: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Widget:
    kind = str(config.get("type", ""))
    widget = Widget(
        widget_id=str(config.get("id", kind)),
        kind=kind,
        title=str(config.get("title", config.get("id", ""))),
        config=config,
    )
    if kind == "kpi":
        widget.value = _aggregate(rows, str(config["field"]), str(config.get("aggregate", "")))
    elif kind in ("bar_chart", "pie_chart", "funnel_chart"):
        widget.rows = _grouped(rows, str(config["x"]), [str(y) for y in config.get("y", [])])
    elif kind == "table":
        columns = [str(column) for column in config.get("columns", [])]
        dimensions = [c for c in columns if rows and not isinstance(rows[0].get(c), int | float)]
        metrics = [c for c in columns if c not in dimensions]
        if dimensions:
            key = dimensions[0]
            merged = _grouped(rows, key, metrics)
            for other in dimensions[1:]:
                for row in merged:
                    row[other] = next((r.get(other) for r in rows if r.get(key) == row[key]), None)
            widget.rows = merged[:TABLE_ROWS]
        else:
            widget.rows = [dict(row) for row in rows[:TABLE_ROWS]]
    return widget


def load_report(conn: psycopg.Connection, collection: ReportCollection) -> CollectionReport:
    """Read the collection's weeks and dashboard data from the marts, as `conn`'s role sees them."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("collection_kpis"), {"collection_id": collection.collection_id})
        weeks = cur.fetchall()
        cur.execute(load("collection_report_config"), {"collection_id": collection.collection_id})
        config = cur.fetchone()
        rows: list[dict[str, Any]] = []
        mart = family_marts().get(collection.template_key or "")
        if config and mart:
            cur.execute(
                sql.SQL("select * from {} where collection_id = %(collection_id)s").format(
                    sql.Identifier(ANALYTICS_SCHEMA, mart)
                ),
                {"collection_id": collection.collection_id},
            )
            rows = cur.fetchall()
    widgets: list[Widget] = []
    report_name = "Weekly KPIs"
    if config:
        report_name = config["report_name"]
        by_id = {w.get("id"): w for w in config["dashboard_config"].get("widgets", [])}
        order = config["widget_order"] or list(by_id)
        widgets = [_widget(by_id[widget_id], rows) for widget_id in order if widget_id in by_id]
    return CollectionReport(
        collection=collection,
        weeks=weeks,
        report_name=report_name,
        widgets=widgets,
        generated_at=datetime.now(UTC),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def snapshot_data(report: CollectionReport) -> dict[str, Any]:
    """The report as JSON: what `collection_report_snapshots.snapshot_data` holds."""
    return _json_safe(
        {
            "collection_id": report.collection.collection_id,
            "collection_name": report.collection.name,
            "template_key": report.collection.template_key,
            "report_name": report.report_name,
            "weeks": report.weeks,
            "widgets": [
                {
                    "id": widget.widget_id,
                    "type": widget.kind,
                    "title": widget.title,
                    "value": widget.value,
                    "rows": widget.rows,
                }
                for widget in report.widgets
            ],
        }
    )


def write_snapshot(conn: psycopg.Connection, report: CollectionReport) -> uuid.UUID:
    """Replace the collection's generated snapshot with this report; returns the new row's id."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            load("replace_report_snapshot"),
            {
                "collection_id": report.collection.collection_id,
                "name": report.title,
                "description": f"{len(report.weeks)} weeks, generated from the analyst marts",
                "created_by": report.collection.user_id,
                "snapshot_data": Jsonb(snapshot_data(report)),
                "metadata": Jsonb(
                    {
                        "generated_by": GENERATED_BY,
                        "generated_at": report.generated_at.isoformat(),
                        "weeks": len(report.weeks),
                    }
                ),
            },
        )
        row = cur.fetchone()
    assert row is not None
    snapshot_id: uuid.UUID = row["snapshot_id"]
    return snapshot_id


def weekly_chart(report: CollectionReport) -> alt.Chart:
    """Bars of the primary metric, one per week with results."""
    column, label = report.primary_metric()
    data = [
        {"week": week["week_start_date"].isoformat(), "value": week[column]}
        for week in report.chart_weeks()
    ]
    return (
        alt.Chart(alt.Data(values=data), title=f"{label} by week")
        .mark_bar()
        .encode(
            x=alt.X("week:O", title="Week starting"),
            y=alt.Y("value:Q", title=label),
            tooltip=["week:O", "value:Q"],
        )
        .properties(width=560, height=220)
    )


def ratios_chart(report: CollectionReport) -> alt.Chart | None:
    """Lines of the KPIs the collection's results have, one point per week."""
    data = [
        {"week": week["week_start_date"].isoformat(), "kpi": label, "value": week[column]}
        for week in report.chart_weeks()
        for column, label in RATIO_METRICS
        if week.get(column) is not None
    ]
    if not data:
        return None
    return (
        alt.Chart(alt.Data(values=data), title="KPIs by week")
        .mark_line(point=True)
        .encode(
            x=alt.X("week:O", title="Week starting"),
            y=alt.Y("value:Q", title="Ratio"),
            color=alt.Color("kpi:N", title="KPI"),
            tooltip=["week:O", "kpi:N", "value:Q"],
        )
        .properties(width=560, height=220)
    )


def _widget_chart(widget: Widget) -> alt.Chart | None:
    x = str(widget.config.get("x", ""))
    metrics = [str(y) for y in widget.config.get("y", [])]
    data = [
        {"category": str(row.get(x)), "metric": metric, "value": row.get(metric)}
        for row in widget.rows
        for metric in metrics
        if row.get(metric) is not None
    ]
    if not data:
        return None
    chart = alt.Chart(alt.Data(values=data), title=widget.title)
    if widget.kind == "pie_chart":
        return chart.mark_arc().encode(
            theta=alt.Theta("value:Q"),
            color=alt.Color("category:N", title=x),
            tooltip=["category:N", "value:Q"],
        )
    sort = metrics if widget.kind == "funnel_chart" else None
    return (
        chart.mark_bar()
        .encode(
            x=alt.X("category:N", title=x),
            xOffset=alt.XOffset("metric:N", sort=sort),
            y=alt.Y("value:Q", title=", ".join(metrics)),
            color=alt.Color("metric:N", sort=sort, title="metric"),
            tooltip=["category:N", "metric:N", "value:Q"],
        )
        .properties(width=420, height=220)
    )


def chart_specs(report: CollectionReport) -> dict[str, dict[str, Any]]:
    """Every chart of the page as a Vega-Lite spec, keyed by the id of its element."""
    specs = {"weekly-kpis": weekly_chart(report).to_dict()}
    ratios = ratios_chart(report)
    if ratios is not None:
        specs["weekly-ratios"] = ratios.to_dict()
    for widget in report.widgets:
        chart = _widget_chart(widget) if widget.kind.endswith("_chart") else None
        if chart is not None:
            specs[f"widget-{widget.widget_id}"] = chart.to_dict()
    return specs


def format_number(value: Any, digits: int = 0) -> str:
    """Compact figures for narrow tables: 1234, 12.3k, 4.56M; '-' for no value."""
    if value is None:
        return "-"
    number = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e4, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:.3g}{suffix}"
    return f"{number:.{digits}f}"


def _table_cell(value: Any) -> Any:
    if isinstance(value, float):
        return format_number(value, 0 if value.is_integer() else 2)
    return value


def format_ratio(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.2f}%"


WEEK_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("week", "week", 10),
    ("status", "status", 7),
    ("rows", "rows", 6),
    ("impressions", "impr", 7),
    ("clicks", "clicks", 6),
    ("spend_usd", "spend $", 8),
    ("sales_usd", "sales $", 8),
    ("ctr", "CTR", 7),
    ("roas", "ROAS", 5),
)


def week_cells(week: Mapping[str, Any]) -> dict[str, str]:
    """One week's figures as the terminal and the HTML table show them."""
    return {
        "week": week["week_start_date"].isoformat(),
        "status": str(week["week_status"]),
        "rows": str(week["result_rows"]),
        "impressions": format_number(week["impressions"]),
        "clicks": format_number(week["clicks"]),
        "spend_usd": format_number(week["spend_usd"], 2),
        "sales_usd": format_number(week["sales_usd"], 2),
        "ctr": format_ratio(week["ctr"]),
        "roas": format_number(week["roas"], 2),
    }


def kpi_table_lines(report: CollectionReport) -> list[str]:
    """The weekly KPI table for a terminal: at most 80 characters a line."""
    header = " ".join(f"{label:>{width}}" for _, label, width in WEEK_COLUMNS)
    lines = [report.title[:80], header, "-" * len(header)]
    for week in report.weeks:
        cells = week_cells(week)
        lines.append(" ".join(f"{cells[key][:width]:>{width}}" for key, _, width in WEEK_COLUMNS))
    return lines


def _script_json(value: Any) -> str:
    # Inside <script>, "</" would end the element: JSON allows "<\/" for it.
    return json.dumps(_json_safe(value)).replace("</", "<\\/")


def report_collections(conn: psycopg.Connection) -> list[ReportCollection]:
    """Every collection the connection's role sees, for the report asset."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load("report_collections"))
        return [
            ReportCollection(
                collection_id=row["collection_id"],
                name=row["collection_name"],
                user_id=row["user_id"],
                template_key=row["template_key"],
                template_name=row["template_name"],
                partition_key=row["partition_key"],
            )
            for row in cur.fetchall()
        ]


@cache
def _vega_bundle() -> str:
    snippet = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"
    return str(vl_convert.javascript_bundle(snippet))


def render_html(report: CollectionReport) -> str:
    """The report as one HTML page with every script inlined."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    kpis = [
        {
            "title": widget.title,
            "value": format_number(
                widget.value, 2 if widget.config.get("format") == "currency" else 0
            ),
        }
        for widget in report.widgets
        if widget.kind == "kpi"
    ]
    tables = [
        {
            "title": widget.title,
            "columns": [str(c) for c in widget.config.get("columns", [])],
            "rows": [
                [_table_cell(row.get(c)) for c in widget.config.get("columns", [])]
                for row in widget.rows
            ],
        }
        for widget in report.widgets
        if widget.kind == "table"
    ]
    specs = chart_specs(report)
    return template.render(
        report=report,
        kpis=kpis,
        tables=tables,
        week_columns=WEEK_COLUMNS,
        weeks=[week_cells(week) for week in report.weeks],
        chart_ids=list(specs),
        chart_titles={key: spec.get("title", "") for key, spec in specs.items()},
        # JSON with "</" escaped, and the Vega libraries: neither is markup from a user.
        specs_json=Markup(_script_json(specs)),  # noqa: S704
        vega_bundle=Markup(_vega_bundle()),  # noqa: S704
        chart_weeks=len(report.chart_weeks()),
    )


def render_png(report: CollectionReport, scale: float = 2.0) -> bytes:
    """The key metrics by week as a PNG: the weekly bars over the KPI lines."""
    ratios = ratios_chart(report)
    chart: alt.TopLevelMixin = weekly_chart(report)
    if ratios is not None:
        chart = alt.vconcat(weekly_chart(report), ratios)
    png: bytes = vl_convert.vegalite_to_png(chart.to_dict(), scale=scale)
    return png
