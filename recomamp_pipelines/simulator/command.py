"""The `serve` command, shared by `recomamp amc-simulator serve` and `python -m ...simulator`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from recomamp_pipelines.simulator import config as cfg
from recomamp_pipelines.simulator.faults import FaultSettingError


def build_config(
    *,
    host: str | None = None,
    port: int | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    refresh_tokens: list[str] | None = None,
    instances: list[str] | None = None,
    execution_seconds: float | None = None,
    state_dir: Path | None = None,
    settings: Path | None = None,
    latency_seconds: float | None = None,
    faults: list[str] | None = None,
    seed: int | None = None,
    data_scale: float | None = None,
    clock: str | None = None,
    freeze_clock: bool = False,
) -> cfg.SimulatorConfig:
    """Defaults, overlaid by the settings file, overlaid by the options given."""
    config = cfg.SimulatorConfig()
    settings_has_instances = False
    if settings is not None:
        raw = cfg.read_settings_file(settings)
        settings_has_instances = "instances" in raw
        config = cfg.apply_settings(config, raw)
    scalars: dict[str, Any] = {
        "host": host,
        "port": port,
        "client_id": client_id,
        "client_secret": client_secret,
        "execution_seconds": execution_seconds,
        "state_dir": state_dir,
        "seed": seed,
        "data_scale": data_scale,
    }
    config = replace(config, **{k: v for k, v in scalars.items() if v is not None})
    if refresh_tokens:
        config = replace(config, refresh_tokens=tuple(refresh_tokens))
    if instances:
        # Instances named on the command line join those of the settings file, if it has any.
        from_file = config.instances if settings_has_instances else ()
        known = {i.instance_id for i in from_file}
        added = tuple(
            cfg.InstanceConfig(i, account_id=config.accounts[0].account_id)
            for i in dict.fromkeys(instances)
            if i not in known
        )
        config = replace(config, instances=(*from_file, *added))
    changes: dict[str, Any] = {}
    if latency_seconds is not None:
        changes["latency_seconds"] = latency_seconds
    for item in faults or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise cfg.SimulatorConfigError(f"--fault {item!r}: expected KEY=VALUE")
        changes[key.strip()] = value.strip()
    if changes:
        try:
            config = replace(config, faults=config.faults.updated(changes))
        except FaultSettingError as exc:
            raise cfg.SimulatorConfigError(str(exc)) from exc
    if clock is not None or freeze_clock:
        start = cfg.parse_instant(clock, "--clock") if clock else config.clock.now
        config = replace(config, clock=cfg.ClockConfig(now=start, frozen=freeze_clock))
    return cfg.validate(config)


_HELP = {
    "host": f"Interface to listen on. (default: {cfg.DEFAULT_HOST})",
    "port": f"Port to listen on; 0 picks a free one. (default: {cfg.DEFAULT_PORT})",
    "client_id": f"The Login-with-Amazon client id it accepts. (default: {cfg.DEFAULT_CLIENT_ID})",
    "client_secret": f"The client secret it accepts. (default: {cfg.DEFAULT_CLIENT_SECRET})",
    "refresh_token": (
        "A refresh token it knows, one per user; repeatable. "
        f"(default: {cfg.DEFAULT_REFRESH_TOKEN})"
    ),
    "instance": (
        "An AMC instance id it serves, open to any advertiser id unless the settings file "
        f"lists some; repeatable. (default: {cfg.DEFAULT_INSTANCE_ID})"
    ),
    "execution_seconds": (
        "Simulated run time of an execution, RUNNING to SUCCEEDED. "
        f"(default: {cfg.DEFAULT_EXECUTION_SECONDS})"
    ),
    "state_dir": (
        "Keep workflows, executions, results and the clock here across restarts. "
        "(default: in memory)"
    ),
    "settings": (
        "JSON or TOML settings file for everything else: latency, faults, data scale, clock, "
        "accounts, instances and their advertisers, token lifetime. Options given here win."
    ),
    "latency_seconds": "Delay added to every AMC answer. (default: 0)",
    "fault": "A fault as KEY=VALUE (e.g. rate_limit_next=3); repeatable; see the package docs.",
    "seed": "Seed of the generated data. (default: 20240101)",
    "data_scale": "Multiplier of generated volumes and users. (default: 1.0)",
    "clock": "Start the clock at this ISO instant. (default: the real time)",
    "freeze_clock": "Keep the clock still until POST /_sim/clock moves it.",
    "log_level": "uvicorn log level.",
    "exit_with_parent": "Stop when the process that started the simulator exits (for tests).",
}


def serve(
    host: Annotated[str | None, typer.Option(help=_HELP["host"])] = None,
    port: Annotated[int | None, typer.Option(help=_HELP["port"])] = None,
    client_id: Annotated[str | None, typer.Option(help=_HELP["client_id"])] = None,
    client_secret: Annotated[str | None, typer.Option(help=_HELP["client_secret"])] = None,
    refresh_token: Annotated[
        list[str] | None, typer.Option("--refresh-token", help=_HELP["refresh_token"])
    ] = None,
    instance: Annotated[
        list[str] | None, typer.Option("--instance", help=_HELP["instance"])
    ] = None,
    execution_seconds: Annotated[
        float | None, typer.Option(help=_HELP["execution_seconds"])
    ] = None,
    state_dir: Annotated[Path | None, typer.Option(help=_HELP["state_dir"])] = None,
    settings: Annotated[Path | None, typer.Option(help=_HELP["settings"])] = None,
    latency_seconds: Annotated[float | None, typer.Option(help=_HELP["latency_seconds"])] = None,
    fault: Annotated[list[str] | None, typer.Option("--fault", help=_HELP["fault"])] = None,
    seed: Annotated[int | None, typer.Option(help=_HELP["seed"])] = None,
    data_scale: Annotated[float | None, typer.Option(help=_HELP["data_scale"])] = None,
    clock: Annotated[str | None, typer.Option(help=_HELP["clock"])] = None,
    freeze_clock: Annotated[bool, typer.Option(help=_HELP["freeze_clock"])] = False,
    log_level: Annotated[str, typer.Option(help=_HELP["log_level"])] = "warning",
    exit_with_parent: Annotated[bool, typer.Option(help=_HELP["exit_with_parent"])] = False,
) -> None:
    """Serve the local Amazon Marketing Cloud simulator over HTTP until interrupted.

    AMC's reporting API is under /amc/reporting/{instanceId}, administration under /amc/accounts
    and /amc/instances, Login with Amazon at POST /auth/o2/token, test controls under /_sim.

    It prints "AMC simulator listening on <url>" when ready.
    """
    from recomamp_pipelines.simulator.server import serve as run_server

    try:
        config = build_config(
            host=host,
            port=port,
            client_id=client_id,
            client_secret=client_secret,
            refresh_tokens=refresh_token,
            instances=instance,
            execution_seconds=execution_seconds,
            state_dir=state_dir,
            settings=settings,
            latency_seconds=latency_seconds,
            faults=fault,
            seed=seed,
            data_scale=data_scale,
            clock=clock,
            freeze_clock=freeze_clock,
        )
    except cfg.SimulatorConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    try:
        run_server(config, log_level=log_level, with_parent=exit_with_parent)
    except OSError as exc:
        typer.secho(
            f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from exc
