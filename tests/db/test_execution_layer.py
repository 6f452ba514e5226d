"""What the later migrations add for the execution layer (0003-0007)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.db.conftest import Tenants
from tests.db.helpers import acting_as, attempt, one

Conn = psycopg.Connection[Any]


def test_a_collection_has_each_week_once(db_conn: Conn, tenants: Tenants) -> None:
    """Defect 27: duplicate week rows (the original's duplicate runs) were possible."""
    with pytest.raises(errors.UniqueViolation, match="uq_report_data_weeks_collection_week"):
        db_conn.execute(
            "insert into report_data_weeks (collection_id, week_start_date, week_end_date) "
            "values (%s, '2024-01-01', '2024-01-07')",
            (tenants.a.collection_id,),
        )


def test_a_week_ends_on_or_after_its_start_but_may_be_any_length(
    db_conn: Conn, tenants: Tenants
) -> None:
    insert = (
        "insert into report_data_weeks (collection_id, week_start_date, week_end_date) "
        "values (%s, %s, %s)"
    )
    db_conn.execute(insert, (tenants.a.collection_id, "2024-02-05", "2024-02-05"))
    db_conn.execute(insert, (tenants.a.collection_id, "2024-03-04", "2024-03-17"))

    with pytest.raises(errors.CheckViolation, match="chk_week_end_date_not_before_start_date"):
        db_conn.execute(insert, (tenants.a.collection_id, "2024-04-08", "2024-04-07"))


def test_a_weeks_data_checksum_is_a_sha256(db_conn: Conn, tenants: Tenants) -> None:
    checksum = hashlib.sha256(b"rows").hexdigest()
    update = "update report_data_weeks set data_checksum = %s where id = %s"

    db_conn.execute(update, (checksum, tenants.a.week_id))
    for wrong in (checksum.upper(), checksum[:40], "sha256:" + checksum):
        with pytest.raises(errors.CheckViolation), attempt(db_conn):
            db_conn.execute(update, (wrong, tenants.a.week_id))


def test_inserts_written_against_the_document_still_work(db_conn: Conn, tenants: Tenants) -> None:
    a = tenants.a
    execution = one(
        db_conn,
        "insert into workflow_executions (workflow_id, user_id) values (%s, %s) returning id",
        (a.workflow_id, a.user_id),
    )
    schedule = one(
        db_conn,
        "insert into workflow_schedules (name, cron_expression, workflow_id, user_id, "
        "next_run_at) values ('daily', '0 6 * * *', %s, %s, now()) returning id",
        (a.workflow_id, a.user_id),
    )
    db_conn.execute(
        "insert into schedule_runs (schedule_id, execution_id, status) values (%s, %s, 'SUCCESS')",
        (schedule, execution),
    )
    db_conn.execute(
        "insert into query_templates (name, category, sql_template) values ('t', 'c', 'select 1')"
    )

    row = db_conn.execute(
        "select schedule_type, consecutive_failures, auto_pause_on_failure "
        "from workflow_schedules where id = %s",
        (schedule,),
    ).fetchone()
    assert row == ("cron", 0, False)
    assert one(db_conn, "select version from query_templates where name = 't'") == 1


def active_execution(conn: Conn, tenants: Tenants, status: str = "PENDING") -> uuid.UUID:
    a = tenants.a
    execution: uuid.UUID = one(
        conn,
        "insert into workflow_executions (workflow_id, user_id, collection_id, "
        "week_start_date, status) values (%s, %s, %s, '2024-01-01', %s) returning id",
        (a.workflow_id, a.user_id, a.collection_id, status),
    )
    return execution


def test_one_unfinished_execution_per_collection_week(db_conn: Conn, tenants: Tenants) -> None:
    first = active_execution(db_conn, tenants)

    with pytest.raises(errors.UniqueViolation, match="uq_workflow_executions_one_active_per_week"):
        active_execution(db_conn, tenants, "RUNNING")

    db_conn.execute("update workflow_executions set status = 'FAILED' where id = %s", (first,))
    retry = active_execution(db_conn, tenants)
    db_conn.execute("update workflow_executions set status = 'SUCCESS' where id = %s", (retry,))
    active_execution(db_conn, tenants)
    assert (
        one(
            db_conn,
            "select count(*) from workflow_executions where collection_id = %s",
            (tenants.a.collection_id,),
        )
        == 3
    )


def test_an_execution_outlives_its_collection_and_instance(db_conn: Conn, tenants: Tenants) -> None:
    a = tenants.a
    execution = active_execution(db_conn, tenants, "SUCCESS")
    db_conn.execute(
        "update workflow_executions set instance_id = %s where id = %s", (a.instance_id, execution)
    )
    other_workflow_instance = one(
        db_conn,
        "insert into amc_instances (instance_id, name, user_id, account_id) "
        "values ('amcother', 'other', %s, %s) returning id",
        (a.user_id, a.account_id),
    )
    db_conn.execute(
        "update workflows set instance_id = %s where id = %s",
        (other_workflow_instance, a.workflow_id),
    )
    db_conn.execute(
        "update report_data_collections set instance_id = %s where id = %s",
        (other_workflow_instance, a.collection_id),
    )

    db_conn.execute("delete from report_data_collections where id = %s", (a.collection_id,))
    db_conn.execute("delete from amc_instances where id = %s", (a.instance_id,))

    row = db_conn.execute(
        "select user_id, collection_id, instance_id, week_start_date::text "
        "from workflow_executions where id = %s",
        (execution,),
    ).fetchone()
    assert row == (a.user_id, None, None, "2024-01-01")


def test_an_amc_time_window_cannot_end_before_it_starts(db_conn: Conn, tenants: Tenants) -> None:
    with pytest.raises(errors.CheckViolation, match="chk_execution_time_window"):
        db_conn.execute(
            "update workflow_executions set time_window_start = '2024-01-08T00:00:00', "
            "time_window_end = '2024-01-01T00:00:00' where id = %s",
            (tenants.a.execution_id,),
        )


@pytest.mark.parametrize(
    ("columns", "valid"),
    [
        ({"schedule_type": "cron", "cron_expression": "0 6 * * 1"}, True),
        ({"schedule_type": "cron", "cron_expression": None}, False),
        (
            {
                "schedule_type": "interval",
                "cron_expression": None,
                "interval_days": 3,
                "anchor_date": "2024-01-01",
            },
            True,
        ),
        ({"schedule_type": "interval", "cron_expression": None, "interval_days": 3}, False),
        (
            {"schedule_type": "interval", "cron_expression": None, "anchor_date": "2024-01-01"},
            False,
        ),
        (
            {
                "schedule_type": "interval",
                "interval_days": 0,
                "anchor_date": "2024-01-01",
                "cron_expression": None,
            },
            False,
        ),
        ({"schedule_type": "weekly", "cron_expression": "0 6 * * 1"}, False),
        ({"cron_expression": "0 6 * * 1", "lookback_days": 0}, False),
        ({"cron_expression": "0 6 * * 1", "day_of_week": 7}, False),
        ({"cron_expression": "0 6 * * 1", "day_of_month": 32}, False),
        ({"cron_expression": "0 6 * * 1", "failure_threshold": 0}, False),
        (
            {
                "cron_expression": "0 0 1 * *",
                "day_of_month": 1,
                "lookback_days": 30,
                "window_size_days": 30,
                "date_range_type": "rolling",
                "auto_pause_on_failure": True,
                "failure_threshold": 3,
            },
            True,
        ),
    ],
)
def test_a_schedule_has_a_cron_or_an_interval_cadence(
    db_conn: Conn, tenants: Tenants, columns: dict[str, Any], valid: bool
) -> None:
    names = ", ".join(columns)
    placeholders = ", ".join(f"%({name})s" for name in columns)
    insert = (
        f"insert into workflow_schedules (name, workflow_id, user_id, next_run_at, {names}) "
        f"values ('s', %(workflow)s, %(user)s, now(), {placeholders})"
    )
    values = {**columns, "workflow": tenants.a.workflow_id, "user": tenants.a.user_id}

    if valid:
        db_conn.execute(insert, values)
    else:
        with pytest.raises(errors.CheckViolation):
            db_conn.execute(insert, values)


def test_schedule_runs_number_per_schedule_and_track_their_updates(
    db_conn: Conn, tenants: Tenants
) -> None:
    a = tenants.a
    db_conn.execute(
        "update schedule_runs set run_number = 1, scheduled_at = '2024-06-03 06:00+00', "
        "started_at = now(), lateness_seconds = 2.5, window_start = '2024-05-20', "
        "window_end = '2024-05-27', updated_at = '2000-01-01' where id = %s",
        (a.schedule_run_id,),
    )
    assert one(
        db_conn,
        "select updated_at > '2001-01-01' from schedule_runs where id = %s",
        (a.schedule_run_id,),
    )

    with pytest.raises(errors.UniqueViolation, match="uq_schedule_runs_run_number"):
        db_conn.execute(
            "insert into schedule_runs (schedule_id, status, run_number) values (%s, 'RUNNING', 1)",
            (a.schedule_id,),
        )


def test_a_due_tick_is_claimed_exactly_once(db_url: str, tenants: Tenants) -> None:
    claim = (
        "insert into schedule_tick_claims (schedule_id, scheduled_at, run_key) "
        "values (%s, '2024-06-10 06:00+00', %s) "
        "on conflict (schedule_id, scheduled_at) do nothing returning id"
    )
    start = threading.Barrier(8)

    def try_claim(worker: int) -> bool:
        with psycopg.connect(db_url, autocommit=True) as conn:
            start.wait()
            return (
                conn.execute(claim, (tenants.a.schedule_id, f"tick-{worker}")).fetchone()
                is not None
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(try_claim, range(8)))

    assert won.count(True) == 1
    with psycopg.connect(db_url) as conn:
        assert (
            one(
                conn,
                "select count(*) from schedule_tick_claims where schedule_id = %s "
                "and scheduled_at = '2024-06-10 06:00+00'",
                (tenants.a.schedule_id,),
            )
            == 1
        )


def test_tick_claim_statuses_are_checked(db_conn: Conn, tenants: Tenants) -> None:
    with pytest.raises(errors.CheckViolation, match="chk_tick_claim_status"):
        db_conn.execute(
            "update schedule_tick_claims set status = 'launched' where id = %s",
            (tenants.a.tick_claim_id,),
        )
    db_conn.execute(
        "update schedule_tick_claims set status = 'LAUNCHED', attempt = 2, "
        "dagster_run_id = 'r1' where id = %s",
        (tenants.a.tick_claim_id,),
    )


def new_execution(conn: Conn, tenants: Tenants, status: str = "PENDING") -> uuid.UUID:
    execution: uuid.UUID = one(
        conn,
        "insert into workflow_executions (workflow_id, user_id, instance_id, status) "
        "values (%s, %s, %s, %s) returning id",
        (tenants.a.workflow_id, tenants.a.user_id, tenants.a.instance_id, status),
    )
    return execution


def claim(conn: Conn, instance: uuid.UUID, execution: uuid.UUID) -> int | None:
    slot: int | None = one(conn, "select claim_amc_instance_slot(%s, %s)", (instance, execution))
    return slot


def test_an_instance_gives_out_at_most_its_limit_of_slots(db_conn: Conn, tenants: Tenants) -> None:
    instance = tenants.a.instance_id
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 3 where id = %s", (instance,)
    )
    # the tenant's own RUNNING execution already holds slot 1
    executions = [new_execution(db_conn, tenants) for _ in range(3)]

    assert [claim(db_conn, instance, e) for e in executions] == [2, 3, None]
    assert claim(db_conn, instance, executions[0]) == 2  # claiming again returns the same slot

    assert one(db_conn, "select release_amc_instance_slot(%s)", (executions[0],)) is True
    assert one(db_conn, "select release_amc_instance_slot(%s)", (executions[0],)) is False
    assert claim(db_conn, instance, executions[2]) == 2


