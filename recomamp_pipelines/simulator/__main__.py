"""`python -m recomamp_pipelines.simulator [OPTIONS]`: `recomamp amc-simulator serve`."""

from __future__ import annotations

import typer

from recomamp_pipelines.simulator.command import serve

typer.run(serve)
