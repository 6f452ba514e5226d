"""`recomamp schedules`: create, list, pause, resume and preview, as a user types them."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from recomamp_pipelines.cli import app
from recomamp_pipelines.scheduling.cadence import Cadence
from recomamp_pipelines.scheduling.claims import claim_due_ticks
from recomamp_pipelines.scheduling.manage import ScheduleInputError, create_schedule
from tests.scheduling.helpers import Owner, add_owner, add_schedule, schedule_row

runner = CliRunner()


@pytest.fixture
def owner(recomamp_env: dict[str, str], db_conn: psycopg.Connection) -> Owner:
    return add_owner(db_conn)


def invoke(*args: str) -> str:
    result = runner.invoke(app, ["schedules", *args])
    assert result.exit_code == 0, result.output
    return result.output


def created_id(output: str) -> uuid.UUID:
    match = re.search(r"Created schedule ([0-9a-f-]{36})", output)
    assert match, output
    return uuid.UUID(match.group(1))


def test_every_command_has_help() -> None:
    for command in ("create", "list", "pause", "resume", "preview"):
        assert "Usage" in invoke(command, "--help")


def test_create_stores_the_cadence_in_the_users_time_zone(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    output = invoke(
        "create",
        "--user",
        owner.email,
        "--workflow",
        "Weekly report",
        "--preset",
        "weekly",
        "--weekday",
        "0",
        "--at",
        "06:30",
        "--lookback-days",
        "14",
        "--param",
        "limit=100",
        "--param",
        "label=brand",
        "--auto-pause-after",
        "3",
        "--name",
        "Monday report",
    )

    row = schedule_row(db_conn, created_id(output))
    assert (row["schedule_type"], row["cron_expression"], row["timezone"]) == (
        "cron",
        "30 6 * * 1",
        "America/New_York",
    )
    assert (row["lookback_days"], row["parameters"]) == (14, {"limit": 100, "label": "brand"})
    assert (row["auto_pause_on_failure"], row["failure_threshold"]) == (True, 3)
    assert row["next_run_at"] > datetime.now(UTC)
    assert "first run" in output


def test_create_every_n_days_keeps_the_anchor_and_local_time(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    output = invoke(
        "create",
        "--user",
        owner.email,
        "--workflow",
        str(owner.workflow_id),
        "--every-days",
        "14",
        "--anchor",
        "2025-01-06",
        "--at",
        "09:15",
        "--timezone",
        "Europe/Berlin",
    )

    row = schedule_row(db_conn, created_id(output))
    assert (row["schedule_type"], row["interval_days"], str(row["anchor_date"])) == (
        "interval",
        14,
        "2025-01-06",
    )
    assert (str(row["time_of_day"]), row["timezone"], row["cron_expression"]) == (
        "09:15:00",
        "Europe/Berlin",
        None,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "61 * * * *"], "minute must be 0-59, got '61'"),
        (["--cron", "0 6 * * *", "--timezone", "Mars/Base"], "timezone 'Mars/Base'"),
        (["--preset", "fortnightly"], "preset 'fortnightly'"),
        (["--every-days", "3"], "--every-days needs --anchor"),
        ([], "give exactly one of --cron, --preset or --every-days"),
    ],
)
def test_create_refuses_a_bad_cadence_naming_it(
    owner: Owner, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["schedules", "create", "--user", owner.email, "--workflow", "Weekly report", *args]
    )
    assert result.exit_code == 1
    assert message in result.output


def test_a_cron_with_a_day_of_month_step_is_refused_naming_the_preset(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    """'0 0 */14 * *' was accepted without a word although it restarts every month."""
    result = runner.invoke(
        app,
        [
            "schedules",
            "create",
            "--user",
            owner.email,
            "--workflow",
            "Weekly report",
            "--cron",
            "0 0 */14 * *",
        ],
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "day-of-month '*/14' starts over every month (days 1,15,29)" in output
    assert "use --preset biweekly --anchor YYYY-MM-DD" in output
    assert "'0 0 1,15,29 * *'" in output
    assert db_conn.execute("select count(*) from workflow_schedules").fetchone() == (0,)

    # The days listed on purpose are accepted, and so is the preset it names.
    invoke(
        "create", "--user", owner.email, "--workflow", "Weekly report", "--cron", "0 0 1,15,29 * *"
    )
    invoke(
        "create",
        "--user",
        owner.email,
        "--workflow",
        "Weekly report",
        "--preset",
        "biweekly",
        "--anchor",
        "2025-01-06",
    )
    rows = db_conn.execute(
        "select schedule_type, cron_expression, interval_days from workflow_schedules "
        "order by created_at"
    ).fetchall()
    assert rows == [("cron", "0 0 1,15,29 * *", None), ("interval", None, 14)]


def test_list_warns_about_a_stored_cron_with_a_day_of_month_step(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    schedule_id = add_schedule(
        db_conn, owner, cron="0 0 */14 * *", next_run_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    output = " ".join(invoke("list", "--user", owner.email).split())
    assert f"warning: schedule {schedule_id}" in output
    assert "starts over every month (days 1,15,29)" in output
    assert "--preset biweekly --anchor YYYY-MM-DD" in output


def test_the_domain_refuses_a_day_of_month_step_whatever_calls_it(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    for cadence in (
        Cadence.cron("0 6 */3 * *", "UTC"),
        Cadence.cron("0 6 1-31/10 * *", "Europe/Berlin"),
    ):
        with pytest.raises(ScheduleInputError, match="starts over every month"):
            create_schedule(
                db_conn,
                user_email=owner.email,
                workflow="Weekly report",
                cadence=cadence,
                now=datetime(2025, 1, 1, tzinfo=UTC),
            )
    assert db_conn.execute("select count(*) from workflow_schedules").fetchone() == (0,)


def test_pause_and_resume(db_conn: psycopg.Connection, owner: Owner) -> None:
    schedule_id = add_schedule(
        db_conn, owner, next_run_at=datetime(2025, 1, 1, tzinfo=UTC), consecutive_failures=2
    )

    assert "active -> paused" in invoke("pause", str(schedule_id))
    assert schedule_row(db_conn, schedule_id)["is_active"] is False
    assert "paused" in invoke("list", "--user", owner.email)
    assert "paused -> active" in invoke("resume", str(schedule_id))

    row = schedule_row(db_conn, schedule_id)
    assert (row["is_active"], row["consecutive_failures"]) == (True, 0)
    # The ticks that fell in the pause are not run: the next one is after now.
    assert datetime.now(UTC) < row["next_run_at"] <= datetime.now(UTC) + timedelta(days=1)


def test_preview_json_lists_next_runs_in_each_zone_and_names_invalid_rows(
    db_conn: psycopg.Connection, owner: Owner
) -> None:
    start = datetime(2025, 3, 8, 12, tzinfo=UTC)
    new_york = add_schedule(
        db_conn,
        owner,
        cron="30 2 * * *",
        timezone="America/New_York",
        next_run_at=start,
        name="new york",
    )
    bad = add_schedule(db_conn, owner, cron="0 6 31 2 *", next_run_at=start, name="feb 31")
    add_schedule(db_conn, owner, next_run_at=start, is_active=False, name="paused")

    output = invoke("preview", "--json", "--from", "2025-03-08T12:00:00Z", "--count", "3")

    previews = {item["name"]: item for item in json.loads(output)}
    assert set(previews) == {"new york", "feb 31"}
    assert previews["new york"] == {
        "schedule_id": str(new_york),
        "name": "new york",
        "timezone": "America/New_York",
        # 02:30 does not exist on 9 March (spring forward): that run is at 03:00 EDT.
        "next_runs": [
            "2025-03-09T03:00:00-04:00",
            "2025-03-10T02:30:00-04:00",
            "2025-03-11T02:30:00-04:00",
        ],
        "error": None,
    }
    assert previews["feb 31"]["schedule_id"] == str(bad)
    assert previews["feb 31"]["next_runs"] == []
    assert "never fires" in previews["feb 31"]["error"]

    # The sensor fires at exactly the previewed instants.
    for text in previews["new york"]["next_runs"]:
        moment = datetime.fromisoformat(text)
        claimed = claim_due_ticks(db_conn, moment).claimed
        assert [c.scheduled_at for c in claimed if c.schedule_id == new_york] == [moment]


def test_preview_as_text_and_a_naive_from_is_refused(
    owner: Owner, db_conn: psycopg.Connection
) -> None:
    add_schedule(
        db_conn,
        owner,
        cron="0 9 * * 1",
        timezone="Europe/Berlin",
        next_run_at=datetime(2025, 1, 1, tzinfo=UTC),
        name="berlin",
    )

    output = invoke("preview", "--from", "2025-01-01T00:00:00+00:00", "--count", "1")
    assert "berlin" in output and "2025-01-06T09:00:00+01:00" in output

    result = runner.invoke(app, ["schedules", "preview", "--from", "2025-01-01T00:00"])
    assert result.exit_code == 1
    assert "no UTC offset" in result.output
