"""The on-disk dataset format every backend reads: Parquet shards plus a JSON manifest.

Layout of one dataset instance (one name, seed and row count)::

    <root>/manifest.json        # written last: its presence means "complete"
    <root>/train-00000.parquet  # training rows in stream order, shard after shard
    <root>/holdout.parquet      # the fixed holdout set, the same at every scale

``<root>`` is a local path or a URL (``s3://bucket/prefix``): every file goes through one
:class:`oocbench.storage.Location` (a pyarrow filesystem and a path), so the same code writes and streams both.
On a local filesystem a dataset is written into ``<root>.partial`` and renamed to ``<root>`` when complete. On
object storage there is no atomic rename: the dataset is written in place and the manifest, written last (after
every shard is uploaded and the bookkeeping files are deleted), is the completeness marker; a rewrite deletes
an old manifest first. Either way an interrupted writer never leaves something that reads as complete. Each finished shard gets a small ``.done`` sidecar in
``<root>.partial``; a rerun of the same plan (same source, seed, rows, sharding) keeps those shards and writes
only the rest, a different plan starts over. A ``.lock`` file holding the writer's pid stops two writers.

Columns are ``float32`` numeric (nulls allowed: missing values), ``int64`` or string categorical, and a
``float32`` target; :attr:`Manifest.columns` says which kind each feature column is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from oocbench.storage import Location, resolve, to_str

FORMAT = "oocbench-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HOLDOUT = "holdout.parquet"
#: rows per Parquet row group: pyarrow decodes a whole row group at a time, so this sets the reader's
#: memory floor (32 float32 columns x 2^16 rows = 8 MiB). 2^18 made a streaming learner's fit memory grow
#: from 10^5 to 10^6 rows (a 10^5 dataset is smaller than one group), faking a scaling exponent of ~0.4.
ROW_GROUP_ROWS = 1 << 16
NUMERIC_KINDS = ("numeric", "count")  # "count": non-negative counts, log1p-transformed by the feature layer
KINDS = (*NUMERIC_KINDS, "categorical")


class DatasetError(Exception):
    """A dataset on disk is missing, incomplete or corrupt; the message says which file and what to do."""


@dataclass
class ShardInfo:
    path: str
    rows: int
    bytes: int
    sha256: str
    #: per numeric column ``[count, mean, M2]`` of the feature-layer value (after log1p for counts), float64,
    #: so exact standardisation statistics of any set of shards merge without rereading (Chan et al.)
    stats: dict[str, list[float]] | None = None


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
    #: feature name -> "numeric" | "count" | "categorical"; absent names are numeric
    columns: dict[str, str] = field(default_factory=dict)
    #: how the shared feature layer treats this dataset: {"standardize": bool, "hash_buckets": int}
    feature_spec: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def kind(self, column: str) -> str:
        return self.columns.get(column, "numeric")

    @property
    def all_numeric(self) -> bool:
        return all(self.kind(c) == "numeric" for c in self.features)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: Path | str | Location) -> Manifest:
        try:
            loc = resolve(path)
            if not loc.is_file():  # object stores raise a generic OSError for a missing key: ask first
                raise FileNotFoundError(str(loc))
            raw = json.loads(loc.read_text())
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                fmt = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
                raise DatasetError(f"{path}: not an oocbench manifest (format={fmt!r}); delete the directory "
                                   "and regenerate")
            if raw.get("format_version", 0) > FORMAT_VERSION:
                raise DatasetError(f"{path}: format version {raw['format_version']} is newer than this oocbench "
                                   f"reads ({FORMAT_VERSION}); upgrade oocbench or regenerate")
            raw["shards"] = [ShardInfo(**s) for s in raw["shards"]]
            raw["holdout"] = ShardInfo(**raw["holdout"])
            man = cls(**raw)
            if not isinstance(man.rows, int) or sum(s.rows for s in man.shards) != man.rows:
                raise ValueError(f"rows={man.rows!r} but the shards hold {sum(s.rows for s in man.shards)}")
            return man
        except DatasetError:
            raise
        except FileNotFoundError:
            raise DatasetError(f"{path}: no manifest; generate the dataset first (oocbench generate)") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DatasetError(f"{path}: malformed manifest ({type(exc).__name__}: {exc}); delete the directory "
                               "and regenerate") from None


def sha256_file(path: Path | str | Location, chunk: int = 1 << 22) -> str:
    """sha256 of a local file or of any :class:`~oocbench.storage.Location` (streamed, constant memory)."""
    digest = hashlib.sha256()
    if isinstance(path, Location):
        with path.fs.open_input_stream(path.path) as fh:
            while block := fh.read(chunk):
                digest.update(block)
        return digest.hexdigest()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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


def feature_values(column: pa.ChunkedArray | pa.Array, kind: str) -> np.ndarray:
    """Numeric column -> float64 values the feature layer sees (NaN for missing; log1p of counts)."""
    v = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    if kind == "count":
        v = np.log1p(np.maximum(v, 0.0))
    return v


def column_stats(table: pa.Table, numeric: list[tuple[str, str]]) -> dict[str, list[float]]:
    """``{column: [count, mean, M2]}`` over the non-missing values (one pass per column, float64)."""
    out = {}
    for name, kind in numeric:
        v = feature_values(table.column(name), kind)
        v = v[~np.isnan(v)]
        n = float(len(v))
        mean = float(v.mean()) if n else 0.0
        out[name] = [n, mean, float(((v - mean) ** 2).sum()) if n else 0.0]
    return out


def merge_stats(a: dict[str, list[float]] | None, b: dict[str, list[float]]) -> dict[str, list[float]]:
    """Chan et al.'s exact merge of two sets of per-column ``[count, mean, M2]``."""
    if not a:
        return {k: list(v) for k, v in b.items()}
    out = {}
    for k, (nb, mb, m2b) in b.items():
        na, ma, m2a = a[k]
        n = na + nb
        if n == 0:
            out[k] = [0.0, 0.0, 0.0]
            continue
        delta = mb - ma
        out[k] = [n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n]
    return out


