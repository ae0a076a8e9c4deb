"""Reading a dataset: :class:`ShardedDataset` streams a dataset's shards row group by row group.

Memory stays constant in the number of rows: one Parquet row group is decoded at a time (see
:data:`oocbench.datasets.writer.ROW_GROUP_ROWS`).

What is verified, and when:

- on open, once per dataset per run: every file's sha256 against the manifest, and every Parquet footer's row
  count and columns (names and kinds) against it. "Once per run": the process that verified puts a
  fingerprint of the files (size, mtime, ctime, inode; a listing's size and mtime on object storage) into
  ``$OOCBENCH_VERIFIED_DATA``, so its case processes (which inherit it) re-hash only a file that changed
  since. Measured on synth-binary 10^6 rows (84 MB, one shard, 2-core VM, page cache warm, noisy): hashing
  runs at ~18M rows/s (1.5 GB/s), ~55 ms, once, outside every timed phase; Parquet page CRCs checked on every
  read instead cost ~20% of read throughput in every pass, inside ``fit_s`` (10.4M -> 8.3-8.9M rows/s).
- on every shard open (free: the footer is parsed anyway): sizes, footer rows and columns again.

A mismatch is a :class:`~oocbench.datasets.manifest.DatasetError` naming the file and the command that
rewrites the dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from oocbench.datasets.manifest import MANIFEST, DatasetError, Manifest, ShardInfo, sha256_file
from oocbench.datasets.rebatch import rebatch
from oocbench.storage import Location, resolve, to_str

#: fingerprints of datasets verified by this process or its parent (see the module docstring)
VERIFIED_ENV = "OOCBENCH_VERIFIED_DATA"
_VERIFIED_KEEP = 256  # tokens kept in the environment (16 hex digits each): the most recent datasets


def _verified() -> set[str]:
    return set(os.environ.get(VERIFIED_ENV, "").split())


def _mark_verified(token: str) -> None:
    tokens = [t for t in os.environ.get(VERIFIED_ENV, "").split() if t != token]
    os.environ[VERIFIED_ENV] = " ".join([*tokens, token][-_VERIFIED_KEEP:])


class ShardedDataset:
    """A complete dataset on disk; streams float32 batches in constant memory.

    Parameters
    ----------
    root
        Directory holding ``manifest.json`` and the shards: a local path or a URL (``s3://bucket/prefix``),
        streamed through pyarrow's filesystem (ranged reads, no local copy).
    verify
        ``None`` (default): on open, check every file's sha256 and Parquet footer against the manifest unless
        this run already did for the same unchanged files (see the module docstring). ``True``: check now
        regardless. ``False``: sizes and footers only (a writer that has just hashed what it wrote).

    Raises
    ------
    DatasetError
        The manifest is missing or malformed, or a file is missing, truncated, corrupt or not what the
        manifest says; the message names the file and the command that rewrites the dataset.
    """

    def __init__(self, root: Path | str | Location, verify: bool | None = None) -> None:
        self.location = resolve(root)
        self.manifest = Manifest.load(self.location / MANIFEST)
        if verify is not False:
            self.verify_all(force=bool(verify))

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
        """Number of raw feature columns (the feature layer's width differs when columns are categorical)."""
        return len(self.manifest.features)

    def shard_paths(self) -> list[Path | Location]:
        return [self.root / s.path for s in self.manifest.shards]

    def hint(self) -> str:
        """What to run to rewrite this dataset (``oocbench generate`` replaces a complete one)."""
        m, loc = self.manifest, self.location
        # BASE/name/seed-S/rows-N: the directory says what was asked for (a manifest may have been edited)
        rows, seed = re.fullmatch(r"rows-(\d+)", loc.name), re.fullmatch(r"seed-(-?\d+)", loc.parent.name)
        if not (rows and seed and loc.parent.parent.name == m.name):
            return f"delete {self.root} and write it again the way it was made"  # not a data directory's layout
        src = m.source if isinstance(m.source, dict) else {}
        cmd = f"oocbench generate {m.name}"
        if src.get("kind") == "file":
            cmd += f" --from-file {src.get('path', 'PATH')} --target {src.get('target', 'COLUMN')}"
        cmd += f" --scale {rows.group(1)}" + (f" --seed {seed.group(1)}" if seed.group(1) != "0" else "")
        # always --data: the data directory may have come from `run --data` or the environment of another shell
        cmd += f" --data {loc.parent.parent.parent}"  # str(): a URL without its query (options, secrets)
        return f"run `{cmd}` to rewrite it"

    def _fingerprint(self) -> str:
        """What changes when any file of the dataset changes by ordinary means (see the module docstring)."""
        names = [MANIFEST, *(info.path for info in [*self.manifest.shards, self.manifest.holdout])]
        parts: list = [self.uri]
        if self.location.local:
            for name in names:
                try:
                    st = os.stat(os.path.join(self.location.path, name))
                    parts.append([name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev])
                except OSError:
                    parts.append([name, None])
        else:  # one listing, not a request per file
            listing = self.location.fs.get_file_info(pafs.FileSelector(self.location.path, allow_not_found=True))
            found = {PurePosixPath(i.path).name: (i.size, i.mtime_ns) for i in listing}
            parts += [[name, *found.get(name, (None, None))] for name in names]
        return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]

    def check(self, info: ShardInfo, verify: bool = False) -> Location:
        """The shard's location after checking it against the manifest (size always; sha256 if ``verify``)."""
        path = self.location / info.path
        found = path.info()
        if not found.is_file:
            raise DatasetError(f"{path}: shard missing; {self.hint()}")
        if found.size != info.bytes:
            raise DatasetError(f"{path}: {found.size} bytes, manifest says {info.bytes} (truncated or replaced?); "
                               f"{self.hint()}")
        if verify:
            try:
                digest = sha256_file(path)
            except OSError as exc:
                raise DatasetError(f"{path}: unreadable ({exc}); {self.hint()}") from None
            if digest != info.sha256:
                raise DatasetError(f"{path}: corrupt (its sha256 differs from the manifest's); {self.hint()}")
        return path

    def verify_all(self, force: bool = True) -> None:
        """Check every file's sha256 (a full read of the dataset) and Parquet footer against the manifest.

        Without ``force``, nothing is read when this process or the run that started it already verified the
        same unchanged files. Raises :class:`DatasetError` on the first bad file.
        """
        token = self._fingerprint()
        if not force and token in _verified():
            return
        for info in [*self.manifest.shards, self.manifest.holdout]:
            self.check(info, verify=True)
            with self._open(info):
                pass
        _mark_verified(token)

    def trust_written(self) -> ShardedDataset:
        """Count this dataset as verified for this run: its writer has just hashed the files it wrote."""
        _mark_verified(self._fingerprint())
        return self

    def _footer(self, shard: pq.ParquetFile, path: Location, info: ShardInfo) -> None:
        """The footer says what the manifest says: rows, and the columns by name and kind."""
        m = self.manifest
        if shard.metadata.num_rows != info.rows:
            raise DatasetError(f"{path}: holds {shard.metadata.num_rows:,} rows, the manifest says {info.rows:,} "
                               f"(edited or mixed up?); {self.hint()}")
        schema = shard.schema_arrow
        for name in [*m.features, m.target]:
            if schema.get_field_index(name) < 0:
                extra = [c for c in schema.names if c not in (*m.features, m.target)]
                raise DatasetError(f"{path}: no column {name!r} (the manifest's"
                                   + (f"; the file has {', '.join(map(repr, extra[:5]))} instead" if extra else "")
                                   + f"); {self.hint()}")
            t = schema.field(name).type
            numeric = name == m.target or m.kind(name) != "categorical"
            if not (pa.types.is_floating(t) if numeric else (pa.types.is_integer(t) or pa.types.is_string(t)
                                                             or pa.types.is_large_string(t))):
                raise DatasetError(f"{path}: column {name!r} is {t}, not the manifest's "
                                   f"{'numeric' if numeric else 'categorical'} kind; {self.hint()}")

    def _open(self, info: ShardInfo) -> _Opened:
        """A context manager giving the shard's :class:`pyarrow.parquet.ParquetFile`, footer checked."""
        return _Opened(self, info)

    def record_batches(self, infos: Iterable[ShardInfo], batch_size: int,
                       columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Raw Arrow record batches of the given shards, in order (feature columns then the target)."""
        columns = columns or [*self.manifest.features, self.manifest.target]
        for info in infos:
            with self._open(info) as shard:
                # one row group at a time: iter_batches over the whole file reads ahead across all its row
                # groups (memray: 88 MB peak for one 84 MB shard, 8.4 MB row group by row group, same speed)
                for group in range(shard.num_row_groups):
                    yield from shard.iter_batches(batch_size=batch_size, columns=columns, row_groups=[group])

    def row_groups(self, info: ShardInfo) -> list[int]:
        """Rows of each Parquet row group of a shard, from its footer (a ranged read on object storage)."""
        with self._open(info) as shard:
            meta = shard.metadata
            return [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]

    def read_row_group(self, info: ShardInfo, group: int, columns: list[str] | None = None) -> pa.Table:
        """One row group of a shard as an Arrow table (the unit a worker reads: ~2^16 rows)."""
        columns = columns or [*self.manifest.features, self.manifest.target]
        with self._open(info) as shard:
            return shard.read_row_group(group, columns=columns)

    def numeric_batches(self, infos: Iterable[ShardInfo], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(X, y)`` float32 numpy pieces of all-numeric shards as stored (raw values; NaN for missing)."""
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
        yield from rebatch(self.numeric_batches(self.manifest.shards, batch_size), batch_size, limit)

    def holdout(self, batch_size: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the holdout set in batches (never collected into one array by the harness)."""
        yield from rebatch(self.numeric_batches([self.manifest.holdout], batch_size), batch_size,
                            self.manifest.holdout.rows)


class _Opened:
    """``with dataset._open(info) as shard``: the shard's ParquetFile with its size and footer checked; a read
    error inside the block (a damaged page) becomes a :class:`DatasetError` naming the file."""

    def __init__(self, dataset: ShardedDataset, info: ShardInfo) -> None:
        self.dataset, self.info = dataset, info
        self.path = dataset.check(info)
        self.fh = None

    def __enter__(self) -> pq.ParquetFile:
        try:
            # a random-access file of the location's filesystem: on S3, ranged GETs of the column chunks of one
            # row group at a time (no pre-buffering: it would fetch the whole shard up front)
            self.fh = self.path.open_input()
            shard = pq.ParquetFile(self.fh)
        except (OSError, pa.ArrowException) as exc:
            self.__exit__(None, None, None)
            raise DatasetError(f"{self.path}: unreadable shard ({exc}); {self.dataset.hint()}") from None
        try:
            self.dataset._footer(shard, self.path, self.info)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return shard

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        if exc_type is not None and issubclass(exc_type, (OSError, pa.ArrowException)) and not issubclass(
                exc_type, DatasetError):
            raise DatasetError(f"{self.path}: unreadable shard ({exc}); {self.dataset.hint()}") from None
