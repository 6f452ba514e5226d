"""AMC's account-wide limit next to each instance's: the weeks of several instances of one account.

AMC runs at most 10 executions at once per instance and 200 per account across its instances.
The first test lowers an account's limit to 12 (amc_accounts.max_concurrent_executions) over
three instances whose collections ask for 11 + 3 + 3 weeks at once, each collection run by a
process of its own as separate runs are. The simulator's clock is frozen, so nothing AMC runs
ends until the test lets time go on: what AMC holds at that moment is everything the pipeline
ever had in flight. The second counts the slots at AMC's own 200 over 21 instances.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from recomamp_pipelines.attempt.slots import release_slot
from recomamp_pipelines.collections.context import load_collection
from recomamp_pipelines.collections.management import create_collection
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.sample.account import sample_range
from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.templates.sync import sync
from recomamp_pipelines.templates.workflows import create_workflow
from recomamp_pipelines.users import save_user
from tests.attempt.conftest import Account, WeeksProcess

INSTANCES = ("amcaccount01", "amcaccount02", "amcaccount03")
WEEKS = {"amcaccount01": 11, "amcaccount02": 3, "amcaccount03": 3}
ACCOUNT_LIMIT = 12
INSTANCE_LIMIT = 10
OWNER = "multi.instance@example.com"
WAIT_SECONDS = 60
#: The simulator runs each week's query for real: on a busy machine, publishing takes a while.
PUBLISH_SECONDS = 180


def wait_until(
    what: str,
    reached: Any,
    processes: list[WeeksProcess],
    state: Any = lambda: "",
    seconds: float = WAIT_SECONDS,
) -> None:
    deadline = time.monotonic() + seconds
    while not reached():
        for process in processes:
            if process.process.poll() is not None:
                pytest.fail(
                    f"a weeks process ended ({process.process.returncode}) before {what}:\n"
                    + process.log.read_text(errors="replace")[-4000:]
                )
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:g} s {state()}")
        time.sleep(0.1)


def in_flight_by_instance(simulator: Any) -> Counter[str]:
    """Executions AMC was given, per instance: with its clock frozen, all are still in flight."""
    counted: Counter[str] = Counter()
    for submission in simulator.counters()["submissions"]:
        counted[submission["instance_id"]] += submission["count"]
    return counted


@pytest.mark.scale
def test_an_account_s_instances_together_stay_within_its_limit_and_each_within_its_own(
    recomamp_env: dict[str, str],
    db_url: str,
    amc_simulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    simulator = amc_simulator_factory(
        instance_ids=INSTANCES,
        execution_seconds=1,
        clock=datetime.now(UTC),
        freeze_clock=True,
    )
    env = simulator.settings_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    today = datetime.now(UTC).date()
    collections = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync(conn)
        save_user(
            conn,
            TokenCipher.from_settings(settings),
            email=OWNER,
            refresh_token=simulator.refresh_tokens[0],
            timezone="UTC",
            full_name="Multi Instance",
        )
        (account_row,) = conn.execute(
            "insert into amc_accounts (account_id, account_name, max_concurrent_executions) "
            "values (%s, 'Multi-instance brand', %s) returning id",
            (simulator.advertiser_id, ACCOUNT_LIMIT),
        ).fetchone()  # type: ignore[misc]
        for instance in INSTANCES:
            conn.execute(
                "insert into amc_instances (instance_id, name, user_id, account_id) "
                "select %s, %s, id, %s from users where email = %s",
                (instance, f"Instance {instance}", account_row, OWNER),
            )
            name = f"Weekly DSP on {instance}"
            create_workflow(
                conn,
                user_email=OWNER,
                amc_instance_id=instance,
                template_name="weekly_dsp_performance",
                values={},
                name=name,
            )
            start, end = sample_range(today, WEEKS[instance], settings.week_start_day)
            collections[instance] = create_collection(
                conn, user_email=OWNER, workflow=name, start_date=start, end_date=end, today=today
            )
    account = Account(db_url, simulator, settings, {**recomamp_env, **env})
    processes = []
    try:
        for instance, collection_id in collections.items():
            with psycopg.connect(db_url) as conn:
                weeks = load_collection(conn, collection_id).weeks(settings.week_start_day)
            assert len(weeks) == WEEKS[instance]
            processes.append(
                WeeksProcess(account, collection_id, weeks, False, tmp_path / f"{instance}.log")
            )
        wanted = sum(WEEKS.values())

        def attempts() -> tuple[int, int]:
            (row,) = account.rows(
                "select count(*) filter (where amc_execution_id is not null) as submitted, "
                "count(*) filter (where status = 'PENDING' and amc_execution_id is null) "
                "as waiting from workflow_executions"
            )
            return int(row["submitted"]), int(row["waiting"])

        wait_until(
            f"{ACCOUNT_LIMIT} executions submitted and the other {wanted - ACCOUNT_LIMIT} "
            "waiting for a slot",
            lambda: attempts() == (ACCOUNT_LIMIT, wanted - ACCOUNT_LIMIT),
            processes,
        )
        # Waiters look again every second: none of them gets past the limit meanwhile.
        time.sleep(3)
        assert attempts() == (ACCOUNT_LIMIT, wanted - ACCOUNT_LIMIT)
        held = in_flight_by_instance(simulator)
        assert sum(held.values()) == ACCOUNT_LIMIT
        assert all(held[instance] <= INSTANCE_LIMIT for instance in INSTANCES), held
        statuses = simulator.counters()["executions_by_status"]
        assert statuses.get("PENDING", 0) + statuses.get("RUNNING", 0) == ACCOUNT_LIMIT
        ((slots,),) = [account.rows("select count(*) as held from amc_instance_slots")]
        assert slots["held"] == ACCOUNT_LIMIT

        def week_statuses() -> Counter[str]:
            return Counter(
                row["status"] for c in collections.values() for row in account.weeks(c).values()
            )

        simulator.real_clock()
        wait_until(
            "every week published",
            lambda: all(p.process.poll() is not None for p in processes),
            [],
            lambda: (
                f"(AMC {simulator.counters()['executions_by_status']}, weeks {week_statuses()})"
            ),
            PUBLISH_SECONDS,
        )
        for process in processes:
            process.process.wait(timeout=WAIT_SECONDS)
            assert process.process.returncode == 0, process.log.read_text(errors="replace")
    finally:
        for process in processes:
            process.kill()

    counters = simulator.counters()
    assert counters["executions_created"] == wanted
    assert counters["executions_by_status"] == {"SUCCEEDED": wanted}
    assert in_flight_by_instance(simulator) == Counter(WEEKS)
    for instance, collection_id in collections.items():
        statuses = {row["status"] for row in account.weeks(collection_id).values()}
        assert statuses == {"SUCCESS"}, instance
    assert account.slots() == 0


def test_amcs_account_limit_of_200_holds_over_21_instances_of_10(db_url: str) -> None:
    instances, per_instance = 21, 10
    with psycopg.connect(db_url, autocommit=True) as conn:
        (user_id,) = conn.execute(
            "insert into users (email) values (%s) returning id", (OWNER,)
        ).fetchone()  # type: ignore[misc]
        (account_id, limit) = conn.execute(
            "insert into amc_accounts (account_id, account_name) values ('ENTITYWIDE', 'Wide') "
            "returning id, max_concurrent_executions"
        ).fetchone()  # type: ignore[misc]
        assert limit == 200
        waiting = []
        for n in range(instances):
            (row_id,) = conn.execute(
                "insert into amc_instances (instance_id, name, user_id, account_id) "
                "values (%s, %s, %s, %s) returning id",
                (f"amcwide{n:02d}", f"Instance {n}", user_id, account_id),
            ).fetchone()  # type: ignore[misc]
            (workflow_id,) = conn.execute(
                "insert into workflows (name, sql_query, user_id, instance_id) "
                "values ('weekly', 'select 1', %s, %s) returning id",
                (user_id, row_id),
            ).fetchone()  # type: ignore[misc]
            for m in range(per_instance):
                # Older first: instance by instance, so the 21st instance's come last.
                age = (instances * per_instance - n * per_instance - m) * 10
                (execution_id,) = conn.execute(
                    "insert into workflow_executions "
                    "(workflow_id, user_id, instance_id, status, created_at, heartbeat_at) "
                    "values (%s, %s, %s, 'PENDING', now() - make_interval(secs => %s), now()) "
                    "returning id",
                    (workflow_id, user_id, row_id, age),
                ).fetchone()  # type: ignore[misc]
                waiting.append((n, row_id, execution_id))

        def claim(row_id: object, execution_id: object) -> int | None:
            (slot,) = conn.execute(
                "select claim_amc_instance_slot(%s, %s)", (row_id, execution_id)
            ).fetchone()  # type: ignore[misc]
            return int(slot) if slot is not None else None

        granted = {(n, e): claim(row_id, e) for n, row_id, e in waiting}
        held = Counter(n for (n, _), slot in granted.items() if slot is not None)
        assert sum(held.values()) == 200
        assert held == Counter({n: per_instance for n in range(20)})
        assert [slot for (n, _), slot in granted.items() if n == 20] == [None] * per_instance
        (counted,) = conn.execute(
            "select count(*) from amc_instance_slots where account_id = %s", (account_id,)
        ).fetchone()  # type: ignore[misc]
        assert counted == 200
        # What the pipeline does with a slot: it submits, and AMC runs the execution.
        conn.execute(
            "update workflow_executions set status = 'RUNNING', amc_execution_id = id::text "
            "where id in (select execution_id from amc_instance_slots)"
        )

        # AMC ends an execution of the first instance: the account's oldest waiter, on the 21st
        # instance, takes the account's freed place on its own instance.
        first = waiting[0][2]
        release_slot(conn, first)
        _, last_row, oldest_waiter = waiting[20 * per_instance]
        assert claim(last_row, oldest_waiter) == 1
        assert claim(last_row, waiting[20 * per_instance + 1][2]) is None
