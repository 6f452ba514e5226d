"""The `recomamp` command line."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli import amc as amc_commands
from recomamp_pipelines.cli import db as db_commands
from recomamp_pipelines.cli import simulator as simulator_commands
from recomamp_pipelines.cli import templates as templates_commands
from recomamp_pipelines.cli import users as users_commands
from recomamp_pipelines.cli import workflows as workflows_commands

app = typer.Typer(
    name="recomamp",
    help="RecomAMP Pipelines: Amazon Marketing Cloud reporting on Dagster and PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(users_commands.app, name="users")
app.add_typer(amc_commands.app, name="amc")
app.add_typer(templates_commands.app, name="templates")
app.add_typer(workflows_commands.app, name="workflows")
app.add_typer(simulator_commands.app, name="amc-simulator")


def main() -> None:
    """Entry point of the `recomamp` console script."""
    app()
