"""The command line against the sample account wired to a live AMC simulator."""

from tests.defs.conftest import pipeline

__all__ = ["pipeline"]
