"""A collection's weeks backfilled as the Dagster UI launches them, over Dagster's GraphQL API.

Used by the benchmarks and the end-to-end tests, and by anyone scripting a backfill against a
running webserver with the official `dagster-graphql` client. The client has no method for
partition backfills, so the UI's own `launchPartitionBackfill` mutation goes through its
`_execute`, which turns transport and server failures into `DagsterGraphQLClientError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster_graphql import DagsterGraphQLClient

ASSET_PATH = ["amc", "collection_weekly_results"]
UI_TAGS = [{"key": "dagster/from_ui", "value": "true"}]

# The mutation text is the UI's own (ui-core/src/instance/backfill/BackfillUtils.tsx, 1.13.27).
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message stack }
  }
}
"""
BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}
"""
AUTOMATION_QUERY = """
query Automation($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository {
      sensors { name sensorState { id status } }
      schedules { name scheduleState { id status } }
    }
  }
}
"""
STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) { __typename ... on PythonError { message } }
}
"""
STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) { __typename ... on PythonError { message } }
}
"""


class UiBackfillError(RuntimeError):
    """The webserver refused a backfill or a change of automation."""


def asset_page_params(partition_names: Sequence[str]) -> dict[str, Any]:
    """What the asset page's launch dialog sends for the chosen partitions (1.13.27)."""
    return {
        "tags": UI_TAGS,
        "assetSelection": [{"path": ASSET_PATH}],
        "partitionNames": list(partition_names),
        "fromFailure": False,
    }


def launch_backfill(client: DagsterGraphQLClient, partition_names: Sequence[str]) -> str:
    """Launch the backfill of `partition_names` (`<collection key>|<week>`); its id."""
    answer = client._execute(
        LAUNCH_BACKFILL, {"backfillParams": asset_page_params(partition_names)}
    )
    launched = answer["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise UiBackfillError(f"launchPartitionBackfill refused {partition_names}: {launched}")
    return str(launched["backfillId"])


def backfill_status(client: DagsterGraphQLClient, backfill_id: str) -> str:
    """The backfill's status as the UI shows it (REQUESTED, COMPLETED_SUCCESS, ...)."""
    answer = client._execute(BACKFILL_STATUS, {"backfillId": backfill_id})
    found = answer["partitionBackfillOrError"]
    if found["__typename"] != "PartitionBackfill":
        raise UiBackfillError(f"backfill {backfill_id}: {found}")
    return str(found["status"])


def stop_automation(
    client: DagsterGraphQLClient, repository: tuple[str, str], keep: Sequence[str]
) -> list[str]:
    """Turn off, as the UI's toggles do, every running sensor and schedule not in `keep`."""
    selector = {"repositoryLocationName": repository[0], "repositoryName": repository[1]}
    found = client._execute(AUTOMATION_QUERY, {"selector": selector})["repositoryOrError"]
    if found["__typename"] != "Repository":
        raise UiBackfillError(f"repository {repository} not found: {found}")
    targets = [
        (STOP_SENSOR, "stopSensor", item["name"], item["sensorState"]) for item in found["sensors"]
    ] + [
        (STOP_SCHEDULE, "stopRunningSchedule", item["name"], item["scheduleState"])
        for item in found["schedules"]
    ]
    stopped = []
    for mutation, field_name, name, state in targets:
        if name in keep or state["status"] != "RUNNING":
            continue
        answer = client._execute(mutation, {"id": state["id"]})[field_name]
        if answer["__typename"] in ("PythonError", "UnauthorizedError"):
            raise UiBackfillError(f"could not stop {name}: {answer}")
        stopped.append(name)
    return stopped
