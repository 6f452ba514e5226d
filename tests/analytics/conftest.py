"""Fixtures of the analyst layer's tests: the hand-computed fixture, with the views applied.

`analyst` seeds it as the server's superuser (quick, and enough for the figures). The
row-level security tests use `owned_analyst` instead: a database whose every object belongs
to a role that is neither a superuser nor exempt from row-level security, as the pipeline's
role is in a real deployment, so that what they prove does not rest on a superuser's bypass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from recomamp_pipelines.analytics.views import apply_views
from recomamp_pipelines.db.migrations import upgrade
from tests.analytics.fixture import AnalystFixture, seed
from tests.defs.conftest import pipeline

__all__ = ["analyst", "owned_analyst", "pipeline", "pipeline_role", "pipeline_role_conn"]

# Server-wide, like every role: created once, race-safely, and kept (other workers use it).
PIPELINE_ROLE = "recomamp_test_pipeline"


@pytest.fixture
def analyst(db_conn: psycopg.Connection[Any]) -> AnalystFixture:
    """The fixture's rows, then every view applied (the stored marts hold them)."""
    fixture = seed(db_conn)
    apply_views(db_conn)
    return fixture


@pytest.fixture(scope="session")
def pipeline_role(pg_admin_url: str, template_database: str) -> str:
    """A login role without superuser or BYPASSRLS that may act as `authenticated`, as
    PostgREST's authenticator does (the migrated template made sure `authenticated` exists)."""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "do $$ begin "
                "if not exists (select 1 from pg_roles where rolname = {name}) then "
                "begin create role {role} login nosuperuser nobypassrls nocreatedb nocreaterole; "
                "exception when duplicate_object or unique_violation then null; end; "
                "end if; end $$"
            ).format(name=sql.Literal(PIPELINE_ROLE), role=sql.Identifier(PIPELINE_ROLE))
        )
        conn.execute(sql.SQL("grant authenticated to {}").format(sql.Identifier(PIPELINE_ROLE)))
    return PIPELINE_ROLE


def _as_role(admin_url: str, database: str, role: str) -> str:
    return make_conninfo(admin_url, dbname=database, user=role)


def _create_owned(admin_url: str, database: str, role: str, template: str | None = None) -> None:
    query = sql.SQL("create database {} owner {}").format(
        sql.Identifier(database), sql.Identifier(role)
    )
    if template is not None:
        query = sql.SQL("{} template {}").format(query, sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(query)


def _drop(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
        )


@pytest.fixture(scope="session")
def owned_template(pg_admin_url: str, pipeline_role: str) -> Iterator[str]:
    """A database migrated by the pipeline role itself: it owns every table, view, function."""
    name = f"recomamp_owned_tmpl_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    _drop(pg_admin_url, name)
    _create_owned(pg_admin_url, name, pipeline_role)
    try:
        upgrade(_as_role(pg_admin_url, name, pipeline_role))
        yield name
    finally:
        _drop(pg_admin_url, name)


@pytest.fixture
def pipeline_role_conn(
    pg_admin_url: str, owned_template: str, pipeline_role: str
) -> Iterator[psycopg.Connection[Any]]:
    """A connection as the pipeline role to a fresh copy of that database."""
    name = f"recomamp_owned_{uuid.uuid4().hex[:12]}"
    _create_owned(pg_admin_url, name, pipeline_role, template=owned_template)
    try:
        with psycopg.connect(_as_role(pg_admin_url, name, pipeline_role), autocommit=True) as conn:
            yield conn
    finally:
        _drop(pg_admin_url, name)


@pytest.fixture
def owned_analyst(pipeline_role_conn: psycopg.Connection[Any]) -> AnalystFixture:
    """The fixture seeded, and the views applied, by the pipeline role."""
    fixture = seed(pipeline_role_conn)
    apply_views(pipeline_role_conn)
    return fixture
