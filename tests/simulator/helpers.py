"""Plain-httpx calls to the simulator, as any AMC client would make them."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.fixtures.amc_simulator import AmcSimulator

DSP_BY_CAMPAIGN = (
    "SELECT campaign, SUM(impressions) AS impressions, SUM(total_cost) AS total_cost, "
    "COUNT(DISTINCT user_id) AS reach FROM dsp_impressions GROUP BY campaign"
)
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED"}


class Amc:
    """One user's session with the simulator: a token, the headers, and an instance."""

    def __init__(self, sim: AmcSimulator, instance_id: str | None = None) -> None:
        self.sim = sim
        self.instance_id = instance_id or sim.instance_id
        self.token = sim.access_token()
        self.client = httpx.Client(timeout=60)

    def close(self) -> None:
        self.client.close()

    @property
    def headers(self) -> dict[str, str]:
        return self.sim.amc_headers(self.token)

    def url(self, path: str) -> str:
        return self.sim.reporting_url(path, self.instance_id)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(self.url(path), headers=self.headers, params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.client.post(self.url(path), headers=self.headers, json=body)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.client.put(self.url(path), headers=self.headers, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(self.url(path), headers=self.headers)

    def run(self, sql: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
        """Submit an ad hoc execution over [start, end) (naive, UTC unless a zone is given)."""
        body: dict[str, Any] = {
            "workflow": {"sqlQuery": sql, **extra.pop("workflow_fields", {})},
            "timeWindowType": "EXPLICIT",
            "timeWindowStart": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "timeWindowEnd": end.strftime("%Y-%m-%dT%H:%M:%S"),
            "timeWindowTimeZone": "UTC",
            **extra,
        }
        response = self.post("/workflowExecutions", body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(self, execution_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the execution ends; the execution as last seen."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(f"/workflowExecutions/{execution_id}")
            assert response.status_code == 200, response.text
            execution = dict(response.json())
            if execution["status"] in TERMINAL or time.monotonic() > deadline:
                return execution
            time.sleep(0.05)

    def rows(self, execution_id: str) -> list[dict[str, str]]:
        """Every result row of a succeeded execution, from all its files."""
        urls = self.get(f"/workflowExecutions/{execution_id}/downloadUrls").json()
        rows: list[dict[str, str]] = []
        for url in urls["downloadUrls"]:
            response = httpx.get(url, timeout=60)
            assert response.status_code == 200, response.text
            rows.extend(csv.DictReader(io.StringIO(response.text)))
        return rows

    def result(
        self, sql: str, start: datetime, end: datetime, **extra: Any
    ) -> list[dict[str, str]]:
        execution = self.wait(self.run(sql, start, end, **extra)["workflowExecutionId"])
        assert execution["status"] == "SUCCEEDED", execution
        return self.rows(execution["workflowExecutionId"])


def last_full_week(now: datetime) -> tuple[datetime, datetime]:
    """The last Monday-to-Monday week that ended at least three days before `now` (naive)."""
    day = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = day - timedelta(days=day.weekday())
    return (end - timedelta(days=7)).replace(tzinfo=None), end.replace(tzinfo=None)
