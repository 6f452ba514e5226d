"""`recomamp collections`: creation with validation, pause and resume, range changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.collections.registration import register_collections
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.sample.account import load_sample_account, sample_users
from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.weeks.calendar import weeks_overlapping

runner = CliRunner()
USER = "ana.analyst@example.com"
WORKFLOW = "Weekly DSP performance"


@pytest.fixture
def account(recomamp_env: dict[str, str], db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        load_sample_account(
            conn,
            TokenCipher.from_settings(load_settings()),
            sample_users(["Atzr|a", "Atzr|b"], ["amcone", "amctwo"]),
            today=datetime.now(UTC).date(),
        )
    return db_url


def count_collections(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select count(*) from report_data_collections").fetchone()
    assert row is not None
    return int(row[0])


def test_create_validates_the_range_and_writes_nothing_on_error(account: str) -> None:
    before = count_collections(account)
    backwards = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            USER,
            "--workflow",
            WORKFLOW,
            "--from",
            "2026-10-10",
            "--to",
            "2026-10-01",
        ],
    )
    assert backwards.exit_code == 1
    assert "the end date is before the start date" in backwards.output
    too_old = (datetime.now(UTC).date() - timedelta(days=500)).isoformat()
    old = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            USER,
            "--workflow",
            WORKFLOW,
            "--from",
            too_old,
            "--to",
            date.today().isoformat(),
        ],
    )
    assert old.exit_code == 1
    assert "13-month history" in old.output
    bad_date = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            USER,
            "--workflow",
            WORKFLOW,
            "--from",
            "2026-13-01",
            "--to",
            "2026-10-01",
        ],
    )
    assert bad_date.exit_code == 1
    assert "'2026-13-01': expected a date as YYYY-MM-DD" in bad_date.output
    unknown = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            USER,
            "--workflow",
            "No such workflow",
            "--from",
            "2026-09-01",
            "--to",
            "2026-10-01",
        ],
    )
    assert unknown.exit_code == 1
    assert "has no workflow 'No such workflow'" in unknown.output
    assert count_collections(account) == before


def test_create_pause_resume_by_collection_id(account: str) -> None:
    start = datetime.now(UTC).date() - timedelta(days=60)
    created = runner.invoke(
        app,
        [
            "collections",
            "create",
            "--user",
            USER,
            "--workflow",
            WORKFLOW,
            "--from",
            start.isoformat(),
            "--to",
            (start + timedelta(days=20)).isoformat(),
            "--name",
            "Autumn",
        ],
    )
    assert created.exit_code == 0, created.output
    collection_id = created.output.split()[-1].rstrip(".")
    paused = runner.invoke(app, ["collections", "pause", collection_id])
    assert paused.exit_code == 0, paused.output
    assert "ACTIVE -> PAUSED" in paused.output
    with psycopg.connect(account) as conn:
        assert conn.execute(
            "select status from report_data_collections where id = %s", (collection_id,)
        ).fetchone() == ("PAUSED",)
    resumed = runner.invoke(app, ["collections", "resume", collection_id])
    assert "PAUSED -> ACTIVE" in resumed.output
    missing = runner.invoke(app, ["collections", "pause", "00000000-0000-0000-0000-000000000000"])
    assert missing.exit_code == 1
    assert "no collection with id" in missing.output
    listed = runner.invoke(app, ["collections", "list", "--user", USER])
    assert "Autumn" in listed.output


def test_a_changed_range_adds_and_removes_only_pending_weeks(account: str) -> None:
    with psycopg.connect(account, autocommit=True) as conn:
        register_collections(conn, 0)
        collection_id, start, end = conn.execute(
            "select id, start_date, end_date from report_data_collections "
            "where name = 'DSP weekly 2026'"
        ).fetchone()  # type: ignore[misc]
        first_week = conn.execute(
            "select min(week_start_date) from report_data_weeks where collection_id = %s",
            (collection_id,),
        ).fetchone()[0]  # type: ignore[index]
        # The first week holds a result: a shrunk range must keep it.
        conn.execute(
            "update report_data_weeks set status = 'SUCCESS', data_checksum = repeat('a', 64) "
            "where collection_id = %s and week_start_date = %s",
            (collection_id, first_week),
        )
        conn.execute(
            "update report_data_collections set start_date = %s, end_date = %s where id = %s",
            (start + timedelta(days=14), end + timedelta(days=7), collection_id),
        )
        registered = register_collections(conn, 0)
        weeks = [
            row[0]
            for row in conn.execute(
                "select week_start_date from report_data_weeks where collection_id = %s order by 1",
                (collection_id,),
            ).fetchall()
        ]
        total = conn.execute(
            "select total_weeks from report_data_collections where id = %s", (collection_id,)
        ).fetchone()
    assert [r.collection_id for r in registered] == [collection_id]
    assert weeks[0] == first_week  # kept: it has a result
    assert first_week + timedelta(days=7) not in weeks  # dropped: it was only PENDING
    assert weeks[-1] == end + timedelta(days=1)  # the added week (ranges end on Sundays)
    assert total == (len(weeks),)


def test_registration_in_batches_registers_every_collection_once(account: str) -> None:
    with psycopg.connect(account, autocommit=True) as conn:
        collections = conn.execute(
            "select id, start_date, end_date from report_data_collections"
        ).fetchall()
        assert len(collections) >= 2, "the sample account needs collections for two batches"
        registered = register_collections(conn, 0, batch=1)
        again = register_collections(conn, 0, batch=1)
        rows = conn.execute(
            "select c.id, c.partition_key, c.total_weeks, count(w.id), min(w.week_start_date), "
            "max(w.week_start_date) from report_data_collections as c "
            "left join report_data_weeks as w on w.collection_id = c.id group by c.id"
        ).fetchall()
    assert sorted(r.collection_id for r in registered) == sorted(c[0] for c in collections)
    assert again == []
    by_id = {r.collection_id: r for r in registered}
    ranges = {c[0]: weeks_overlapping(c[1], c[2], 0) for c in collections}
    for collection_id, key, total, count, first, last in rows:
        weeks = ranges[collection_id]
        assert key == by_id[collection_id].partition_key
        assert total == count == len(weeks) == by_id[collection_id].week_count
        assert (first, last) == (weeks[0].start_date, weeks[-1].start_date)