def test_a_finished_execution_gives_its_slot_back(db_conn: Conn, tenants: Tenants) -> None:
    instance = tenants.a.instance_id
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 1 where id = %s", (instance,)
    )
    waiting = new_execution(db_conn, tenants)
    assert claim(db_conn, instance, waiting) is None

    db_conn.execute(
        "update workflow_executions set status = 'RUNNING' where id = %s", (tenants.a.execution_id,)
    )
    assert claim(db_conn, instance, waiting) is None
    db_conn.execute(
        "update workflow_executions set status = 'TIMEOUT' where id = %s", (tenants.a.execution_id,)
    )
    assert claim(db_conn, instance, waiting) == 1


def waiting_execution(
    conn: Conn, tenants: Tenants, seconds_ago: int, beat_ago: int = 0
) -> uuid.UUID:
    """An execution waiting for a slot since `seconds_ago`, its heartbeat `beat_ago` old."""
    execution: uuid.UUID = one(
        conn,
        "insert into workflow_executions "
        "(workflow_id, user_id, instance_id, status, created_at, heartbeat_at) "
        "values (%s, %s, %s, 'PENDING', now() - make_interval(secs => %s), "
        "now() - make_interval(secs => %s)) returning id",
        (tenants.a.workflow_id, tenants.a.user_id, tenants.a.instance_id, seconds_ago, beat_ago),
    )
    return execution


