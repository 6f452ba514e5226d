"""No token, client secret, signature or Authorization header ever reaches a log record."""

from __future__ import annotations

import io
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from recomamp_pipelines.amc import AmcAuthError, ProjectStatus
from tests.amc.conftest import CAMPAIGN_SQL, client_for, complete_window
from tests.fixtures.amc_simulator import AmcSimulator


def test_a_whole_flow_at_debug_level_logs_no_secret(
    amc_simulator: AmcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "recomamp_pipelines"):
        caplog.set_level(logging.DEBUG, logger=name)
    access_tokens: list[str] = []
    signatures: list[str] = []
    with client_for(amc_simulator) as client:
        instance = client.instance(amc_simulator.instance_id)
        client.list_accounts()
        access_tokens.append(client.tokens.access_token().get_secret_value())
        created = instance.create_execution(complete_window(days=7), sql=CAMPAIGN_SQL)
        # Throttling, a revoked token and a failing call in the middle of it all.
        amc_simulator.set_faults(rate_limit_next=2, rate_limit_retry_after=None)
        amc_simulator.set_faults(invalidate_tokens=True)
        final = instance.poll_until_terminal(created.workflow_execution_id)
        assert final.status is ProjectStatus.SUCCESS
        access_tokens.append(client.tokens.access_token().get_secret_value())
        for url in instance.get_download_urls(final.workflow_execution_id).download_urls:
            signatures.extend(parse_qs(urlsplit(url).query)["X-Amz-Signature"])
        amc_simulator.set_faults(truncate_next_downloads=1)
        instance.download_results(final.workflow_execution_id, io.BytesIO())
    with (
        client_for(amc_simulator, refresh_token="Atzr|wrong-token-xyz") as refused,
        pytest.raises(AmcAuthError),
    ):
        refused.check_credentials()

    assert len(set(access_tokens)) == 2
    secrets = [
        amc_simulator.refresh_tokens[0],
        "Atzr|wrong-token-xyz",
        amc_simulator.client_secret,
        *access_tokens,
        *signatures,
    ]
    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records)
    assert any(r.name.startswith("httpcore") for r in records)
    assert any("401" in r.getMessage() for r in records)
    text = caplog.text
    for record in records:
        shown = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for secret in secrets:
            assert secret not in shown, f"a secret reached a {record.name} record"
    for secret in secrets:
        assert secret not in text
    assert "Bearer " not in text.replace("Bearer ***", "")
