"""One local AMC simulator per RECOMAMP_HOME, shared by every command that needs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recomamp_pipelines.demo import running_simulator_of, stop_simulator
from recomamp_pipelines.settings import read_settings_file

START = (
    "from recomamp_pipelines.demo import demo_settings;"
    "from recomamp_pipelines.settings import load_settings;"
    "print(demo_settings(load_settings()).amc_api_url)"
)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    try:
        yield home
    finally:
        stop_simulator(home)


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMC_", "RECOMAMP_"))}
    env["RECOMAMP_HOME"] = str(home)
    return env


def start(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", START],
        env=environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_commands_started_at_once_share_one_simulator_that_outlives_them(home: Path) -> None:
    first, second = start(home), start(home)
    urls = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        urls.append(out.strip())

    assert urls[0] == urls[1]
    simulator = running_simulator_of(home)
    assert simulator is not None and simulator.base_url == urls[0]
    settings = read_settings_file(home / "settings.env")
    assert settings["AMC_API_URL"] == simulator.base_url
    # Both commands have exited; a long-lived client still reaches the simulator they named.
    with httpx.Client(base_url=simulator.base_url) as client:
        token = client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|recomamp-demo-ana",
                "client_id": settings["AMC_CLIENT_ID"],
                "client_secret": settings["AMC_CLIENT_SECRET"],
            },
        )
        assert token.status_code == 200, token.text
        # A third command, while that client works, reuses the same simulator.
        third = start(home)
        out, err = third.communicate(timeout=120)
        assert third.returncode == 0, err
        assert out.strip() == simulator.base_url
        assert running_simulator_of(home) == simulator

    assert stop_simulator(home)
    assert running_simulator_of(home) is None
    assert not stop_simulator(home)


def test_a_simulator_that_died_is_replaced_and_the_settings_follow(home: Path) -> None:
    process = start(home)
    out, _ = process.communicate(timeout=120)
    dead = running_simulator_of(home)
    assert dead is not None and dead.base_url == out.strip()
    os.kill(dead.pid, 9)

    again = start(home)
    out, err = again.communicate(timeout=120)

    assert again.returncode == 0, err
    alive = running_simulator_of(home)
    assert alive is not None and alive.pid != dead.pid
    assert read_settings_file(home / "settings.env")["AMC_API_URL"] == alive.base_url
