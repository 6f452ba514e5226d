"""The simulator's storage: workflows, executions, schedules, tokens, and result files.

SQLite in memory by default; with a state directory, `state.db` and `results/` there, so that
executions, workflows and results survive a restart.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recomamp_pipelines.simulator.data import load_sql, sql_statements


def state_sql(name: str) -> str:
    """The text of `sql/state/<name>.sql`, one statement on the state database."""
    return load_sql(f"state/{name}")


class StateStore:
    """Thread-safe access to the simulator's SQLite state and its result directory."""

    def __init__(self, state_dir: Path | None) -> None:
        self._owned_dir: Path | None = None
        if state_dir is None:
            self._owned_dir = Path(tempfile.mkdtemp(prefix="amc-simulator-"))
            root = self._owned_dir
            database = ":memory:"
        else:
            root = state_dir
            root.mkdir(parents=True, exist_ok=True)
            database = str(root / "state.db")
        self.root = root
        self.results_dir = root / "results"
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.scratch_dir = root / "scratch"
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if database != ":memory:":
            self._db.execute("pragma journal_mode = wal")
        for statement in sql_statements(load_sql("state_schema")):
            self._db.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change, serialised with every other access."""
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    # meta: small named values (signing key, clock) that must survive a restart.
    def meta(self, key: str) -> Any | None:
        rows = self.query(state_sql("meta"), (key,))
        return json.loads(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                state_sql("set_meta"),
                (key, json.dumps(value)),
            )

    def signing_key(self) -> bytes:
        """The key that signs download URLs, created once per state."""
        with self._lock:
            existing = self.meta("signing_key")
            if existing is None:
                existing = secrets.token_hex(32)
                self.set_meta("signing_key", existing)
            return bytes.fromhex(existing)

    def result_dir(self, instance_id: str, execution_id: str) -> Path:
        return self.results_dir / instance_id / execution_id

    def reset(self) -> None:
        """Forget workflows, executions, schedules and results; keep tokens and keys."""
        with self.transaction() as db:
            for statement in sql_statements(state_sql("forget_all")):
                db.execute(statement)
        shutil.rmtree(self.results_dir, ignore_errors=True)
        self.results_dir.mkdir(parents=True, exist_ok=True)
