"""`recomamp amc-simulator`: the local Amazon Marketing Cloud simulator."""

from __future__ import annotations

import typer

from recomamp_pipelines.simulator.command import serve

app = typer.Typer(
    help="The local Amazon Marketing Cloud simulator: AMC's reporting API on generated data.",
    no_args_is_help=True,
)
app.command("serve")(serve)
