"""The collection reports asset: a snapshot row and an HTML page per collection, from the marts."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
from dagster import AssetExecutionContext

from recomamp_pipelines.analytics.report import (
    load_report,
    render_html,
    report_collections,
    write_snapshot,
)
from recomamp_pipelines.defs.analytics.assets import VIEWS, view_key
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.resources import RecomampResource

COLLECTION_REPORTS = dg.AssetKey(["analytics", "collection_reports"])
# Links to this many pages go into the materialization's metadata; every page is written.
LINKED_PAGES = 20


def reports_dir(home: Path) -> Path:
    return home / "reports"


@dg.asset(
    key=COLLECTION_REPORTS,
    deps=[view_key("collection_weekly_kpis")]
    + [view_key(view.name) for view in VIEWS if view.template_key],
    group_name="analytics_reports",
    owners=[OWNER],
    kinds={"postgres", "html"},
    description=(
        "Each collection's report: a row of collection_report_snapshots and a self-contained "
        "HTML page (the template's dashboard and the weekly KPIs) under $RECOMAMP_HOME/reports."
    ),
    automation_condition=dg.AutomationCondition.eager().without(
        ~dg.AutomationCondition.any_deps_missing()
    ),
)
def collection_reports(
    context: AssetExecutionContext, recomamp: RecomampResource
) -> Iterator[dg.MaterializeResult]:
    """Write every collection's snapshot and HTML page; link the pages from the metadata."""
    target = reports_dir(recomamp.settings().home)
    target.mkdir(parents=True, exist_ok=True)
    pages: dict[str, dg.RawMetadataValue] = {}
    written = 0
    with psycopg.connect(recomamp.database_url(), autocommit=True) as conn:
        for collection in report_collections(conn):
            report = load_report(conn, collection)
            write_snapshot(conn, report)
            page = target / f"{collection.partition_key or collection.collection_id}.html"
            page.write_text(render_html(report), encoding="utf-8")
            written += 1
            if len(pages) < LINKED_PAGES:
                pages[collection.name] = dg.MetadataValue.url(page.resolve().as_uri())
    context.log.info(f"{written} collection report(s) written to {target}")
    yield dg.MaterializeResult(
        metadata={"reports": written, "directory": dg.MetadataValue.path(str(target)), **pages}
    )
