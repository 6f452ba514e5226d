"""The results root: a local directory, or an object store that pyarrow's filesystems reach.

RECOMAMP_RESULTS_ROOT is a path (`/srv/recomamp/results`) or a URI (`s3://bucket/prefix`,
`s3://bucket/prefix?endpoint_override=host:9000&scheme=http`, `gs://...`). Each week's file is
written under a temporary name beside its final one and moved into place once the week is
published: a rename on a local disk; on S3 the temporary object appears whole or not at all
(an interrupted upload never completes), and the move is a server-side copy, so readers only
ever see a previous file or the new one, never part of one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from recomamp_pipelines.results.target import ResultTarget, parquet_path

log = logging.getLogger(__name__)


class ResultsRootError(ValueError):
    """RECOMAMP_RESULTS_ROOT names no place pyarrow can write to."""


@dataclass(frozen=True)
class ResultsRoot:
    """Where Parquet files go: `filesystem` and the root's path inside it."""

    filesystem: pafs.FileSystem
    base: str
    uri: str

    @classmethod
    def parse(cls, value: str | Path | ResultsRoot) -> ResultsRoot:
        if isinstance(value, ResultsRoot):
            return value
        text = str(value)
        if "://" not in text:
            return cls(pafs.LocalFileSystem(), text, text)
        try:
            filesystem, base = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise ResultsRootError(
                f"RECOMAMP_RESULTS_ROOT {text!r}: not a location pyarrow can open ({exc}); "
                "expected a directory or a URI such as s3://bucket/prefix"
            ) from exc
        return cls(filesystem, base.rstrip("/"), text)

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def _native(self, path: str) -> str:
        # pyarrow's local filesystem wants absolute paths; the root may be relative.
        return os.path.abspath(path) if self.is_local else path

    def week_path(self, target: ResultTarget) -> str:
        """The week's final file, as `results.target.parquet_path` lays it out."""
        if self.is_local:
            return str(parquet_path(Path(self.base), target))
        relative = parquet_path(Path("."), target).as_posix()
        return f"{self.base}/{relative}"

    @staticmethod
    def temp_path(final_path: str) -> str:
        """A temporary name beside `final_path`, never read as a week's file."""
        folder, _, name = final_path.rpartition("/")
        return f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"

    def location(self, path: str) -> str:
        """A path of this root as a reader names it: a file path, or `scheme://bucket/key`."""
        if self.is_local:
            return path
        return f"{urlsplit(self.uri).scheme}://{path}"

    def open_output(self, path: str) -> pa.NativeFile:
        if self.is_local:
            self.filesystem.create_dir(self._native(path).rpartition("/")[0], recursive=True)
        return self.filesystem.open_output_stream(self._native(path))

    def size(self, path: str) -> int:
        return int(self.filesystem.get_file_info(self._native(path)).size or 0)

    def exists(self, path: str) -> bool:
        info = self.filesystem.get_file_info(self._native(path))
        return bool(info.type == pafs.FileType.File)

    def publish(self, temp_path: str, final_path: str) -> None:
        """Move the finished temporary file over the final one."""
        if self.is_local:
            os.replace(temp_path, final_path)  # atomic on one filesystem
        else:
            self.filesystem.move(temp_path, final_path)

    def discard(self, path: str) -> None:
        """Delete a temporary file, if it is there."""
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(self._native(path))

    def remove_leftovers(self, final_path: str) -> None:
        """Temporary files of one week: while the week is held, only a dead load leaves one."""
        folder, _, name = final_path.rpartition("/")
        selector = pafs.FileSelector(self._native(folder), allow_not_found=True)
        for info in self.filesystem.get_file_info(selector):
            if info.base_name.startswith(f".{name}.") and info.base_name.endswith(".tmp"):
                log.warning("removing %s, left by a load that did not finish", info.path)
                self.discard(info.path)

    def remove_stale_temp_files(self, older_than: timedelta) -> int:
        """Delete temporary files older than `older_than` (left by processes that died)."""
        selector = pafs.FileSelector(self._native(self.base), recursive=True, allow_not_found=True)
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        for info in self.filesystem.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            if not (info.base_name.startswith(".") and info.base_name.endswith(".tmp")):
                continue
            modified = info.mtime
            if modified is not None and modified.replace(tzinfo=modified.tzinfo or UTC) < cutoff:
                self.discard(info.path)
                removed += 1
        return removed
