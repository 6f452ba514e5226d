"""Collections without anyone asking: the backfill of a registered range, once, and the
nightly schedule's newest weeks and refreshes, through Dagster and the AMC simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from recomamp_pipelines.defs.collections.assets import REFRESH_TAG
from recomamp_pipelines.defs.collections.backfills import collection_backfill_sensor
from recomamp_pipelines.defs.collections.nightly import nightly_collection_weeks
from recomamp_pipelines.defs.collections.sensors import collections_sensor
from recomamp_pipelines.defs.resources import RecomampResource
from tests.defs.conftest import Pipeline
from tests.scheduling.harness import dict_rows, evaluate, launch, submissions

SENSOR = "collection_backfill_sensor"
DSP = "DSP weekly 2026"


@pytest.fixture
def sim(pipeline: Pipeline) -> Iterator[Pipeline]:
    pipeline.simulator.reset()
    yield pipeline


def register(pipeline: Pipeline) -> dict[str, str]:
    """Evaluate the collections sensor, apply its partitions; collection name -> key."""
    context = dg.build_sensor_context(
        instance=pipeline.instance, resources={"recomamp": RecomampResource()}
    )
    result = collections_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            pipeline.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
    return {
        row["name"]: row["partition_key"]
        for row in dict_rows(
            pipeline.db_url, "select name, partition_key from report_data_collections"
        )
    }


def weeks_of(sim: Pipeline, name: str) -> dict[str, str]:
    rows = dict_rows(
        sim.db_url,
        "select wk.week_start_date, wk.status from report_data_weeks as wk "
        "join report_data_collections as c on c.id = wk.collection_id where c.name = %s",
        name,
    )
    return {row["week_start_date"].isoformat(): row["status"] for row in rows}


def test_a_registered_collection_is_backfilled_once_and_again_when_its_range_changes(
    sim: Pipeline,
) -> None:
    now = datetime.now(UTC)
    # Nothing is requested before the collections sensor has registered the partitions.
    assert evaluate(collection_backfill_sensor, sim.instance, now).run_requests == []
    keys = register(sim)

    first = evaluate(collection_backfill_sensor, sim.instance, now).run_requests or []
    again = evaluate(collection_backfill_sensor, sim.instance, now).run_requests or []

    assert sorted(r.run_key or "" for r in again) == sorted(r.run_key or "" for r in first)
    (dsp,) = [r for r in first if r.tags[ASSET_PARTITION_RANGE_START_TAG].startswith(keys[DSP])]
    weeks = sorted(weeks_of(sim, DSP))
    assert dsp.tags[ASSET_PARTITION_RANGE_START_TAG] == f"{keys[DSP]}|{weeks[0]}"
    assert dsp.tags[ASSET_PARTITION_RANGE_END_TAG] == f"{keys[DSP]}|{weeks[-1]}"
    assert dsp.tags[REFRESH_TAG] == "false"

    (run,) = launch(sim.instance, [dsp], SENSOR)
    assert run.success
    assert set(weeks_of(sim, DSP).values()) == {"SUCCESS"}
    assert submissions(sim.simulator) == len(weeks)
    # Requested once: the collection is not requested again, the other one still is.
    remaining = evaluate(collection_backfill_sensor, sim.instance, now).run_requests or []
    assert [r.run_key for r in remaining] == [r.run_key for r in first if r is not dsp]

    # One more week at the start: a new range, one new request, for the missing week only.
    sim.query(
        "update report_data_collections set start_date = start_date - 7 where name = %s "
        "returning id",
        DSP,
    )
    register(sim)
    changed = evaluate(collection_backfill_sensor, sim.instance, now).run_requests or []
    (extended,) = [r for r in changed if r.run_key not in {q.run_key for q in first}]
    added = min(weeks_of(sim, DSP))
    assert extended.tags[ASSET_PARTITION_RANGE_START_TAG] == f"{keys[DSP]}|{added}"
    assert extended.tags[ASSET_PARTITION_RANGE_END_TAG] == f"{keys[DSP]}|{added}"


def nightly(sim: Pipeline, at: datetime) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(
        instance=sim.instance,
        scheduled_execution_time=at,
        resources={"recomamp": RecomampResource()},
    )
    result = nightly_collection_weeks(context)
    return list(result) if isinstance(result, list) else []


def key_of(request: dg.RunRequest) -> str:
    """A nightly request's partition key: every one names a collection's week."""
    assert request.partition_key is not None
    return request.partition_key


def test_nightly_runs_the_newest_week_and_refreshes_a_week_as_it_ages(sim: Pipeline) -> None:
    now = datetime.now(UTC)
    # DSP reaches into the future; its earlier weeks are fetched by a backfill first.
    sim.query(
        "update report_data_collections set end_date = current_date + 60 where name = %s "
        "returning id",
        DSP,
    )
    keys = register(sim)
    (newest,) = [r for r in nightly(sim, now) if key_of(r).startswith(keys[DSP])]
    assert newest.tags[REFRESH_TAG] == "false"
    launch(sim.instance, [newest], "nightly_collection_weeks")
    week = key_of(newest).split("|")[1]
    assert weeks_of(sim, DSP)[week] == "SUCCESS"
    assert [r for r in nightly(sim, now) if r.partition_key == newest.partition_key] == []

    # Seven days after the week ended (plus its 48 hours, already past), it is refreshed once.
    later = now + timedelta(days=7)
    (refresh,) = [r for r in nightly(sim, later) if r.partition_key == newest.partition_key]
    assert refresh.tags[REFRESH_TAG] == "true"
    before = submissions(sim.simulator)
    (fetched,) = dict_rows(sim.db_url, REFRESHED_AT, keys[DSP], week)
    (run,) = launch(sim.instance, [refresh], "nightly_collection_weeks")
    assert run.success and submissions(sim.simulator) == before + 1
    (refreshed,) = dict_rows(sim.db_url, REFRESHED_AT, keys[DSP], week)
    assert refreshed["status"] == "SUCCESS"
    assert refreshed["refreshed_at"] > fetched["refreshed_at"]


REFRESHED_AT = (
    "select wk.status, wk.refreshed_at from report_data_weeks as wk "
    "join report_data_collections as c on c.id = wk.collection_id "
    "where c.partition_key = %s and wk.week_start_date = %s::date"
)
