"""Login with Amazon, simulated: refresh tokens in, short-lived access tokens out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from recomamp_pipelines.simulator.clock import SimClock, iso_z
from recomamp_pipelines.simulator.state import StateStore, state_sql


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    refresh_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedToken(expires_in={self.expires_in})"


class TokenAuthority:
    """Issues access tokens for known refresh tokens and checks them on every call."""

    def __init__(self, store: StateStore, clock: SimClock) -> None:
        self._store = store
        self._clock = clock

    def issue(self, refresh_token: str, lifetime_seconds: int) -> IssuedToken:
        access_token = "Atza|" + secrets.token_urlsafe(48)
        expires_at = self._clock.now() + timedelta(seconds=lifetime_seconds)
        with self._store.transaction() as db:
            db.execute(
                state_sql("insert_token"),
                (access_token, refresh_token, iso_z(expires_at)),
            )
        return IssuedToken(access_token, refresh_token, lifetime_seconds)

    def is_valid(self, access_token: str) -> bool:
        rows = self._store.query(state_sql("token"), (access_token,))
        if not rows or rows[0]["revoked"]:
            return False
        return str(rows[0]["expires_at"]) > iso_z(self._clock.now())

    def revoke_all(self) -> int:
        """Invalidate every access token issued so far (refresh tokens stay valid)."""
        with self._store.transaction() as db:
            return db.execute(state_sql("revoke_tokens")).rowcount

    def issued_count(self) -> int:
        return int(self._store.query(state_sql("count_tokens"))[0]["n"])
