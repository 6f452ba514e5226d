"""The AMC data sources the simulator serves: tables, columns, types and sensitivity."""

from __future__ import annotations

from dataclasses import dataclass

#: AMC column data type -> DuckDB type.
DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "LONG": "BIGINT",
    "INTEGER": "INTEGER",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    sensitivity: str = "LOW"
    column_type: str = "DIMENSION"
    description: str = ""

    def as_api(self) -> dict[str, object]:
        return {
            "name": self.name,
            "dataType": self.data_type,
            "columnType": self.column_type,
            "aggregationThreshold": self.sensitivity,
            "description": self.description,
        }


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    event_time: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name.lower()), None)

    def as_api(self) -> dict[str, object]:
        return {
            "dataSourceId": self.name,
            "description": self.description,
            "owner": "AMAZON",
            "provider": "AMAZON",
            "mainEventTimeColumn": self.event_time,
            "columns": [c.as_api() for c in self.columns],
        }


def _times(prefix: str, sensitivity: str = "MEDIUM") -> tuple[Column, ...]:
    """An event time in its flavours: `<prefix>_dt`, `_dt_utc`, `_date`, `_date_utc`."""
    return (
        Column(f"{prefix}_dt", "TIMESTAMP", sensitivity, description="local time (request zone)"),
        Column(f"{prefix}_dt_utc", "TIMESTAMP", sensitivity, description="UTC time"),
        Column(f"{prefix}_date", "DATE", "LOW", description="local date (request zone)"),
        Column(f"{prefix}_date_utc", "DATE", "LOW", description="UTC date"),
    )


def _metric(name: str, data_type: str = "LONG", description: str = "") -> Column:
    return Column(name, data_type, "NONE", "METRIC", description)


_USER = Column("user_id", "STRING", "VERY_HIGH", description="pseudonymous user id")

_DSP_DIMENSIONS = (
    Column("advertiser", "STRING"),
    Column("advertiser_id", "LONG"),
    Column("campaign", "STRING"),
    Column("campaign_id", "LONG"),
    Column("line_item", "STRING"),
    Column("line_item_id", "LONG"),
    Column("creative", "STRING"),
    Column("creative_id", "LONG"),
    Column("device_type", "STRING"),
    Column("supply_source", "STRING"),
    Column("site", "STRING"),
    Column("postal_code", "STRING", "HIGH"),
)

_ATTRIBUTED = (
    Column("ad_product_type", "STRING", description="NULL for Amazon DSP"),
    Column("advertiser", "STRING"),
    Column("advertiser_id", "LONG"),
    Column("campaign", "STRING"),
    Column("campaign_id", "LONG"),
    Column("tracked_asin", "STRING"),
    Column("conversion_event_category", "STRING"),
    Column("conversion_event_subtype", "STRING"),
    *_times("conversion_event"),
    *_times("traffic_event"),
    Column("traffic_event_subtype", "STRING", description="AD_IMP or AD_CLICK"),
    _metric("conversions"),
    _metric("purchases"),
    _metric("product_sales", "DOUBLE", "dollars"),
    _metric("units_sold"),
    _metric("total_purchases"),
    _metric("total_product_sales", "DOUBLE", "dollars"),
    _metric("total_units_sold"),
    Column("new_to_brand", "BOOLEAN"),
    _metric("new_to_brand_purchases"),
    _metric("new_to_brand_product_sales", "DOUBLE", "dollars"),
    _metric("new_to_brand_units_sold"),
    _metric("detail_page_view"),
    _metric("add_to_cart"),
    _USER,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "dsp_impressions",
            "Amazon DSP impressions, one row per impression.",
            "impression_dt",
            (
                *_DSP_DIMENSIONS,
                *_times("impression"),
                _metric("impressions", description="always 1"),
                _metric("total_cost", description="millicents: 100000 = $1"),
                _USER,
            ),
        ),
        Table(
            "dsp_clicks",
            "Amazon DSP clicks, one row per click.",
            "click_dt",
            (
                *_DSP_DIMENSIONS,
                *_times("click"),
                *_times("impression"),
                _metric("clicks", description="always 1"),
                _metric("click_cost", description="millicents: 100000 = $1"),
                _USER,
            ),
        ),
        Table(
            "sponsored_ads_traffic",
            "Sponsored Products, Brands, Display and Television impressions and clicks.",
            "event_dt",
            (
                Column("ad_product_type", "STRING"),
                Column("campaign", "STRING"),
                Column("campaign_id", "LONG"),
                Column("ad_group", "STRING"),
                Column("ad_group_id", "LONG"),
                Column("targeting", "STRING"),
                Column("customer_search_term", "STRING", "HIGH"),
                Column("match_type", "STRING"),
                Column("placement_type", "STRING"),
                *_times("event"),
                _metric("impressions", description="0 or 1 per row"),
                _metric("clicks", description="0 or 1 per row"),
                _metric("spend", description="microcents: 100000000 = $1"),
                _USER,
            ),
        ),
        Table(
            "amazon_attributed_events_by_conversion_time",
            "Conversions attributed to DSP and sponsored ads traffic, windowed on conversion time.",
            "conversion_event_dt",
            _ATTRIBUTED,
        ),
        Table(
            "amazon_attributed_events_by_traffic_time",
            "Conversions attributed to DSP and sponsored ads traffic, windowed on traffic time.",
            "traffic_event_dt",
            _ATTRIBUTED,
        ),
        Table(
            "conversions",
            "All conversions of the advertisers' ASINs, attributed or not.",
            "event_dt",
            (
                Column("conversion_id", "STRING", "HIGH"),
                *_times("event"),
                Column("event_category", "STRING"),
                Column("event_subtype", "STRING"),
                Column("tracked_asin", "STRING"),
                _metric("conversions"),
                _metric("total_product_sales", "DOUBLE", "dollars"),
                _metric("total_units_sold"),
                Column("new_to_brand", "BOOLEAN"),
                _USER,
            ),
        ),
    )
}


def duckdb_schema() -> dict[str, dict[str, str]]:
    """Table -> column -> DuckDB type, for sqlglot's qualification and type checks."""
    return {t.name: {c.name: DUCKDB_TYPES[c.data_type] for c in t.columns} for t in TABLES.values()}
