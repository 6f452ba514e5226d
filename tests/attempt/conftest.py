"""A sample account wired to a live AMC simulator, for attempts run without Dagster."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from recomamp_pipelines.amc.auth import AmcConfig
from recomamp_pipelines.amc.client import AmcClient, PollPolicy
from recomamp_pipelines.amc.retry import RetryPolicy
from recomamp_pipelines.attempt.owner import AmcOwner
from recomamp_pipelines.collections.context import load_collection
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.runs.weeks import WeekOutcome, WeekRunner
from recomamp_pipelines.sample.account import load_sample_account, sample_users
from recomamp_pipelines.settings import Settings, load_settings
from recomamp_pipelines.weeks.calendar import Week

DSP = "DSP weekly 2026"
SPONSORED = "Sponsored ads weekly"
REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT_SECONDS = 120

#: A week runner in a process of its own, without Dagster: argv = collection id, refresh
#: ("true"/"false"), then the weeks' start dates.
WEEKS_PROCESS = """
import sys, uuid
from datetime import date
import psycopg
from recomamp_pipelines.amc.auth import AmcConfig
from recomamp_pipelines.amc.client import AmcClient, PollPolicy
from recomamp_pipelines.amc.retry import RetryPolicy
from recomamp_pipelines.attempt.owner import AmcOwner
from recomamp_pipelines.db.connection import database_url
from recomamp_pipelines.settings import load_settings
from recomamp_pipelines.weeks.calendar import Week
from recomamp_pipelines.collections.context import load_collection
from recomamp_pipelines.runs.weeks import WeekRunner

settings = load_settings()
url = database_url(settings)
with psycopg.connect(url) as conn:
    collection = load_collection(conn, uuid.UUID(sys.argv[1]))
runner = WeekRunner(
    settings=settings,
    database_url=url,
    collection=collection,
    refresh=sys.argv[2] == "true",
    poll_policy=PollPolicy(initial_interval=0.2, max_interval=0.5),
)
for outcome in runner.run_weeks([Week(date.fromisoformat(day)) for day in sys.argv[3:]]):
    print(outcome.week.partition_key, outcome.kind.value, outcome.message, flush=True)
"""


@dataclass
class Account:
    """The sample account on the test database, reaching the simulator over HTTP."""

    db_url: str
    simulator: Any
    settings: Settings
    env: dict[str, str]

    def rows(self, query: str, *args: object) -> list[dict[str, Any]]:
        with psycopg.connect(self.db_url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, args).fetchall()

    def execute(self, statement: str, *args: object) -> None:
        with psycopg.connect(self.db_url) as conn:
            conn.execute(statement, args)

    def collection(self, name: str, weeks: int) -> tuple[uuid.UUID, list[Week]]:
        """Keep the last `weeks` weeks of the named collection's range; its id and weeks."""
        ((row,),) = [
            self.rows(
                "update report_data_collections set start_date = end_date - %s::int + 1 "
                "where name = %s returning id",
                7 * weeks,
                name,
            )
        ]
        collection_id: uuid.UUID = row["id"]
        with psycopg.connect(self.db_url) as conn:
            collection = load_collection(conn, collection_id)
        found = collection.weeks(self.settings.week_start_day)
        assert len(found) == weeks, found
        return collection_id, found

    def runner(self, collection_id: uuid.UUID, **options: Any) -> WeekRunner:
        with psycopg.connect(self.db_url) as conn:
            collection = load_collection(conn, collection_id)
        options.setdefault("poll_policy", PollPolicy(initial_interval=0.2, max_interval=0.5))
        return WeekRunner(
            settings=self.settings, database_url=self.db_url, collection=collection, **options
        )

    def run(self, collection_id: uuid.UUID, weeks: list[Week], **options: Any) -> list[WeekOutcome]:
        runner = self.runner(collection_id, **options)
        try:
            return sorted(runner.run_weeks(weeks), key=lambda outcome: outcome.week.start_date)
        finally:
            runner.close()

    def attempts(self, collection_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.rows(
            "select * from workflow_executions where collection_id = %s "
            "order by week_start_date, created_at",
            collection_id,
        )

    def weeks(self, collection_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        rows = self.rows("select * from report_data_weeks where collection_id = %s", collection_id)
        return {row["week_start_date"].isoformat(): row for row in rows}

    def slots(self) -> int:
        ((row,),) = [self.rows("select count(*) as held from amc_instance_slots")]
        return int(row["held"])


@pytest.fixture
def account(
    recomamp_env: dict[str, str],
    db_url: str,
    amc_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Account]:
    env = amc_simulator.settings_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    users = sample_users(amc_simulator.refresh_tokens, amc_simulator.instance_ids)
    with psycopg.connect(db_url, autocommit=True) as conn:
        load_sample_account(
            conn,
            TokenCipher.from_settings(settings),
            users,
            today=datetime.now(UTC).date(),
            weeks_per_collection=3,
        )
    amc_simulator.reset()
    yield Account(db_url, amc_simulator, settings, {**recomamp_env, **env})


class WeeksProcess:
    """Weeks of a collection run by a process of its own, to be killed as a crash kills it."""

    def __init__(
        self,
        account: Account,
        collection_id: uuid.UUID,
        weeks: list[Week],
        refresh: bool,
        log: Path,
    ) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WEEKS_PROCESS,
                    str(collection_id),
                    "true" if refresh else "false",
                    *(week.start_date.isoformat() for week in weeks),
                ],
                cwd=REPO_ROOT,
                env={**os.environ, **account.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_for(self, what: str, reached: Callable[[], bool]) -> None:
        """Poll `reached` every 50 ms until it holds; fail if the process ends or takes long."""
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while not reached():
            if self.process.poll() is not None:
                pytest.fail(
                    f"the weeks process ended ({self.process.returncode}) before {what}:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the weeks process did not reach {what} in time")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, exactly as a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def start_weeks(account: Account, tmp_path: Path) -> Iterator[Callable[..., WeeksProcess]]:
    started: list[WeeksProcess] = []

    def start(
        collection_id: uuid.UUID, weeks: list[Week], *, refresh: bool = False
    ) -> WeeksProcess:
        process = WeeksProcess(
            account, collection_id, weeks, refresh, tmp_path / f"weeks-{len(started)}.log"
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


def quick_retries(settings: Settings) -> Callable[[AmcOwner], AmcClient]:
    """Owner clients that give up after three quick tries, so that faults exhaust retries."""
    quick = RetryPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.1, deadline=30)
    config = dataclasses.replace(
        AmcConfig.from_settings(settings), retry_policy=quick, submission_retry_policy=quick
    )

    def make(owner: AmcOwner) -> AmcClient:
        assert owner.encrypted_refresh_token is not None
        token = TokenCipher.from_settings(settings).decrypt(owner.encrypted_refresh_token)
        return AmcClient(config, token, advertiser_id=owner.amc_account_id)

    return make