def write_parquet(path: Path | str | Location, tables: Iterable[pa.Table], schema: pa.Schema, compression: str,
                  numeric: list[tuple[str, str]] | None = None) -> tuple[int, dict[str, list[float]] | None]:
    """Write ``tables`` as one Parquet file in row groups of :data:`ROW_GROUP_ROWS`; return rows and stats.

    Dictionary encoding is kept for categorical columns only: on continuous floats it never pays and made
    writing 5-10x slower in our measurements.
    """
    dict_cols = [f.name for f in schema if not pa.types.is_floating(f.type)]
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


class ShardedDataset:
    """A complete dataset on disk; streams float32 batches in constant memory.

    Parameters
    ----------
    root
        Directory holding ``manifest.json`` and the shards: a local path or a URL (``s3://bucket/prefix``),
        streamed through pyarrow's filesystem (ranged reads, no local copy).
    verify
        Check every shard's sha256 against the manifest before reading it (a full extra read).
        Sizes are always checked.
    """

    def __init__(self, root: Path | str | Location, verify: bool = False) -> None:
        self.location = resolve(root)
        self.manifest = Manifest.load(self.location / MANIFEST)
        self.verify = verify

    @property
    def root(self) -> Path | Location:
        """The directory: a :class:`~pathlib.Path` when local (as before), else a :class:`Location`."""
        return self.location.as_path() if self.location.local else self.location

    @property
    def uri(self) -> str:
        """What reopens this dataset in another process (absolute path or URL)."""
        return to_str(self.location)

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def rows(self) -> int:
        return self.manifest.rows

    @property
    def n_features(self) -> int:
        """Width of the raw numeric batches; with categorical columns use the feature layer's width."""
        if not self.manifest.all_numeric:
            from oocbench.features import FeatureSpec

            return FeatureSpec.from_dataset(self).width
        return len(self.manifest.features)

    def shard_paths(self) -> list[Path | Location]:
        return [self.root / s.path for s in self.manifest.shards]

    def check(self, info: ShardInfo, verify: bool | None = None) -> Location:
        """The shard's location after checking it against the manifest (size always; sha256 if ``verify``)."""
        path = self.location / info.path
        hint = f"delete {self.root} and run `oocbench generate {self.manifest.name} --scale {self.rows}` again"
        found = path.info()
        if not found.is_file:
            raise DatasetError(f"{path}: shard missing; {hint}")
        if found.size != info.bytes:
            raise DatasetError(f"{path}: {found.size} bytes, manifest says {info.bytes} (truncated?); {hint}")
        if (self.verify if verify is None else verify) and sha256_file(path) != info.sha256:
            raise DatasetError(f"{path}: sha256 differs from the manifest (corrupt); {hint}")
        return path

    _check = check

    def verify_all(self) -> None:
        """Check every file's sha256 (a full read of the dataset); raises :class:`DatasetError` on the first bad one."""
        for info in [*self.manifest.shards, self.manifest.holdout]:
            self.check(info, verify=True)

    def record_batches(self, infos: Iterable[ShardInfo], batch_size: int,
                       columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Raw Arrow record batches of the given shards, in order (feature columns then the target)."""
        columns = columns or [*self.manifest.features, self.manifest.target]
        for info in infos:
            path = self.check(info)
            try:
                # a random-access file of the location's filesystem: on S3, ranged GETs of the column chunks
                # of one row group at a time (no pre-buffering: it would fetch the whole shard up front)
                with path.open_input() as fh:
                    shard = pq.ParquetFile(fh)
                    # one row group at a time: iter_batches over the whole file reads ahead across all its row
                    # groups (memray: 88 MB peak for one 84 MB shard, 8.4 MB row group by row group, same speed)
                    for group in range(shard.num_row_groups):
                        yield from shard.iter_batches(batch_size=batch_size, columns=columns, row_groups=[group])
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(f"{path}: unreadable shard ({exc}); delete {self.root} and regenerate") from None

    def _record_batches(self, infos: Iterable[ShardInfo], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not self.manifest.all_numeric:
            raise DatasetError(f"{self.root}: has categorical columns; read it through oocbench.features.BatchStream")
        d = len(self.manifest.features)
        for rb in self.record_batches(infos, batch_size):
            X = np.empty((rb.num_rows, d), dtype=np.float32)
            for j in range(d):
                X[:, j] = rb.column(j).to_numpy(zero_copy_only=False)
            yield X, rb.column(d).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)

    def batches(self, batch_size: int, rows: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield training ``(X, y)`` batches of exactly ``batch_size`` rows (the last may be shorter).

        ``rows`` limits the stream to its first rows (a dataset at scale N is a prefix of a larger one).
        Raw values: missing numeric values are NaN; datasets with categorical columns need the feature layer.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        limit = self.rows if rows is None else min(rows, self.rows)
        yield from _rebatch(self._record_batches(self.manifest.shards, batch_size), batch_size, limit)

    def holdout(self, batch_size: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the holdout set in batches (never collected into one array by the harness)."""
        yield from _rebatch(self._record_batches([self.manifest.holdout], batch_size), batch_size,
                            self.manifest.holdout.rows)


def _rebatch(pieces: Iterator[tuple[Any, Any]], batch_size: int, limit: int):
    """Re-cut a stream of arbitrary-sized pieces into batches of ``batch_size`` rows, stopping at ``limit``.

    Pieces are ``(X, y)`` numpy pairs; a piece that already has the right size passes through without a copy.
    """
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
