"""What every AMC attempt does the same way, a collection week's or a schedule run's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from recomamp_pipelines.amc.client import InstanceClient
from recomamp_pipelines.amc.errors import AmcBadRequest
from recomamp_pipelines.amc.models import AmcExecution, TimeWindow
from recomamp_pipelines.templates.render import RenderedQuery

log = logging.getLogger(__name__)

#: How far before an intent's creation an AMC execution may claim to be created and still be
#: taken for it: clocks of AMC and of this machine disagree a little.
CLOCK_SKEW_MARGIN = timedelta(minutes=5)


def save_amc_workflow(instance: InstanceClient, workflow_id: str, rendered: RenderedQuery) -> None:
    """Save the query as AMC workflow `workflow_id`; one saved before is fine."""
    try:
        instance.create_workflow(
            workflow_id,
            rendered.sql,
            input_parameters=[
                {"name": p["name"], "dataType": p["dataType"]} for p in rendered.input_parameters
            ],
        )
    except AmcBadRequest as exc:
        if "already exists" not in str(exc):
            raise


def find_lost_submission(
    instance: InstanceClient,
    *,
    workflow_id: str,
    window: TimeWindow,
    parameter_values: dict[str, Any],
    intent_created_at: datetime,
) -> AmcExecution | None:
    """The AMC execution an earlier process submitted but never recorded, if AMC has it."""
    for candidate in instance.iter_executions(
        workflow_id=workflow_id,
        min_creation_time=intent_created_at - CLOCK_SKEW_MARGIN,
    ):
        start = candidate.time_window_start_original or candidate.time_window_start
        end = candidate.time_window_end_original or candidate.time_window_end
        if (
            (start, end) == (window.start, window.end)
            and (candidate.parameter_values or {}) == parameter_values
            and candidate.amc_status != "CANCELLED"
        ):
            log.info(
                "found AMC execution %s submitted before a restart",
                candidate.workflow_execution_id,
            )
            return candidate
    return None


def live_status(execution: AmcExecution) -> str:
    """The project status of an execution not yet collected (its end is recorded apart)."""
    return "RUNNING" if execution.is_terminal else str(execution.status)


def whole_seconds(value: float | None) -> int | None:
    return None if value is None else round(value)
