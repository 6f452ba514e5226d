"""A process-wide rate limiter per AMC account.

AMC does not publish its rate limits; it answers 429. One token bucket per (API host,
advertiser id), shared by every client in the process, spaces out calls so that a burst of
runs starting together does not trip them, and a 429 pauses the whole bucket for the time AMC
asked, so the other workers of the same account back off too instead of piling on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from recomamp_pipelines.amc.errors import AmcConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    """Sustained calls per second and the burst allowed above it, per AMC account."""

    requests_per_second: float = 3.0
    burst: int = 10

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0:
            raise AmcConfigError(
                f"RateLimit.requests_per_second={self.requests_per_second}: must be > 0"
            )
        if self.burst < 1:
            raise AmcConfigError(f"RateLimit.burst={self.burst}: must be >= 1")


class TokenBucket:
    """Thread-safe token bucket; callers reserve a token and sleep outside the lock."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        name: str = "AMC",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limit = limit
        self._tokens = float(limit.burst)
        # When refilling (re)starts; in the future while the bucket is paused after a 429.
        self._refill_from = clock()

    @property
    def limit(self) -> RateLimit:
        return self._limit

    def reconfigure(self, limit: RateLimit) -> None:
        with self._lock:
            self._limit = limit
            self._tokens = min(self._tokens, float(limit.burst))

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            log.debug("%s: waiting %.3f s for the shared rate limit", self.name, wait)
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hand out nothing for `seconds` (AMC answered 429), then refill from empty."""
        log.info("%s: AMC throttled a call; pausing every caller for %.2f s", self.name, seconds)
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens = min(self._tokens, 0.0)
            self._refill_from = max(self._refill_from, now + max(seconds, 0.0))

    def _refill(self, now: float) -> None:
        if now > self._refill_from:
            rate = self._limit.requests_per_second
            gained = (now - self._refill_from) * rate
            self._tokens = min(float(self._limit.burst), self._tokens + gained)
            self._refill_from = now

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            wait = max(self._refill_from - now, 0.0)
            if self._tokens < 0:
                wait += -self._tokens / self._limit.requests_per_second
            return wait


_registry: dict[tuple[str, str], TokenBucket] = {}
_registry_lock = threading.Lock()


def bucket_for(api_url: str, advertiser_id: str | None, limit: RateLimit) -> TokenBucket:
    """The process's bucket for one AMC account; the latest limit given applies to it."""
    key = (api_url.rstrip("/"), advertiser_id or "")
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = TokenBucket(limit, name=f"AMC account {key[1] or '(none)'} at {key[0]}")
            _registry[key] = bucket
        elif bucket.limit != limit:
            bucket.reconfigure(limit)
        return bucket


def forget_buckets() -> None:
    """Drop every account's bucket (a pause after a 429 included); the next call starts fresh."""
    with _registry_lock:
        _registry.clear()
