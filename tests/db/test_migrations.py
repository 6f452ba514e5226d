"""upgrade() and status(): ordering, checksums, locking and the errors a user sees."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from recomamp_pipelines.db.migrations import MigrationError, status, upgrade
from tests.db.helpers import MIGRATIONS_DIR, one

ALL_MIGRATIONS = sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))


def public_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'")
        return {row[0] for row in rows}


def copy_migrations(tmp_path: Path, names: list[str] | None = None) -> Path:
    target = tmp_path / "migrations"
    target.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if names is None or path.stem in names:
            shutil.copy(path, target / path.name)
    return target


def bookkeeping(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select 'log', count(*)::text from _yoyo_log "
            "union all select migration_id, applied_at_utc::text from _yoyo_migration "
            "union all select migration_id, checksum || recorded_at::text "
            "from schema_migration_checksums order by 1, 2"
        ).fetchall()


def test_upgrade_applies_every_migration_once_in_order(empty_db_url: str) -> None:
    assert upgrade(empty_db_url) == ALL_MIGRATIONS
    after_first = (bookkeeping(empty_db_url), public_tables(empty_db_url))
    assert upgrade(empty_db_url) == []
    assert (bookkeeping(empty_db_url), public_tables(empty_db_url)) == after_first

    statuses = status(empty_db_url)
    assert [s.id for s in statuses] == ALL_MIGRATIONS
    assert all(s.applied and s.checksum_ok and s.applied_at is not None for s in statuses)
    applied_at = [s.applied_at for s in statuses if s.applied_at is not None]
    assert applied_at == sorted(applied_at)


def test_status_of_an_empty_database_lists_everything_pending_and_writes_nothing(
    empty_db_url: str,
) -> None:
    statuses = status(empty_db_url)

    assert [(s.id, s.applied, s.applied_at) for s in statuses] == [
        (migration_id, False, None) for migration_id in ALL_MIGRATIONS
    ]
    assert public_tables(empty_db_url) == set()


def test_each_migration_is_recorded_with_the_sha256_of_its_file(empty_db_url: str) -> None:
    upgrade(empty_db_url)

    with psycopg.connect(empty_db_url) as conn:
        recorded: dict[str, str] = dict(
            conn.execute("select migration_id, checksum from schema_migration_checksums")
        )
    assert recorded == {
        path.stem: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in MIGRATIONS_DIR.glob("*.sql")
    }


def test_a_migration_changed_after_it_was_applied_stops_the_upgrade(
    empty_db_url: str, tmp_path: Path
) -> None:
    migrations = copy_migrations(tmp_path, ["0001_auth_compat", "0002_baseline"])
    upgrade(empty_db_url, migrations_dir=migrations)
    baseline = migrations / "0002_baseline.sql"
    applied_checksum = hashlib.sha256(baseline.read_bytes()).hexdigest()
    baseline.write_text(baseline.read_text() + "\ncreate table sneaked_in (id int);\n")
    changed_checksum = hashlib.sha256(baseline.read_bytes()).hexdigest()
    shutil.copy(MIGRATIONS_DIR / "0003_execution_layer.sql", migrations)

    with pytest.raises(MigrationError) as error:
        upgrade(empty_db_url, migrations_dir=migrations)

    assert (
        f"migration 0002_baseline was changed after it was applied to database "
        f"{urlsplit(empty_db_url).path[1:]!r}"
    ) in str(error.value)
    assert f"(checksum {changed_checksum} != {applied_checksum} recorded)" in str(error.value)
    # Nothing ran: neither the edit nor the next migration.
    assert "sneaked_in" not in public_tables(empty_db_url)
    by_id = {s.id: s for s in status(empty_db_url, migrations_dir=migrations)}
    assert not by_id["0003_execution_layer"].applied
    assert by_id["0002_baseline"].applied and not by_id["0002_baseline"].checksum_ok
    assert by_id["0001_auth_compat"].checksum_ok


def test_an_applied_migration_whose_file_is_gone_stops_the_upgrade(
    empty_db_url: str, tmp_path: Path
) -> None:
    migrations = copy_migrations(tmp_path, ["0001_auth_compat", "0002_baseline"])
    upgrade(empty_db_url, migrations_dir=migrations)
    (migrations / "0002_baseline.sql").unlink()

    with pytest.raises(MigrationError, match=r"migration 0002_baseline is applied .* no such file"):
        upgrade(empty_db_url, migrations_dir=migrations)


def test_a_failing_migration_is_rolled_back_whole_and_not_recorded(
    empty_db_url: str, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_first.sql").write_text("create table first_table (id int);\n")
    broken = migrations / "0002_broken.sql"
    broken.write_text(
        "-- depends: 0001_first\n"
        "create table second_table (id int);\n"
        "insert into second_table values (1);\n"
        "select 1 / 0;\n"
    )

    with pytest.raises(MigrationError) as error:
        upgrade(empty_db_url, migrations_dir=migrations)

    assert "migration 0002_broken failed" in str(error.value)
    assert "division by zero" in str(error.value)
    assert "rolled back" in str(error.value)
    assert public_tables(empty_db_url) >= {"first_table"}
    assert "second_table" not in public_tables(empty_db_url)
    assert [(s.id, s.applied) for s in status(empty_db_url, migrations_dir=migrations)] == [
        ("0001_first", True),
        ("0002_broken", False),
    ]
    with psycopg.connect(empty_db_url) as conn:
        assert one(conn, "select count(*) from schema_migration_checksums") == 1

    broken.write_text("-- depends: 0001_first\ncreate table second_table (id int);\n")
    assert upgrade(empty_db_url, migrations_dir=migrations) == ["0002_broken"]


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = "postgresql://recomamp:s3cret-pw@127.0.0.1:1/nowhere_db"

    with pytest.raises(MigrationError) as error:
        upgrade(url)

    message = str(error.value)
    assert "cannot connect to database 'nowhere_db' on 127.0.0.1:1" in message
    assert "s3cret-pw" not in message
    assert "s3cret-pw" not in repr(error.value.__cause__)
    with pytest.raises(MigrationError, match="cannot connect to database 'nowhere_db'"):
        status(url)


def test_a_url_that_cannot_be_parsed_gives_a_clear_error_without_echoing_it() -> None:
    with pytest.raises(MigrationError, match="cannot be parsed") as error:
        upgrade("postgresql://user:pass%zzword@host/db")

    assert "pass" not in str(error.value).replace("postgresql://user@host", "")


def test_a_read_only_database_is_refused_and_left_as_it_was(
    empty_db_url: str, pg_admin_url: str
) -> None:
    name = urlsplit(empty_db_url).path[1:]
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("alter database {} set default_transaction_read_only = on").format(
                sql.Identifier(name)
            )
        )

    with pytest.raises(MigrationError) as error:
        upgrade(empty_db_url)

    assert str(error.value) == (
        f"database {name!r} on {_where(empty_db_url)} is read-only: its sessions start read-only "
        "(default_transaction_read_only is on); no migration was applied"
    )
    assert public_tables(empty_db_url) == set()
    assert not any(s.applied for s in status(empty_db_url))


def _where(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    host = dict(pair.split("=", 1) for pair in parts.query.split("&"))["host"]
    return host


def test_upgrade_works_beside_dagsters_alembic_version_table(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("create schema dagster")
        for schema in ("dagster", "public"):
            conn.execute(
                sql.SQL(
                    "create table {}.alembic_version (version_num varchar(32) primary key)"
                ).format(sql.Identifier(schema))
            )
            conn.execute(
                sql.SQL("insert into {}.alembic_version values ('b601eb913efa')").format(
                    sql.Identifier(schema)
                )
            )

    assert upgrade(empty_db_url) == ALL_MIGRATIONS

    with psycopg.connect(empty_db_url) as conn:
        for schema in ("dagster", "public"):
            rows = conn.execute(
                sql.SQL("select version_num from {}.alembic_version").format(sql.Identifier(schema))
            ).fetchall()
            assert rows == [("b601eb913efa",)]
    assert upgrade(empty_db_url) == []


def _url_forms(url: str) -> list[str]:
    """The URL as given, with the driver-qualified schemes, and its other transport if any."""
    parts = urlsplit(url)
    forms = [
        url,
        "postgresql+psycopg" + url[len(parts.scheme) :],
        "postgres" + url[len(parts.scheme) :],
    ]
    socket_dir = Path("/var/run/postgresql")
    if parts.hostname == "127.0.0.1" and (socket_dir / f".s.PGSQL.{parts.port or 5432}").exists():
        user = parts.username or "postgres"
        forms.append(f"postgresql://{user}:@{parts.path}?host={socket_dir}&port={parts.port}")
        forms.append(
            f"postgresql://{user}@{quote(str(socket_dir), safe='')}:{parts.port}{parts.path}"
        )
    if not parts.hostname and "host=" in parts.query:
        host = _where(url)
        forms.append(
            urlunsplit(
                (parts.scheme, f"{parts.username}@{quote(host, safe='')}", parts.path, "", "")
            )
        )
    return forms


def test_every_url_form_of_the_same_database_reaches_it(empty_db_url: str) -> None:
    forms = _url_forms(empty_db_url)
    assert len(forms) >= 4

    assert upgrade(forms[0]) == ALL_MIGRATIONS
    for form in forms[1:]:
        assert upgrade(form) == [], form
        assert all(s.applied for s in status(form)), form


def test_concurrent_upgrades_apply_each_migration_once(empty_db_url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            results.append(upgrade(empty_db_url))
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results, key=len) == [[], [], ALL_MIGRATIONS]
    with psycopg.connect(empty_db_url) as conn:
        assert one(conn, "select count(*) from _yoyo_migration") == len(ALL_MIGRATIONS)


def test_checksums_are_backfilled_for_migrations_applied_by_yoyo_itself(
    empty_db_url: str, tmp_path: Path
) -> None:
    from yoyo import get_backend, read_migrations

    migrations = copy_migrations(tmp_path, ["0001_auth_compat"])
    yoyo_url = "postgresql+psycopg" + empty_db_url[len(urlsplit(empty_db_url).scheme) :]
    backend = get_backend(yoyo_url)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(migrations))))
    backend.connection.close()

    assert upgrade(empty_db_url, migrations_dir=migrations) == []

    with psycopg.connect(empty_db_url) as conn:
        recorded = one(
            conn,
            "select checksum from schema_migration_checksums where migration_id = %s",
            ("0001_auth_compat",),
        )
    assert (
        recorded == hashlib.sha256((migrations / "0001_auth_compat.sql").read_bytes()).hexdigest()
    )


def test_migration_bookkeeping_is_out_of_reach_of_signed_in_users(
    db_conn: psycopg.Connection[Any],
) -> None:
    for table in ("_yoyo_migration", "_yoyo_log", "yoyo_lock", "schema_migration_checksums"):
        with db_conn.transaction(force_rollback=True):
            db_conn.execute("set local role authenticated")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db_conn.execute(sql.SQL("select * from {}").format(sql.Identifier(table)))
        relrowsecurity = one(
            db_conn, "select relrowsecurity from pg_class where oid = %s::regclass", (table,)
        )
        assert relrowsecurity, table


def test_a_migration_cannot_opt_out_of_its_transaction(empty_db_url: str, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_concurrently.sql").write_text(
        "-- transactional: false\ncreate table t (id int);\n"
    )

    with pytest.raises(MigrationError, match="0001_concurrently is marked `transactional: false`"):
        upgrade(empty_db_url, migrations_dir=migrations)
    assert public_tables(empty_db_url) == set()


def test_results_tables_made_before_0013_keep_their_rows_with_decimals_as_doubles(
    empty_db_url: str, tmp_path: Path
) -> None:
    before = [name for name in ALL_MIGRATIONS if name < "0013"]
    upgrade(empty_db_url, migrations_dir=copy_migrations(tmp_path, before))
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("create table results.workflow_old (week_start_date date, acos numeric)")
        conn.execute("insert into results.workflow_old values ('2024-01-01', 0.125), (null, null)")
        conn.execute("create unlogged table results_staging.exec_left (acos double precision)")

    assert upgrade(empty_db_url) == [name for name in ALL_MIGRATIONS if name >= "0013"]

    with psycopg.connect(empty_db_url) as conn:
        assert (
            one(
                conn,
                "select data_type from information_schema.columns "
                "where table_schema = 'results' and table_name = 'workflow_old' "
                "and column_name = 'acos'",
            )
            == "double precision"
        )
        rows = conn.execute("select acos from results.workflow_old order by 1").fetchall()
        assert rows == [(0.125,), (None,)]
        assert one(conn, "select to_regnamespace('results_staging')") is None
