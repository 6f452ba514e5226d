"""Great Expectations (1.x) run on small frames of aggregates, with one context per process.

The checks never hand Great Expectations a week's rows: PostgreSQL computes the aggregates
(one scan of the loaded rows) and GE validates a frame of a few rows built from them. Importing
GE takes seconds, so it is imported on first use and its ephemeral context is created once and
kept for the life of the process; `setup_seconds()` reports what that cost. A process that will
check a week soon (one whose AMC execution was just submitted) calls `prepare_in_background()`,
so that the import happens while AMC runs the query, not after it answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

_DATA_SOURCE = "recomamp_quality"
_ASSET = "aggregates"
_BATCH = "whole_frame"

# GE's context and validators are not documented as thread-safe; checks may run in threads.
_lock = threading.Lock()
# One import and one context per process, whichever thread asks first.
_setup_lock = threading.Lock()
_preparing: threading.Thread | None = None


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one expectation on one frame."""

    expectation: str
    success: bool
    unexpected: list[Any]


@dataclass(frozen=True)
class _GreatExpectations:
    batch_definition: Any
    expectations: Any
    import_seconds: float
    context_seconds: float


def _great_expectations() -> _GreatExpectations:
    with _setup_lock:
        return _setup()


def prepare_in_background() -> threading.Thread | None:
    """Import GE and create the context on a thread of its own, once per process; that thread,
    or None when the context was made otherwise (by a check, before any preparation)."""
    global _preparing
    with _setup_lock:
        if _preparing is None and not _setup.cache_info().currsize:
            _preparing = threading.Thread(
                target=_great_expectations, name="great-expectations-setup", daemon=True
            )
            _preparing.start()
        return _preparing


@cache
def _setup() -> _GreatExpectations:
    started = time.perf_counter()
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    imported = time.perf_counter()
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    # Progress bars would write to stderr for every validation of a tiny frame.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(name=_DATA_SOURCE).add_dataframe_asset(name=_ASSET)
    batch_definition = asset.add_batch_definition_whole_dataframe(_BATCH)
    ready = time.perf_counter()
    logger.info(
        "great_expectations imported in %.2f s, ephemeral context ready in %.2f s",
        imported - started,
        ready - imported,
    )
    return _GreatExpectations(batch_definition, gxe, imported - started, ready - imported)


def setup_seconds() -> dict[str, float]:
    """Seconds spent importing GE and creating this process's context (0 before first use)."""
    if _setup.cache_info().currsize == 0:
        return {"import": 0.0, "context": 0.0}
    setup = _great_expectations()
    return {"import": setup.import_seconds, "context": setup.context_seconds}


def expectation(name: str, **kwargs: Any) -> Any:
    """A GE expectation by class name, e.g. `expectation("ExpectColumnValuesToBeBetween", ...)`."""
    return getattr(_great_expectations().expectations, name)(**kwargs)


def validate(frame: pd.DataFrame, expectations: Sequence[Any]) -> list[ExpectationResult]:
    """Validate a small frame against expectations; one result per expectation, in order."""
    setup = _great_expectations()
    results = []
    with _lock:
        batch = setup.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        for item in expectations:
            # BASIC has the partial unexpected list read below; SUMMARY's extra counts and
            # indexes cost a third more time per expectation and are not used.
            outcome = batch.validate(item, result_format="BASIC")
            details = outcome.result or {}
            results.append(
                ExpectationResult(
                    expectation=outcome.expectation_config.type,
                    success=bool(outcome.success),
                    unexpected=list(details.get("partial_unexpected_list") or []),
                )
            )
    return results
