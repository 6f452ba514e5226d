"""Accounts, instances, data sources: what a client looks up before it runs anything."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

FREE_ANALYTICS_TABLES = {
    "dsp_impressions",
    "dsp_clicks",
    "dsp_views",
    "dsp_video_events_feed",
    "dsp_impressions_by_matched_segments",
    "dsp_impressions_by_user_segments",
    "sponsored_ads_traffic",
    "amazon_attributed_events_by_conversion_time",
    "amazon_attributed_events_by_traffic_time",
    "conversions",
    "conversions_with_relevance",
}
AMC_TABLES = FREE_ANALYTICS_TABLES | {f"{t}_for_audiences" for t in FREE_ANALYTICS_TABLES}


def test_accounts_list_the_configured_amc_account(amc: Amc) -> None:
    headers = {k: v for k, v in amc.headers.items() if k != "Amazon-Advertising-API-AdvertiserId"}
    response = httpx.get(f"{amc.sim.base_url}/amc/accounts", headers=headers)

    assert response.status_code == 200
    assert response.json()["amcAccounts"] == [
        {
            "accountId": "ENTITY1AA1AA11AAA1",
            "accountName": "Simulated AMC account",
            "marketplaceId": "ATVPDKIKX0DER",
        }
    ]


def test_instances_list_every_instance_and_page(amc: Amc) -> None:
    base = f"{amc.sim.base_url}/amc/instances"
    everything = httpx.get(base, headers=amc.headers).json()
    assert [i["instanceId"] for i in everything["instances"]] == amc.sim.instance_ids
    assert everything["nextToken"] is None

    first = httpx.get(base, headers=amc.headers, params={"limit": 1}).json()
    second = httpx.get(
        base, headers=amc.headers, params={"limit": 1, "nextToken": first["nextToken"]}
    ).json()
    assert [first["instances"][0]["instanceId"], second["instances"][0]["instanceId"]] == (
        amc.sim.instance_ids
    )
    assert second["nextToken"] is None


def test_instance_details_and_unknown_instances(amc: Amc) -> None:
    url = f"{amc.sim.base_url}/amc/instances/{amc.sim.instance_id}"
    details = httpx.get(url, headers=amc.headers).json()
    assert details["instanceId"] == amc.sim.instance_id
    assert details["accountId"] == amc.sim.advertiser_id

    missing = httpx.get(f"{amc.sim.base_url}/amc/instances/amcnope", headers=amc.headers)
    assert missing.status_code == 404
    assert missing.json() == {"code": "404", "details": "Instance with ID amcnope not found."}


def test_reporting_on_an_unknown_instance_is_not_found(amc: Amc) -> None:
    response = httpx.get(amc.sim.reporting_url("/workflows", "amcunknown"), headers=amc.headers)
    assert response.status_code == 404
    assert response.json()["details"] == "Instance with ID amcunknown not found."


def test_data_sources_cover_every_table_with_local_and_utc_times(amc: Amc) -> None:
    listed = amc.get("/dataSources", limit=1000).json()["dataSources"]
    assert {d["dataSourceId"] for d in listed} == AMC_TABLES

    impressions = amc.get("/dataSources/dsp_impressions").json()
    names = {c["name"] for c in impressions["columns"]}
    assert {"impression_dt", "impression_dt_utc", "impression_date", "impression_date_utc"} <= names
    user = next(c for c in impressions["columns"] if c["name"] == "user_id")
    assert user["aggregationThreshold"] == "VERY_HIGH"

    assert amc.get("/dataSources/no_such_table").status_code == 404
    # A paid feature's table is not there for an instance without the subscription.
    assert amc.get("/dataSources/conversions_all").status_code == 404


def test_paid_feature_tables_come_with_the_subscription(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(
        instance_ids=(),
        settings={
            "instances": [
                {"instance_id": "amcfree"},
                {
                    "instance_id": "amcpaid",
                    "paid_features": ["FLEXIBLE_SHOPPING_INSIGHTS", "BRAND_STORE_INSIGHTS"],
                },
            ]
        },
    )
    sql = "SELECT event_category, SUM(conversions) AS conversions FROM conversions_all GROUP BY 1"
    body = {
        "workflow": {"sqlQuery": sql},
        "timeWindowStart": "2025-02-17T00:00:00",
        "timeWindowEnd": "2025-02-18T00:00:00",
    }
    free, paid = Amc(sim, "amcfree"), Amc(sim, "amcpaid")
    try:
        refused = free.post("/workflowExecutions", body)
        assert refused.status_code == 400
        assert refused.json()["details"] == (
            "Unable to compile the SQL query. From line 1, column 61 to line 1, column 75: "
            "Object 'conversions_all' not found"
        )
        accepted = paid.post("/workflowExecutions", body)
        assert accepted.status_code == 200, accepted.text
        listed = {
            d["dataSourceId"] for d in paid.get("/dataSources", limit=1000).json()["dataSources"]
        }
        assert {"conversions_all", "amazon_brand_store_page_views_non_endemic"} <= listed
        assert "amazon_retail_purchases" not in listed
        table = paid.get("/dataSources/conversions_all").json()
        assert table["paidFeature"] == "FLEXIBLE_SHOPPING_INSIGHTS"
        assert table["mainEventTimeColumn"] == "event_dt_utc"
    finally:
        free.close()
        paid.close()


def test_settings_can_restrict_an_instance_to_some_advertisers(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(
        instance_ids=(),
        settings={
            "accounts": [
                {"account_id": "ENTITY1AA1AA11AAA1", "account_name": "Main"},
                {"account_id": "ENTITY2BB2BB22BBB2", "account_name": "Other"},
            ],
            "instances": [
                {"instance_id": "amcopen", "account_id": "ENTITY1AA1AA11AAA1"},
                {
                    "instance_id": "amcclosed",
                    "account_id": "ENTITY2BB2BB22BBB2",
                    "advertiser_ids": ["ENTITY2BB2BB22BBB2"],
                },
            ],
        },
    )
    headers = sim.amc_headers()
    assert sim.instance_ids == ["amcopen", "amcclosed"]

    assert httpx.get(sim.reporting_url("/workflows", "amcopen"), headers=headers).status_code == 200
    closed = httpx.get(sim.reporting_url("/workflows", "amcclosed"), headers=headers)
    assert closed.status_code == 403
    allowed = {**headers, "Amazon-Advertising-API-AdvertiserId": "ENTITY2BB2BB22BBB2"}
    assert (
        httpx.get(sim.reporting_url("/workflows", "amcclosed"), headers=allowed).status_code == 200
    )

    accounts = httpx.get(f"{sim.base_url}/amc/accounts", headers=headers).json()["amcAccounts"]
    assert [a["accountName"] for a in accounts] == ["Main", "Other"]
    mine = httpx.get(f"{sim.base_url}/amc/instances", headers=allowed).json()["instances"]
    assert [i["instanceId"] for i in mine] == ["amcclosed"]


def test_unknown_paths_and_methods_answer_in_json(amc: Amc) -> None:
    missing = httpx.get(f"{amc.sim.base_url}/amc/nowhere", headers=amc.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "404")
    wrong = httpx.post(amc.url("/dataSources"), headers=amc.headers, json={})
    assert (wrong.status_code, wrong.json()["code"]) == (405, "405")
