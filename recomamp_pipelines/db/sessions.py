"""The PostgreSQL sessions of one process's AMC attempts: few, whatever is in flight.

An attempt spends most of its life waiting on AMC (for a slot, then for its execution), so it
holds no connection of its own. Its statements borrow one from a small pool for as long as
they run, and what must last as long as the attempt, the advisory locks that tell every other
process that a week or an attempt is being worked on, lives in one session per process, the
lock session. A process that dies takes its lock session, and every lock in it, with it, so a
crash never stands in a resume's way. The lock session also listens for released AMC slots and
tells the waiters of this process.

A process with 200 weeks in flight thus uses `POOL_SIZE + 1` connections, not 200.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from recomamp_pipelines.db.queries import load

log = logging.getLogger(__name__)

#: Connections lent to the statements of one process's attempts.
POOL_SIZE = 3
#: How long a statement may wait for a pooled connection (a long load holds one meanwhile).
POOL_WAIT_SECONDS = 600.0
#: While some attempt waits for a slot: how often the lock session looks for work between
#: listening for announcements. Otherwise it answers at once.
SESSION_TICK_SECONDS = 0.05
#: How long the idle lock session waits for work before it checks that its connection lives.
SESSION_IDLE_SECONDS = 1.0
#: Channel on which released AMC slots are announced (see claim_amc_instance_slot).
SLOT_CHANNEL = "amc_instance_slots"

Result = TypeVar("Result")
_Request = tuple[Callable[[psycopg.Connection[Any]], Any], "Future[Any]"]


class LockSessionError(RuntimeError):
    """The lock session could not be reached."""


class Sessions:
    """One process's pool of connections and its lock session, each opened on first use."""

    def __init__(self, database_url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.database_url = database_url
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._session: _LockSession | None = None
        self._session_lock = threading.Lock()

    # --- statements ---------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in autocommit mode, lent for the block's statements."""
        with self._open_pool().connection() as conn:
            yield conn

    def _open_pool(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.database_url,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True},
                    reset=_reset,
                    check=ConnectionPool.check_connection,
                    timeout=POOL_WAIT_SECONDS,
                    max_idle=60.0,
                    num_workers=1,
                    name="recomamp-attempts",
                    open=True,
                )
            return self._pool

    # --- locks and announcements --------------------------------------------------------------

    def hold(self, key: str) -> bool:
        """Take the advisory lock `key` for this process; False when anyone holds it already.

        Held by this process too counts as taken: two runs in one process never share a week.
        """
        return self._lock_session().hold(key)

    def let_go(self, key: str) -> None:
        """Release `key`, if this process holds it."""
        with self._session_lock:
            session = self._session
        if session is not None:
            session.let_go(key)

    @contextmanager
    def slot_announcements(self) -> Iterator[Announcements]:
        """Listen for released AMC slots for the block; none announced inside it is missed."""
        session = self._lock_session()
        with session.listening():
            yield Announcements(session)

    def _lock_session(self) -> _LockSession:
        with self._session_lock:
            if self._session is None:
                self._session = _LockSession(self.database_url)
            return self._session

    def close(self) -> None:
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class Announcements:
    """Released AMC slots, as the lock session hears them."""

    def __init__(self, session: _LockSession) -> None:
        self._session = session
        self.seen = session.announcements()

    def wait(self, timeout: float) -> bool:
        """Wait until a slot is announced released since the last wait, or `timeout`; whether
        one was."""
        newest = self._session.wait_for_announcement(self.seen, timeout)
        announced, self.seen = newest != self.seen, newest
        return announced


def _reset(conn: psycopg.Connection[Any]) -> None:
    """A returned connection keeps no lock a statement forgot to release."""
    conn.execute("select pg_advisory_unlock_all()")


