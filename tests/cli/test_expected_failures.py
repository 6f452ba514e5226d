"""Expected failures end a command with one clear line and an exit code of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from recomamp_pipelines.amc.errors import AmcTransportError
from recomamp_pipelines.cli.common import (
    EXIT_AMC_CREDENTIALS_REFUSED,
    EXIT_AMC_UNREACHABLE,
    EXIT_DATABASE_UNAVAILABLE,
    exit_code_for,
)
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.users import save_user
from tests.fixtures.amc_simulator import AmcSimulator

EMAIL = "ana@example.com"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def recomamp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recomamp_pipelines.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_database_that_is_down(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        RECOMAMP_HOME=str(tmp_path),
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/recomamp",
    )
    for command in (["users", "list"], ["collections", "list"], ["db", "status"]):
        result = recomamp(env, *command)
        assert result.returncode == EXIT_DATABASE_UNAVAILABLE, (command, result.stderr)
        assert one_line(result).startswith("error: cannot connect to ")


def test_amc_unreachable_and_a_refused_token(
    recomamp_env: dict[str, str], amc_simulator: AmcSimulator
) -> None:
    cipher = TokenCipher([recomamp_env["RECOMAMP_ENCRYPTION_KEYS"]])
    with psycopg.connect(recomamp_env["DATABASE_URL"], autocommit=True) as conn:
        save_user(conn, cipher, email=EMAIL, refresh_token="Atzr|not-a-token-the-simulator-knows")
    base = {
        **os.environ,
        **recomamp_env,
        "AMC_CLIENT_ID": amc_simulator.client_id,
        "AMC_CLIENT_SECRET": amc_simulator.client_secret,
    }
    refused = recomamp(
        {**base, "AMC_API_URL": amc_simulator.base_url, "AMC_TOKEN_URL": amc_simulator.token_url},
        *("amc", "check", "--user", EMAIL),
    )
    assert refused.returncode == EXIT_AMC_CREDENTIALS_REFUSED, refused.stderr
    assert one_line(refused).startswith("CREDENTIALS REFUSED: ")


def test_amc_out_of_reach_has_its_own_exit_code() -> None:
    # After its retries (a minute of them) the client raises this for a host that never answers.
    error = AmcTransportError(
        "POST http://127.0.0.1:9/auth/o2/token: ConnectError",
        status_code=None,
        method="POST",
        path="/auth/o2/token",
    )
    assert exit_code_for(error) == EXIT_AMC_UNREACHABLE
    assert len({EXIT_AMC_UNREACHABLE, EXIT_AMC_CREDENTIALS_REFUSED, EXIT_DATABASE_UNAVAILABLE}) == 3
