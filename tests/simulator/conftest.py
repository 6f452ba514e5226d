"""Fixtures of the simulator's tests: sessions on the shared simulator and on a frozen one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.fixtures.amc_simulator import AmcSimulator, shared_simulator
from tests.simulator.helpers import Amc

#: The frozen simulator's clock: a Wednesday noon, with 60 weeks of data behind it.
FROZEN_AT = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def simulator_data_scale() -> float | None:
    """The simulator's own tests run on its default data: they test its volumes and thresholds."""
    return None


@pytest.fixture(scope="session")
def amc_simulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmcSimulator]:
    """This directory's shared simulator, on the default data (see simulator_data_scale)."""
    yield from shared_simulator(tmp_path_factory.mktemp("amc-simulator-default-data"), None)


@pytest.fixture
def amc(amc_simulator: AmcSimulator) -> Iterator[Amc]:
    """A signed-in session on the shared simulator's first instance (real clock)."""
    session = Amc(amc_simulator)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def frozen_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmcSimulator]:
    """A second shared simulator whose clock stands at FROZEN_AT; executions take 60 s of it."""
    sim = AmcSimulator(
        tmp_path_factory.mktemp("frozen-simulator"),
        clock=FROZEN_AT,
        freeze_clock=True,
        execution_seconds=60,
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def frozen(frozen_simulator: AmcSimulator) -> Iterator[Amc]:
    """A session on the frozen simulator, reset to a clean state and FROZEN_AT first."""
    frozen_simulator.reset()
    session = Amc(frozen_simulator)
    try:
        yield session
    finally:
        session.close()
