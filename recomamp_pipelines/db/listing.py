"""What the command line lists: users, AMC instances, workflows, a collection's weeks."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.db.queries import load


def _rows(
    conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(load(name), params or {}).fetchall()


def list_users(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, "list_users")


def list_instances(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, "list_instances")


def list_workflows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, "list_workflows")


def collection_weeks(conn: psycopg.Connection, collection_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every week of a collection: status, rows, AMC execution id, error."""
    return _rows(conn, "collection_week_rows", {"collection_id": collection_id})
