"""Checking a user's AMC access end to end, as a new user's first run would.

`discover_instances` lists every account and instance the credentials reach;
`check_instances` runs a tiny query on each chosen instance, waits for it, downloads its
result, and gives a verdict per instance: HEALTHY, UNHEALTHY (AMC answered, but the instance
cannot run a query; the reason says why) or ERROR (the check itself could not complete).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from recomamp_pipelines.amc.client import AmcClient, InstanceClient, PollPolicy
from recomamp_pipelines.amc.errors import (
    AmcApiError,
    AmcAuthError,
    AmcError,
    AmcRetryableError,
)
from recomamp_pipelines.amc.models import AmcAccount, AmcExecution, AmcInstance, TimeWindow

log = logging.getLogger(__name__)

HEALTH_QUERY = "SELECT COUNT(DISTINCT user_id) AS users FROM dsp_impressions"
# AMC's data lands within 48 hours; a window ending three days ago is complete.
DATA_LAG = timedelta(days=3)


class HealthStatus(StrEnum):
    """amc_instances.health_status values written by the check."""

    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    ERROR = "ERROR"


@dataclass(frozen=True)
class ReachableInstance:
    """An instance the credentials reach, with the account it belongs to."""

    account: AmcAccount
    instance: AmcInstance


@dataclass(frozen=True)
class InstanceVerdict:
    """The outcome of the check for one instance."""

    instance_id: str
    status: HealthStatus
    reason: str
    execution_id: str | None = None
    reachable: ReachableInstance | None = None


def health_window(now: datetime | None = None) -> TimeWindow:
    """One UTC day ending at midnight at least three days ago, past AMC's data lag."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    end = (moment - DATA_LAG).replace(hour=0, minute=0, second=0, microsecond=0)
    return TimeWindow(end - timedelta(days=1), end, "UTC")


def discover_instances(client: AmcClient) -> list[ReachableInstance]:
    """Every instance of every account the credentials reach (AmcAuthError if refused)."""
    reachable: list[ReachableInstance] = []
    for account in client.list_accounts():
        scoped = client.for_account(account.account_id, account.marketplace_id)
        reachable.extend(
            ReachableInstance(account, instance) for instance in scoped.list_instances()
        )
    return reachable


def check_instances(
    client: AmcClient,
    instance_ids: Sequence[str] | None = None,
    *,
    reachable: Sequence[ReachableInstance] | None = None,
    max_wait_seconds: float = 1800.0,
    poll_policy: PollPolicy | None = None,
    now: datetime | None = None,
) -> list[InstanceVerdict]:
    """Run the health query on `instance_ids` (AMC ids; all reachable ones if None).

    The queries are submitted together, then awaited, each for at most `max_wait_seconds`.
    A refused login raises AmcAuthError: it is not a property of any one instance.
    """
    found = list(reachable) if reachable is not None else discover_instances(client)
    by_id = {item.instance.instance_id: item for item in found}
    wanted = list(dict.fromkeys(instance_ids)) if instance_ids else list(by_id)
    window = health_window(now)
    policy = poll_policy or PollPolicy(initial_interval=5.0, max_interval=30.0)

    verdicts: dict[str, InstanceVerdict] = {}
    started: list[tuple[InstanceClient, AmcExecution, ReachableInstance]] = []
    for instance_id in wanted:
        item = by_id.get(instance_id)
        if item is None:
            known = ", ".join(sorted(by_id)) or "none"
            verdicts[instance_id] = InstanceVerdict(
                instance_id,
                HealthStatus.ERROR,
                f"instance {instance_id!r} is not reachable with these credentials "
                f"(reachable: {known})",
            )
            continue
        scoped = client.for_account(item.account.account_id, item.account.marketplace_id)
        instance = scoped.instance(instance_id)
        try:
            execution = instance.create_execution(window, sql=HEALTH_QUERY)
        except AmcAuthError:
            raise
        except AmcError as exc:
            verdicts[instance_id] = _refused(instance_id, item, "the test query", exc)
            continue
        started.append((instance, execution, item))

    deadline = (now or datetime.now(UTC)) + timedelta(seconds=max_wait_seconds)
    for instance, execution, item in started:
        verdicts[instance.instance_id] = _await(instance, execution, item, deadline, policy)
    return [verdicts[instance_id] for instance_id in wanted]


def _await(
    instance: InstanceClient,
    execution: AmcExecution,
    item: ReachableInstance,
    deadline: datetime,
    policy: PollPolicy,
) -> InstanceVerdict:
    execution_id = execution.workflow_execution_id
    instance_id = instance.instance_id
    try:
        final = instance.poll_until_terminal(execution_id, deadline=deadline, policy=policy)
    except AmcAuthError:
        raise
    except AmcError as exc:
        return _refused(instance_id, item, "waiting for the test query", exc, execution_id)
    if final.amc_status != "SUCCEEDED":
        detail = final.status_reason or "no reason given"
        return InstanceVerdict(
            instance_id,
            HealthStatus.UNHEALTHY,
            f"test query ended {final.status} (AMC status {final.amc_status}): {detail}",
            execution_id,
            item,
        )
    try:
        size = sum(len(chunk) for chunk in instance.iter_result_chunks(execution_id))
    except AmcError as exc:
        return _refused(instance_id, item, "downloading the test result", exc, execution_id)
    took = f" in {final.execution_time:.0f} s" if final.execution_time is not None else ""
    return InstanceVerdict(
        instance_id,
        HealthStatus.HEALTHY,
        f"test query succeeded{took}; result downloaded ({size} bytes)",
        execution_id,
        item,
    )


def _refused(
    instance_id: str,
    item: ReachableInstance,
    step: str,
    exc: AmcError,
    execution_id: str | None = None,
) -> InstanceVerdict:
    # AMC answering with a refusal says something about the instance; a transport failure
    # or exhausted retries say nothing, so the check itself is in error.
    unhealthy = isinstance(exc, AmcApiError) and not isinstance(exc, AmcRetryableError)
    status = HealthStatus.UNHEALTHY if unhealthy else HealthStatus.ERROR
    log.info("instance %s: %s failed: %s", instance_id, step, exc)
    return InstanceVerdict(instance_id, status, f"{step} failed: {exc}", execution_id, item)
