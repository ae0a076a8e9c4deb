"""Downloading a public file once into the cache: resumable (HTTP Range), with progress and a sha256 check.

>>> from oocbench.datasets.download import cache_dir
>>> cache_dir().name
'_cache'
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from oocbench import config
from oocbench.datasets.manifest import DatasetError, sha256_file


class ChecksumError(DatasetError):
    """A downloaded or cached file does not have the sha256 the loader expects."""


def cache_dir() -> Path:
    """Where source files are kept: ``$OOCBENCH_CACHE_DIR``, else ``<data dir>/_cache`` (a local data dir) or
    ``~/.cache/oocbench`` (data in object storage: downloads are converted from a local file)."""
    if env := os.environ.get("OOCBENCH_CACHE_DIR"):
        return Path(env)
    base = config.data_dir()
    return Path.home() / ".cache" / "oocbench" if isinstance(base, str) else base / "_cache"


def _bar(total: int | None, description: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on stderr; returns (advance, close)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        console=Console(stderr=True), transient=True)
    progress.start()
    task = progress.add_task(description, total=total)
    return (lambda n: progress.advance(task, n)), progress.stop


def fetch(url: str, dest: Path, sha256: str | None = None, *, progress: bool | Callable[[int], None] = True,
          chunk: int = 1 << 20, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (skipped if ``dest`` exists and matches), resuming a partial download.

    The bytes go to ``dest.part``; a rerun asks the server for the rest with ``Range: bytes=N-`` and appends
    when it answers 206 (starts over on 200). The completed file is checked against ``sha256`` (when known)
    before it is renamed to ``dest``; a mismatch keeps it as ``dest.bad`` and raises :class:`ChecksumError`.
    """
    dest = Path(dest)
    if dest.exists():
        verify(dest, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "oocbench", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - URLs are the loaders' own
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked for bytes past the end: the part file is already complete
            os.replace(part, dest)
            verify(dest, sha256)
            return dest
        raise DatasetError(f"download of {url} failed: HTTP {exc.code} {exc.reason}; or put the file at {dest} "
                           "yourself") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DatasetError(f"download of {url} failed ({exc}); no network? Put the file at {dest} yourself "
                           "and rerun") from None
    with response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        length = response.headers.get("Content-Length")
        total = (int(length) + (have if resumed else 0)) if length else None
        advance, close = (progress, lambda: None) if callable(progress) else (
            _bar(total, f"downloading {dest.name}") if progress else (lambda n: None, lambda: None))
        try:
            if resumed:
                advance(have)
            with open(part, mode) as fh:
                while block := response.read(chunk):
                    fh.write(block)
                    advance(len(block))
        except (OSError, http.client.HTTPException) as exc:
            raise DatasetError(f"download of {url} interrupted ({exc}); rerun to resume from "
                               f"{part.stat().st_size if part.exists() else 0} bytes") from None
        finally:
            close()
    if total is not None and part.stat().st_size != total:
        raise DatasetError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; rerun to resume")
    if sha256:
        got = sha256_file(part)
        if got != sha256:
            bad = dest.with_name(dest.name + ".bad")
            os.replace(part, bad)
            raise ChecksumError(f"{url}: sha256 {got} but expected {sha256}; kept as {bad} - the source changed or "
                                "the download is corrupt: delete it and retry, or check the loader's checksum")
    os.replace(part, dest)
    return dest


def verify(path: Path, sha256: str | None) -> None:
    """Raise :class:`ChecksumError` if ``path``'s sha256 is not ``sha256`` (no check when ``None``)."""
    if sha256 and (got := sha256_file(path)) != sha256:
        raise ChecksumError(f"{path}: sha256 {got} but expected {sha256}; the file is corrupt or not the "
                            f"expected one - delete it and rerun to download it again")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
