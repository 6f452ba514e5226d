"""`recomamp services`: Dagster's code server, webserver and daemon as separate processes."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.demo import DemoError
from recomamp_pipelines.services import (
    DEFAULT_CODE_SERVER_PORT,
    DEFAULT_WEBSERVER_PORT,
    ServicesError,
    ServiceStatus,
    State,
)
from recomamp_pipelines.services import down as stop_services
from recomamp_pipelines.services import status as service_statuses
from recomamp_pipelines.services import up as start_services

app = typer.Typer(
    help="PostgreSQL, the AMC simulator, the code server, the webserver and the daemon, "
    "each a process of its own (logs and pids in $RECOMAMP_HOME/services).",
    no_args_is_help=True,
)


def _print(statuses: list[ServiceStatus]) -> bool:
    """Print one line per service; whether none of them died."""
    colours = {State.RUNNING: "green", State.STOPPED: "yellow", State.DIED: "red"}
    for entry in statuses:
        where = f"  {entry.url}" if entry.url else ""
        state = typer.style(f"{entry.state.value:<8}", fg=colours[entry.state])
        typer.echo(f"{entry.name:<14}{state}{where}  ({entry.detail})")
    return all(entry.state is not State.DIED for entry in statuses)


@app.command()
def up(
    port: int = typer.Option(DEFAULT_WEBSERVER_PORT, "--port", help="Webserver port (0: any)."),
    code_server_port: int = typer.Option(
        DEFAULT_CODE_SERVER_PORT, "--code-server-port", help="gRPC code server port (0: any)."
    ),
    simulator_execution_seconds: float = typer.Option(
        2.0, "--simulator-execution-seconds", help="How long the simulator's executions run."
    ),
) -> None:
    """Start whatever is not running (again, if it died); running twice is harmless."""
    config = settings()
    with user_errors():
        try:
            statuses = start_services(
                config,
                webserver_port=port,
                code_server_port=code_server_port,
                simulator_execution_seconds=simulator_execution_seconds,
                report=typer.echo,
            )
        except (ServicesError, DemoError) as exc:
            fail(str(exc))
    if not _print(statuses):
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """What runs and where; exits 1 when a service died (its pid file is left behind)."""
    if not _print(service_statuses(settings())):
        raise typer.Exit(1)


@app.command()
def down() -> None:
    """Stop the daemon, the webserver, the code server, the simulator, then PostgreSQL."""
    config = settings()
    with user_errors():
        try:
            stop_services(config, report=typer.echo)
        except ServicesError as exc:
            fail(str(exc))
