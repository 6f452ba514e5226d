"""`recomamp amc-simulator`: the local Amazon Marketing Cloud simulator."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import settings
from recomamp_pipelines.simulator.command import serve

app = typer.Typer(
    help="The local Amazon Marketing Cloud simulator: AMC's reporting API on generated data.",
    no_args_is_help=True,
)
app.command("serve")(serve)


@app.command("stop")
def stop() -> None:
    """Stop the simulator `make demo` started for this RECOMAMP_HOME (shared until then)."""
    from recomamp_pipelines.demo import stop_simulator

    if stop_simulator(settings().home):
        typer.echo("AMC simulator stopped")
    else:
        typer.echo("no AMC simulator running for this RECOMAMP_HOME")
