"""What the AMC access check writes: reachable accounts and instances, and their health."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.amc.health import HealthStatus, InstanceVerdict, ReachableInstance
from recomamp_pipelines.amc.queries import load


class UnknownUserError(LookupError):
    """No RecomAMP user has that email, or the user has no stored refresh token."""


@dataclass(frozen=True)
class StoredUser:
    user_id: uuid.UUID
    email: str
    encrypted_refresh_token: str


def find_user(conn: psycopg.Connection, email: str) -> StoredUser:
    """The user with `email` and their encrypted refresh token."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(load("find_user"), {"email": email}).fetchone()
    if row is None:
        raise UnknownUserError(f"no user with email {email!r}; add one with `recomamp users add`")
    if not row["encrypted_refresh_token"]:
        raise UnknownUserError(
            f"user {email!r} has no stored refresh token; store one with `recomamp users add`"
        )
    return StoredUser(
        user_id=row["id"], email=email, encrypted_refresh_token=row["encrypted_refresh_token"]
    )


def record_reachable(
    conn: psycopg.Connection, user_id: uuid.UUID, reachable: Sequence[ReachableInstance]
) -> None:
    """Upsert every account and instance the user's credentials reach, in one transaction."""
    with conn.transaction():
        account_rows: dict[str, uuid.UUID] = {}
        for item in reachable:
            account = item.account
            if account.account_id not in account_rows:
                row = conn.execute(
                    load("upsert_amc_account"),
                    {
                        "account_id": account.account_id,
                        "account_name": account.account_name or account.account_id,
                        "country_code": account.country_code,
                    },
                ).fetchone()
                assert row is not None
                account_rows[account.account_id] = row[0]
            instance = item.instance
            conn.execute(
                load("upsert_amc_instance"),
                {
                    "instance_id": instance.instance_id,
                    "name": instance.instance_name or instance.instance_id,
                    "user_id": user_id,
                    "account_row_id": account_rows[account.account_id],
                    "region": instance.region,
                },
            )


def record_verdicts(
    conn: psycopg.Connection, user_id: uuid.UUID, verdicts: Sequence[InstanceVerdict]
) -> None:
    """Write each verdict onto the user's instance row (rows the user lacks are skipped)."""
    with conn.transaction():
        for verdict in verdicts:
            conn.execute(
                load("record_instance_health"),
                {
                    "health_status": verdict.status.value,
                    "health_error": None
                    if verdict.status is HealthStatus.HEALTHY
                    else verdict.reason,
                    "instance_id": verdict.instance_id,
                    "user_id": user_id,
                },
            )


def record_check_failure(
    conn: psycopg.Connection,
    user_id: uuid.UUID,
    instance_ids: Sequence[str],
    reason: str,
) -> None:
    """Mark the user's instances (those named, or all) ERROR when the check reached none."""
    with conn.transaction():
        conn.execute(
            load("record_user_health"),
            {
                "health_status": HealthStatus.ERROR.value,
                "health_error": reason,
                "user_id": user_id,
                "instance_ids": list(instance_ids),
            },
        )
