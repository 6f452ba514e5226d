"""Saved workflows: create, read, list, update, delete, as AMC answers them."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.simulator.helpers import DSP_BY_CAMPAIGN, Amc


def new_id() -> str:
    return f"wf-{uuid.uuid4().hex[:12]}"


def test_workflow_crud(amc: Amc) -> None:
    workflow_id = new_id()
    body = {
        "workflowId": workflow_id,
        "sqlQuery": DSP_BY_CAMPAIGN,
        "inputParameters": [],
        "filteredMetricsDiscriminatorColumn": "filtered",
    }
    created = amc.post("/workflows", body)
    assert (created.status_code, created.json()) == (200, {})

    read = amc.get(f"/workflows/{workflow_id}").json()
    assert read["workflowId"] == workflow_id
    assert read["sqlQuery"] == DSP_BY_CAMPAIGN
    assert read["filteredMetricsDiscriminatorColumn"] == "filtered"
    assert read["createTime"].endswith("Z")

    changed_sql = DSP_BY_CAMPAIGN.replace("campaign", "advertiser")
    updated = amc.put(f"/workflows/{workflow_id}", {"sqlQuery": changed_sql})
    assert (updated.status_code, updated.json()) == (200, {})
    assert amc.get(f"/workflows/{workflow_id}").json()["sqlQuery"] == changed_sql

    assert amc.delete(f"/workflows/{workflow_id}").json() == {}
    gone = amc.get(f"/workflows/{workflow_id}")
    assert gone.status_code == 404
    assert gone.json()["details"] == f"Workflow with ID {workflow_id} does not exist."


def test_duplicate_workflow_ids_are_refused(amc: Amc) -> None:
    workflow_id = new_id()
    body = {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN}
    assert amc.post("/workflows", body).status_code == 200

    again = amc.post("/workflows", body)

    assert again.status_code == 400
    assert again.json() == {
        "code": "400",
        "details": f"Workflow with ID {workflow_id} already exists.",
    }


def test_long_workflow_ids_are_kept_whole(amc: Amc) -> None:
    workflow_id = "recomamp-" + "x" * 80
    assert (
        amc.post("/workflows", {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN}).status_code
        == 200
    )
    assert amc.get(f"/workflows/{workflow_id}").json()["workflowId"] == workflow_id


def test_invalid_workflow_ids_and_bodies_are_refused(amc: Amc) -> None:
    assert (
        amc.post("/workflows", {"workflowId": "has space", "sqlQuery": DSP_BY_CAMPAIGN}).status_code
        == 400
    )
    assert amc.post("/workflows", {"workflowId": new_id()}).status_code == 400
    assert amc.post("/workflows", ["not", "an", "object"]).status_code == 400
    raw = httpx.post(amc.url("/workflows"), headers=amc.headers, content=b"{not json")
    assert raw.status_code == 400
    assert "not valid JSON" in raw.json()["details"]


def test_workflow_sql_is_compiled_at_creation(amc: Amc) -> None:
    response = amc.post(
        "/workflows",
        {
            "workflowId": new_id(),
            "sqlQuery": "SELECT campaign, SUM(imps) FROM dsp_impressions GROUP BY 1",
        },
    )
    assert response.status_code == 400
    assert response.json()["details"].startswith("Unable to compile")
    assert "Column 'imps' not found" in response.json()["details"]


def test_bodies_without_content_type_are_json_all_the_same(amc: Amc) -> None:
    workflow_id = new_id()
    payload = json.dumps({"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN}).encode()
    headers = {k: v for k, v in amc.headers.items()}

    response = httpx.post(amc.url("/workflows"), headers=headers, content=payload)

    assert response.status_code == 200
    assert amc.get(f"/workflows/{workflow_id}").status_code == 200


def test_array_parameters_declared_as_objects_are_kept(amc: Amc) -> None:
    workflow_id = new_id()
    parameters = [
        {
            "name": "campaigns",
            "dataType": {"type": "ARRAY", "elementDataType": "STRING"},
            "defaultValue": ["Books | DSP | Prospecting"],
        }
    ]
    body = {
        "workflowId": workflow_id,
        "sqlQuery": "SELECT campaign, SUM(impressions) FROM dsp_impressions "
        "WHERE ARRAY_CONTAINS(CUSTOM_PARAMETER('campaigns'), campaign) GROUP BY 1",
        "inputParameters": parameters,
    }
    assert amc.post("/workflows", body).status_code == 200
    assert amc.get(f"/workflows/{workflow_id}").json()["inputParameters"] == parameters


def test_workflows_list_pages_with_next_token_and_ignores_empty_params(amc: Amc) -> None:
    mine = {new_id() for _ in range(3)}
    for workflow_id in mine:
        amc.post("/workflows", {"workflowId": workflow_id, "sqlQuery": DSP_BY_CAMPAIGN})

    listed = amc.get("/workflows", nextToken="", limit="").json()
    assert mine <= {w["workflowId"] for w in listed["workflows"]}

    seen: list[str] = []
    token: str | None = None
    while True:
        params = {"limit": "2", **({"nextToken": token} if token else {})}
        page = amc.get("/workflows", **params).json()
        assert len(page["workflows"]) <= 2
        seen.extend(w["workflowId"] for w in page["workflows"])
        token = page["nextToken"]
        if token is None:
            break
    assert mine <= set(seen)
    assert len(seen) == len(set(seen))

    assert amc.get("/workflows", nextToken="garbage!").status_code == 400


def test_updating_or_deleting_unknown_workflows_is_not_found(amc: Amc) -> None:
    assert amc.put("/workflows/nope-1", {"sqlQuery": DSP_BY_CAMPAIGN}).status_code == 404
    assert amc.delete("/workflows/nope-1").status_code == 404
