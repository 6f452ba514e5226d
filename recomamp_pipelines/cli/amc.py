"""`recomamp amc`: a user's Amazon Marketing Cloud access."""

from __future__ import annotations

import typer

from recomamp_pipelines.amc.auth import AmcConfig
from recomamp_pipelines.amc.client import AmcClient, PollPolicy
from recomamp_pipelines.amc.errors import AmcAuthError, AmcConfigError, AmcError
from recomamp_pipelines.amc.health import (
    HealthStatus,
    InstanceVerdict,
    ReachableInstance,
    check_instances,
    discover_instances,
)
from recomamp_pipelines.amc.records import (
    UnknownUserError,
    find_user,
    record_check_failure,
    record_reachable,
    record_verdicts,
)
from recomamp_pipelines.cli.common import (
    EXIT_AMC_CREDENTIALS_REFUSED,
    exit_code_for,
    fail,
    settings,
    user_errors,
)
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.db.connection import connect, database_url

app = typer.Typer(help="Amazon Marketing Cloud: check a user's access to AMC.")

#: Exit code when Login with Amazon refuses the credentials (1: an instance is not healthy).
EXIT_CREDENTIALS_REFUSED = EXIT_AMC_CREDENTIALS_REFUSED

_COLORS = {
    HealthStatus.HEALTHY: typer.colors.GREEN,
    HealthStatus.UNHEALTHY: typer.colors.YELLOW,
    HealthStatus.ERROR: typer.colors.RED,
}


@app.command()
def check(
    user: str = typer.Option(..., "--user", help="Email of the RecomAMP user to check."),
    instances: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [],
        "--instance",
        help="AMC instance id (e.g. amcibersblt) to test; repeatable. Default: every reachable.",
    ),
    wait: float = typer.Option(
        1800.0, "--wait", min=0.1, help="Seconds to wait for the test queries to finish."
    ),
    poll_seconds: float = typer.Option(
        5.0,
        "--poll-seconds",
        min=0.01,
        help="First interval between status checks of a test query (it grows up to 30 s).",
    ),
) -> None:
    """Check a user's AMC access end to end, as a new user's first run would.

    Refreshes an access token with the user's stored refresh token, lists the AMC accounts and
    instances it reaches (recording them for the user), runs a tiny query on each chosen
    instance, waits for it and downloads its result. Prints HEALTHY, UNHEALTHY (with AMC's
    reason) or ERROR per instance and records it on amc_instances. Exit code 0 when every
    checked instance is healthy, 1 otherwise, 2 when Login with Amazon refuses the credentials.
    """
    config = settings()
    with user_errors():
        try:
            amc_config = AmcConfig.from_settings(config)
        except AmcConfigError as exc:
            fail(str(exc))
        cipher = TokenCipher.from_settings(config)
        url = database_url(config)
        with connect(url, autocommit=True) as conn:
            try:
                stored = find_user(conn, user)
            except UnknownUserError as exc:
                fail(str(exc))
        refresh_token = cipher.decrypt(
            stored.encrypted_refresh_token, what=f"refresh token of {stored.email}"
        )

    with AmcClient(amc_config, refresh_token) as client:
        try:
            client.check_credentials()
            reachable = discover_instances(client)
        except AmcError as exc:
            credentials = isinstance(exc, AmcAuthError)
            label = "CREDENTIALS REFUSED" if credentials else "ERROR"
            with user_errors(), connect(url, autocommit=True) as conn:
                record_check_failure(conn, stored.user_id, instances, f"{label}: {exc}")
            typer.secho(f"{label}: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(exit_code_for(exc)) from None
        _print_reachable(stored.email, reachable)
        with user_errors(), connect(url, autocommit=True) as conn:
            record_reachable(conn, stored.user_id, reachable)

        try:
            verdicts = check_instances(
                client,
                instances or None,
                reachable=reachable,
                max_wait_seconds=wait,
                poll_policy=PollPolicy(
                    initial_interval=poll_seconds, max_interval=max(poll_seconds, 30.0)
                ),
            )
        except AmcAuthError as exc:
            typer.secho(f"CREDENTIALS REFUSED: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_CREDENTIALS_REFUSED) from None

    with user_errors(), connect(url, autocommit=True) as conn:
        record_verdicts(conn, stored.user_id, verdicts)
    _print_verdicts(verdicts)
    if any(v.status is not HealthStatus.HEALTHY for v in verdicts) or not verdicts:
        raise typer.Exit(1)


def _print_reachable(email: str, reachable: list[ReachableInstance]) -> None:
    accounts = {item.account.account_id for item in reachable}
    typer.echo(
        f"{email}: credentials accepted; {len(reachable)} instance(s) in {len(accounts)} "
        "account(s):"
    )
    for item in reachable:
        name = item.instance.instance_name or ""
        typer.echo(
            f"  {item.instance.instance_id}  {name}  (account {item.account.account_id}, "
            f"marketplace {item.account.marketplace_id or '-'})"
        )
    if not reachable:
        typer.echo("  (none)")


def _print_verdicts(verdicts: list[InstanceVerdict]) -> None:
    if not verdicts:
        typer.secho("No instance to check: these credentials reach none.", fg=typer.colors.RED)
    for verdict in verdicts:
        typer.secho(
            f"{verdict.instance_id}: {verdict.status.value} - {verdict.reason}",
            fg=_COLORS[verdict.status],
        )
