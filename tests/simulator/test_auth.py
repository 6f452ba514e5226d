"""Login with Amazon and the headers every AMC call needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc


def token_form(sim: AmcSimulator, **changes: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "refresh_token": sim.refresh_tokens[0],
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        **changes,
    }


def test_refresh_token_grant_answers_like_login_with_amazon(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(amc_simulator.token_url, data=token_form(amc_simulator))

    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith("Atza|")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == amc_simulator.refresh_tokens[0]


def test_the_same_fields_as_json_are_accepted(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(amc_simulator.token_url, json=token_form(amc_simulator))
    assert response.status_code == 200
    assert response.json()["access_token"].startswith("Atza|")


def test_every_configured_refresh_token_is_a_user(amc_simulator: AmcSimulator) -> None:
    tokens = {
        httpx.post(
            amc_simulator.token_url, data=token_form(amc_simulator, refresh_token=refresh)
        ).json()["access_token"]
        for refresh in amc_simulator.refresh_tokens
    }
    assert len(tokens) == len(amc_simulator.refresh_tokens) == 2


def test_unknown_refresh_token_is_an_invalid_grant(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(
        amc_simulator.token_url, data=token_form(amc_simulator, refresh_token="Atzr|nope")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_wrong_client_secret_is_an_invalid_client(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(
        amc_simulator.token_url, data=token_form(amc_simulator, client_secret="wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_other_grant_types_are_refused(amc_simulator: AmcSimulator) -> None:
    response = httpx.post(
        amc_simulator.token_url, data=token_form(amc_simulator, grant_type="password")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_calls_without_a_valid_bearer_token_are_unauthorized(amc: Amc) -> None:
    url = amc.url("/workflows")
    headers = dict(amc.headers)
    missing = {k: v for k, v in headers.items() if k != "Authorization"}
    unknown = {**headers, "Authorization": "Bearer Atza|not-a-token"}
    not_bearer = {**headers, "Authorization": amc.token}

    for candidate in (missing, unknown, not_bearer):
        response = httpx.get(url, headers=candidate)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}


def test_a_wrong_client_id_header_is_unauthorized(amc: Amc) -> None:
    headers = {**amc.headers, "Amazon-Advertising-API-ClientId": "someone-else"}
    assert httpx.get(amc.url("/workflows"), headers=headers).status_code == 401


def test_advertiser_and_marketplace_headers_are_required(amc: Amc) -> None:
    for header in ("Amazon-Advertising-API-AdvertiserId", "Amazon-Advertising-API-MarketplaceId"):
        headers = {k: v for k, v in amc.headers.items() if k != header}
        response = httpx.get(amc.url("/workflows"), headers=headers)
        assert response.status_code == 400
        assert response.json() == {"code": "400", "details": f"Missing required header {header}."}


def test_access_tokens_expire_with_the_simulated_clock(amc: Amc) -> None:
    assert amc.get("/workflows").status_code == 200

    amc.sim.set_clock(amc.sim.now() + timedelta(seconds=3601))

    assert amc.get("/workflows").status_code == 401
    amc.token = amc.sim.access_token()
    assert amc.get("/workflows").status_code == 200


def test_invalidating_tokens_forces_a_refresh(amc: Amc) -> None:
    amc.sim.set_faults(invalidate_tokens=True)

    assert amc.get("/workflows").status_code == 401
    amc.token = amc.sim.access_token()
    assert amc.get("/workflows").status_code == 200


def test_a_token_can_expire_in_the_middle_of_polling(amc: Amc) -> None:
    amc.sim.set_faults(expire_tokens_after_calls=2)

    statuses = [amc.get("/workflows").status_code for _ in range(3)]

    assert statuses == [200, 200, 401]
    amc.token = amc.sim.access_token()
    assert amc.get("/workflows").status_code == 200


def test_token_lifetime_comes_from_the_settings_file(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    sim = amc_simulator_factory(settings={"token_lifetime_seconds": 60}, freeze_clock=True)
    response = httpx.post(sim.token_url, data=token_form(sim))
    assert response.json()["expires_in"] == 60
    headers = sim.amc_headers(response.json()["access_token"])

    assert httpx.get(sim.reporting_url("/workflows"), headers=headers).status_code == 200
    sim.advance_clock(61)
    assert httpx.get(sim.reporting_url("/workflows"), headers=headers).status_code == 401
