from __future__ import annotations

import logging

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.cli.common import EXIT_DATABASE_UNAVAILABLE
from recomamp_pipelines.crypto import TokenCipher, generate_key

TOKEN = "Atzr|IwEBIexample-refresh-token-0001"
runner = CliRunner()


def test_users_add_reads_token_from_stdin_and_stores_it_encrypted(
    recomamp_env: dict[str, str], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(
        app,
        ["users", "add", "--email", "Ana@Example.com", "--timezone", "America/New_York"],
        input=TOKEN + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Added user ana@example.com" in result.output
    assert TOKEN not in result.output
    assert TOKEN not in caplog.text
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select timezone, encrypted_refresh_token from users where email = 'ana@example.com'"
        ).fetchone()
    assert row is not None
    timezone, stored = row
    assert timezone == "America/New_York"
    assert TOKEN not in stored
    cipher = TokenCipher([recomamp_env["RECOMAMP_ENCRYPTION_KEYS"]])
    assert cipher.decrypt(stored) == TOKEN


def test_users_add_twice_replaces_the_token(recomamp_env: dict[str, str], db_url: str) -> None:
    for token in (TOKEN, TOKEN + "b"):
        result = runner.invoke(app, ["users", "add", "--email", "a@b.co"], input=token + "\n")
        assert result.exit_code == 0, result.output
    assert "Updated user a@b.co" in result.output
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("select encrypted_refresh_token from users").fetchall()
    assert len(rows) == 1
    cipher = TokenCipher([recomamp_env["RECOMAMP_ENCRYPTION_KEYS"]])
    assert cipher.decrypt(rows[0][0]) == TOKEN + "b"


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--email", "a@b.co", "--timezone", "Mars/Base"], TOKEN, "'Mars/Base' is not an IANA"),
        (["--email", "not-an-email"], TOKEN, "'not-an-email' is not an email address"),
        (["--email", "a@b.co"], "", "refresh token read from standard input is empty"),
    ],
)
def test_users_add_bad_input_is_one_clear_error_and_writes_nothing(
    recomamp_env: dict[str, str], db_url: str, args: list[str], token: str, message: str
) -> None:
    result = runner.invoke(app, ["users", "add", *args], input=token + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from users").fetchone() == (0,)


def test_users_add_with_a_malformed_key_is_a_clear_error(
    recomamp_env: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOMAMP_ENCRYPTION_KEYS", "short")
    result = runner.invoke(app, ["users", "add", "--email", "a@b.co"], input=TOKEN + "\n")
    assert result.exit_code == 1
    assert "key 1 of 1 is not a valid Fernet key" in result.output


def test_wrong_database_url_is_one_clear_error(
    recomamp_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    monkeypatch.setenv("RECOMAMP_ENCRYPTION_KEYS", generate_key())
    result = runner.invoke(app, ["users", "add", "--email", "a@b.co"], input=TOKEN + "\n")
    assert result.exit_code == EXIT_DATABASE_UNAVAILABLE
    where = "postgresql://postgres@127.0.0.1:1/nowhere"
    assert f"cannot connect to the RecomAMP database at {where}" in result.output
    assert "hunter2" not in result.output
