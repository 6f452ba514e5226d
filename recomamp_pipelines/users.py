"""RecomAMP users and their encrypted Amazon tokens."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.db.queries import load

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserInputError(ValueError):
    """A user's email, timezone or token is not usable."""


@dataclass(frozen=True)
class SavedUser:
    user_id: uuid.UUID
    email: str
    is_new: bool


def validate_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserInputError(
            f"timezone {timezone!r} is not an IANA time zone (e.g. 'America/New_York', 'UTC')"
        ) from exc
    return timezone


def save_user(
    conn: psycopg.Connection,
    cipher: TokenCipher,
    *,
    email: str,
    refresh_token: str,
    timezone: str = "UTC",
    full_name: str | None = None,
) -> SavedUser:
    """Create the user, or replace an existing user's token and timezone."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise UserInputError(f"email {email!r} is not an email address")
    validate_timezone(timezone)
    if not refresh_token:
        raise UserInputError("the refresh token read from standard input is empty")
    if any(ch.isspace() for ch in refresh_token):
        raise UserInputError("the refresh token read from standard input contains whitespace")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            load("upsert_user"),
            {
                "email": email,
                "full_name": full_name,
                "timezone": timezone,
                "encrypted_refresh_token": cipher.encrypt(refresh_token),
            },
        ).fetchone()
    assert row is not None
    return SavedUser(user_id=row["id"], email=email, is_new=bool(row["is_new"]))
