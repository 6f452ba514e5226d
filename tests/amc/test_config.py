"""AmcConfig from the project settings, regions, and secrets that never print."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recomamp_pipelines.amc import REGIONS, AmcConfig, AmcConfigError, region
from recomamp_pipelines.amc.redaction import install_log_redaction, register_secret
from recomamp_pipelines.settings import Settings, load_settings


def settings_from(env: dict[str, str], tmp_path: Path) -> Settings:
    return load_settings({"RECOMAMP_HOME": str(tmp_path), **env})


def test_defaults_to_north_america_hosts(tmp_path: Path) -> None:
    settings = settings_from({"AMC_CLIENT_ID": "cid", "AMC_CLIENT_SECRET": "shh-123"}, tmp_path)
    config = AmcConfig.from_settings(settings)
    assert config.api_url == "https://advertising-api.amazon.com"
    assert config.token_url == "https://api.amazon.com/auth/o2/token"
    assert config.client_id == "cid"
    assert config.client_secret.get_secret_value() == "shh-123"
    # Submissions wait out a 429 storm for 45 minutes; other calls keep their attempt count.
    assert config.submission_retry_policy.rate_limit_wait == 2700.0
    assert config.retry_policy.rate_limit_wait is None


def test_the_submission_rate_limit_wait_is_configurable(tmp_path: Path) -> None:
    settings = settings_from(
        {
            "AMC_CLIENT_ID": "cid",
            "AMC_CLIENT_SECRET": "shh-123",
            "RECOMAMP_AMC_SUBMIT_RATE_LIMIT_WAIT_SECONDS": "600",
        },
        tmp_path,
    )
    assert AmcConfig.from_settings(settings).submission_retry_policy.rate_limit_wait == 600.0


def test_configured_urls_win_for_both_hosts(tmp_path: Path) -> None:
    settings = settings_from(
        {
            "AMC_CLIENT_ID": "cid",
            "AMC_CLIENT_SECRET": "shh-123",
            "AMC_API_URL": "http://127.0.0.1:9999/",
            "AMC_TOKEN_URL": "http://127.0.0.1:9999/auth/o2/token",
        },
        tmp_path,
    )
    config = AmcConfig.from_settings(settings)
    assert config.api_url == "http://127.0.0.1:9999"
    assert config.token_url == "http://127.0.0.1:9999/auth/o2/token"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AMC_CLIENT_SECRET": "x-secret"}, r"^AMC_CLIENT_ID is not set"),
        ({"AMC_CLIENT_ID": "cid"}, r"^AMC_CLIENT_SECRET is not set"),
        ({}, r"^AMC_CLIENT_ID and AMC_CLIENT_SECRET are not set"),
        (
            {"AMC_CLIENT_ID": "c", "AMC_CLIENT_SECRET": "s-1234", "AMC_API_URL": "amazon.com"},
            r"AMC_API_URL='amazon.com': expected an http\(s\) URL",
        ),
    ],
)
def test_missing_or_wrong_settings_are_named(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(AmcConfigError, match=message):
        AmcConfig.from_settings(settings_from(env, tmp_path))


def test_regions_have_their_own_hosts() -> None:
    assert region("eu").api_url == "https://advertising-api-eu.amazon.com"
    assert region("EU").token_url == "https://api.amazon.co.uk/auth/o2/token"
    assert region("FE").api_url == "https://advertising-api-fe.amazon.com"
    assert region("FE").token_url == "https://api.amazon.co.jp/auth/o2/token"
    assert set(REGIONS) == {"NA", "EU", "FE"}
    with pytest.raises(AmcConfigError, match="region 'SA' is unknown"):
        region("SA")


def test_client_secret_is_masked_in_repr() -> None:
    config = AmcConfig.for_region("EU", client_id="cid", client_secret="very-secret-value")
    assert "very-secret-value" not in repr(config)
    assert "very-secret-value" not in str(config)


def test_log_records_never_show_registered_secrets_or_token_shapes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    register_secret("plain-secret-without-shape")
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("httpx")
    logger.debug("secret %s", "plain-secret-without-shape")
    logger.debug("headers {'Authorization': 'Bearer abc.def'}")
    logger.debug("form refresh_token=Atzr|IwEBIx&client_secret=zzz")
    logger.info("GET https://bucket.s3/x.csv?X-Amz-Signature=deadbeef&X-Amz-Expires=300")
    text = caplog.text
    for leaked in ("plain-secret-without-shape", "abc.def", "Atzr|IwEBIx", "zzz", "deadbeef"):
        assert leaked not in text
    assert "X-Amz-Expires=300" in text
