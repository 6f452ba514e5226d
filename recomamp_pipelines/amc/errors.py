"""Errors raised by the AMC client.

Every message is meant for a person: it names the call, the value at fault and, for AMC's own
refusals, carries AMC's text word for word. No message ever contains a token, a client secret
or a request header.
"""

from __future__ import annotations


class AmcError(Exception):
    """Base class of every error the AMC client raises."""


class AmcConfigError(AmcError, ValueError):
    """The client is configured or called with a value it cannot use."""


class AmcTimeWindowError(AmcConfigError):
    """A time window AMC would misread (aware datetimes, start after end, unknown zone)."""


class AmcAuthError(AmcError):
    """The owner's credentials were refused: Login with Amazon would not issue an access token
    (bad refresh token or client), or AMC refused a freshly issued one (AmcUnauthorized)."""

    def __init__(self, message: str, *, error: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.error = error
        self.status_code = status_code


class AmcApiError(AmcError):
    """AMC answered a call with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None,
        method: str,
        path: str,
        amc_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path
        self.amc_message = amc_message
        self.request_id = request_id


class AmcBadRequest(AmcApiError):
    """AMC refused the request (HTTP 400), e.g. SQL that does not compile; never retried."""


class AmcUnauthorized(AmcApiError, AmcAuthError):
    """AMC refused a freshly issued access token (HTTP 401 twice): the user's access is gone."""


class AmcForbidden(AmcApiError):
    """AMC refused access to the account or instance (HTTP 403)."""


class AmcNotFound(AmcApiError):
    """AMC has no such workflow, execution or instance (HTTP 404)."""


class AmcDownloadNotReady(AmcNotFound):
    """The execution has no output to download yet (AMC's 404 'unavailable for download')."""


class AmcRetryableError(AmcApiError):
    """A failure worth retrying later; raised once the retry policy has run out.

    Raised for AMC's own calls and for Login with Amazon's token endpoint alike; the message
    names which of the two failed.
    """


class AmcRateLimited(AmcRetryableError):
    """AMC (or Login with Amazon) kept answering 429 Too Many Requests."""


class AmcServerError(AmcRetryableError):
    """AMC (or Login with Amazon) kept answering 5xx."""


class AmcTransportError(AmcRetryableError):
    """AMC (or Login with Amazon) could not be reached (connection refused, reset, timed out)."""


class AmcUnknownStatus(AmcError, ValueError):
    """AMC reported an execution status this client does not know."""


class AmcDownloadError(AmcError):
    """A result file could not be downloaded whole."""
