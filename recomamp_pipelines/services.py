"""Dagster as separate services on one host: `recomamp services up`, `status`, `down`.

`up` starts, in order and each only if it is not already running: the embedded PostgreSQL
(unless DATABASE_URL names a server) with its migrations, the AMC simulator (unless a real AMC
is configured), a gRPC code server, the webserver and the daemon, each a process of its own
with its log and pid under `$RECOMAMP_HOME/services/`. The Dagster processes share the
production instance (`dagster_home.prepare_production_home`) and a workspace that points at
the code server. `status` reads those files back and tells a service that died from one that
was stopped; `down` stops them in the reverse order.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx
import yaml
from filelock import FileLock

from recomamp_pipelines.dagster_home import prepare_production_home
from recomamp_pipelines.db.connection import database_url, describe_url
from recomamp_pipelines.db.embedded import embedded_running, stop_embedded
from recomamp_pipelines.db.migrations import upgrade
from recomamp_pipelines.defs.recovery.liveness import process_alive, process_start
from recomamp_pipelines.demo import (
    SIMULATOR_PORT_KEY,
    demo_settings,
    ensure_simulator,
    running_simulator_of,
    simulator_log,
    stop_simulator,
)
from recomamp_pipelines.settings import (
    DAGSTER_HOME,
    DAGSTER_POSTGRES_URL,
    RECOMAMP_HOME,
    Settings,
    load_settings,
    read_settings_file,
)

LOCATION_NAME = "recomamp-pipelines"
HOST = "127.0.0.1"
DEFAULT_WEBSERVER_PORT = 3000
DEFAULT_CODE_SERVER_PORT = 4266
#: Started in this order, stopped in the reverse one.
SIMULATOR, CODE_SERVER, WEBSERVER, DAEMON = "amc-simulator", "code-server", "webserver", "daemon"
PROCESS_ORDER = (SIMULATOR, CODE_SERVER, WEBSERVER, DAEMON)
READY_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 20.0


class ServicesError(RuntimeError):
    """A service could not be started or stopped."""


class State(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DIED = "died"


@dataclass(frozen=True)
class Service:
    """One started process, as its pid file and record say."""

    name: str
    pid: int
    started: str | None
    url: str | None
    log: Path


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: State
    detail: str
    url: str | None = None
    pid: int | None = None


def services_dir(settings: Settings) -> Path:
    return settings.home / "services"


def workspace_path(settings: Settings) -> Path:
    return services_dir(settings) / "workspace.yaml"


def _pid_path(settings: Settings, name: str) -> Path:
    return services_dir(settings) / f"{name}.pid"


def _record_path(settings: Settings, name: str) -> Path:
    return services_dir(settings) / f"{name}.json"


def log_path(settings: Settings, name: str) -> Path:
    if name == SIMULATOR:
        return simulator_log(settings.home)
    return services_dir(settings) / f"{name}.log"


def read_service(settings: Settings, name: str) -> Service | None:
    pid_file = _pid_path(settings, name)
    if not pid_file.exists():
        return None
    record = {}
    if _record_path(settings, name).exists():
        record = json.loads(_record_path(settings, name).read_text(encoding="utf-8"))
    return Service(
        name=name,
        pid=int(pid_file.read_text(encoding="utf-8").strip()),
        started=record.get("started"),
        url=record.get("url"),
        log=log_path(settings, name),
    )


def is_alive(service: Service) -> bool:
    return process_alive(service.pid, service.started)


def _forget(settings: Settings, name: str) -> None:
    _pid_path(settings, name).unlink(missing_ok=True)
    _record_path(settings, name).unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_or_free(port: int, what: str) -> int:
    if port == 0:
        return _free_port()
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            raise ServicesError(
                f"port {port} for the {what} is in use by another program: pass another "
                "port (0 picks a free one)"
            ) from None
    return port


def _script(name: str) -> str:
    """A console script of this environment (beside the running Python)."""
    return str(Path(sys.executable).parent / name)


def _start(
    settings: Settings,
    name: str,
    args: list[str],
    env: Mapping[str, str],
    *,
    url: str | None,
    ready: Callable[[subprocess.Popen[bytes]], str | None],
) -> Service:
    """Start one service in its own process group, wait until `ready`, record its pid."""
    log = log_path(settings, name)
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=settings.home,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    found = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServicesError(
                f"the {name} exited with status {process.returncode} while starting; see {log}"
            )
        found = ready(process)
        if found is not None:
            break
        time.sleep(0.25)
    else:
        _terminate(process.pid)
        raise ServicesError(
            f"the {name} was not ready after {READY_TIMEOUT_SECONDS:.0f} s; see {log}"
        )
    return _remember(
        settings, Service(name, process.pid, process_start(process.pid), found or url, log)
    )


def _remember(settings: Settings, service: Service) -> Service:
    """Write the service's pid file and record, which `status` and `down` read."""
    _record_path(settings, service.name).write_text(
        json.dumps({"started": service.started, "url": service.url}), encoding="utf-8"
    )
    _pid_path(settings, service.name).write_text(f"{service.pid}\n", encoding="utf-8")
    return service


