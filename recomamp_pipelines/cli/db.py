"""`recomamp db`: the RecomAMP database and its embedded server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer
from psycopg.conninfo import conninfo_to_dict

from recomamp_pipelines.cli.common import fail, settings, user_errors
from recomamp_pipelines.cli.views import apply_and_report
from recomamp_pipelines.db.connection import connect, database_url, describe_url, psql_url
from recomamp_pipelines.db.embedded import embedded_running, stop_embedded
from recomamp_pipelines.db.migrations import status as migration_status
from recomamp_pipelines.db.migrations import upgrade as run_upgrade
from recomamp_pipelines.templates.sync import sync as sync_templates

app = typer.Typer(help="The RecomAMP database: migrations, status, the embedded server.")


@app.command()
def upgrade() -> None:
    """Apply pending migrations, sync the template library, apply the analyst views."""
    config = settings()
    with user_errors():
        url = database_url(config)
        applied = run_upgrade(url)
        with connect(url, autocommit=True) as conn:
            report = sync_templates(conn)
    target = describe_url(url)
    if applied:
        typer.echo(f"Applied {len(applied)} migration(s) to {target}:")
        for migration_id in applied:
            typer.echo(f"  {migration_id}")
    else:
        typer.echo(f"{target} is up to date.")
    typer.echo(f"Template library: {report.summary()}.")
    apply_and_report(url)


@app.command()
def status() -> None:
    """Show which database is used and which migrations are applied."""
    config = settings()
    if config.uses_embedded_database:
        state = "running" if embedded_running(config.embedded_data_dir) else "stopped"
        typer.echo(f"Embedded PostgreSQL ({state}), data in {config.embedded_data_dir}")
    with user_errors():
        url = database_url(config)
        migrations = migration_status(url)
    typer.echo(f"Database: {describe_url(url)}")
    pending = 0
    for migration in migrations:
        if not migration.applied:
            pending += 1
            mark = "pending"
        elif not migration.checksum_ok:
            mark = "CHANGED after it was applied"
        else:
            mark = f"applied {migration.applied_at:%Y-%m-%d %H:%M:%S}"
        typer.echo(f"  {migration.id:<48} {mark}")
    typer.echo(f"{len(migrations) - pending} applied, {pending} pending.")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL (it otherwise keeps running between commands)."""
    config = settings()
    if not config.uses_embedded_database:
        fail("DATABASE_URL is set: the embedded PostgreSQL is not in use, nothing to stop")
    with user_errors():
        stopped = stop_embedded(config.embedded_data_dir)
    if stopped:
        typer.echo(f"Stopped the embedded PostgreSQL ({config.embedded_data_dir}).")
    else:
        typer.echo("The embedded PostgreSQL was not running.")


@app.command()
def url() -> None:
    """Print a connection string psql takes (`psql "$(recomamp db url)"`), without password."""
    config = settings()
    with user_errors():
        typer.echo(psql_url(database_url(config)))


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    # Debian keeps the server's client off the PATH; pgserver ships one beside its server.
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), reverse=True)
    import pgserver

    candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql")
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    fail("psql not found: install the PostgreSQL client (apt-get install postgresql-client)", 3)


@app.command()
def psql() -> None:
    """Open psql on the RecomAMP database (the password, if any, goes by PGPASSWORD)."""
    config = settings()
    with user_errors():
        full = database_url(config)
    env = dict(os.environ)
    password = conninfo_to_dict(full).get("password")
    if password:
        env["PGPASSWORD"] = str(password)
    program = _psql()
    os.execve(program, [program, psql_url(full)], env)  # noqa: S606 - psql replaces this process
