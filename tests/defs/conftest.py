"""A sample account wired to a live AMC simulator, for runs through Dagster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.sample.account import LoadedCollection, load_sample_account, sample_users
from recomamp_pipelines.settings import load_settings


@dataclass
class Pipeline:
    db_url: str
    simulator: Any
    collections: list[LoadedCollection]
    instance: dg.DagsterInstance
    env: dict[str, str]

    def collection(self, name: str) -> LoadedCollection:
        return next(c for c in self.collections if c.name == name)

    def query(self, text: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(text, args).fetchall()


@pytest.fixture
def pipeline(
    recomamp_env: dict[str, str],
    db_url: str,
    amc_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Pipeline]:
    env = {
        **amc_simulator.settings_env(),
        "RECOMAMP_AMC_POLL_INITIAL_SECONDS": "0.2",
        "RECOMAMP_AMC_POLL_MAX_SECONDS": "0.5",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    users = sample_users(amc_simulator.refresh_tokens, amc_simulator.instance_ids)
    with psycopg.connect(db_url, autocommit=True) as conn:
        collections = load_sample_account(
            conn,
            TokenCipher.from_settings(settings),
            users,
            today=datetime.now(UTC).date(),
            weeks_per_collection=3,
        )
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield Pipeline(db_url, amc_simulator, collections, instance, {**recomamp_env, **env})
