"""The schema document the migrations started from (sql/reference), read as SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import sqlparse

from tests.db.helpers import REPO

DOCUMENT = REPO / "sql" / "reference" / "recomamp-database-schema.md"

_SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)
_CREATE_TABLE = re.compile(r"create table (\w+) \((.*)\)\s*;?\s*$", re.DOTALL | re.IGNORECASE)
_COLUMN = re.compile(r"^\s*(\w+)\s+([A-Z]+(?:\(\d+,\s*\d+\))?(?:\[\])?)", re.MULTILINE)
_NOT_COLUMNS = {"UNIQUE", "PRIMARY", "CONSTRAINT", "FOREIGN", "CHECK"}


@dataclass(frozen=True)
class DocumentedTable:
    name: str
    columns: dict[str, str]  # column -> the document's type, upper case


@cache
def statements() -> list[str]:
    """Every SQL statement of the document, in the document's order, comments removed."""
    text = DOCUMENT.read_text(encoding="utf-8")
    found: list[str] = []
    for block in _SQL_BLOCK.findall(text):
        for statement in sqlparse.split(block):
            cleaned = sqlparse.format(statement, strip_comments=True).strip()
            if cleaned:
                found.append(cleaned)
    return found


def statement(containing: str) -> str:
    """The one statement of the document that contains `containing`."""
    matches = [s for s in statements() if containing in s]
    assert len(matches) == 1, f"{len(matches)} statements contain {containing!r}"
    return matches[0]


@cache
def tables() -> list[DocumentedTable]:
    found = []
    for text in statements():
        match = _CREATE_TABLE.match(text)
        if match:
            columns = {
                name: kind
                for name, kind in _COLUMN.findall(match.group(2))
                if name.upper() not in _NOT_COLUMNS
            }
            found.append(DocumentedTable(name=match.group(1), columns=columns))
    return found


def names(pattern: str) -> set[str]:
    """Names captured by `pattern` (one group) across every statement."""
    regex = re.compile(pattern, re.IGNORECASE)
    return {m.group(1) for text in statements() for m in regex.finditer(text)}
