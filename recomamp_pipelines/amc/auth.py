"""Configuration of the AMC client and Login with Amazon access tokens.

The refresh token handed to the client is the user's plaintext token (the caller decrypts it);
it, the client secret and every access token live in `SecretStr` wrappers whose repr is
masked, and are registered with the log redaction before first use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from recomamp_pipelines.amc.errors import AmcAuthError, AmcConfigError
from recomamp_pipelines.amc.ratelimit import RateLimit
from recomamp_pipelines.amc.redaction import install_log_redaction, register_secret
from recomamp_pipelines.amc.retry import RetryPolicy, amc_message, send_with_retries
from recomamp_pipelines.settings import (
    AMC_API_URL,
    AMC_CLIENT_ID,
    AMC_CLIENT_SECRET,
    AMC_TOKEN_URL,
    SUBMISSION_RATE_LIMIT_WAIT_SECONDS,
    Settings,
)

log = logging.getLogger(__name__)

# Refresh this long before Amazon's stated expiry, so that no call goes out with a token
# about to lapse in flight.
REFRESH_MARGIN_SECONDS = 300.0
# Every Fernet token starts with its version byte 0x80, "gAAAAA" in base64: Amazon's refresh
# tokens never do ("Atzr|...").
_FERNET_PREFIX = "gAAAAA"


@dataclass(frozen=True)
class Region:
    """An Amazon Ads region: its AMC API host and its Login with Amazon token URL."""

    name: str
    api_url: str
    token_url: str
    # Sent with calls made before an account (and so its marketplace) is known.
    default_marketplace_id: str


REGIONS: dict[str, Region] = {
    "NA": Region(
        "NA",
        "https://advertising-api.amazon.com",
        "https://api.amazon.com/auth/o2/token",
        "ATVPDKIKX0DER",
    ),
    "EU": Region(
        "EU",
        "https://advertising-api-eu.amazon.com",
        "https://api.amazon.co.uk/auth/o2/token",
        "A1F83G8C2ARO7P",
    ),
    "FE": Region(
        "FE",
        "https://advertising-api-fe.amazon.com",
        "https://api.amazon.co.jp/auth/o2/token",
        "A1VC38T7YXB528",
    ),
}


def region(name: str) -> Region:
    """The region called `name` (NA, EU or FE)."""
    try:
        return REGIONS[name.upper()]
    except KeyError:
        raise AmcConfigError(
            f"AMC region {name!r} is unknown: expected one of {', '.join(REGIONS)}"
        ) from None


REGIONS_DEFAULT_MARKETPLACE = REGIONS["NA"].default_marketplace_id


@dataclass(frozen=True)
class AmcConfig:
    """Where AMC and Login with Amazon live, and the application's own credentials.

    default_marketplace_id is sent with calls made before an account is chosen (listing the
    accounts); rate_limit is per AMC account and shared by every client in the process;
    retry_policy bounds each call, submission_retry_policy the calls that submit (saving a
    workflow, creating an execution), which wait out a 429 storm; timeout_seconds bounds each
    HTTP exchange.
    """

    api_url: str
    token_url: str
    client_id: str
    client_secret: SecretStr
    default_marketplace_id: str = REGIONS_DEFAULT_MARKETPLACE
    rate_limit: RateLimit = field(default_factory=RateLimit)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    submission_retry_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(rate_limit_wait=SUBMISSION_RATE_LIMIT_WAIT_SECONDS)
    )
    timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("api_url", "token_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise AmcConfigError(f"AmcConfig.{name}={value!r}: expected an http(s) URL")
            object.__setattr__(self, name, value.rstrip("/"))
        if not self.client_id:
            raise AmcConfigError("AmcConfig.client_id is empty")
        if not self.client_secret.get_secret_value():
            raise AmcConfigError("AmcConfig.client_secret is empty")
        register_secret(self.client_secret.get_secret_value())

    @classmethod
    def for_region(
        cls, name: str, *, client_id: str, client_secret: str | SecretStr, **options: object
    ) -> AmcConfig:
        """A configuration for Amazon's hosts of region `name` (NA, EU, FE)."""
        hosts = region(name)
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        return cls(
            api_url=hosts.api_url,
            token_url=hosts.token_url,
            client_id=client_id,
            client_secret=secret,
            default_marketplace_id=hosts.default_marketplace_id,
            **options,  # type: ignore[arg-type]
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, region_name: str = "NA") -> AmcConfig:
        """The configuration from the project settings; hosts default to `region_name`'s."""
        missing = [
            variable
            for variable, value in (
                (AMC_CLIENT_ID, settings.amc_client_id),
                (AMC_CLIENT_SECRET, settings.amc_client_secret),
            )
            if not value
        ]
        if missing:
            raise AmcConfigError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "the AMC client needs the Amazon Ads application's client id and secret "
                "(environment or settings file)"
            )
        hosts = region(region_name)
        for variable, value, default in (
            (AMC_API_URL, settings.amc_api_url, hosts.api_url),
            (AMC_TOKEN_URL, settings.amc_token_url, hosts.token_url),
        ):
            if value and not value.startswith(("http://", "https://")):
                raise AmcConfigError(
                    f"{variable}={value!r}: expected an http(s) URL such as {default!r}"
                )
        assert settings.amc_client_id is not None and settings.amc_client_secret is not None
        return cls(
            api_url=settings.amc_api_url or hosts.api_url,
            token_url=settings.amc_token_url or hosts.token_url,
            client_id=settings.amc_client_id,
            client_secret=SecretStr(settings.amc_client_secret),
            default_marketplace_id=hosts.default_marketplace_id,
            submission_retry_policy=RetryPolicy(
                rate_limit_wait=settings.amc_submit_rate_limit_wait_seconds
            ),
        )


