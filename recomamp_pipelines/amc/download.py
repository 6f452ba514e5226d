"""Streaming download of an execution's result files.

AMC may split a result over several CSV files behind short-lived pre-signed URLs. Each file is
streamed in chunks (a result larger than memory never sits in memory whole), fetched with no
AMC header. A URL that has expired by the time its turn comes (HTTP 403, or an 'expired'
answer) is replaced by asking AMC for the URLs again. A body cut short is fetched again from
the start of that file, and the bytes already handed on are skipped, so the consumer sees each
byte exactly once.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from recomamp_pipelines.amc.errors import AmcDownloadError, AmcRetryableError
from recomamp_pipelines.amc.retry import send_with_retries

if TYPE_CHECKING:
    from recomamp_pipelines.amc.client import InstanceClient

log = logging.getLogger(__name__)

# A cut-short body shows up as one of these while reading it.
_CUT_SHORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.ReadTimeout,
)
MAX_URL_REFRESHES_PER_FILE = 5


@dataclass(frozen=True)
class DownloadSummary:
    """What a download did: files, bytes written, URL refreshes and restarted files."""

    files: int
    bytes: int
    url_refreshes: int
    restarts: int


def _url_key(url: str) -> str:
    # The same file keeps its path when AMC signs it again; only the query changes.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class ResultDownload:
    """One download of every result file of one execution."""

    def __init__(
        self, instance: InstanceClient, execution_id: str, *, chunk_size: int = 1 << 20
    ) -> None:
        self._instance = instance
        self._execution_id = execution_id
        self._chunk_size = chunk_size
        self._policy = instance.client.config.retry_policy
        self._http = instance.download_http
        self._urls: list[str] = []
        self.files = 0
        self.bytes = 0
        self.url_refreshes = 0
        self.restarts = 0

    def summary(self) -> DownloadSummary:
        return DownloadSummary(self.files, self.bytes, self.url_refreshes, self.restarts)

    def iter_chunks(self, *, combine_csv_headers: bool = True) -> Iterator[bytes]:
        """Every file's bytes in order; see InstanceClient.iter_result_chunks."""
        self._urls = list(self._instance.get_download_urls(self._execution_id).download_urls)
        header: bytes | None = None
        ends_with_newline = True
        for index in range(len(self._urls)):
            chunks = self._iter_file(index)
            if combine_csv_headers:
                chunks, header = self._drop_repeated_header(index, chunks, header)
            first = True
            for chunk in chunks:
                if not chunk:
                    continue
                if first and not ends_with_newline:
                    # A file without a final newline must not glue its last row to the next.
                    self.bytes += 1
                    yield b"\n"
                first = False
                self.bytes += len(chunk)
                ends_with_newline = chunk.endswith(b"\n")
                yield chunk
            self.files += 1

    def write_to(self, destination: str | Path | IO[bytes]) -> DownloadSummary:
        """Write the combined CSV to a path (atomically) or into an open binary file."""
        if isinstance(destination, str | Path):
            path = Path(destination)
            partial = path.with_name(path.name + ".part")
            try:
                with partial.open("wb") as out:
                    for chunk in self.iter_chunks():
                        out.write(chunk)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        else:
            for chunk in self.iter_chunks():
                destination.write(chunk)
        return self.summary()

    def _drop_repeated_header(
        self, index: int, chunks: Iterator[bytes], header: bytes | None
    ) -> tuple[Iterator[bytes], bytes | None]:
        """Split off the file's first line; keep it for the first file, check and drop it after."""
        buffer = b""
        for chunk in chunks:
            buffer += chunk
            if b"\n" in buffer:
                break
        line, newline, rest = buffer.partition(b"\n")
        line += newline
        if not line:
            return iter(()), header
        if header is None:
            return _chain([line, rest], chunks), line
        if line.rstrip(b"\r\n") != header.rstrip(b"\r\n"):
            raise AmcDownloadError(
                f"execution {self._execution_id}: result file {index + 1} has header "
                f"{line.rstrip()[:200]!r}, file 1 has {header.rstrip()[:200]!r}"
            )
        return _chain([rest], chunks), header

    def _iter_file(self, index: int) -> Iterator[bytes]:
        """The bytes of file `index`, each once, refetching after expiry or a cut."""
        delivered = 0
        refreshes = 0
        cuts = 0
        total = len(self._urls)
        what = f"result file {index + 1} of {total} of execution {self._execution_id}"
        while True:
            request = self._http.build_request("GET", self._urls[index])
            try:
                response = send_with_retries(
                    functools.partial(self._http.send, request, stream=True),
                    policy=self._policy,
                    method="GET",
                    path=what,
                )
            except AmcRetryableError as exc:
                raise AmcDownloadError(f"cannot download {what}: {exc}") from None
            try:
                if _is_expired(response):
                    refreshes += 1
                    if refreshes > MAX_URL_REFRESHES_PER_FILE:
                        raise AmcDownloadError(
                            f"cannot download {what}: its URL was refused as expired "
                            f"{refreshes} times in a row, even fresh from AMC"
                        )
                    log.info(
                        "%s: URL expired (HTTP %d); asking AMC again", what, response.status_code
                    )
                    self._refresh_urls()
                    continue
                if not response.is_success:
                    response.read()
                    raise AmcDownloadError(
                        f"cannot download {what}: HTTP {response.status_code} "
                        f"{response.text.strip()[:500]}"
                    )
                skip = delivered
                for chunk in response.iter_bytes(self._chunk_size):
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk = chunk[skip:]
                        skip = 0
                    delivered += len(chunk)
                    yield chunk
                return
            except _CUT_SHORT_ERRORS as exc:
                cuts += 1
                self.restarts += 1
                if cuts >= self._policy.max_attempts:
                    raise AmcDownloadError(
                        f"cannot download {what}: the body was cut short {cuts} times "
                        f"({type(exc).__name__})"
                    ) from None
                wait = self._policy.backoff(cuts)
                log.warning(
                    "%s: body cut short after %d bytes (%s); fetching it again in %.2f s",
                    what,
                    delivered,
                    type(exc).__name__,
                    wait,
                )
                time.sleep(wait)
            finally:
                response.close()

    def _refresh_urls(self) -> None:
        old = self._urls
        fresh = list(self._instance.get_download_urls(self._execution_id).download_urls)
        self.url_refreshes += 1
        if len(fresh) != len(old):
            raise AmcDownloadError(
                f"execution {self._execution_id}: AMC listed {len(old)} result files, then "
                f"{len(fresh)} when asked again for fresh URLs"
            )
        by_key = {_url_key(url): url for url in fresh}
        # Match by path when AMC kept it; otherwise AMC's order is the files' order.
        self._urls = [by_key.get(_url_key(url), fresh[i]) for i, url in enumerate(old)]
        log.debug("execution %s: %d fresh download URLs", self._execution_id, len(fresh))


def _is_expired(response: httpx.Response) -> bool:
    if response.status_code == 403:
        response.read()
        return True
    if response.status_code in (400, 410):
        response.read()
        return "expired" in response.text.lower()
    return False


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest
