"""Claiming due ticks exactly once, and grouping the claims into runs.

A tick is a (schedule, fire time). The claim of a tick and the advance of the schedule's
`next_run_at` are one transaction over rows locked with `FOR UPDATE SKIP LOCKED`, and the
claim row is unique per tick: two evaluations at once, a restart or a crash after the commit
cannot produce a second claim, so a tick can never run twice. A claim waits (status CLAIMED)
until the run meant for it takes it; that run's Dagster run_key is derived from the claims it
serves and their attempt numbers. A claim whose run never served it is handed back with its
attempt raised, which gives it a run_key Dagster has never seen: no tick is ever skipped.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

import psycopg
from psycopg.rows import dict_row

from recomamp_pipelines.scheduling.cadence import to_utc
from recomamp_pipelines.scheduling.queries import load
from recomamp_pipelines.scheduling.timing import (
    ScheduleDefinitionError,
    ScheduleTiming,
    cadence_of,
    due_tick,
)

log = logging.getLogger(__name__)

#: How many claimed ticks one run serves (its AMC executions are polled side by side).
SCHEDULES_PER_RUN = 25
#: How many due schedules one evaluation claims at most; the rest wait for the next one.
DUE_LIMIT = 2000
#: Runs tried for one tick before it is recorded as FAILED.
MAX_ATTEMPTS = 5
_RUN_KEY_PREFIX = "schedules-"


class ClaimTagError(ValueError):
    """A run's claims tag cannot be read."""


@dataclass(frozen=True, order=True)
class ClaimRef:
    """One claimed tick at one attempt, as a run's tags name it: `<claim id>@<attempt>`."""

    claim_id: uuid.UUID
    attempt: int

    @property
    def key(self) -> str:
        return f"{self.claim_id}@{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> ClaimRef:
        claim, sep, attempt = text.strip().partition("@")
        try:
            if not sep:
                raise ValueError(text)
            return cls(uuid.UUID(claim), int(attempt))
        except ValueError:
            raise ClaimTagError(
                f"claim {text!r}: expected '<claim uuid>@<attempt number>'"
            ) from None


@dataclass(frozen=True)
class ClaimBatch:
    """The claims one Dagster run serves, and that run's run_key."""

    claims: tuple[ClaimRef, ...]

    @property
    def run_key(self) -> str:
        return batch_run_key(self.claims)

    @property
    def tag_value(self) -> str:
        return ",".join(ref.key for ref in self.claims)

    def raised(self) -> ClaimBatch:
        """The same claims at their next attempt."""
        return ClaimBatch(tuple(ClaimRef(ref.claim_id, ref.attempt + 1) for ref in self.claims))


def batch_run_key(claims: Iterable[ClaimRef]) -> str:
    """The Dagster run_key of a run serving `claims`: the same claims and attempts, the same key."""
    canonical = ",".join(ref.key for ref in sorted(claims))
    return _RUN_KEY_PREFIX + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:40]


def parse_claims_tag(text: str) -> list[ClaimRef]:
    """The claims named by a run's claims tag (comma-separated `<claim id>@<attempt>`)."""
    if not text.strip():
        raise ClaimTagError("the run names no claim: its claims tag is empty")
    return [ClaimRef.parse(part) for part in text.split(",")]


@dataclass(frozen=True)
class TickClaim:
    """A tick claimed by this evaluation."""

    claim_id: uuid.UUID
    schedule_id: uuid.UUID
    schedule_name: str
    scheduled_at: datetime
    missed_ticks: int


@dataclass(frozen=True)
class InvalidSchedule:
    """A due schedule that cannot run, and why."""

    schedule_id: uuid.UUID
    name: str
    error: str


@dataclass
class ClaimResult:
    """What one claim transaction did."""

    claimed: list[TickClaim] = field(default_factory=list)
    batches: list[ClaimBatch] = field(default_factory=list)
    #: Rows marked invalid now (rows marked before are not reported again).
    newly_invalid: list[InvalidSchedule] = field(default_factory=list)
    #: Due rows that had no fire time since next_run_at (their next_run_at was moved on).
    advanced_without_tick: int = 0


@dataclass
class _Due:
    schedule_id: uuid.UUID
    name: str
    instance_id: uuid.UUID | None
    tick: datetime
    missed: int


