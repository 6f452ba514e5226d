"""Login with Amazon through the simulator: refresh ahead of expiry, on 401, refused grants."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from recomamp_pipelines.amc import AmcAuthError, AmcClient, AmcConfigError, TokenProvider
from recomamp_pipelines.amc.auth import REFRESH_MARGIN_SECONDS
from recomamp_pipelines.crypto import TokenCipher, generate_key
from tests.amc.conftest import TOKEN, client_for, config_for, request_count
from tests.fixtures.amc_simulator import AmcSimulator


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_token_serves_many_calls(amc_simulator: AmcSimulator) -> None:
    with client_for(amc_simulator) as client:
        before = request_count(amc_simulator, TOKEN)
        for _ in range(5):
            client.list_accounts()
        assert request_count(amc_simulator, TOKEN) == before + 1


def test_token_is_refreshed_five_minutes_before_it_expires(amc_simulator: AmcSimulator) -> None:
    clock = ManualClock()
    with httpx.Client() as http:
        tokens = TokenProvider(
            config_for(amc_simulator), amc_simulator.refresh_tokens[0], http, clock=clock
        )
        before = request_count(amc_simulator, TOKEN)
        first = tokens.access_token().get_secret_value()
        # The simulator's tokens last 3600 s; just outside the margin the token is kept...
        clock.now += 3600 - REFRESH_MARGIN_SECONDS - 1
        assert tokens.access_token().get_secret_value() == first
        # ...and just inside it a new one is fetched before any call could fail.
        clock.now += 2
        second = tokens.access_token().get_secret_value()
        assert second != first
        assert request_count(amc_simulator, TOKEN) == before + 2


def test_a_401_refreshes_the_token_once_and_retries_the_call(
    amc_client: AmcClient, amc_simulator: AmcSimulator
) -> None:
    amc_client.list_accounts()
    before = request_count(amc_simulator, TOKEN)
    amc_simulator.set_faults(invalidate_tokens=True)
    accounts = amc_client.list_accounts()
    assert [a.account_id for a in accounts] == [amc_simulator.advertiser_id]
    assert request_count(amc_simulator, TOKEN) == before + 1


def test_a_wrong_client_secret_is_named_without_showing_it(amc_simulator: AmcSimulator) -> None:
    wrong = "not-the-secret-0123"
    with (
        client_for(amc_simulator, client_secret=SecretStr(wrong)) as client,
        pytest.raises(AmcAuthError) as caught,
    ):
        client.list_accounts()
    message = str(caught.value)
    assert caught.value.error == "invalid_client"
    assert "client id or secret is wrong" in message
    assert "AMC_CLIENT_SECRET" in message
    assert wrong not in message and wrong not in repr(caught.value)


def test_a_wrong_refresh_token_is_named_without_showing_it(amc_simulator: AmcSimulator) -> None:
    wrong = "Atzr|revoked-refresh-token-0001"
    with (
        client_for(amc_simulator, refresh_token=wrong) as client,
        pytest.raises(AmcAuthError) as caught,
    ):
        client.check_credentials()
    message = str(caught.value)
    assert caught.value.error == "invalid_grant"
    assert "must sign in with Amazon again" in message
    assert wrong not in message
    assert wrong not in repr(client.tokens)


def test_the_refresh_token_is_never_shown_by_repr(amc_simulator: AmcSimulator) -> None:
    with client_for(amc_simulator) as client:
        client.check_credentials()
        access = client.tokens.access_token()
        for shown in (repr(client), repr(client.tokens), repr(client.config), repr(access)):
            assert amc_simulator.refresh_tokens[0] not in shown
            assert amc_simulator.client_secret not in shown
            assert access.get_secret_value() not in shown


def test_a_token_shorter_lived_than_the_margin_serves_half_its_life(
    amc_simulator_factory: Callable[..., AmcSimulator],
) -> None:
    simulator = amc_simulator_factory(settings={"token_lifetime_seconds": 200})
    clock = ManualClock()
    with httpx.Client() as http:
        tokens = TokenProvider(
            config_for(simulator), simulator.refresh_tokens[0], http, clock=clock
        )
        first = tokens.access_token().get_secret_value()
        clock.now += 99
        assert tokens.access_token().get_secret_value() == first
        clock.now += 2
        assert tokens.access_token().get_secret_value() != first
        assert request_count(simulator, TOKEN) == 2


def test_an_encrypted_refresh_token_is_never_sent_to_amazon(
    amc_simulator: AmcSimulator,
) -> None:
    stored = TokenCipher([generate_key()]).encrypt(amc_simulator.refresh_tokens[0])
    before = request_count(amc_simulator, TOKEN)
    with pytest.raises(AmcConfigError, match="still encrypted") as caught:
        client_for(amc_simulator, refresh_token=stored)
    assert stored not in str(caught.value)
    assert request_count(amc_simulator, TOKEN) == before
