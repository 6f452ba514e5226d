"""`recomamp views`: the analyst layer's views of `dbt_like_views/`."""

from __future__ import annotations

import typer

from recomamp_pipelines.analytics.views import (
    ViewApplyError,
    ViewDefinitionError,
    apply_views,
    refresh_marts,
)
from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.db.connection import connect, database_url, describe_url

app = typer.Typer(help="The analyst layer: staging views and marts in the schema analytics.")


def apply_and_report(url: str) -> None:
    """Apply every view and say what changed; shared by `views apply` and `db upgrade`."""
    try:
        with connect(url, autocommit=True) as conn:
            report = apply_views(conn)
    except (ViewDefinitionError, ViewApplyError) as error:
        fail(str(error))
    typer.echo(f"Analyst views: {report.summary()} ({report.seconds:.2f} s).")


@app.command("apply")
def apply_command() -> None:
    """Create or replace every view of dbt_like_views/ in one transaction, in dependency order."""
    config = settings()
    with user_errors():
        url = database_url(config)
        typer.echo(f"Database: {describe_url(url)}")
        apply_and_report(url)


@app.command("refresh")
def refresh_command() -> None:
    """Refresh every stored mart (readers keep the previous rows meanwhile)."""
    config = settings()
    with user_errors():
        url = database_url(config)
        try:
            with connect(url, autocommit=True) as conn:
                refreshed = refresh_marts(conn)
        except (ViewDefinitionError, ViewApplyError) as error:
            fail(str(error))
    for mart in refreshed:
        typer.echo(f"  {mart.name:<40} {mart.seconds:.2f} s")
    typer.echo(f"Refreshed {len(refreshed)} stored mart(s).")
