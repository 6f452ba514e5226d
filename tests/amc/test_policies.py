"""Retry policy arithmetic, Retry-After parsing and the shared token bucket."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest

from recomamp_pipelines.amc import AmcConfigError, RateLimit, RetryPolicy
from recomamp_pipelines.amc.ratelimit import TokenBucket, bucket_for
from recomamp_pipelines.amc.retry import parse_retry_after


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0)
    rng = random.Random(7)
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= w <= cap for w in waits)
        # Full jitter spreads over the whole range, not just near the cap.
        assert min(waits) < cap * 0.2 and max(waits) > cap * 0.8


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_in_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_http_date() -> None:
    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 01 Mar 2024 12:00:07 GMT", now) == 7.0
    assert parse_retry_after("Fri, 01 Mar 2024 11:00:00 GMT", now) == 0.0


def test_policies_refuse_nonsense() -> None:
    with pytest.raises(AmcConfigError, match="max_attempts=0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(AmcConfigError, match="deadline=0"):
        RetryPolicy(deadline=0)
    with pytest.raises(AmcConfigError, match="requests_per_second=0"):
        RateLimit(requests_per_second=0)


class FakeClock:
    """A clock that moves only when the bucket sleeps, so the test is exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_bucket_allows_a_burst_then_spaces_calls() -> None:
    clock = FakeClock()
    bucket = TokenBucket(
        RateLimit(requests_per_second=2.0, burst=3), clock=clock, sleep=clock.sleep
    )
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.5)
    assert clock.now == pytest.approx(1.0)


def test_a_429_pauses_the_whole_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(
        RateLimit(requests_per_second=10.0, burst=10), clock=clock, sleep=clock.sleep
    )
    bucket.pause(3.0)
    assert bucket.acquire() == pytest.approx(3.1)


def test_bucket_is_shared_per_account_and_host() -> None:
    limit = RateLimit(requests_per_second=5.0, burst=5)
    a = bucket_for("http://amc.test/", "ENTITYA", limit)
    assert bucket_for("http://amc.test", "ENTITYA", limit) is a
    assert bucket_for("http://amc.test", "ENTITYB", limit) is not a
    assert bucket_for("http://other.test", "ENTITYA", limit) is not a


def test_bucket_hands_out_no_more_than_its_rate_across_threads() -> None:
    clock = FakeClock()
    bucket = TokenBucket(
        RateLimit(requests_per_second=4.0, burst=2), clock=clock, sleep=lambda s: None
    )
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            wait = bucket.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 reservations at 4/s after a burst of 2: the last waits (40 - 2) / 4 seconds.
    assert sorted(waits)[-1] == pytest.approx(9.5)
    assert sorted(waits)[:2] == [0.0, 0.0]