def test_slots_go_to_the_live_executions_that_waited_longest(
    db_conn: Conn, tenants: Tenants
) -> None:
    instance = tenants.a.instance_id
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 2 where id = %s", (instance,)
    )
    # The tenant's own RUNNING execution holds slot 1; one slot is free.
    first, second, third = (waiting_execution(db_conn, tenants, ago) for ago in (30, 20, 10))

    assert claim(db_conn, instance, third) is None  # two live waiters came before it
    assert claim(db_conn, instance, second) is None
    assert claim(db_conn, instance, first) == 2

    db_conn.execute(
        "update workflow_executions set status = 'SUCCESS' where id in (%s, %s)",
        (tenants.a.execution_id, first),
    )
    # Two free slots: the two that waited longest get them, whoever asks first.
    assert claim(db_conn, instance, third) == 1
    assert claim(db_conn, instance, second) == 2


def test_a_waiter_whose_process_went_silent_loses_its_place(
    db_conn: Conn, tenants: Tenants
) -> None:
    instance = tenants.a.instance_id
    db_conn.execute(
        "update amc_instances set max_concurrent_executions = 2 where id = %s", (instance,)
    )
    silent = waiting_execution(db_conn, tenants, seconds_ago=600, beat_ago=120)
    live = waiting_execution(db_conn, tenants, seconds_ago=5)

    assert claim(db_conn, instance, live) == 2
    assert claim(db_conn, instance, silent) is None  # no slot left; it may come back later


