"""The `recomamp` command line."""

from __future__ import annotations

import warnings

import dagster
import typer

from recomamp_pipelines.cli import amc as amc_commands
from recomamp_pipelines.cli import collections as collections_commands
from recomamp_pipelines.cli import db as db_commands
from recomamp_pipelines.cli import demo as demo_commands
from recomamp_pipelines.cli import instances as instances_commands
from recomamp_pipelines.cli import keys as keys_commands
from recomamp_pipelines.cli import report as report_commands
from recomamp_pipelines.cli import schedules as schedules_commands
from recomamp_pipelines.cli import services as services_commands
from recomamp_pipelines.cli import simulator as simulator_commands
from recomamp_pipelines.cli import templates as templates_commands
from recomamp_pipelines.cli import users as users_commands
from recomamp_pipelines.cli import views as views_commands
from recomamp_pipelines.cli import workflows as workflows_commands

app = typer.Typer(
    name="recomamp",
    help="RecomAMP Pipelines: Amazon Marketing Cloud reporting on Dagster and PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: Typer's rich panels print a flag as if it took a value (`--refresh <bool>`).
    rich_markup_mode=None,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(users_commands.app, name="users")
app.add_typer(amc_commands.app, name="amc")
app.add_typer(instances_commands.app, name="instances")
app.add_typer(templates_commands.app, name="templates")
app.add_typer(workflows_commands.app, name="workflows")
app.add_typer(simulator_commands.app, name="amc-simulator")
app.add_typer(collections_commands.app, name="collections")
app.add_typer(schedules_commands.app, name="schedules")
app.add_typer(services_commands.app, name="services")
app.add_typer(keys_commands.app, name="keys")
app.add_typer(views_commands.app, name="views")
app.command("backfill")(collections_commands.backfill)
app.command("demo")(demo_commands.demo)
app.command("dev")(demo_commands.dev)
app.command("report")(report_commands.report)


def main() -> None:
    """Entry point of the `recomamp` console script."""
    # Partitioned asset checks are a preview feature of Dagster 1.13; say so once, in the README.
    warnings.filterwarnings("ignore", category=dagster.PreviewWarning)
    app()