def uses_simulator(settings: Settings) -> bool:
    """No real AMC is configured: AMC_API_URL unset, or pointing at the local simulator."""
    if settings.amc_api_url is None:
        return True
    port = read_settings_file(settings.settings_file).get(SIMULATOR_PORT_KEY)
    return port is not None and settings.amc_api_url == f"http://{HOST}:{port}"


def _simulator(settings: Settings, execution_seconds: float) -> Service:
    """The simulator of this RECOMAMP_HOME, the one the demo and `recomamp dev` share.

    Started with `execution_seconds` when none runs (a running one is taken as it is), then
    recorded as a service so that `status` watches it and `down` stops it.
    """
    ensure_simulator(settings, execution_seconds)
    demo_settings(settings)  # the simulator's credentials and endpoints in the settings file
    simulator = running_simulator_of(settings.home)
    if simulator is None:
        raise ServicesError(
            f"the {SIMULATOR} stopped right after it started; see {simulator_log(settings.home)}"
        )
    return _remember(
        settings,
        Service(
            SIMULATOR,
            simulator.pid,
            process_start(simulator.pid),
            simulator.base_url,
            simulator_log(settings.home),
        ),
    )


def _code_server(settings: Settings, env: Mapping[str, str], port: int) -> Service:
    args = [
        _script("dagster"),
        "code-server",
        "start",
        "-m",
        "recomamp_pipelines.definitions",
        "-a",
        "defs",
        "-h",
        HOST,
        "-p",
        str(port),
        "--location-name",
        LOCATION_NAME,
    ]
    health_check = [_script("dagster"), "api", "grpc-health-check", "-h", HOST, "-p", str(port)]

    def ready(_: subprocess.Popen[bytes]) -> str | None:
        # Dagster's own health check: serving once the definitions have loaded.
        try:
            answer = subprocess.run(health_check, capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            return None
        return f"grpc://{HOST}:{port}" if answer.returncode == 0 else None

    return _start(settings, CODE_SERVER, args, env, url=f"grpc://{HOST}:{port}", ready=ready)


def write_workspace(settings: Settings, code_server_url: str) -> Path:
    """The workspace of the webserver and the daemon: the code server, nothing loaded locally."""
    host, _, port = code_server_url.removeprefix("grpc://").rpartition(":")
    path = workspace_path(settings)
    workspace = {
        "load_from": [
            {"grpc_server": {"host": host, "port": int(port), "location_name": LOCATION_NAME}}
        ]
    }
    path.write_text(yaml.safe_dump(workspace, sort_keys=False), encoding="utf-8")
    return path


def _webserver(settings: Settings, env: Mapping[str, str], port: int) -> Service:
    url = f"http://{HOST}:{port}"
    args = [
        _script("dagster-webserver"),
        "-w",
        str(workspace_path(settings)),
        "-h",
        HOST,
        "-p",
        str(port),
    ]

    def ready(_: subprocess.Popen[bytes]) -> str | None:
        try:
            return url if httpx.get(f"{url}/server_info", timeout=5).status_code == 200 else None
        except httpx.HTTPError:
            return None

    return _start(settings, WEBSERVER, args, env, url=url, ready=ready)


def _daemon(settings: Settings, env: Mapping[str, str]) -> Service:
    args = [_script("dagster-daemon"), "run", "-w", str(workspace_path(settings))]
    return _start(settings, DAEMON, args, env, url=None, ready=lambda _: "")


def _running(settings: Settings, name: str) -> Service | None:
    service = read_service(settings, name)
    if service is not None and is_alive(service):
        return service
    return None


def up(
    settings: Settings,
    *,
    webserver_port: int = DEFAULT_WEBSERVER_PORT,
    code_server_port: int = DEFAULT_CODE_SERVER_PORT,
    simulator_execution_seconds: float = 2.0,
    report: Callable[[str], None] = print,
) -> list[ServiceStatus]:
    """Start every service that is not running (again, if it died); what runs afterwards."""
    services_dir(settings).mkdir(parents=True, exist_ok=True)
    with FileLock(str(services_dir(settings) / "up.lock")):
        url = database_url(settings)
        applied = upgrade(url)
        report(f"PostgreSQL: {describe_url(url)} ({len(applied)} migration(s) applied)")
        if uses_simulator(settings) and _running(settings, SIMULATOR) is None:
            service = _simulator(settings, simulator_execution_seconds)
            report(f"started {SIMULATOR} (pid {service.pid}) at {service.url}")
        # The simulator's endpoints are in the settings file now; the services read it too.
        settings = load_settings()
        dagster_home, storage_url = prepare_production_home(settings, url)
        env = {
            **os.environ,
            RECOMAMP_HOME: str(settings.home),
            DAGSTER_HOME: str(dagster_home),
            DAGSTER_POSTGRES_URL: storage_url,
        }
        code_server = _running(settings, CODE_SERVER)
        if code_server is None:
            port = _port_or_free(code_server_port, CODE_SERVER)
            code_server = _code_server(settings, env, port)
            report(f"started {CODE_SERVER} (pid {code_server.pid}) at {code_server.url}")
        assert code_server.url is not None
        write_workspace(settings, code_server.url)
        if _running(settings, WEBSERVER) is None:
            port = _port_or_free(webserver_port, WEBSERVER)
            service = _webserver(settings, env, port)
            report(f"started {WEBSERVER} (pid {service.pid}) at {service.url}")
        if _running(settings, DAEMON) is None:
            service = _daemon(settings, env)
            report(f"started {DAEMON} (pid {service.pid})")
    return status(settings)


def status(settings: Settings) -> list[ServiceStatus]:
    """Every service: running (where), stopped, or died (its pid file left behind)."""
    statuses = [_database_status(settings)]
    for name in PROCESS_ORDER:
        if name == SIMULATOR and not uses_simulator(settings):
            statuses.append(
                ServiceStatus(name, State.STOPPED, f"not used: AMC at {settings.amc_api_url}")
            )
            continue
        service = read_service(settings, name)
        if service is None:
            statuses.append(ServiceStatus(name, State.STOPPED, "not started"))
        elif is_alive(service):
            statuses.append(
                ServiceStatus(
                    name,
                    State.RUNNING,
                    f"pid {service.pid}, log {service.log}",
                    url=service.url,
                    pid=service.pid,
                )
            )
        else:
            statuses.append(
                ServiceStatus(
                    name,
                    State.DIED,
                    f"pid {service.pid} is gone; see {service.log}",
                    pid=service.pid,
                )
            )
    return statuses


def _database_status(settings: Settings) -> ServiceStatus:
    if not settings.uses_embedded_database:
        assert settings.database_url is not None
        return ServiceStatus(
            "postgresql",
            State.RUNNING,
            "server named by DATABASE_URL",
            describe_url(settings.database_url),
        )
    if embedded_running(settings.embedded_data_dir):
        return ServiceStatus(
            "postgresql", State.RUNNING, f"embedded, data in {settings.embedded_data_dir}"
        )
    return ServiceStatus("postgresql", State.STOPPED, "embedded, not running")


def _terminate(pid: int) -> None:
    """SIGTERM to the process group, then SIGKILL after the grace period."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not process_alive(pid):
                break
            time.sleep(0.1)
        else:
            continue
        # The leader is gone; children that ignored SIGTERM go with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return


def down(settings: Settings, *, report: Callable[[str], None] = print) -> None:
    """Stop the daemon, the webserver, the code server, the simulator, then PostgreSQL."""
    for name in reversed(PROCESS_ORDER):
        service = read_service(settings, name)
        if service is None:
            continue
        if name == SIMULATOR:
            # The home's simulator: stopped as `recomamp amc-simulator stop` stops it.
            if stop_simulator(settings.home):
                report(f"stopped {name} (pid {service.pid})")
            else:
                report(f"{name} (pid {service.pid}) had already stopped")
        elif is_alive(service):
            _terminate(service.pid)
            report(f"stopped {name} (pid {service.pid})")
        else:
            report(f"{name} (pid {service.pid}) had already stopped")
        _forget(settings, name)
    if settings.uses_embedded_database and stop_embedded(settings.embedded_data_dir):
        report(f"stopped the embedded PostgreSQL ({settings.embedded_data_dir})")
