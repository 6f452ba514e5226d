"""The collections sensor: every new collection (or changed range) is registered at once."""

import dagster as dg
from dagster import SensorEvaluationContext

from recomamp_pipelines.collections.registration import (
    register_collections,
    registered_partition_keys,
)
from recomamp_pipelines.db.connection import connect
from recomamp_pipelines.defs.collections.partitions import collections_partitions
from recomamp_pipelines.defs.owners import OWNER
from recomamp_pipelines.defs.resources import RecomampResource


@dg.sensor(
    owners=[OWNER],
    name="collections_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Registers each new report data collection: its partition key and a PENDING week row "
        "for every week of its range; a changed range adds or removes PENDING weeks. A "
        "partition key that names no collection is removed, with a warning in the tick's log."
    ),
)
def collections_sensor(
    context: SensorEvaluationContext, recomamp: RecomampResource
) -> dg.SensorResult:
    settings = recomamp.settings()
    with connect(recomamp.database_url(), autocommit=True) as conn:
        registered = register_collections(conn, settings.week_start_day)
        wanted = registered_partition_keys(conn)
    for collection in registered:
        context.log.info(
            f"{'registered' if collection.is_new else 'updated'} collection "
            f"{collection.partition_key}: {collection.week_count} week(s)"
        )
    # Dagster's own list is compared every time, so a sensor that died between our commit and
    # Dagster's write still adds the partition on its next evaluation.
    existing = set(context.instance.get_dynamic_partitions(collections_partitions.name or ""))
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if wanted - existing:
        requests.append(collections_partitions.build_add_request(sorted(wanted - existing)))
    strays = sorted(existing - wanted)
    for key in strays:
        # A key added by hand (the UI's "Add partition") or left by a deleted collection runs
        # nothing; it is removed, and the tick's log says so.
        context.log.warning(
            f"removed partition key {key!r} of {collections_partitions.name!r}: no registered "
            "collection has it (a collection's key is made when the collection is registered; "
            "`recomamp collections list` shows them)"
        )
    if strays:
        requests.append(collections_partitions.build_delete_request(strays))
    return dg.SensorResult(dynamic_partitions_requests=requests)
