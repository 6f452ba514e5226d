"""Quality checks of a loaded week (Great Expectations 1.x on aggregates computed in SQL)."""

from __future__ import annotations

from recomamp_pipelines.quality.loaded_week import CHECKS, check_loaded_week
from recomamp_pipelines.quality.outcomes import CheckOutcome, CheckSpec, Severity

__all__ = ["CHECKS", "CheckOutcome", "CheckSpec", "Severity", "check_loaded_week"]
