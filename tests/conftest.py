"""Database fixtures shared by every test.

With DATABASE_URL set, tests create and drop their own databases on that server and never touch
the named database itself. Unset, they start a throwaway PostgreSQL (pgserver) and remove it
afterwards. Each test gets a clean database cloned from a template migrated once per worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

pytest_plugins: list[str] = ["tests.fixtures.browser"]
if (Path(__file__).parent / "fixtures" / "amc_simulator.py").exists():
    pytest_plugins.append("tests.fixtures.amc_simulator")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of long tests (marked slow or scale) first, so that the workers pick them up
    at the start and end together, instead of one running a long test alone at the end."""
    long = {
        item.nodeid.split("::", 1)[0]
        for item in items
        if item.get_closest_marker("slow") or item.get_closest_marker("scale")
    }
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in long)


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A server where tests may create databases."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver

    # Not under pytest's temp root: pytest prunes old run directories there, which would pull
    # the data directory from under a server that another run is still using.
    data_dir = Path(tempfile.mkdtemp(prefix="recomamp-test-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        query = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(query)
    return with_database(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, cloned by `db_url`."""
    from recomamp_pipelines.db.migrations import upgrade

    name = f"recomamp_tmpl_{_worker()}_{os.getpid()}"
    _drop_database(pg_admin_url, name)
    url = _create_database(pg_admin_url, name)
    upgrade(url)
    try:
        yield name
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test."""
    name = f"recomamp_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_admin_url, name, template=template_database)
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with nothing in it."""
    name = f"recomamp_empty_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_admin_url, name)
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def db_conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def recomamp_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for `recomamp` commands run against the test database."""
    from recomamp_pipelines.crypto import generate_key

    env = {
        "DATABASE_URL": db_url,
        "RECOMAMP_HOME": str(tmp_path / "home"),
        "RECOMAMP_ENCRYPTION_KEYS": generate_key(),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "RECOMAMP_RESULTS_ROOT": str(tmp_path / "results"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