def test_a_released_slot_is_announced_to_listeners(
    db_url: str, db_conn: Conn, tenants: Tenants
) -> None:
    instance = tenants.a.instance_id
    waiting = new_execution(db_conn, tenants)
    assert claim(db_conn, instance, waiting) is not None
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("listen amc_instance_slots")

        assert one(db_conn, "select release_amc_instance_slot(%s)", (waiting,)) is True
        notices = list(listener.notifies(timeout=10, stop_after=1))

    assert [(n.channel, n.payload) for n in notices] == [("amc_instance_slots", str(instance))]


def test_a_slot_beyond_the_limit_or_for_a_finished_execution_is_refused(
    db_conn: Conn, tenants: Tenants
) -> None:
    instance = tenants.a.instance_id
    finished = new_execution(db_conn, tenants, "SUCCESS")
    pending = new_execution(db_conn, tenants)

    with pytest.raises(errors.InvalidParameterValue, match="is SUCCESS, not PENDING or RUNNING"):
        claim(db_conn, instance, finished)
    with pytest.raises(errors.CheckViolation, match="beyond its max_concurrent_executions"):
        db_conn.execute(
            "insert into amc_instance_slots (instance_id, slot, execution_id) values (%s, 11, %s)",
            (instance, pending),
        )
    with pytest.raises(errors.ForeignKeyViolation, match="does not exist"):
        claim(db_conn, uuid.uuid4(), pending)


