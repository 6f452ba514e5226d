"""`recomamp amc-simulator serve`: options, defaults, settings files, the ready line."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.simulator.server import READY_PREFIX

SETTINGS_TOML = """
client_id = "toml-client"
client_secret = "toml-secret"
refresh_tokens = ["Atzr|toml-user"]
token_lifetime_seconds = 120
execution_seconds = 0

[[accounts]]
account_id = "ENTITY3CC3CC33CCC3"
account_name = "From TOML"

[[instances]]
instance_id = "amctoml"
account_id = "ENTITY3CC3CC33CCC3"

[faults]
latency_seconds = 0.0
"""


def test_serve_help_documents_every_option_and_its_default() -> None:
    result = CliRunner().invoke(app, ["amc-simulator", "serve", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    # Help is wrapped to the terminal: read it as one line, words split at a hyphen joined.
    text = re.sub(r"\s+", " ", re.sub(r"-\n\s+", "-", result.output))
    for option, default in [
        ("--host", "127.0.0.1"),
        ("--port", "8765"),
        ("--client-id", "amzn1.application-oa2-client.recomampsimulator"),
        ("--client-secret", "simulator-client-secret"),
        ("--refresh-token", "Atzr|simulator-refresh-token"),
        ("--instance", "amcsimulator01"),
        ("--execution-seconds", "2.0"),
        ("--state-dir", "in memory"),
        ("--settings", "JSON or TOML"),
    ]:
        assert option in text
        assert default in text


def test_bad_settings_are_refused_with_a_message(tmp_path: Path) -> None:
    settings = tmp_path / "bad.json"
    settings.write_text('{"no_such_setting": 1}')

    result = CliRunner().invoke(app, ["amc-simulator", "serve", "--settings", str(settings)])

    assert result.exit_code == 2
    assert "unknown setting 'no_such_setting'" in result.output


def test_serve_starts_a_real_server_from_a_toml_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "simulator.toml"
    settings.write_text(SETTINGS_TOML)
    out = tmp_path / "out.txt"
    command = [
        sys.executable,
        "-c",
        "from recomamp_pipelines.cli import main; main()",
        "amc-simulator",
        "serve",
        "--port",
        "0",
        "--settings",
        str(settings),
        "--instance",
        "amcextra",
    ]
    with out.open("wb") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not out.read_text().startswith(READY_PREFIX):
            assert process.poll() is None, out.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        base_url = out.read_text().splitlines()[0][len(READY_PREFIX) :]

        token = httpx.post(
            f"{base_url}/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|toml-user",
                "client_id": "toml-client",
                "client_secret": "toml-secret",
            },
        ).json()
        assert token["expires_in"] == 120
        headers = {
            "Amazon-Advertising-API-ClientId": "toml-client",
            "Authorization": f"Bearer {token['access_token']}",
            "Amazon-Advertising-API-MarketplaceId": "ATVPDKIKX0DER",
        }
        instances = httpx.get(f"{base_url}/amc/instances", headers=headers).json()["instances"]
        assert [i["instanceId"] for i in instances] == ["amctoml", "amcextra"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM)


def test_exit_with_parent_leaves_no_simulator_behind(tmp_path: Path) -> None:
    launcher = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-m', 'recomamp_pipelines.simulator',"
        " '--port', '0', '--exit-with-parent'], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(5)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher], capture_output=True, text=True, check=True, timeout=60
    )
    child = int(result.stdout.strip())

    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists() and "zombie" not in _state(child):
        assert time.monotonic() < deadline, "the simulator outlived its parent"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"
