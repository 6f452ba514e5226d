"""The scheduler's clock: the real time, or a fixed instant in tests and replays."""

from datetime import UTC, datetime

import dagster as dg


class SchedulerClock(dg.ConfigurableResource):
    """What time the schedule and recovery sensors believe it is.

    `frozen_at` (ISO 8601 with a UTC offset) pins it, so that an evaluation can be replayed at
    a chosen instant, e.g. across a daylight-saving change; unset, it is the real time.
    """

    frozen_at: str | None = None

    def now(self) -> datetime:
        if self.frozen_at is None:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.frozen_at)
        if moment.utcoffset() is None:
            raise ValueError(
                f"SchedulerClock.frozen_at {self.frozen_at!r} has no UTC offset; "
                "give one so that it names an instant"
            )
        return moment.astimezone(UTC)

    @classmethod
    def at(cls, moment: datetime) -> "SchedulerClock":
        """A clock stopped at `moment` (aware)."""
        return cls(frozen_at=moment.isoformat())
