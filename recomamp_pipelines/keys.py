"""Key rotation: every stored token re-encrypted under the newest key, resumably.

After a new key is put in front of RECOMAMP_ENCRYPTION_KEYS, `rotate_tokens` walks the users in
id order, a page at a time, and re-encrypts each token that the newest key does not open yet.
Each page is one transaction, and a token is only replaced if it is still the one that was
read. Old keys keep decrypting until the rotation is complete, so a rotation killed at any
moment leaves every token readable; running it again finishes the work (tokens already under
the newest key are skipped). Only then may the old keys be removed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.crypto import EncryptionKeyError, TokenCipher
from recomamp_pipelines.db.queries import load

TOKEN_COLUMNS = {"encrypted_refresh_token": "refresh", "encrypted_access_token": "access"}


@dataclass
class RotationReport:
    """What a rotation changed: users by email, never a token."""

    rotated: list[str] = field(default_factory=list)
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)
    changed_meanwhile: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unreadable and not self.changed_meanwhile


def rotate_tokens(
    conn: psycopg.Connection,
    cipher: TokenCipher,
    *,
    page_size: int = 100,
    pause_seconds: float = 0.0,
    on_rotated: Callable[[str], None] | None = None,
) -> RotationReport:
    """Re-encrypt every user's tokens under the newest key; `conn` must be in autocommit."""
    if page_size < 1:
        raise ValueError(f"page size {page_size}: expected 1 or more users per transaction")
    report = RotationReport()
    after = uuid.UUID(int=0)
    with conn.cursor(row_factory=dict_row) as cur:
        while True:
            rows = cur.execute(
                load("users_with_tokens"), {"after": after, "page_size": page_size}
            ).fetchall()
            if not rows:
                return report
            rotated_now = []
            with conn.transaction():
                for row in rows:
                    if _rotate_user(cur, cipher, row, report):
                        rotated_now.append(row["email"])
            # Reported once committed: these are changed for good.
            for email in rotated_now:
                report.rotated.append(email)
                if on_rotated is not None:
                    on_rotated(email)
            after = rows[-1]["user_id"]
            if pause_seconds:
                time.sleep(pause_seconds)


def _rotate_user(
    cur: psycopg.Cursor[dict[str, Any]],
    cipher: TokenCipher,
    row: dict[str, Any],
    report: RotationReport,
) -> bool:
    """Replace the user's tokens that need it; whether anything was replaced."""
    new: dict[str, str | None] = {}
    for column, label in TOKEN_COLUMNS.items():
        stored = row[column]
        if stored is None or cipher.is_current(stored):
            new[column] = stored
            continue
        try:
            new[column] = cipher.rotate(stored)
        except EncryptionKeyError:
            report.unreadable.append(f"{row['email']} ({label} token)")
            return False
    if all(new[column] == row[column] for column in TOKEN_COLUMNS):
        report.already_current += 1
        return False
    cur.execute(
        load("replace_user_tokens"),
        {
            "user_id": row["user_id"],
            "refresh_token": new["encrypted_refresh_token"],
            "access_token": new["encrypted_access_token"],
            "previous_refresh_token": row["encrypted_refresh_token"],
            "previous_access_token": row["encrypted_access_token"],
        },
    )
    if cur.rowcount != 1:
        # A new token was stored meanwhile, under the newest key already.
        report.changed_meanwhile.append(row["email"])
        return False
    return True