def test_concurrent_claims_never_exceed_the_limit(db_url: str, tenants: Tenants) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "update amc_instances set max_concurrent_executions = 4 where id = %s",
            (tenants.a.instance_id,),
        )
        executions = [new_execution(conn, tenants) for _ in range(12)]
    start = threading.Barrier(6)

    def claim_from_a_process(batch: list[uuid.UUID]) -> list[int | None]:
        with psycopg.connect(db_url, autocommit=True) as conn:
            start.wait()
            return [claim(conn, tenants.a.instance_id, execution) for execution in batch]

    with ThreadPoolExecutor(max_workers=6) as pool:
        slots = [
            s
            for batch in pool.map(claim_from_a_process, [executions[i::6] for i in range(6)])
            for s in batch
        ]

    assert sorted(s for s in slots if s is not None) == [2, 3, 4]
    assert slots.count(None) == 9


def test_signed_in_users_cannot_call_the_slot_functions(db_conn: Conn, tenants: Tenants) -> None:
    with acting_as(db_conn, tenants.a.user_id):
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            claim(db_conn, tenants.a.instance_id, tenants.a.execution_id)
        with pytest.raises(errors.InsufficientPrivilege), attempt(db_conn):
            db_conn.execute("select release_amc_instance_slot(%s)", (tenants.a.execution_id,))


def test_official_templates_have_a_stable_key_and_a_sql_checksum(db_conn: Conn) -> None:
    sql_text = "select campaign, sum(impressions) from sponsored_ads_traffic group by 1"
    insert = (
        "insert into query_templates (name, category, sql_template, template_key, sql_checksum, "
        "is_official, version) values ('Campaign reach', 'library', %s, %s, %s, true, %s)"
    )
    checksum = hashlib.sha256(sql_text.encode()).hexdigest()
    db_conn.execute(insert, (sql_text, "campaign_reach", checksum, 1))

    with pytest.raises(errors.UniqueViolation, match="uq_query_templates_template_key"):
        db_conn.execute(insert, (sql_text, "campaign_reach", checksum, 2))
    with pytest.raises(errors.CheckViolation, match="chk_query_template_sql_checksum"):
        db_conn.execute(insert, (sql_text, "other_key", "md5:abc", 1))
    with pytest.raises(errors.CheckViolation, match="chk_query_template_version"):
        db_conn.execute(insert, (sql_text, "third_key", checksum, 0))


def test_every_documented_parameter_type_is_accepted(db_conn: Conn, tenants: Tenants) -> None:
    types = [
        "asin_list",
        "campaign_list",
        "date_range",
        "date_expression",
        "campaign_filter",
        "threshold_numeric",
        "percentage",
        "enum_select",
        "string",
        "number",
        "boolean",
        "string_list",
        "mapped_from_node",
    ]
    for kind in types:
        db_conn.execute(
            "insert into query_template_parameters (template_id, parameter_name, parameter_type, "
            "display_name, description, display_order, group_name, default_value, "
            "validation_rules) values (%s, %s, %s, %s, 'd', 1, 'g', 'null', '{}')",
            (tenants.a.template_id, f"p_{kind}", kind, kind),
        )
    with pytest.raises(errors.CheckViolation):
        db_conn.execute(
            "insert into query_template_parameters (template_id, parameter_name, parameter_type, "
            "display_name) values (%s, 'x', 'json', 'x')",
            (tenants.a.template_id,),
        )


def test_the_results_schema_is_there_for_the_pipeline(db_conn: Conn) -> None:
    assert (
        one(db_conn, "select count(*) from pg_class where relnamespace = 'results'::regnamespace")
        == 0
    )
    assert one(db_conn, "select has_schema_privilege('authenticated', 'results', 'usage')")
    assert not one(db_conn, "select has_schema_privilege('authenticated', 'results', 'create')")
