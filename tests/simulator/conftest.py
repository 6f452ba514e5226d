"""Fixtures of the simulator's tests: a session with the shared simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc


@pytest.fixture
def amc(amc_simulator: AmcSimulator) -> Iterator[Amc]:
    """A signed-in session on the shared simulator's first instance."""
    session = Amc(amc_simulator)
    try:
        yield session
    finally:
        session.close()
