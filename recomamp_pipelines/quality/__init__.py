"""Quality checks of a staged week (Great Expectations 1.x on aggregates computed in SQL)."""

from __future__ import annotations

from recomamp_pipelines.quality.outcomes import CheckOutcome, CheckSpec, Severity
from recomamp_pipelines.quality.staged_week import CHECKS, check_staged_week

__all__ = ["CHECKS", "CheckOutcome", "CheckSpec", "Severity", "check_staged_week"]
