"""Saved workflows against the simulator: create, get, update, list, delete."""

from __future__ import annotations

import uuid

import pytest

from recomamp_pipelines.amc import AmcBadRequest, AmcNotFound, InstanceClient
from tests.amc.conftest import CAMPAIGN_SQL, USERS_SQL


def test_workflow_lifecycle(instance: InstanceClient) -> None:
    # Longer than the 20 characters the original application cut workflow ids to.
    workflow_id = f"weekly-dsp-performance-by-campaign-{uuid.uuid4().hex}"
    instance.create_workflow(
        workflow_id,
        CAMPAIGN_SQL,
        filtered_metrics_discriminator_column="filtered",
    )
    saved = instance.get_workflow(workflow_id)
    assert saved.workflow_id == workflow_id
    assert saved.sql_query == CAMPAIGN_SQL
    assert saved.output_format == "CSV"
    assert saved.filtered_metrics_discriminator_column == "filtered"

    instance.update_workflow(workflow_id, USERS_SQL)
    assert instance.get_workflow(workflow_id).sql_query == USERS_SQL

    instance.delete_workflow(workflow_id)
    with pytest.raises(AmcNotFound, match=f"Workflow with ID {workflow_id} does not exist"):
        instance.get_workflow(workflow_id)


def test_duplicate_workflow_is_refused_with_amc_message(instance: InstanceClient) -> None:
    workflow_id = f"dup-{uuid.uuid4().hex}"
    instance.create_workflow(workflow_id, USERS_SQL)
    with pytest.raises(AmcBadRequest, match=f"Workflow with ID {workflow_id} already exists."):
        instance.create_workflow(workflow_id, CAMPAIGN_SQL)


def test_list_workflows_follows_next_token(instance: InstanceClient) -> None:
    prefix = f"page-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{n}" for n in range(3)]
    for workflow_id in ids:
        instance.create_workflow(workflow_id, USERS_SQL)
    listed = [w.workflow_id for w in instance.list_workflows(page_size=1)]
    assert [w for w in listed if w and w.startswith(prefix)] == ids
    assert len(listed) == len(set(listed))


def test_workflow_with_sql_that_does_not_compile_is_refused(instance: InstanceClient) -> None:
    with pytest.raises(AmcBadRequest, match=r"Unable to compile.*line 1, column \d+"):
        instance.create_workflow(
            f"bad-{uuid.uuid4().hex}", "SELECT SUM(nope) AS n FROM dsp_impressions"
        )
