"""The AMC concurrency gate: a slot of the instance, shared by every process, before submitting.

Slots go to the attempts that have waited longest (`claim_amc_instance_slot`, in PostgreSQL).
A waiter wakes as soon as a slot is released anywhere, looks again at least every
SLOT_LOOK_SECONDS, keeps its heartbeat fresh so that it keeps its place, and, each time it
looks, reclaims the slots whose holder is gone (no heartbeat, no session working on it), in
the command line as under the daemon.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

import psycopg

from recomamp_pipelines.attempt import executions
from recomamp_pipelines.attempt.queries import load
from recomamp_pipelines.db.sessions import Sessions

log = logging.getLogger(__name__)

#: How often an attempt waiting for an AMC slot looks again when no slot was announced free.
SLOT_LOOK_SECONDS = 1.0
#: How long a slot holder may be silent before, with no session working on it, it is gone.
HOLDER_SILENCE = timedelta(seconds=90)


def wait_for_slot(
    sessions: Sessions,
    instance_row_id: uuid.UUID,
    execution_id: uuid.UUID,
    cancelled: threading.Event,
    *,
    holder_silence: timedelta = HOLDER_SILENCE,
) -> bool:
    """Hold one of the AMC instance's slots; False if cancelled first.

    The wait holds no connection: each look borrows one, and the process's lock session says
    when a slot was released anywhere.
    """
    args = {"instance_id": instance_row_id, "execution_id": execution_id}
    with sessions.slot_announcements() as released:
        while True:
            with sessions.connection() as conn:
                gone = executions.reclaim_gone_slot_holders(conn, instance_row_id, holder_silence)
                for holder in gone:
                    log.warning("reclaimed the AMC slot of attempt %s: its process is gone", holder)
                row = conn.execute(load("claim_slot"), args).fetchone()
                if row is not None and row[0] is not None:
                    return True
                conn.execute(load("keep_waiting"), args)
            if cancelled.is_set():
                return False
            released.wait(SLOT_LOOK_SECONDS)
            if cancelled.is_set():
                return False


def release_slot(conn: psycopg.Connection, execution_id: uuid.UUID) -> None:
    """AMC has finished the execution: its slot serves the next submission during collection."""
    conn.execute(load("release_slot"), {"execution_id": execution_id})
