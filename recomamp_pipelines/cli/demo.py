"""`recomamp demo` and `recomamp dev`: the sample pipeline, and the Dagster UI over it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console

from recomamp_pipelines.cli.common import settings, user_errors
from recomamp_pipelines.dagster_home import prepare_dagster_home
from recomamp_pipelines.db.connection import database_url
from recomamp_pipelines.demo import DemoError, local_simulator, run_demo

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


#: `dagster dev` warns that it is superseded by `dg dev` (a project layout this one does not
#: use); the warning says nothing a user of `recomamp dev` can act on.
DEV_WARNING_FILTER = "ignore:Function `dev_command` is superseded"


def demo() -> None:
    """Run the pipeline on the sample account: embedded PostgreSQL, AMC simulator, Dagster.

    Starts (or reuses) what it needs, loads two users, two AMC instances, three workflows and
    two 12-week collections, backfills both through Dagster and prints every week. Safe to run
    again: finished weeks are reused. PostgreSQL and the simulator keep running for later
    commands (`recomamp db stop`, `recomamp amc-simulator stop`).
    """
    console = Console()
    with user_errors():
        try:
            ok = run_demo(console)
        except DemoError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)


def dev(
    port: int = typer.Option(3000, "--port", help="Port of the Dagster UI."),
) -> None:
    """Open the Dagster UI (webserver and daemon) on the demo's instance, with the simulator."""
    config = settings()
    with user_errors():
        url = database_url(config)
        home = prepare_dagster_home(config, url)
        try:
            simulator_url = local_simulator(config)
        except DemoError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        typer.echo(f"AMC simulator: {simulator_url}")
        typer.echo(f"Dagster UI: http://127.0.0.1:{port}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(WORKSPACE),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
            ],
            env=dict(os.environ, DAGSTER_HOME=str(home), PYTHONWARNINGS=DEV_WARNING_FILTER),
            check=False,
        )