def claim_due_ticks(
    conn: psycopg.Connection,
    now: datetime,
    *,
    limit: int = DUE_LIMIT,
    per_run: int = SCHEDULES_PER_RUN,
) -> ClaimResult:
    """Claim every due tick at `now` and advance each schedule's next_run_at, atomically.

    Rows with an invalid cadence or a missing workflow get `last_error` and are left alone;
    every other due row is claimed.
    """
    now = to_utc(now, "now")
    result = ClaimResult()
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(load("due_schedules"), {"now": now, "limit": limit}).fetchall()
        due: list[_Due] = []
        advance: dict[uuid.UUID, datetime] = {}
        invalid: dict[uuid.UUID, InvalidSchedule] = {}
        for row in rows:
            schedule_id = row["id"]
            name = row["name"]
            next_run_at = row["next_run_at"]
            has_workflow = row["has_workflow"]
            instance_id = row["instance_id"]
            timing = ScheduleTiming.of_row(row, "id")
            try:
                if not has_workflow:
                    raise ScheduleDefinitionError(
                        f"schedule {schedule_id}: its workflow no longer exists"
                    )
                cadence = cadence_of(timing)
                tick, missed = due_tick(cadence, next_run_at, now)
                following = cadence.next_fire_time(tick or now)
            except ScheduleDefinitionError as exc:
                invalid[schedule_id] = InvalidSchedule(schedule_id, name, str(exc))
                continue
            if following is None:
                invalid[schedule_id] = InvalidSchedule(
                    schedule_id, name, f"schedule {schedule_id}: never fires again"
                )
                continue
            advance[schedule_id] = following
            if tick is None:
                result.advanced_without_tick += 1
            else:
                due.append(_Due(schedule_id, name, instance_id, tick, missed))
        if due:
            inserted = _insert_claims(conn, due, now)
            claimed = [item for item in due if item.schedule_id in inserted]
            result.claimed = [
                TickClaim(
                    inserted[item.schedule_id], item.schedule_id, item.name, item.tick, item.missed
                )
                for item in claimed
            ]
            result.batches = _group(claimed, inserted, per_run)
            _assign(conn, result.batches)
        if advance:
            conn.execute(
                load("advance_schedules"),
                {"ids": list(advance), "next_run_at": list(advance.values())},
            )
        if invalid:
            marked = conn.execute(
                load("mark_invalid_schedules"),
                {
                    "ids": list(invalid),
                    "errors": [item.error for item in invalid.values()],
                },
            ).fetchall()
            result.newly_invalid = [invalid[row[0]] for row in marked]
    for item in result.newly_invalid:
        log.warning("schedule %r cannot run: %s", item.name, item.error)
    return result


def _insert_claims(
    conn: psycopg.Connection, due: Sequence[_Due], now: datetime
) -> dict[uuid.UUID, uuid.UUID]:
    """Insert claim rows; schedule id -> claim id for the ticks nobody had claimed before."""
    ids = {item.schedule_id: uuid.uuid4() for item in due}
    rows = conn.execute(
        load("insert_claims"),
        {
            "ids": [ids[item.schedule_id] for item in due],
            "schedule_ids": [item.schedule_id for item in due],
            "scheduled_at": [item.tick for item in due],
            "missed_ticks": [item.missed for item in due],
            "now": now,
        },
    ).fetchall()
    inserted = {row[0] for row in rows}
    return {schedule_id: claim for schedule_id, claim in ids.items() if claim in inserted}


def _group(
    due: Sequence[_Due], claim_ids: dict[uuid.UUID, uuid.UUID], per_run: int
) -> list[ClaimBatch]:
    """Claims in runs of at most `per_run`, schedules of one AMC instance together."""
    ordered = sorted(due, key=lambda item: (str(item.instance_id), item.tick, item.schedule_id))
    batches: list[ClaimBatch] = []
    current: list[ClaimRef] = []
    for item in ordered:
        current.append(ClaimRef(claim_ids[item.schedule_id], 1))
        if len(current) == per_run:
            batches.append(ClaimBatch(tuple(current)))
            current = []
    if current:
        batches.append(ClaimBatch(tuple(current)))
    return batches


def _assign(conn: psycopg.Connection, batches: Sequence[ClaimBatch]) -> None:
    refs = [(ref, batch.run_key) for batch in batches for ref in batch.claims]
    conn.execute(
        load("assign_batches"),
        {
            "ids": [ref.claim_id for ref, _ in refs],
            "batch_run_keys": [key for _, key in refs],
            "run_keys": [ref.key for ref, _ in refs],
        },
    )


@dataclass(frozen=True)
class WaitingBatch:
    """Claims no run has taken yet, under the run_key of the run meant to take them."""

    run_key: str
    batch: ClaimBatch
    first_claimed_at: datetime


def waiting_batches(conn: psycopg.Connection) -> list[WaitingBatch]:
    """Every group of claims in status CLAIMED, by the run_key they wait for."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(load("waiting_claims")).fetchall()
    waiting = []
    for key, group in groupby(rows, key=lambda row: row["batch_run_key"]):
        items = list(group)
        waiting.append(
            WaitingBatch(
                run_key=key,
                batch=ClaimBatch(tuple(ClaimRef(row["id"], row["attempt"]) for row in items)),
                first_claimed_at=min(row["claimed_at"] for row in items),
            )
        )
    return waiting


def hand_back(
    conn: psycopg.Connection,
    batch: ClaimBatch,
    *,
    from_statuses: Sequence[str] = ("CLAIMED",),
    from_run_id: str | None = None,
) -> ClaimBatch | None:
    """Give the claims of `batch` a new attempt (and so a new run_key); None if none moved.

    Only claims still at the batch's attempt and in one of `from_statuses` (and, when given,
    held by run `from_run_id`) move, so that two evaluations never both hand a claim back.
    """
    raised = batch.raised()
    key = raised.run_key
    moved = conn.execute(
        load("hand_back_claims"),
        {
            "ids": [ref.claim_id for ref in raised.claims],
            "attempts": [ref.attempt for ref in raised.claims],
            "batch_run_keys": [key] * len(raised.claims),
            "run_keys": [ref.key for ref in raised.claims],
            "from_statuses": list(from_statuses),
            "from_run_id": from_run_id,
        },
    ).fetchall()
    moved_ids = {row[0] for row in moved}
    kept = tuple(ref for ref in raised.claims if ref.claim_id in moved_ids)
    if not kept:
        return None
    if len(kept) != len(raised.claims):
        # Claims that did not move are someone else's now; the rest need a key of their own.
        regrouped = ClaimBatch(kept)
        _assign(conn, [regrouped])
        return regrouped
    return raised
