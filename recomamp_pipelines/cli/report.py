"""`recomamp report`: a collection's weekly KPIs in the terminal, as HTML and as a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recomamp_pipelines.analytics.report import (
    UnknownCollectionError,
    find_collection,
    kpi_table_lines,
    load_report,
    render_html,
    render_png,
)
from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.db.connection import connect, database_url


def report(
    collection: Annotated[
        str, typer.Argument(help="The collection's id, exact name or partition key.")
    ],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the report as one HTML page.")
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Write the key metrics by week as a PNG chart.")
    ] = None,
) -> None:
    """Print a collection's weekly KPIs (from analytics.collection_weekly_kpis); write HTML/PNG."""
    config = settings()
    with user_errors():
        url = database_url(config)
        try:
            with connect(url, autocommit=True) as conn:
                found = find_collection(conn, collection)
                loaded = load_report(conn, found)
        except UnknownCollectionError as error:
            fail(str(error))
    for line in kpi_table_lines(loaded):
        typer.echo(line)
    if html is not None:
        html.write_text(render_html(loaded), encoding="utf-8")
        typer.echo(f"HTML report: {html}")
    if png is not None:
        png.write_bytes(render_png(loaded))
        typer.echo(f"PNG chart: {png}")
