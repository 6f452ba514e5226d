"""Many attempts of one run side by side: a thread each, their heartbeat, their cancellation.

AMC's per-instance slots bound what is in flight; the threads only wait. A heartbeat thread
marks every attempt at work alive (waiting, polling, downloading, loading alike), so that the
dead-run reconciler and the slot gate can tell a slow attempt from one whose process is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import psycopg

from recomamp_pipelines.amc.client import AmcClient, PollPolicy
from recomamp_pipelines.attempt import executions
from recomamp_pipelines.attempt.lifecycle import AttemptRunner, AttemptTarget
from recomamp_pipelines.attempt.owner import AmcOwner, OwnerClients, default_client_factory
from recomamp_pipelines.db.sessions import Sessions
from recomamp_pipelines.settings import Settings

log = logging.getLogger(__name__)

#: How often attempts at work are marked alive.
HEARTBEAT_SECONDS = 30.0
MAX_WORKERS = 12

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass(kw_only=True)
class RunsAttempts:
    """What a runner of many attempts (a collection's weeks, a run's claims) shares: how it
    reaches AMC and the database, and its AttemptRunner. Subclasses are keyword-only
    dataclasses that add what their targets need."""

    settings: Settings
    database_url: str
    dagster_run_id: str | None = None
    poll_policy: PollPolicy | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    client_factory: Callable[[AmcOwner], AmcClient] | None = None
    on_progress: Callable[[AttemptTarget, str], None] | None = None
    attempts: AttemptRunner = field(init=False)

    def __post_init__(self) -> None:
        self._start_attempts()

    def _start_attempts(self) -> None:
        factory = self.client_factory or default_client_factory(self.settings)
        self.attempts = AttemptRunner(
            clients=OwnerClients(factory),
            sessions=Sessions(self.database_url),
            results_root=self.settings.results_root,
            dagster_run_id=self.dagster_run_id,
            poll_policy=self.poll_policy,
            now=self.now,
            on_progress=self.on_progress,
        )

    @property
    def cancel_event(self) -> threading.Event:
        """Set to cancel the attempts in flight (what the Dagster run's interrupt does)."""
        return self.attempts.cancel_event

    @property
    def sessions(self) -> Sessions:
        """The database sessions of this runner's attempts."""
        return self.attempts.sessions

    def close(self) -> None:
        self.attempts.clients.close()
        self.attempts.sessions.close()


def run_side_by_side(
    runner: AttemptRunner,
    items: Iterable[Item],
    run_one: Callable[[Item], Outcome],
    *,
    max_workers: int = MAX_WORKERS,
) -> Generator[tuple[Future[Outcome], Item]]:
    """Run `run_one` for every item in threads; yield each future with its item as it ends.

    Leaving early (the run was cancelled, the consumer stopped) tells the attempts through the
    runner's cancel event and waits for them to record it.
    """
    items = list(items)
    if not items:
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(runner, stop), daemon=True, name="heartbeat")
    beat.start()
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(len(items), max_workers)), thread_name_prefix="attempt"
    )
    futures: dict[Future[Outcome], Item] = {}
    try:
        futures = {pool.submit(run_one, item): item for item in items}
        for future in as_completed(futures):
            yield future, futures[future]
    finally:
        if any(not future.done() for future in futures):
            runner.cancel_event.set()
        pool.shutdown(wait=True, cancel_futures=True)
        stop.set()
        beat.join(timeout=5)


def _heartbeat(runner: AttemptRunner, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        ids = runner.in_flight()
        if not ids:
            continue
        try:
            with runner.sessions.connection() as conn:
                executions.heartbeat(conn, ids)
        except psycopg.Error as exc:  # a pool timeout too
            log.warning("could not record the heartbeat of %d attempts: %s", len(ids), exc)
