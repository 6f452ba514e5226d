"""Every command's help shows flags as flags."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from recomamp_pipelines.cli import app

runner = CliRunner()


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under `command` (Typer's own Click), as argument paths."""
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*path, name))
    return paths


def test_no_help_shows_a_flag_as_taking_a_value() -> None:
    paths = command_paths(typer.main.get_command(app))
    assert ("backfill",) in paths and ("users", "list") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, (path, result.output)
    backfill = runner.invoke(app, ["backfill", "--help"], env={"COLUMNS": "100"})
    assert "--refresh " in backfill.output


def test_a_bad_cron_is_named_as_the_option_typed() -> None:
    from recomamp_pipelines.cli.schedules import as_typed

    message = "cron_expression '61 * * * *': minute must be 0-59, got '61'"
    assert as_typed(message) == "--cron '61 * * * *': minute must be 0-59, got '61'"
    assert as_typed("interval_days 0: expected 1 or more; anchor_date x") == (
        "--every-days 0: expected 1 or more; --anchor x"
    )
