"""The on-disk dataset format every backend reads: Parquet shards plus a JSON manifest.

Layout of one dataset instance (one name, seed and row count)::

    <root>/manifest.json        # written last: its presence means "complete"
    <root>/train-00000.parquet  # training rows in stream order, shard after shard
    <root>/holdout.parquet      # the fixed holdout set, the same at every scale

A dataset is written into ``<root>.tmp-<pid>`` and renamed to ``<root>`` when complete, so an interrupted
writer never leaves a directory that reads as complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = "oocbench-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HOLDOUT = "holdout.parquet"


class DatasetError(Exception):
    """A dataset on disk is missing, incomplete or corrupt; the message says which file and what to do."""


@dataclass
class ShardInfo:
    path: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    name: str
    task: str  # "binary" | "regression"
    rows: int
    seed: int
    features: list[str]
    target: str
    shards: list[ShardInfo]
    holdout: ShardInfo
    generator: dict[str, Any] = field(default_factory=dict)
    optimum: dict[str, float] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(Path(path).read_text())
            if raw.get("format") != FORMAT:
                raise DatasetError(f"{path}: not an oocbench manifest (format={raw.get('format')!r})")
            raw["shards"] = [ShardInfo(**s) for s in raw["shards"]]
            raw["holdout"] = ShardInfo(**raw["holdout"])
            return cls(**raw)
        except DatasetError:
            raise
        except FileNotFoundError:
            raise DatasetError(f"{path}: no manifest; generate the dataset first (oocbench generate)") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise DatasetError(f"{path}: malformed manifest ({exc}); delete the directory and regenerate") from None


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _shard_info(root: Path, name: str, rows: int) -> ShardInfo:
    path = root / name
    return ShardInfo(path=name, rows=rows, bytes=path.stat().st_size, sha256=sha256_file(path))


def arrow_schema(features: list[str], target: str) -> pa.Schema:
    return pa.schema([(name, pa.float32()) for name in features] + [(target, pa.float32())])


def to_table(X: np.ndarray, y: np.ndarray, schema: pa.Schema) -> pa.Table:
    columns = [pa.array(X[:, j], type=pa.float32()) for j in range(X.shape[1])]
    return pa.Table.from_arrays([*columns, pa.array(y, type=pa.float32())], schema=schema)


class DatasetWriter:
    """Write blocks of ``(X, y)`` into shards of ``rows_per_shard`` rows, atomically.

    Use as a context manager; the directory appears under its final name only if the block exits cleanly
    and :meth:`finish` was called.
    """

    def __init__(self, root: Path, features: list[str], target: str = "y", rows_per_shard: int = 1 << 20,
                 compression: str = "snappy") -> None:
        self.root = Path(root)
        self.tmp = self.root.with_name(f"{self.root.name}.tmp-{os.getpid()}")
        self.schema = arrow_schema(features, target)
        self.features, self.target = features, target
        self.rows_per_shard, self.compression = rows_per_shard, compression
        self.shards: list[ShardInfo] = []
        self._writer: pq.ParquetWriter | None = None
        self._shard_rows = 0
        self.rows = 0

    def __enter__(self) -> DatasetWriter:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self._writer is not None:
                self._writer.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            name = f"train-{len(self.shards):05d}.parquet"
            self.shards.append(_shard_info(self.tmp, name, self._shard_rows))
            self._writer, self._shard_rows = None, 0

    def write(self, X: np.ndarray, y: np.ndarray) -> None:
        """Append training rows in stream order; splits across shard boundaries as needed."""
        start = 0
        while start < len(y):
            if self._writer is None:
                name = f"train-{len(self.shards):05d}.parquet"
                self._writer = pq.ParquetWriter(self.tmp / name, self.schema, compression=self.compression)
            take = min(len(y) - start, self.rows_per_shard - self._shard_rows)
            self._writer.write_table(to_table(X[start:start + take], y[start:start + take], self.schema))
            self._shard_rows += take
            self.rows += take
            start += take
            if self._shard_rows >= self.rows_per_shard:
                self._close_shard()

    def finish(self, holdout: tuple[np.ndarray, np.ndarray], **manifest_fields: Any) -> Manifest:
        self._close_shard()
        pq.write_table(to_table(*holdout, self.schema), self.tmp / HOLDOUT, compression=self.compression)
        manifest = Manifest(rows=self.rows, features=self.features, target=self.target, shards=self.shards,
                            holdout=_shard_info(self.tmp, HOLDOUT, len(holdout[1])), **manifest_fields)
        (self.tmp / MANIFEST).write_text(manifest.to_json())
        if self.root.exists():  # a stale or concurrent copy: ours is complete, replace it
            shutil.rmtree(self.root)
        os.replace(self.tmp, self.root)
        return manifest


class ShardedDataset:
    """A complete dataset on disk; streams float32 batches in constant memory.

    Parameters
    ----------
    root
        Directory holding ``manifest.json`` and the shards.
    verify
        Check every shard's sha256 against the manifest before reading it (a full extra read).
        Sizes are always checked.
    """

    def __init__(self, root: Path | str, verify: bool = False) -> None:
        self.root = Path(root)
        self.manifest = Manifest.load(self.root / MANIFEST)
        self.verify = verify

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def rows(self) -> int:
        return self.manifest.rows

    @property
    def n_features(self) -> int:
        return len(self.manifest.features)

    def shard_paths(self) -> list[Path]:
        return [self.root / s.path for s in self.manifest.shards]

    def _check(self, info: ShardInfo) -> Path:
        path = self.root / info.path
        hint = f"delete {self.root} and run `oocbench generate` again"
        if not path.exists():
            raise DatasetError(f"{path}: shard missing; {hint}")
        if path.stat().st_size != info.bytes:
            raise DatasetError(f"{path}: {path.stat().st_size} bytes, manifest says {info.bytes} (truncated?); {hint}")
        if self.verify and sha256_file(path) != info.sha256:
            raise DatasetError(f"{path}: sha256 differs from the manifest (corrupt); {hint}")
        return path

    def _record_batches(self, infos: Iterable[ShardInfo], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        features, target = self.manifest.features, self.manifest.target
        for info in infos:
            path = self._check(info)
            try:
                for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=[*features, target]):
                    X = np.empty((rb.num_rows, len(features)), dtype=np.float32)
                    for j in range(len(features)):
                        X[:, j] = rb.column(j).to_numpy(zero_copy_only=False)
                    yield X, rb.column(len(features)).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(f"{path}: unreadable shard ({exc}); delete {self.root} and regenerate") from None

    def batches(self, batch_size: int, rows: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield training ``(X, y)`` batches of exactly ``batch_size`` rows (the last may be shorter).

        ``rows`` limits the stream to its first rows (a dataset at scale N is a prefix of a larger one).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        limit = self.rows if rows is None else min(rows, self.rows)
        yield from _rebatch(self._record_batches(self.manifest.shards, batch_size), batch_size, limit)

    def holdout(self, batch_size: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the holdout set in batches (never collected into one array by the harness)."""
        yield from _rebatch(self._record_batches([self.manifest.holdout], batch_size), batch_size,
                            self.manifest.holdout.rows)


def _rebatch(pieces: Iterator[tuple[np.ndarray, np.ndarray]], batch_size: int, limit: int):
    """Re-cut a stream of arbitrary-sized pieces into batches of ``batch_size`` rows, stopping at ``limit``."""
    pending_X: list[np.ndarray] = []
    pending_y: list[np.ndarray] = []
    pending = 0
    emitted = 0
    for X, y in pieces:
        if emitted + pending >= limit:
            break
        keep = min(len(y), limit - emitted - pending)
        X, y = X[:keep], y[:keep]
        if pending == 0 and len(y) == batch_size:  # the common case: no copy
            emitted += batch_size
            yield X, y
            continue
        pending_X.append(X)
        pending_y.append(y)
        pending += len(y)
        while pending >= batch_size:
            allX, ally = np.concatenate(pending_X), np.concatenate(pending_y)
            yield allX[:batch_size], ally[:batch_size]
            emitted += batch_size
            pending_X, pending_y, pending = [allX[batch_size:]], [ally[batch_size:]], pending - batch_size
    if pending:
        yield np.concatenate(pending_X), np.concatenate(pending_y)