@dataclass(frozen=True)
class AccessToken:
    value: SecretStr
    # On the provider's monotonic clock; the token is refreshed REFRESH_MARGIN_SECONDS before.
    expires_at: float


class TokenProvider:
    """Hands out a valid access token, refreshing it ahead of expiry and when AMC refuses it.

    Thread-safe: concurrent callers share one refresh.
    """

    def __init__(
        self,
        config: AmcConfig,
        refresh_token: str | SecretStr,
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        secret = refresh_token if isinstance(refresh_token, SecretStr) else SecretStr(refresh_token)
        if not secret.get_secret_value().strip():
            raise AmcConfigError("the refresh token is empty")
        if secret.get_secret_value().startswith(_FERNET_PREFIX):
            raise AmcConfigError(
                "the refresh token is still encrypted (as stored in "
                "users.encrypted_refresh_token): decrypt it with TokenCipher before use"
            )
        install_log_redaction()
        register_secret(secret.get_secret_value())
        self._config = config
        self._refresh_token = secret
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(token_url={self._config.token_url!r}, refresh_token=**********)"

    def access_token(self) -> SecretStr:
        """A token valid for at least the refresh margin; refreshed first if needed."""
        with self._lock:
            token = self._token
            if token is None or token.expires_at - self._clock() <= REFRESH_MARGIN_SECONDS:
                token = self._refresh()
            return token.value

    def refresh_after_rejection(self, rejected: SecretStr) -> SecretStr:
        """A new token after AMC answered 401 to `rejected` (shared if another thread did it)."""
        with self._lock:
            token = self._token
            if token is None or token.value.get_secret_value() == rejected.get_secret_value():
                token = self._refresh()
            return token.value

    def _refresh(self) -> AccessToken:
        config = self._config
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.get_secret_value(),
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
        }
        requested_at = self._clock()
        response = send_with_retries(
            lambda: self._http.post(config.token_url, data=form),
            policy=config.retry_policy,
            method="POST",
            path=config.token_url,
            service="Login with Amazon",
        )
        if response.status_code != 200:
            raise _auth_error(response, config)
        try:
            body = response.json()
            value = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AmcAuthError(
                f"Login with Amazon at {config.token_url} answered HTTP 200 without an "
                "access_token",
                status_code=200,
            ) from None
        register_secret(value)
        # A token too short-lived for the margin is used for half its life instead, so that
        # it is not refreshed before every call.
        margin = min(REFRESH_MARGIN_SECONDS, expires_in / 2)
        self._token = AccessToken(
            SecretStr(value), requested_at + expires_in - margin + REFRESH_MARGIN_SECONDS
        )
        log.debug("access token refreshed; valid for %.0f s", expires_in)
        return self._token


def _auth_error(response: httpx.Response, config: AmcConfig) -> AmcAuthError:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    detail = amc_message(response)
    if error == "invalid_grant":
        hint = (
            "the user's refresh token is invalid, revoked or for another application: "
            "the user must sign in with Amazon again"
        )
    elif error in ("invalid_client", "unauthorized_client"):
        hint = (
            f"the application's client id or secret is wrong: check {AMC_CLIENT_ID} "
            f"and {AMC_CLIENT_SECRET}"
        )
    else:
        hint = "Login with Amazon refused to issue an access token"
    label = f" ({error})" if error else ""
    return AmcAuthError(
        f"Login with Amazon at {config.token_url} refused the token refresh with HTTP "
        f"{response.status_code}{label}: {hint}. Amazon said: {detail}",
        error=error,
        status_code=response.status_code,
    )
