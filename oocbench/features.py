"""The shared feature layer: every adapter learns from the same batches of the same features.

A :class:`BatchStream` is what :meth:`Adapter.fit` receives: iterate it for ``(X, y)`` batches (``X``
float32, dense numpy or scipy CSR as the adapter's ``input_format`` asks; ``y`` float32), or use
``stream.dataset`` / ``stream.rows`` to reach the shards when the backend has its own reader.

What the features are (:class:`FeatureSpec`, published by :meth:`BatchStream.describe`):

- numeric columns first, in manifest order; ``count`` columns are ``log1p``-transformed first;
- standardisation (when the dataset asks for it, e.g. public data and ``synth-ctr``; never for the dense
  synthetic sets, whose true coefficients must stay in the space adapters see): ``(x - mean) / std`` with the
  exact mean and population std over the stream's own training rows - per-shard ``[count, mean, M2]`` written
  in one pass at generation time, merged exactly (Chan et al.); a shard the stream covers only in part is
  scanned once when the stream is built. The holdout uses the training statistics;
- missing numeric values become the training mean (0 after standardisation);
- categorical columns use the hashing trick: each value sets a 1 in one of ``hash_buckets`` columns after the
  numeric ones (collisions add); a missing value hashes as the token ``"__missing__"``.

>>> from oocbench import datasets
>>> import tempfile
>>> ds = datasets.generate("synth-binary", 1000, base=tempfile.mkdtemp())
>>> stream = BatchStream(ds, 1000, 256)
>>> [X.shape for X, _ in stream][-1], stream.n_features
((232, 20), 20)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oocbench.datasets.shards import NUMERIC_KINDS, ShardedDataset, column_stats, merge_stats

INPUT_FORMATS = ("dense", "csr")
DEFAULT_HASH_BUCKETS = 1 << 12
MISSING_TOKEN = "__missing__"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

HASH_DOC = ("integer ids: splitmix64(id + (column index + 1) * 0x9E3779B97F4A7C15) mod buckets; strings: "
            "murmurhash3_32(utf-8, seed=column index) mod buckets; missing -> the string '__missing__'")


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised on uint64 (wrap-around is intended)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64, copy=True)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def hash_column(column: pa.ChunkedArray | pa.Array, index: int, buckets: int) -> np.ndarray:
    """Bucket of every value of one categorical column (see :data:`HASH_DOC`), int64 in ``[0, buckets)``."""
    from sklearn.utils import murmurhash3_32

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        values = column.cast(pa.int64()).fill_null(0).to_numpy().view(np.uint64)
        with np.errstate(over="ignore"):
            h = (splitmix64(values + np.uint64(index + 1) * _GOLDEN) % np.uint64(buckets)).astype(np.int64)
        if column.null_count:
            h[column.is_null().to_numpy(zero_copy_only=False)] = murmurhash3_32(MISSING_TOKEN, index, True) % buckets
        return h
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        column = column.cast(pa.string())
    enc = pc.dictionary_encode(column.fill_null(MISSING_TOKEN))
    table = np.fromiter((murmurhash3_32(s, index, True) % buckets for s in enc.dictionary.to_pylist()),
                        dtype=np.int64, count=len(enc.dictionary))
    return table[enc.indices.to_numpy(zero_copy_only=False)]


@dataclass
class FeatureSpec:
    """How raw columns become the feature matrix; fixed per stream (training rows' statistics)."""

    numeric: list[str]
    kinds: dict[str, str]
    categorical: list[str]
    target: str
    hash_buckets: int
    standardize: bool
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    missing: bool = True

    @property
    def width(self) -> int:
        return len(self.numeric) + (self.hash_buckets if self.categorical else 0)

    @property
    def passthrough(self) -> bool:
        """Dense numeric data used as stored: the reader's batches are the features (no extra copy)."""
        return not self.categorical and not self.standardize and not self.missing

    @classmethod
    def from_dataset(cls, dataset: ShardedDataset, rows: int | None = None,
                     hash_buckets: int | None = None) -> FeatureSpec:
        m = dataset.manifest
        spec = m.feature_spec or {}
        numeric = [c for c in m.features if m.kind(c) in NUMERIC_KINDS]
        categorical = [c for c in m.features if m.kind(c) == "categorical"]
        buckets = int(hash_buckets or spec.get("hash_buckets") or DEFAULT_HASH_BUCKETS)
        standardize = bool(spec.get("standardize", False)) and bool(numeric)
        out = cls(numeric, {c: m.kind(c) for c in m.features}, categorical, m.target, buckets, standardize,
                  missing=bool(spec.get("missing", standardize)))
        if standardize:
            stats = _stream_stats(dataset, rows if rows is not None else dataset.rows, numeric, out.kinds)
            n = np.array([stats[c][0] for c in numeric])
            out.mean = np.array([stats[c][1] for c in numeric], dtype=np.float64)
            std = np.sqrt(np.array([stats[c][2] for c in numeric]) / np.maximum(n, 1))
            out.std = np.where(std > 0, std, 1.0)  # a constant column stays 0 rather than dividing by 0
        return out

    def numeric_block(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """The numeric part, float32 ``(n, len(numeric))``: log1p for counts, standardised, missing -> mean."""
        X = np.empty((table.num_rows, len(self.numeric)), dtype=np.float32)
        for j, c in enumerate(self.numeric):
            col = table.column(c)
            if self.kinds[c] == "count":
                v = np.log1p(np.maximum(col.to_numpy(zero_copy_only=False).astype(np.float64), 0.0))
                X[:, j] = v
            else:
                X[:, j] = col.to_numpy(zero_copy_only=False)
        self.finish_numeric(X)
        return X

    def finish_numeric(self, X: np.ndarray) -> None:
        """Standardise in place and put missing values (NaN) at the mean, i.e. 0 after standardisation."""
        if self.standardize:
            X -= self.mean.astype(np.float32)
            X /= self.std.astype(np.float32)
        if self.missing:
            np.nan_to_num(X, copy=False, nan=0.0 if self.standardize else 0.0)

    def transform(self, table: pa.Table | pa.RecordBatch, input_format: str = "dense"):
        """``(X, y)`` for one batch of raw rows."""
        y = table.column(self.target).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        num = self.numeric_block(table)
        if not self.categorical:
            return (num if input_format == "dense" else _csr(num)), y
        n, d = table.num_rows, len(self.numeric)
        cols = np.column_stack([hash_column(table.column(c), self.numeric.__len__() + i, self.hash_buckets)
                                for i, c in enumerate(self.categorical)]) + d
        if input_format == "dense":
            X = np.zeros((n, self.width), dtype=np.float32)
            X[:, :d] = num
            rows = np.arange(n)
            for j in range(cols.shape[1]):
                X[rows, cols[:, j]] += 1.0  # one index per row per column: no duplicate pairs in one call
            return X, y
        from scipy import sparse

        per_row = d + cols.shape[1]
        indices = np.empty((n, per_row), dtype=np.int32)
        indices[:, :d] = np.arange(d)
        indices[:, d:] = cols
        data = np.empty((n, per_row), dtype=np.float32)
        data[:, :d] = num
        data[:, d:] = 1.0
        X = sparse.csr_matrix((data.ravel(), indices.ravel(), np.arange(0, n * per_row + 1, per_row)),
                              shape=(n, self.width))
        X.sum_duplicates()  # hash collisions inside a row add up, as in the dense matrix
        return X, y

    def describe(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "numeric": len(self.numeric),
            "count_log1p": [c for c in self.numeric if self.kinds[c] == "count"],
            "categorical": list(self.categorical),
            "hash_buckets": self.hash_buckets if self.categorical else None,
            "hash": HASH_DOC if self.categorical else None,
            "standardize": ("z-score with exact mean / population std of the stream's training rows (one pass at "
                            "write time, per-shard count/mean/M2 merged; partial last shard scanned once)"
                            if self.standardize else "none (used as stored)"),
            "missing": "numeric -> training mean (0 after standardising); categorical -> '__missing__' bucket",
        }


def _csr(X: np.ndarray):
    from scipy import sparse

    return sparse.csr_matrix(X)


def _stream_stats(dataset: ShardedDataset, rows: int, numeric: list[str], kinds: dict[str, str]):
    stats, left = None, rows
    for info in dataset.manifest.shards:
        if left <= 0:
            break
        if info.stats and info.rows <= left:
            stats = merge_stats(stats, info.stats)
        else:  # partly covered (or written without stats): one pass over the rows the stream uses
            take = min(info.rows, left)
            t = pa.Table.from_batches(list(dataset.record_batches([info], 1 << 16, numeric))).slice(0, take)
            stats = merge_stats(stats, column_stats(t, [(c, kinds[c]) for c in numeric]))
        left -= info.rows
    return stats or {c: [0.0, 0.0, 0.0] for c in numeric}


def _rebatch_tables(batches: Iterator[pa.RecordBatch], batch_size: int, limit: int) -> Iterator[pa.Table]:
    """Re-cut Arrow record batches into tables of exactly ``batch_size`` rows (the last shorter), up to ``limit``."""
    pending: list[pa.RecordBatch] = []
    n = emitted = 0
    for rb in batches:
        if emitted + n >= limit:
            break
        rb = rb.slice(0, min(rb.num_rows, limit - emitted - n))
        pending.append(rb)
        n += rb.num_rows
        while n >= batch_size:
            t = pa.Table.from_batches(pending)
            yield t.slice(0, batch_size)
            emitted += batch_size
            rest = t.slice(batch_size)
            pending, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(pending)


@dataclass
class BatchStream:
    """The first ``rows`` training rows of ``dataset``, in stream order, in batches of ``batch_size``.

    ``input_format`` is ``"dense"`` (numpy float32, C order) or ``"csr"`` (scipy.sparse float32);
    ``hash_buckets`` overrides the dataset's default number of hashing buckets for categorical columns.
    """

    dataset: ShardedDataset
    rows: int
    batch_size: int
    input_format: str = "dense"
    hash_buckets: int | None = None
    _spec: FeatureSpec | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {self.input_format!r}")
        self.rows = min(self.rows, self.dataset.rows)

    @classmethod
    def for_adapter(cls, dataset: ShardedDataset, rows: int, batch_size: int, adapter_cls: type,
                    hash_buckets: int | None = None) -> BatchStream:
        """The stream an adapter class asks for (its ``input_format`` class attribute, default dense)."""
        return cls(dataset, rows, batch_size, getattr(adapter_cls, "input_format", "dense"), hash_buckets)

    @property
    def spec(self) -> FeatureSpec:
        if self._spec is None:
            self._spec = FeatureSpec.from_dataset(self.dataset, self.rows, self.hash_buckets)
        return self._spec

    def _iter(self, infos, limit: int, batch_size: int):
        spec = self.spec
        if spec.passthrough:
            pieces = self.dataset._record_batches(infos, batch_size)
            from oocbench.datasets.shards import _rebatch

            for X, y in _rebatch(pieces, batch_size, limit):
                yield (X if self.input_format == "dense" else _csr(X)), y
            return
        if not spec.categorical:  # numeric only: the reader's fast path, then standardise in place
            from oocbench.datasets.shards import _rebatch

            for X, y in _rebatch(self._numeric_pieces(infos, batch_size), batch_size, limit):
                yield (X if self.input_format == "dense" else _csr(X)), y
            return
        cols = [*spec.numeric, *spec.categorical, spec.target]
        for t in _rebatch_tables(self.dataset.record_batches(infos, batch_size, cols), batch_size, limit):
            yield spec.transform(t, self.input_format)

    def _numeric_pieces(self, infos, batch_size: int):
        spec = self.spec
        for rb in self.dataset.record_batches(infos, batch_size, [*spec.numeric, spec.target]):
            yield spec.numeric_block(rb), rb.column(len(spec.numeric)).to_numpy(
                zero_copy_only=False).astype(np.float32, copy=False)

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        return self._iter(self.dataset.manifest.shards, self.rows, self.batch_size)

    def parts(self) -> list[tuple[int, int]]:
        """``(shard index, rows taken from it)`` for each shard the stream covers, in order.

        For backends that build lazy per-shard blocks (dask): see :meth:`read_part`.
        """
        out, left = [], self.rows
        for i, info in enumerate(self.dataset.manifest.shards):
            if left <= 0:
                break
            out.append((i, min(info.rows, left)))
            left -= info.rows
        return out

    def read_part(self, index: int) -> tuple[Any, np.ndarray]:
        """The features of one shard's rows (those the stream covers) as one ``(X, y)`` block."""
        take = dict(self.parts())[index]
        info = self.dataset.manifest.shards[index]
        # decode in row-group-sized pieces: one batch of the whole shard was ~3x slower than streaming it
        Xs, ys = zip(*self._iter([info], take, min(take, 1 << 16)))
        if len(Xs) == 1:
            return Xs[0], ys[0]
        if self.input_format == "csr":
            from scipy import sparse

            return sparse.vstack(Xs, format="csr"), np.concatenate(ys)
        return np.concatenate(Xs), np.concatenate(ys)

    def holdout(self) -> Iterator[tuple[Any, np.ndarray]]:
        """The dataset's fixed holdout, transformed with this stream's (training) statistics."""
        size = max(self.batch_size, 1 << 14)
        return self._iter([self.dataset.manifest.holdout], self.dataset.manifest.holdout.rows, size)

    def describe(self) -> dict[str, Any]:
        """What the features are, for the record: format, width, hashing, standardisation, missing values."""
        return {"input_format": self.input_format, "batch_size": self.batch_size, "rows": self.rows,
                **self.spec.describe()}

    @property
    def n_features(self) -> int:
        """Width of ``X`` the adapter sees."""
        return self.spec.width

    @property
    def task(self) -> str:
        return self.dataset.task
