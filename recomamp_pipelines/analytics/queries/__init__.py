"""SQL of the analyst layer's own bookkeeping, loaded by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).parent


@cache
def load(name: str) -> str:
    """The text of `<name>.sql` in this folder."""
    return (HERE / f"{name}.sql").read_text(encoding="utf-8")
