"""The outcome of one quality check on one loaded week, ready for an asset check's metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class CheckSpec:
    """A quality check as the orchestrator declares it: stable name, severity, what it guards."""

    name: str
    severity: Severity
    description: str


@dataclass(frozen=True)
class CheckOutcome:
    """Whether one check passed on one week; `metadata` holds the observed values and reason.

    A check that does not apply to the week (no earlier week to compare with, no column it
    reads) is `applicable=False`: it passes, since nothing in the week contradicts it, but it
    must not be reported as having found the week good.
    """

    name: str
    passed: bool
    severity: Severity
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    applicable: bool = True

    @property
    def blocks_publish(self) -> bool:
        """A failed ERROR check keeps the week from being published."""
        return not self.passed and self.severity == "ERROR"
