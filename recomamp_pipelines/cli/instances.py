"""`recomamp instances`: the AMC instances users reach."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import (
    JSON_OPTION,
    WIDE_OPTION,
    print_rows,
    settings,
    user_errors,
)
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.db.listing import list_instances

app = typer.Typer(help="The AMC instances of RecomAMP users.", no_args_is_help=True)


@app.command("list")
def list_command(as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """List AMC instances: id, AMC's instance id, owner, account and health."""
    with user_errors(), connect(database_url(settings())) as conn:
        rows = list_instances(conn)
    columns = [
        ("instance_row_id", "id"),
        ("amc_instance_id", "AMC instance"),
        ("name", "name"),
        ("owner", "owner"),
        ("health_status", "health"),
    ]
    print_rows(rows, columns, as_json=as_json, wide=wide, empty="no AMC instances yet")
