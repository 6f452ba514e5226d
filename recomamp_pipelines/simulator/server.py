"""Run the simulator as a real HTTP server (uvicorn) and say so on one line when it is ready."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time

import uvicorn

from recomamp_pipelines.simulator.app import create_app
from recomamp_pipelines.simulator.config import SimulatorConfig

READY_PREFIX = "AMC simulator listening on "


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on accepted sockets that say
    # so, and without it every keep-alive answer waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that prints the ready line once it accepts connections."""

    def __init__(self, config: uvicorn.Config, base_url: str) -> None:
        super().__init__(config)
        self._base_url = base_url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(f"{READY_PREFIX}{self._base_url}", flush=True)


def exit_with_parent() -> None:
    """Stop (SIGTERM to this process) as soon as the process that started it is gone."""
    parent = os.getppid()
    if parent == 1:
        # Orphaned before it got here: the parent is already gone.
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(config: SimulatorConfig, log_level: str = "warning", with_parent: bool = False) -> None:
    """Serve until interrupted (SIGINT or SIGTERM), or until the parent exits if asked."""
    if with_parent:
        exit_with_parent()
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{port}"
    app = create_app(config, base_url)
    # h11 lets the truncated-download fault close a response short of its Content-Length.
    uv_config = uvicorn.Config(
        app, log_level=log_level, http="h11", lifespan="on", timeout_graceful_shutdown=2
    )
    server = _Server(uv_config, base_url)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
    sys.stdout.flush()
