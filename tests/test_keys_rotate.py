"""`recomamp keys rotate`: every stored token under the newest key, resumable after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from recomamp_pipelines.crypto import TokenCipher, generate_key

USERS = 40
PAGE = 4


def _tokens(n: int) -> str:
    return f"Atzr|IwEBI-refresh-token-{n:03d}"


def _rotate(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "recomamp_pipelines.cli", "keys", "rotate", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stored(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "select email, encrypted_refresh_token from users where email like 'rotate-%%'"
        ).fetchall()
    return dict(rows)


def _all_open(cipher: TokenCipher, stored: dict[str, str]) -> bool:
    """Every stored token opens with `cipher` and is the token stored for that user."""
    return all(
        cipher.decrypt(token) == _tokens(int(email[7:10])) for email, token in stored.items()
    )


def _under(cipher: TokenCipher, stored: dict[str, str]) -> set[str]:
    return {email for email, token in stored.items() if cipher.is_current(token)}


@pytest.fixture
def keys(db_url: str, recomamp_env: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    """USERS users whose tokens are under the old key; the env lists the new key first."""
    old, new = recomamp_env["RECOMAMP_ENCRYPTION_KEYS"], generate_key()
    cipher = TokenCipher([old])
    with psycopg.connect(db_url, autocommit=True) as conn:
        for n in range(USERS):
            conn.execute(
                "insert into users (email, timezone, encrypted_refresh_token) "
                "values (%s, 'UTC', %s)",
                (f"rotate-{n:03d}@example.com", cipher.encrypt(_tokens(n))),
            )
    env = {**os.environ, "RECOMAMP_ENCRYPTION_KEYS": f"{new},{old}"}
    return old, new, env


def test_a_rotation_killed_midway_and_run_again_leaves_every_token_readable(
    db_url: str, keys: tuple[str, str, dict[str, str]]
) -> None:
    old, new, env = keys
    both, newest = TokenCipher([new, old]), TokenCipher([new])
    process = _rotate(env, "--page-size", str(PAGE), "--pause-seconds", "0.5")
    deadline = time.monotonic() + 120
    while len(_under(newest, _stored(db_url))) < PAGE and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    stored = _stored(db_url)
    first = _under(newest, stored)
    assert PAGE <= len(first) < USERS  # killed part-way
    assert len(first) % PAGE == 0  # whole pages only: each page is one transaction
    assert _all_open(both, stored)

    again = _rotate(env)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert f"{USERS - len(first)} user(s) re-encrypted under the newest key" in output
    assert f"{len(first)} already under it" in output
    stored = _stored(db_url)
    assert _under(newest, stored) == set(stored)
    assert all(
        newest.decrypt(token) == _tokens(int(email[7:10])) for email, token in stored.items()
    )
    assert "Atzr|" not in output  # names users, never tokens

    done = _rotate(env)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    assert f"0 user(s) re-encrypted under the newest key, {USERS} already under it." in output


def test_a_token_no_key_opens_is_named_and_left_unchanged(
    db_url: str, keys: tuple[str, str, dict[str, str]]
) -> None:
    _, new, env = keys
    foreign = TokenCipher([generate_key()]).encrypt("Atzr|foreign")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into users (email, timezone, encrypted_refresh_token) "
            "values ('zz-lost@example.com', 'UTC', %s)",
            (foreign,),
        )
    process = _rotate(env)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output
    assert "no configured key opens the stored zz-lost@example.com (refresh token)" in output
    assert f"{USERS} user(s) re-encrypted under the newest key" in output
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select encrypted_refresh_token from users where email = 'zz-lost@example.com'"
        ).fetchone()
    assert row == (foreign,)
    assert _under(TokenCipher([new]), _stored(db_url)) == set(_stored(db_url))
