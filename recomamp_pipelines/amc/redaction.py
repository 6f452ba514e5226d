"""Keeps tokens, client secrets and pre-signed URL signatures out of log records.

The client registers every secret it handles (refresh token, client secret, each access token)
and a filter on its own loggers and on httpx's and httpcore's loggers replaces them, and
anything shaped like a bearer token, an Amazon token or a URL signature, before any handler
sees the record. A filter set on a logger only sees records created by that very logger, so
the filter is installed on each logger by name rather than on a parent.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback

MASK = "***"

# Loggers whose records may carry request details: this package's, and the HTTP stack's.
PROTECTED_LOGGERS = (
    "recomamp_pipelines.amc",
    "recomamp_pipelines.amc.auth",
    "recomamp_pipelines.amc.client",
    "recomamp_pipelines.amc.download",
    "recomamp_pipelines.amc.health",
    "recomamp_pipelines.amc.ratelimit",
    "recomamp_pipelines.amc.retry",
    "recomamp_pipelines.cli.amc",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "h11",
)

# Shapes of secrets whatever their value: bearer headers, Amazon's Atza|/Atzr| tokens,
# form or JSON fields named like a credential, and signature-like query parameters.
_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[^\s'\",]+"), r"\1" + MASK),
    (re.compile(r"Atz[a-z]\|[^\s'\",&}]+"), MASK),
    (
        re.compile(
            r"(?i)((?:refresh_token|access_token|client_secret|authorization)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s'\",&}]+"
        ),
        r"\1" + MASK,
    ),
    (
        re.compile(
            r"(?i)([?&][^=&\s'\"]*(?:signature|credential|token|secret|key|sig)[^=&\s'\"]*=)"
            r"[^&\s'\"]+"
        ),
        r"\1" + MASK,
    ),
)

# Bounded so that a long-lived process refreshing hourly does not grow without limit.
_MAX_SECRETS = 4096
_secrets: dict[str, None] = {}
_lock = threading.Lock()
_installed = False


def register_secret(value: str | None) -> None:
    """Make `value` unprintable in every protected log record from now on."""
    if not value or len(value) < 4:
        return
    with _lock:
        _secrets.pop(value, None)
        _secrets[value] = None
        while len(_secrets) > _MAX_SECRETS:
            del _secrets[next(iter(_secrets))]


def redact(text: str) -> str:
    """`text` with every registered secret and secret-shaped substring masked."""
    with _lock:
        known = list(_secrets)
    # Longest first, so that a secret containing another is masked whole.
    for secret in sorted(known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters reuse exc_text when set, so the traceback is masked once, here.
            record.exc_text = redact(
                "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            )
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to every protected logger (idempotent)."""
    global _installed
    if _installed:
        return
    with _lock:
        for name in PROTECTED_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        _installed = True
