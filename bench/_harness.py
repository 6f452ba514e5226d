"""What the benchmarks that drive Dagster's webserver share: ports, scripts, GraphQL, revision."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]

WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


class BenchError(RuntimeError):
    """A part of a benchmark's setup did not come up, or what it measures could not be run."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def script(name: str) -> str:
    """An installed command: the one beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise BenchError(f"{name} is not installed next to {sys.executable} nor on PATH")
    return found


def graphql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise BenchError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def loaded_location(client: httpx.Client) -> tuple[str, str] | None:
    """(location, repository) once the webserver has loaded the code location, else None;
    BenchError when it failed to load."""
    data = graphql(client, WORKSPACE_QUERY)["workspaceOrError"]
    for entry in data.get("locationEntries", []):
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "RepositoryLocation":
            return entry["name"], loaded["repositories"][0]["name"]
        if loaded.get("__typename") == "PythonError":
            raise BenchError(f"code location failed to load: {loaded['message']}")
    return None


def revision() -> str:
    """The commit the code under test is at, `-dirty` when the tree has changes."""
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return described.stdout.strip()
