"""Fixtures of the schema tests: two users with data everywhere, a Supabase-like database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.db.helpers import Tenant, add_guide, seed_tenant


@dataclass(frozen=True)
class Tenants:
    a: Tenant
    b: Tenant


@pytest.fixture
def tenants(db_conn: psycopg.Connection[Any]) -> Tenants:
    """Users a and b, each with private rows in every table that holds user data."""
    guide_id = add_guide(db_conn)
    return Tenants(a=seed_tenant(db_conn, "a", guide_id), b=seed_tenant(db_conn, "b", guide_id))


@pytest.fixture
def supabase_db_url(empty_db_url: str) -> Iterator[str]:
    """An empty database prepared the way Supabase prepares one, before our migrations."""
    setup = (Path(__file__).with_name("supabase_setup.sql")).read_text(encoding="utf-8")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(setup)
    yield empty_db_url
