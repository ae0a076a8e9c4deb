"""Writing a dataset: Parquet shards in row groups of :data:`ROW_GROUP_ROWS`, atomically and resumably.

See :mod:`oocbench.datasets.manifest` for the layout. On a local filesystem a dataset is written into
``<root>.partial`` and renamed when complete; on object storage the manifest, written last, marks it complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from oocbench.datasets.manifest import (
    HOLDOUT,
    MANIFEST,
    NUMERIC_KINDS,
    DatasetError,
    Manifest,
    ShardInfo,
    sha256_file,
)
from oocbench.datasets.seal import seal
from oocbench.datasets.stats import column_stats, merge_stats
from oocbench.storage import Location, resolve

#: rows per Parquet row group: pyarrow decodes a whole row group at a time, so this sets the reader's
#: memory floor (32 float32 columns x 2^16 rows = 8 MiB). 2^18 made a streaming learner's fit memory grow
#: from 10^5 to 10^6 rows (a 10^5 dataset is smaller than one group), faking a scaling exponent of ~0.4.
ROW_GROUP_ROWS = 1 << 16


def arrow_schema(features: list[str], target: str, columns: dict[str, Any] | None = None) -> pa.Schema:
    """float32 numeric columns; categorical columns as given in ``columns`` (an Arrow type) or int64."""
    columns = columns or {}
    fields = []
    for name in features:
        kind = columns.get(name, "numeric")
        if isinstance(kind, pa.DataType):
            fields.append((name, kind))
        else:
            fields.append((name, pa.int64() if kind == "categorical" else pa.float32()))
    return pa.schema([*fields, (target, pa.float32())])


def to_table(X: np.ndarray, y: np.ndarray, schema: pa.Schema) -> pa.Table:
    """A table of dense float32 features ``X`` and target ``y`` (no copy for contiguous columns)."""
    columns = [pa.array(X[:, j], type=pa.float32()) for j in range(X.shape[1])]
    return pa.Table.from_arrays([*columns, pa.array(y, type=pa.float32())], schema=schema)


def write_parquet(path: Path | str | Location, tables: Iterable[pa.Table], schema: pa.Schema, compression: str,
                  numeric: list[tuple[str, str]] | None = None,
                  dictionary: bool = True) -> tuple[int, dict[str, list[float]] | None]:
    """Write ``tables`` as one Parquet file in row groups of :data:`ROW_GROUP_ROWS`; return rows and stats.

    Dictionary encoding is kept for categorical columns only: on continuous floats it never pays and made
    writing 5-10x slower in our measurements. ``dictionary=False``: none at all (plain encoding).
    """
    dict_cols = [f.name for f in schema if not pa.types.is_floating(f.type)] if dictionary else []
    rows, stats, pending, pending_rows = 0, None, [], 0
    # an output stream of the location's filesystem: a local file, or a streaming multipart upload on S3
    with resolve(path).open_output() as sink, pq.ParquetWriter(
            sink, schema, compression=compression, use_dictionary=dict_cols or False,
            write_statistics=False) as writer:
        def flush(final: bool) -> None:
            # write whole row groups; keep the remainder for the next one unless this is the end
            nonlocal pending, pending_rows, stats
            if not pending_rows:
                return
            t = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
            n = t.num_rows if final else (t.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
            if n:
                writer.write_table(t.slice(0, n), row_group_size=ROW_GROUP_ROWS)
                if numeric:
                    stats = merge_stats(stats, column_stats(t.slice(0, n), numeric))
            pending, pending_rows = ([t.slice(n)], t.num_rows - n) if n < t.num_rows else ([], 0)

        for t in tables:
            if t.num_rows == 0:
                continue
            pending.append(t)
            pending_rows += t.num_rows
            rows += t.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                flush(final=False)
        flush(final=True)
    return rows, stats


def shard_name(i: int) -> str:
    return f"train-{i:05d}.parquet"


def finished_shard(path: Path | str | Location, rows: int, stats: dict[str, list[float]] | None,
                   plan: str) -> ShardInfo:
    """Hash a just-written shard and leave the ``.done`` sidecar that lets a rerun keep it."""
    loc = resolve(path)
    info = ShardInfo(path=loc.name, rows=rows, bytes=loc.size(), sha256=sha256_file(loc), stats=stats)
    loc.with_name(loc.name + ".done").write_text(json.dumps({"plan": plan, **asdict(info)}))
    return info


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_text() -> str:
    return f"{os.getpid()} {socket.gethostname()}"


class PartialDir:
    """Where a dataset is written; resumable for the same ``plan``, locked by pid (and host).

    Local: ``<root>.partial``, renamed to ``<root>`` by :meth:`commit`. Object storage: ``<root>`` itself,
    complete once :meth:`commit` has written the manifest (see the module docstring).
    """

    def __init__(self, root: Path | str | Location, plan: str) -> None:
        self.root, self.plan = resolve(root), plan
        self.path = self.root.with_name(self.root.name + ".partial") if self.root.local else self.root
        self.lock = self.path / ".lock"

    def __enter__(self) -> PartialDir:
        if self.lock.is_file():
            try:
                pid_text, _, host = (self.lock.read_text().strip() + " ").partition(" ")
                pid, host = int(pid_text or 0), host.strip()
            except (OSError, ValueError):
                pid, host = 0, ""
            if host and host != socket.gethostname():  # another machine's pid cannot be checked from here
                raise DatasetError(f"{self.path}: being written by process {pid} on {host}; wait for it, or if "
                                   f"no writer runs, delete {self.lock} and rerun")
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise DatasetError(f"{self.path}: being written by process {pid}; wait for it, or stop it and "
                                   "rerun (finished shards are kept)")
        plan_file = self.path / "plan.json"
        if self.path.exists() and (not plan_file.is_file() or plan_file.read_text() != self.plan):
            # another plan, an old layout, or (object storage) a complete dataset being rewritten: redo from
            # scratch, the manifest first so nothing reads as complete while the rest is deleted
            (self.path / MANIFEST).unlink(missing_ok=True)
            self.path.rmtree()
        self.path.mkdir()
        plan_file.write_text(self.plan)
        self.lock.write_text(_lock_text())
        return self

    def done(self, i: int) -> ShardInfo | None:
        """The shard ``i`` a previous run of this plan finished, if its file is intact (size checked)."""
        side = self.path / (shard_name(i) + ".done")
        try:
            raw = json.loads(side.read_text())
            if raw.pop("plan") != self.plan:
                return None
            info = ShardInfo(**raw)
            if (self.path / info.path).size() == info.bytes:
                return info
        except (OSError, ValueError, TypeError, KeyError):
            pass
        return None

    def commit(self, manifest: Manifest) -> None:
        """Drop the bookkeeping files, write the manifest (last on object storage), rename into place (local)."""
        for p in list(self.path.iterdir()):
            if p.name.endswith(".done"):
                p.unlink(missing_ok=True)
        (self.path / "plan.json").unlink(missing_ok=True)
        self.lock.unlink(missing_ok=True)
        seal(manifest, self.path)  # what the dataset means, fixed now: checked before every case
        (self.path / MANIFEST).write_text(manifest.to_json())
        if self.root.local:
            if self.root.exists():  # a stale or concurrent copy: ours is complete, replace it
                self.root.rmtree()
            self.path.replace(self.root)

    def __exit__(self, exc_type, exc, tb) -> None:
        # on failure keep finished shards for a resume, but release the lock
        if exc_type is not None:
            with contextlib.suppress(OSError):
                self.lock.unlink()


class DatasetWriter:
    """Write training rows in stream order into shards of ``rows_per_shard`` rows, atomically.

    For sources read sequentially (converters of public files, a user's file). Use as a context manager;
    the directory appears under its final name only after :meth:`finish`. A rerun redoes everything.
    """

    def __init__(self, root: Path | str | Location, features: list[str], target: str = "y",
                 rows_per_shard: int = 1 << 20,
                 compression: str = "snappy", columns: dict[str, Any] | None = None,
                 standardize: bool = False) -> None:
        self.root = resolve(root)
        self.schema = arrow_schema(features, target, columns)
        self.columns = {k: ("categorical" if isinstance(v, pa.DataType) else v) for k, v in (columns or {}).items()}
        self.features, self.target = features, target
        self.rows_per_shard, self.compression = rows_per_shard, compression
        self.numeric = [(c, self.columns.get(c, "numeric")) for c in features
                        if self.columns.get(c, "numeric") in NUMERIC_KINDS] if standardize else []
        self.shards: list[ShardInfo] = []
        self.rows = 0
        self._part = PartialDir(self.root, f"sequential-{os.getpid()}")  # never resumed: a fresh plan each run
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    @property
    def tmp(self) -> Location:
        return self._part.path

    def __enter__(self) -> DatasetWriter:
        self._part.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._part.__exit__(exc_type, exc, tb)
        if exc_type is not None:
            with contextlib.suppress(OSError):
                self._part.path.rmtree()

    def _flush_shard(self) -> None:
        if self._pending_rows:
            path = self.tmp / shard_name(len(self.shards))
            rows, stats = write_parquet(path, self._pending, self.schema, self.compression, self.numeric)
            self.shards.append(finished_shard(path, rows, stats, self._part.plan))
            self._pending, self._pending_rows = [], 0

    def write_table(self, table: pa.Table) -> None:
        """Append training rows (a table with this writer's schema, cast if needed)."""
        table = table.select(self.schema.names).cast(self.schema)
        start = 0
        while start < table.num_rows:
            take = min(table.num_rows - start, self.rows_per_shard - self._pending_rows)
            self._pending.append(table.slice(start, take))
            self._pending_rows += take
            self.rows += take
            start += take
            if self._pending_rows >= self.rows_per_shard:
                self._flush_shard()

    def write(self, X: np.ndarray, y: np.ndarray) -> None:
        """Append dense float32 training rows in stream order."""
        self.write_table(to_table(X, y, self.schema))

    def finish(self, holdout: tuple[np.ndarray, np.ndarray] | pa.Table, **manifest_fields: Any) -> Manifest:
        self._flush_shard()
        table = holdout if isinstance(holdout, pa.Table) else to_table(*holdout, self.schema)
        rows, _ = write_parquet(self.tmp / HOLDOUT, [table.select(self.schema.names).cast(self.schema)],
                                self.schema, self.compression)
        manifest_fields.setdefault("columns", {k: v for k, v in self.columns.items() if v != "numeric"})
        manifest = Manifest(rows=self.rows, features=self.features, target=self.target, shards=self.shards,
                            holdout=finished_shard(self.tmp / HOLDOUT, rows, None, self._part.plan),
                            **manifest_fields)
        self._part.commit(manifest)
        return manifest
