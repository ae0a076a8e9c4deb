"""Where data lives: one small filesystem abstraction over local paths and object storage (``s3://``).

A :class:`Location` is a ``(pyarrow filesystem, path)`` pair from :func:`pyarrow.fs.FileSystem.from_uri`, so
every scheme pyarrow knows (local paths, ``file://``, ``s3://``, ``gs://``, ``hdfs://``) is read and written
by pyarrow's own native clients, streaming, with no local copy and no extra dependency.

S3 endpoint and credentials come from the usual environment variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, profiles...) read by the AWS SDK, or from the
URI's query (``s3://bucket/prefix?endpoint_override=http://host:9000&scheme=http``). For an S3-compatible
server (an endpoint override is set) ``AWS_REQUEST_CHECKSUM_CALCULATION`` and
``AWS_RESPONSE_CHECKSUM_VALIDATION`` default to ``when_required``: recent AWS SDKs add CRC checksums to every
upload, which SeaweedFS (4.48) rejected (UploadPart failed with INVALID_ACCESS_KEY_ID) and other servers may
too. A value already set in the environment wins.

A location pickles as its URI and is resolved again where it is unpickled (a dask worker, a generation
process), with that process's own environment: credentials never travel inside task graphs.

>>> loc = resolve("/tmp/oocbench-doctest") / "a" / "b.txt"
>>> loc.local, loc.name, str(loc.parent)
(True, 'b.txt', '/tmp/oocbench-doctest/a')
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs

from oocbench.config import check_url

#: environment defaults for S3-compatible servers (see the module docstring)
S3_COMPAT_ENV = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                 "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}


def is_url(value: str | os.PathLike | Location | None) -> bool:
    """Whether ``value`` names a location by URL (``scheme://...``) rather than a local path."""
    if isinstance(value, Location):
        return not value.local
    return value is not None and "://" in str(value) and not str(value).startswith("file://")


class Location:
    """A file or directory on a pyarrow filesystem; joined with ``/`` like a :class:`~pathlib.Path`.

    Parameters
    ----------
    fs
        The filesystem (``LocalFileSystem``, ``S3FileSystem``...).
    path
        The path inside ``fs`` (for S3: ``bucket/key``, no scheme).
    base_uri
        The URI this location was resolved from, with its query (options); ``None`` for local paths.
    """

    def __init__(self, fs: pafs.FileSystem, path: str, base_uri: str | None = None) -> None:
        self.fs, self.path, self._base = fs, path.rstrip("/") or path, base_uri

    # ----- naming --------------------------------------------------------------------------------------
    @property
    def local(self) -> bool:
        """A local filesystem: POSIX rename is atomic there, and ``as_path`` works."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def uri(self) -> str:
        """What to pass to :func:`resolve` (or the CLI) to get this location back."""
        if self.local:
            return self.path
        scheme, _, query = self._scheme_query()
        return f"{scheme}://{self.path}" + (f"?{query}" if query else "")

    def _scheme_query(self) -> tuple[str, str, str]:
        parts = urlsplit(self._base or "")
        return parts.scheme or self.fs.type_name, parts.netloc, parts.query

    def __str__(self) -> str:
        if self.local:
            return self.path
        scheme, _, _ = self._scheme_query()
        return f"{scheme}://{self.path}"  # without the query: no option (or secret) in printed paths

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and self.uri == other.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return resolve, (self.uri,)  # re-resolved with the unpickling process's environment

    def __truediv__(self, name: str) -> Location:
        return Location(self.fs, str(PurePosixPath(self.path) / name), self._base)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def parent(self) -> Location:
        return Location(self.fs, str(PurePosixPath(self.path).parent), self._base)

    def with_name(self, name: str) -> Location:
        return self.parent / name

    def as_path(self) -> Path:
        """The local :class:`~pathlib.Path` (only for local locations)."""
        if not self.local:
            raise ValueError(f"{self} is not a local path")
        return Path(self.path)

    # ----- queries -------------------------------------------------------------------------------------
    def info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        return self.info().type != pafs.FileType.NotFound

    def is_file(self) -> bool:
        return self.info().type == pafs.FileType.File

    def size(self) -> int:
        """Size in bytes; :class:`FileNotFoundError` if there is no such file."""
        info = self.info()
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(str(self))
        return int(info.size)

    def iterdir(self) -> Iterator[Location]:
        """Direct children (files and directories); nothing if the directory does not exist."""
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=False)
        for info in self.fs.get_file_info(selector):
            yield Location(self.fs, info.path, self._base)

    def walk_files(self) -> Iterator[Location]:
        """Every file below this directory (one recursive listing: cheap on object stores)."""
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=True)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield Location(self.fs, info.path, self._base)

    # ----- reading and writing -------------------------------------------------------------------------
    def open_input(self) -> Any:
        """A seekable random-access file (Parquet reads only the ranges it needs: ranged GETs on S3)."""
        return self.fs.open_input_file(self.path)

    def open_output(self) -> Any:
        """A sequential output stream (a streaming multipart upload on S3: constant memory)."""
        self.parent.mkdir()
        return self.fs.open_output_stream(self.path)

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as fh:
            return fh.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_bytes(self, data: bytes) -> None:
        with self.open_output() as fh:
            fh.write(data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def mkdir(self) -> None:
        """Create this directory and its parents (a no-op on object stores except for a missing bucket)."""
        self.fs.create_dir(self.path, recursive=True)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """Delete this directory and everything below it, if it exists."""
        if self.exists():
            self.fs.delete_dir(self.path)

    def replace(self, target: Location) -> None:
        """Rename onto ``target`` (atomic on a local filesystem; not offered on object stores)."""
        if not self.local:
            raise ValueError(f"{self}: object stores have no atomic rename")
        os.replace(self.path, target.path)


def _s3_compat_defaults(uri: str) -> None:
    query = parse_qs(urlsplit(uri).query)
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or "endpoint_override" in query:
        for key, value in S3_COMPAT_ENV.items():
            os.environ.setdefault(key, value)


def resolve(where: str | os.PathLike | Location) -> Location:
    """The :class:`Location` of a local path or a URL (``s3://bucket/prefix``, ``file:///...``).

    Local paths are made absolute. For ``s3://`` without options in the URI, bucket creation is allowed, so
    ``oocbench generate --out s3://new-bucket/...`` works on a fresh server.
    """
    if isinstance(where, Location):
        return where
    text = os.fspath(where)
    if not is_url(text):
        path = text[len("file://"):] if text.startswith("file://") else text
        return Location(pafs.LocalFileSystem(), str(Path(path).expanduser().absolute()))
    check_url(text)  # "s3://" alone: pyarrow would take the dataset's name for the bucket
    scheme = urlsplit(text).scheme
    if scheme == "s3":
        _s3_compat_defaults(text)
        if "?" not in text:
            text += "?allow_bucket_creation=true"
    fs, path = pafs.FileSystem.from_uri(text)
    return Location(fs, path, text)


def to_str(where: str | os.PathLike | Location) -> str:
    """A string that :func:`resolve` turns back into the same location (for child processes and records)."""
    return resolve(where).uri if isinstance(where, Location) else (os.fspath(where) if is_url(where)
                                                                    else str(Path(where).absolute()))


def client_env() -> dict[str, str]:
    """This process's object-store client settings (``AWS_*``), for helper processes of the same run.

    A forkserver started earlier in the process's life (generation pools) has the environment of that moment,
    not today's: pass these along and apply them before resolving a URL there. Only to our own local helpers -
    never inside dask task graphs.
    """
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def write_via_buffer(loc: Location, writer: Any) -> None:
    """Write with a function that wants a binary file object (e.g. ``np.savez``), through memory."""
    buf = io.BytesIO()
    writer(buf)
    loc.write_bytes(buf.getvalue())
