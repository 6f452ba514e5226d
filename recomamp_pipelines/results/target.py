"""Where one week's result goes: the workflow's results table and its Parquet file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from psycopg import sql

RESULTS_SCHEMA = "results"

SourceKind = Literal["collection", "schedule"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("collection", "schedule")


class ResultTargetError(ValueError):
    """A result target names a source or window the results layer cannot store."""


@dataclass(frozen=True)
class ResultTarget:
    """One week (or schedule window) of one workflow's results, owned by one user.

    `source_id` is the collection id for a collection week and the schedule run id for a
    scheduled run; `week_start_date` is None for schedules. Windows are naive timestamps, as AMC
    takes them.
    """

    workflow_id: uuid.UUID
    user_id: uuid.UUID
    source_kind: SourceKind
    source_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    week_start_date: date | None = None

    def __post_init__(self) -> None:
        if self.source_kind not in SOURCE_KINDS:
            raise ResultTargetError(
                f"source kind {self.source_kind!r}: expected one of {', '.join(SOURCE_KINDS)}"
            )
        for label, moment in (("window_start", self.window_start), ("window_end", self.window_end)):
            if moment.tzinfo is not None:
                raise ResultTargetError(
                    f"{label} {moment.isoformat()} carries a timezone: AMC windows are naive"
                )
        if self.window_end <= self.window_start:
            raise ResultTargetError(
                f"window {self.window_start.isoformat()} .. {self.window_end.isoformat()}: "
                "the end must come after the start"
            )

    @property
    def period_label(self) -> str:
        """The week start date for a collection week, else the window, safe as a file name."""
        if self.week_start_date is not None:
            return self.week_start_date.isoformat()
        return f"{self.window_start:%Y%m%dT%H%M%S}_{self.window_end:%Y%m%dT%H%M%S}"


def results_table_name(workflow_id: uuid.UUID) -> str:
    """The unqualified name of a workflow's results table: `workflow_<uuid hex>`."""
    return f"workflow_{workflow_id.hex}"


def results_table(workflow_id: uuid.UUID) -> sql.Identifier:
    """The schema-qualified identifier of a workflow's results table."""
    return sql.Identifier(RESULTS_SCHEMA, results_table_name(workflow_id))


def parquet_path(results_root: Path, target: ResultTarget) -> Path:
    """`<root>/<workflow_id>/<source_kind>/<source_id>/<week or window>.parquet`."""
    return (
        results_root
        / str(target.workflow_id)
        / target.source_kind
        / str(target.source_id)
        / f"{target.period_label}.parquet"
    )
