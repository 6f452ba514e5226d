"""The simulator's clock: real time, real time shifted, or frozen at an instant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimClock:
    """`now()` drives executions, data availability, data gaps, tokens and download URLs."""

    def __init__(self, start: datetime | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self.set(start, frozen)

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return utc_now() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, now: datetime | None, frozen: bool = False) -> None:
        """Jump to `now` (None: the real time); frozen clocks move only when told to."""
        target = (now or utc_now()).astimezone(UTC)
        with self._lock:
            self._offset = target - utc_now() if now is not None else timedelta(0)
            self._frozen_at = target if frozen else None

    def advance(self, seconds: float) -> None:
        with self._lock:
            step = timedelta(seconds=seconds)
            if self._frozen_at is not None:
                self._frozen_at += step
            else:
                self._offset += step

    def snapshot(self) -> dict[str, object]:
        return {"now": iso_z(self.now()), "frozen": self.frozen}

    def state(self) -> dict[str, object]:
        """What a restart needs: a frozen instant, or the offset from the real time."""
        with self._lock:
            if self._frozen_at is not None:
                return {"frozen_at": self._frozen_at.isoformat()}
            return {"offset_seconds": self._offset.total_seconds()}

    @classmethod
    def from_state(cls, state: dict[str, object]) -> SimClock:
        clock = cls()
        frozen_at = state.get("frozen_at")
        if isinstance(frozen_at, str):
            clock.set(datetime.fromisoformat(frozen_at), frozen=True)
        else:
            offset = state.get("offset_seconds", 0.0)
            clock.advance(float(offset) if isinstance(offset, int | float) else 0.0)
        return clock


def iso_z(moment: datetime) -> str:
    """AMC's timestamp form: UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