class _LockSession:
    """One connection owned by one thread: it takes and releases locks on request and listens.

    If the connection breaks, the thread connects again and takes every held lock again; a lock
    another session took meanwhile is reported in the log.
    """

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._held: set[str] = set()
        self._announced = 0
        self._announcement = threading.Condition()
        self._listeners = 0
        self._listeners_lock = threading.Lock()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(
            target=self._serve, name="recomamp-lock-session", daemon=True
        )
        self._thread.start()

    def hold(self, key: str) -> bool:
        def take(conn: psycopg.Connection[Any]) -> bool:
            if key in self._held:
                return False
            row = conn.execute(load("hold_session_lock"), {"key": key}).fetchone()
            if row is not None and row[0]:
                self._held.add(key)
                return True
            return False

        return bool(self._ask(take))

    def let_go(self, key: str) -> None:
        def release(conn: psycopg.Connection[Any]) -> None:
            if key in self._held:
                self._held.discard(key)
                conn.execute(load("release_session_lock"), {"key": key})

        try:
            self._ask(release)
        except (LockSessionError, psycopg.Error) as exc:
            # A broken session has released everything already.
            log.warning("could not release lock %s: %s", key, exc)

    @contextmanager
    def listening(self) -> Iterator[None]:
        with self._listeners_lock:
            self._listeners += 1
        try:
            self._ask(lambda conn: None)  # the session is connected and listens from here on
            yield
        finally:
            with self._listeners_lock:
                self._listeners -= 1

    def announcements(self) -> int:
        with self._announcement:
            return self._announced

    def wait_for_announcement(self, seen: int, timeout: float) -> int:
        with self._announcement:
            self._announcement.wait_for(lambda: self._announced != seen, timeout=timeout)
            return self._announced

    def _ask(self, request: Callable[[psycopg.Connection[Any]], Result]) -> Result:
        if self._stop.is_set():
            raise LockSessionError("the lock session is closed")
        future: Future[Result] = Future()
        self._requests.put((request, future))
        return future.result()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    # --- the session's thread -----------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    conn = self._connected()
                    if self._listeners:
                        self._answer(conn)
                        for _ in conn.notifies(timeout=SESSION_TICK_SECONDS, stop_after=1):
                            self._announce()
                    else:
                        # Nobody waits for a slot: answer each request as it comes.
                        try:
                            first = self._requests.get(timeout=SESSION_IDLE_SECONDS)
                        except queue.Empty:
                            if self._held:
                                # A lost connection is found, and its locks taken again, now.
                                conn.execute("select 1")
                            continue
                        self._answer(conn, first)
                except psycopg.OperationalError as exc:
                    self._lost(exc)
        finally:
            self._fail_requests(LockSessionError("the lock session is closed"))
            if self._conn is not None:
                self._conn.close()

    def _connected(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = psycopg.connect(self._url, autocommit=True)
        conn.execute(load("lock_session_keepalives"))
        conn.execute(load("listen_for_slots"))
        lost = sorted(
            key
            for key in self._held
            if not (row := conn.execute(load("hold_session_lock"), {"key": key}).fetchone())
            or not row[0]
        )
        for key in lost:
            log.error("lock %s was taken by another session while the lock session was down", key)
            self._held.discard(key)
        self._conn = conn
        # Slots may have been released while nobody listened: waiters look again.
        self._announce()
        return conn

    def _answer(self, conn: psycopg.Connection[Any], first: _Request | None = None) -> None:
        """Answer `first` and every request waiting."""
        while True:
            if first is not None:
                (request, future), first = first, None
            else:
                try:
                    request, future = self._requests.get_nowait()
                except queue.Empty:
                    return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(request(conn))
            except psycopg.OperationalError as exc:
                future.set_exception(exc)
                raise
            except Exception as exc:
                future.set_exception(exc)

    def _announce(self) -> None:
        with self._announcement:
            self._announced += 1
            self._announcement.notify_all()

    def _lost(self, exc: psycopg.OperationalError) -> None:
        log.warning("the lock session's connection broke (%s); connecting again", exc)
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._fail_requests(LockSessionError(f"the lock session's connection broke: {exc}"))
        self._stop.wait(1.0)

    def _fail_requests(self, error: Exception) -> None:
        while True:
            try:
                _, future = self._requests.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(error)
