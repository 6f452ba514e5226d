"""Fixtures of the analyst layer's tests: the hand-computed fixture, with the views applied."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from recomamp_pipelines.analytics.views import apply_views
from tests.analytics.fixture import AnalystFixture, seed
from tests.defs.conftest import pipeline

__all__ = ["analyst", "pipeline"]


@pytest.fixture
def analyst(db_conn: psycopg.Connection[Any]) -> AnalystFixture:
    """The fixture's rows, then every view applied (the stored marts hold them)."""
    fixture = seed(db_conn)
    apply_views(db_conn)
    return fixture
