"""The week dimension of the partition grid: the weeks AMC can answer, whatever today is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from recomamp_pipelines.defs.collections.partitions import (
    COLLECTIONS_PARTITIONS_NAME,
    collection_weeks_partitions,
    split_partition_key,
    weeks_partitions,
)
from recomamp_pipelines.weeks.calendar import Week, week_refusal

#: A fixed clock: Wednesday 2 December 2026, 04:00 UTC.
NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
#: Dagster's recommended ceiling of partitions per asset.
DAGSTER_PARTITION_CEILING = 100_000
#: The week grid of earlier versions started here, whatever the collections covered.
FORMER_GRID_START = "2024-01-01"
ZONES = ("Etc/GMT+12", "America/Los_Angeles", "UTC", "Asia/Tokyo", "Pacific/Kiritimati")


def grid_weeks(week_start_day: int = 0, now: datetime = NOW) -> list[str]:
    return list(weeks_partitions(week_start_day, now).get_partition_keys(current_time=now))


def test_the_grid_runs_from_the_oldest_week_amc_holds_to_the_newest_week_that_ended() -> None:
    weeks = grid_weeks()
    # 13 months before 1 December (today at UTC-12) is 1 November 2025: the first Monday after.
    assert weeks[0] == "2025-11-03"
    # The week of 23 November ended on 30 November; the week of 30 November has not ended.
    assert weeks[-1] == "2026-11-23"
    assert len(weeks) == 56
    # Sunday weeks: the same span, keyed by Sundays.
    sundays = grid_weeks(week_start_day=6)
    assert (sundays[0], sundays[-1]) == ("2025-11-02", "2026-11-22")
    assert all(date.fromisoformat(key).weekday() == 6 for key in sundays)


@pytest.mark.parametrize("zone", ZONES)
def test_the_grid_has_every_week_amc_can_answer_and_none_it_cannot(zone: str) -> None:
    weeks = [Week(date.fromisoformat(key)) for key in grid_weeks()]
    before = Week(weeks[0].start_date - timedelta(days=7))
    refusal = week_refusal(before, now=NOW, timezone=zone)
    assert refusal is not None and "13-month history" in refusal
    # Every week of the grid but the newest (whose data lands within 48 hours) can be run.
    assert [w for w in weeks[1:-1] if week_refusal(w, now=NOW, timezone=zone)] == []
    assert week_refusal(weeks[-1], now=NOW + timedelta(days=3), timezone=zone) is None
    # The oldest week is refused only where AMC's 13 months begin after it.
    oldest = week_refusal(weeks[0], now=NOW, timezone=zone)
    assert oldest is None or zone in ("Pacific/Kiritimati",)


def test_the_grid_stays_bounded_for_a_thousand_collections_whatever_the_date() -> None:
    collections = 1_000
    former = dg.WeeklyPartitionsDefinition(start_date=FORMER_GRID_START, day_offset=1)
    assert len(former.get_partition_keys(current_time=NOW)) * collections == 152_000
    assert len(grid_weeks()) * collections == 56_000
    counts = set()
    for day in range(0, 3 * 366, 5):
        now = NOW + timedelta(days=day, hours=day % 24)
        counts.add(len(grid_weeks(now=now)))
    assert counts == {55, 56}
    assert max(counts) * collections < DAGSTER_PARTITION_CEILING


def test_existing_partition_keys_stay_valid() -> None:
    """Keys keep the form `<collection key>|<week start>`: no key needs migrating."""
    key = "dsp-weekly-2026-1a2b3c4d5e6f|2026-03-02"
    assert split_partition_key(key) == ("dsp-weekly-2026-1a2b3c4d5e6f", "2026-03-02")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(
            COLLECTIONS_PARTITIONS_NAME, ["dsp-weekly-2026-1a2b3c4d5e6f"]
        )
        keys = {
            str(k)
            for k in collection_weeks_partitions(0, NOW).get_partition_keys(
                current_time=NOW, dynamic_partitions_store=instance
            )
        }
        assert key in keys
        # A week that AMC no longer holds has left the grid; its data stays in PostgreSQL.
        assert "dsp-weekly-2026-1a2b3c4d5e6f|2025-10-27" not in keys
        assert len(keys) == 56
