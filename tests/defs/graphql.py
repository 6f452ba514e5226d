"""Dagster's GraphQL, executed in process as the webserver would, from any test.

`execute_dagster_graphql` runs its own event loop; a test in a worker where Playwright's sync
API already runs one (the browser tests' session-wide Chromium) must call it from a thread of
its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagster_graphql.test.utils import execute_dagster_graphql


def graphql(context: Any, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The result of `query` against the workspace request `context`."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(execute_dagster_graphql, context, query, variables).result()
