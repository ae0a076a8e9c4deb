"""The shared feature layer: every adapter learns from the same batches of the same features.

A :class:`BatchStream` is what :meth:`Adapter.fit` receives: iterate it for ``(X, y)`` batches (``X``
float32, dense numpy, scipy CSR or an Arrow table as the adapter's ``input_formats`` allow; ``y`` float32), or use
``stream.dataset`` / ``stream.rows`` to reach the shards when the backend has its own reader.

What the features are (:class:`FeatureSpec`, published by :meth:`BatchStream.describe`):

- numeric columns first, in manifest order; ``count`` columns are ``log1p``-transformed first;
- standardisation (when the dataset asks for it, e.g. public data and ``synth-ctr``; never for the dense
  synthetic sets, whose true coefficients must stay in the space adapters see): ``(x - mean) / std`` with the
  exact mean and population std over the stream's own training rows - per-shard ``[count, mean, M2]`` written
  in one pass at generation time, merged exactly (Chan et al.); a shard the stream covers only in part is
  scanned once when the stream is built. The holdout uses the training statistics;
- missing numeric values become the training mean (0 after standardisation);
- categorical columns use the hashing trick (:data:`HASH_DOC`): each value sets a 1 in one of ``2**hash_bits``
  columns after the numeric ones (collisions add; default 18 bits, as VW's ``-b 18``), with a per-column salt
  so equal values in different columns land apart; a missing value hashes as the token ``"__missing__"``.
  Such data comes as scipy CSR (``d`` numeric + one non-zero per categorical column per row), never dense;
  adapters whose library takes categorical values natively ask for ``"arrow"`` and get them raw;
- or, for tree learners (``"codes"``, :data:`CODES_DOC`), one integer code per categorical column: a per-column
  dictionary built in one pass over the stream's training rows keeps the ``category_cap`` most frequent values
  (codes ``0..``, most frequent first), every other value is one "other" code, a missing value is NaN. Trees split
  on such codes natively (XGBoost ``enable_categorical``, LightGBM ``categorical_feature``, scikit-learn's
  ``categorical_features``); hashed one-hot columns cost them a round per 2^18 columns and the loss of the
  partition splits.

All conversion is vectorised (numpy / Arrow kernels, no Python loop per row); :mod:`oocbench.harness.case` times one
pass of it apart from learning (``features_s``).

>>> from oocbench import datasets
>>> import tempfile
>>> ds = datasets.generate("synth-binary", 1000, base=tempfile.mkdtemp())
>>> stream = BatchStream(ds, 1000, 256)
>>> [X.shape for X, _ in stream][-1], stream.n_features
((232, 20), 20)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oocbench.datasets import NUMERIC_KINDS, ShardedDataset, ShardInfo, column_stats, merge_stats, rebatch
from oocbench.datasets.rebatch import concat, take

INPUT_FORMATS = ("dense", "csr", "arrow", "codes")
#: log2 of the number of hashing buckets: VW's default ``-b 18`` (262,144 columns, ~1 MiB of float32 weights)
DEFAULT_HASH_BITS = 18
MAX_HASH_BITS = 30  # CSR indices are int32; 2^30 buckets is already 4 GiB of float32 weights
MAX_DENSE_HASH_BITS = 12  # dense hashed categoricals (tests, comparisons only): 4,096 columns per row at most
MISSING_TOKEN = "__missing__"
#: values kept per categorical column in the ``codes`` format: 254 codes plus "other" is 255 categories, the most
#: scikit-learn's HistGradientBoosting takes (``max_bins``); XGBoost and LightGBM take more (``category_cap``)
DEFAULT_CATEGORY_CAP = 254
MAX_CATEGORY_CAP = 1 << 24  # codes travel as float32, exact up to 2^24
#: how a tree adapter splits on the code columns (its ``categorical_splits`` param; see
#: :meth:`FeatureSpec.categorical_code_columns`)
CATEGORICAL_SPLITS = ("native", "low-cardinality")
CODES_DOC = ("per categorical column, its values counted over the stream's training rows (one pass, Arrow "
             "value_counts); the category_cap most frequent get codes 0, 1, ... (most frequent first, ties by value), "
             "every other value one 'other' code (the number of values kept; also values first seen in the holdout), "
             "missing NaN; the codes follow the numeric columns as float32")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

HASH_DOC = ("per column salt s = FNV-1a-64(column name); integer ids: splitmix64(id + s * 0x9E3779B97F4A7C15); "
            "other values as UTF-8 strings: splitmix64(FNV-1a-64 of the bytes, seeded with s); bucket = the low "
            "hash_bits bits; missing -> the string '__missing__' of that column")


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


def fnv1a(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seed: np.uint64) -> np.ndarray:
    """FNV-1a-64 of many byte strings at once: ``data[starts[i]:starts[i] + lengths[i]]`` for each ``i``.

    One numpy step per byte position (not per string): strings are visited longest first, so position ``k``
    touches only the strings longer than ``k``.
    """
    n = len(starts)
    h = np.full(n, _FNV_OFFSET ^ seed, dtype=np.uint64)
    if not n:
        return h
    order = np.argsort(-lengths, kind="stable")
    neg_len, ordered_start = -lengths[order].astype(np.int64), starts[order].astype(np.int64)
    acc = h[order]
    with np.errstate(over="ignore"):
        for k in range(int(-neg_len[0])):
            live = int(np.searchsorted(neg_len, -k, side="left"))  # how many strings are longer than k
            acc[:live] ^= data[ordered_start[:live] + k].astype(np.uint64)
            acc[:live] *= _FNV_PRIME
    h[order] = acc
    return h


def column_salt(name: str) -> np.uint64:
    """The per-column salt: FNV-1a-64 of the column's name (stable under reordering of columns)."""
    raw = np.frombuffer(name.encode(), dtype=np.uint8)
    return fnv1a(raw, np.zeros(1, np.int64), np.array([len(raw)]), np.uint64(0))[0]


def hash_strings(values: pa.Array, salt: np.uint64) -> np.ndarray:
    """uint64 hash of every string of ``values`` (no nulls), vectorised over Arrow's own buffers."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_string())
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=width, count=len(values) + 1, offset=values.offset * width().itemsize)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    return splitmix64(fnv1a(data, offsets[:-1], np.diff(offsets), salt))


@functools.lru_cache(maxsize=4096)
def _salt_and_missing(name: str) -> tuple[np.uint64, np.uint64]:
    """A column's salt and the hash of its missing token (computed once per column name)."""
    salt = column_salt(name)
    return salt, hash_strings(pa.array([MISSING_TOKEN]), salt)[0]


def hash_column(column: pa.ChunkedArray | pa.Array, name: str, bits: int) -> np.ndarray:
    """Bucket of every value of one categorical column (see :data:`HASH_DOC`), int32 in ``[0, 2**bits)``.

    Each distinct value of the batch is hashed once (Arrow's dictionary encoding), then looked up per row.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    salt, missing = _salt_and_missing(name)
    mask = np.uint64((1 << bits) - 1)
    if pa.types.is_null(column.type):  # a column with no value at all (e.g. an empty CSV column)
        column = column.cast(pa.string())
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        values = column.cast(pa.int64()).fill_null(0).to_numpy().view(np.uint64)
        with np.errstate(over="ignore"):
            h = splitmix64(values + salt * _GOLDEN)
        if column.null_count:
            h[column.is_null().to_numpy(zero_copy_only=False)] = missing
        return (h & mask).astype(np.int32)
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
    enc = pc.dictionary_encode(column.fill_null(MISSING_TOKEN))
    table = (hash_strings(enc.dictionary, salt) & mask).astype(np.int32)
    return table[enc.indices.to_numpy(zero_copy_only=False)]


def _category_values(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A categorical column in the one type its dictionary holds: int64 for integers and booleans, float64 for
    floats, string otherwise (so batches of any shard, and the holdout, look values up in the same type)."""
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return column.cast(pa.int64())
    if pa.types.is_floating(t):
        return column.cast(pa.float64())
    return column if pa.types.is_string(t) else column.cast(pa.string())


@dataclass
class Codebook:
    """Per categorical column, the values that get their own code (most frequent first), from training rows.

    ``values[c][i]`` has code ``i``; every other value of ``c`` has code ``len(values[c])`` ("other"); a missing
    value is NaN. Built by :func:`build_codebook`; see :data:`CODES_DOC`.

    >>> book = Codebook.from_counts(2, {"c": {"a": 5, "b": 3, "z": 1}}, {"c": 1}, rows=10)
    >>> book.codes(pa.array(["b", "a", "q", None, "z"]), "c").tolist()
    [1.0, 0.0, 2.0, nan, 2.0]
    >>> book.describe()["columns"]["c"]
    {'kept': 2, 'distinct': 3, 'other_share': 0.1, 'missing_share': 0.1}
    """

    cap: int
    values: dict[str, pa.Array]
    distinct: dict[str, int]
    other_rows: dict[str, int]
    missing_rows: dict[str, int]
    rows: int
    build_s: float = 0.0

    @classmethod
    def from_counts(cls, cap: int, counts: dict[str, dict[Any, int]], missing: dict[str, int], rows: int) -> Codebook:
        """A codebook from plain ``{column: {value: count}}`` (tests, small data)."""
        tables = {c: pa.table({"v": _category_values(pa.array(list(vc))), "n": pa.array(list(vc.values()), pa.int64())})
                  for c, vc in counts.items()}
        return cls._from_tables(cap, tables, missing, rows)

    @classmethod
    def _from_tables(cls, cap: int, tables: dict[str, pa.Table], missing: dict[str, int], rows: int) -> Codebook:
        values, distinct, other = {}, {}, {}
        for c, t in tables.items():
            t = t.sort_by([("n", "descending"), ("v", "ascending")])
            values[c] = t.column("v").slice(0, cap).combine_chunks()
            distinct[c] = t.num_rows
            counts = t.column("n").to_numpy()
            other[c] = int(counts[cap:].sum())
        return cls(cap, values, distinct, other, dict(missing), rows)

    def codes(self, column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
        """float32 code of every value of ``column`` (the column named ``name``): see the class docstring."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        out = np.full(len(column), np.nan, dtype=np.float32)
        if pa.types.is_null(column.type) or len(column) == 0:
            return out
        column = _category_values(column)
        kept = self.values[name]
        if len(kept):
            # not found (or missing) -> the "other" code; missing values are put back to NaN below
            index = pc.index_in(column, value_set=kept.cast(column.type)).fill_null(len(kept))
            out[:] = index.to_numpy(zero_copy_only=False)
        else:
            out[:] = 0
        if column.null_count:
            out[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return out

    def describe(self) -> dict[str, Any]:
        """What the record publishes: the cap, per column the codes kept, distinct values seen, and the share of
        training rows that fell into "other" or were missing."""
        rows = max(self.rows, 1)
        return {"cap": self.cap, "how": CODES_DOC, "rows": self.rows, "build_s": round(self.build_s, 4),
                "columns": {c: {"kept": len(v), "distinct": self.distinct[c],
                                "other_share": round(self.other_rows[c] / rows, 6),
                                "missing_share": round(self.missing_rows[c] / rows, 6)}
                            for c, v in self.values.items()}}


def check_category_cap(cap: int) -> int:
    """``cap`` if it is a usable number of codes per categorical column, else a ValueError naming the range."""
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or not 1 <= cap <= MAX_CATEGORY_CAP:
        raise ValueError(f"category_cap must be an integer from 1 to {MAX_CATEGORY_CAP}, got {cap!r}")
    return int(cap)


def build_codebook(dataset: ShardedDataset, rows: int, categorical: list[str], cap: int) -> Codebook:
    """The :class:`Codebook` of the first ``rows`` training rows: one pass over the categorical columns only.

    Per batch, Arrow's ``value_counts``; the counts are merged with a group-by every 32 batches, so memory holds
    the distinct values seen (not the rows).
    """
    import time

    t0 = time.perf_counter()
    pieces: dict[str, list[pa.Table]] = {c: [] for c in categorical}
    missing = dict.fromkeys(categorical, 0)
    seen = 0

    def merge(parts: list[pa.Table]) -> pa.Table:
        return pa.concat_tables(parts).group_by("v").aggregate([("n", "sum")]).rename_columns(["v", "n"])

    for k, table in enumerate(rebatch(dataset.record_batches(dataset.manifest.shards, 1 << 16, categorical),
                                      1 << 16, rows)):
        seen += table.num_rows
        for c in categorical:
            col = table.column(c)
            missing[c] += col.null_count
            if pa.types.is_null(col.type):
                continue
            vc = pc.value_counts(_category_values(col).drop_null())
            pieces[c].append(pa.table({"v": vc.field("values"), "n": vc.field("counts")}))
            if (k + 1) % 32 == 0:
                pieces[c] = [merge(pieces[c])]
    empty = pa.table({"v": pa.array([], pa.string()), "n": pa.array([], pa.int64())})
    tables = {c: merge(p) if p else empty for c, p in pieces.items()}
    book = Codebook._from_tables(cap, tables, missing, seen)
    book.build_s = time.perf_counter() - t0
    return book


@dataclass
class FeatureSpec:
    """How raw columns become the feature matrix; fixed per stream (training rows' statistics)."""

    numeric: list[str]
    kinds: dict[str, str]
    categorical: list[str]
    target: str
    hash_bits: int
    standardize: bool
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    missing: bool = True
    #: the categorical columns' codes (``codes`` format only; built from the stream's training rows)
    codebook: Codebook | None = None

    @property
    def hash_buckets(self) -> int:
        return 1 << self.hash_bits

    @property
    def width(self) -> int:
        """Columns of the dense / CSR matrix: the numeric features, then the hashing buckets."""
        return len(self.numeric) + (self.hash_buckets if self.categorical else 0)

    @property
    def passthrough(self) -> bool:
        """Dense numeric data used as stored: the reader's batches are the features (no extra copy)."""
        return not self.categorical and not self.standardize and not self.missing

    @classmethod
    def from_dataset(cls, dataset: ShardedDataset, rows: int | None = None, hash_bits: int | None = None,
                     category_cap: int | None = None) -> FeatureSpec:
        """The spec of the first ``rows`` training rows; with ``category_cap`` (the ``codes`` format) it also
        builds the categorical columns' :class:`Codebook` (one pass over them)."""
        m = dataset.manifest
        spec = m.feature_spec or {}
        numeric = [c for c in m.features if m.kind(c) in NUMERIC_KINDS]
        categorical = [c for c in m.features if m.kind(c) == "categorical"]
        # the number of buckets is the harness's choice (the same for every adapter), not the dataset's
        bits = check_hash_bits(DEFAULT_HASH_BITS if hash_bits is None else hash_bits)
        standardize = bool(spec.get("standardize", False)) and bool(numeric)
        out = cls(numeric, {c: m.kind(c) for c in m.features}, categorical, m.target, bits, standardize,
                  missing=bool(spec.get("missing", standardize)))
        if standardize:
            stats = _stream_stats(dataset, rows if rows is not None else dataset.rows, numeric, out.kinds)
            n = np.array([stats[c][0] for c in numeric])
            out.mean = np.array([stats[c][1] for c in numeric], dtype=np.float64)
            std = np.sqrt(np.array([stats[c][2] for c in numeric]) / np.maximum(n, 1))
            out.std = np.where(std > 0, std, 1.0)  # a constant column stays 0 rather than dividing by 0
        if category_cap is not None and categorical:
            out.codebook = build_codebook(dataset, rows if rows is not None else dataset.rows, categorical,
                                          check_category_cap(category_cap))
        return out

    def numeric_block(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """The numeric part, float32 ``(n, len(numeric))``: log1p for counts, standardised, missing -> mean."""
        X = np.empty((table.num_rows, len(self.numeric)), dtype=np.float32)
        for j, c in enumerate(self.numeric):
            col = table.column(c)
            if self.kinds[c] == "count":
                X[:, j] = np.log1p(np.maximum(col.to_numpy(zero_copy_only=False).astype(np.float64), 0.0))
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
            np.nan_to_num(X, copy=False, nan=0.0)

    def buckets(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """int32 ``(n, len(categorical))``: the hashing bucket of every categorical value, row by row."""
        out = np.empty((table.num_rows, len(self.categorical)), dtype=np.int32)
        for j, c in enumerate(self.categorical):
            out[:, j] = hash_column(table.column(c), c, self.hash_bits)
        return out

    def transform(self, table: pa.Table | pa.RecordBatch, input_format: str = "dense") -> tuple[Any, np.ndarray]:
        """``(X, y)`` for one batch of raw rows, ``X`` in ``input_format`` (see :data:`INPUT_FORMATS`)."""
        y = table.column(self.target).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        num = self.numeric_block(table)
        if input_format == "arrow":
            return self.arrow(table, num), y
        if not self.categorical:
            return (_csr(num) if input_format == "csr" else num), y
        if input_format == "codes":
            return self.codes(table, num), y
        cols = self.buckets(table)
        if input_format == "dense":
            n, d = table.num_rows, len(self.numeric)
            X = np.zeros((n, self.width), dtype=np.float32)
            X[:, :d] = num
            rows = np.arange(n)
            for j in range(cols.shape[1]):
                X[rows, cols[:, j] + d] += 1.0  # one index per row per column: no duplicate pairs in one call
            return X, y
        return self.csr(num, cols), y

    def csr(self, num: np.ndarray, cols: np.ndarray):
        """CSR float32 with int32 indices: ``d`` numeric values then one 1 per categorical column, each row's
        indices sorted; hash collisions inside a row add up (the same matrix as the dense layout)."""
        from scipy import sparse

        n, d, k = len(num), num.shape[1], cols.shape[1]
        cols = np.sort(cols, axis=1)
        per_row = d + k
        indices = np.empty((n, per_row), dtype=np.int32)
        indices[:, :d] = np.arange(d, dtype=np.int32)
        indices[:, d:] = cols + np.int32(d)
        data = np.empty((n, per_row), dtype=np.float32)
        data[:, :d] = num
        data[:, d:] = 1.0
        indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32 if n * per_row < 2**31 else np.int64)
        X = sparse.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(n, self.width))
        if k > 1 and bool((cols[:, 1:] == cols[:, :-1]).any()):
            X.sum_duplicates()  # rare: two columns of one row in the same bucket
        else:
            X.has_sorted_indices = True
            X.has_canonical_format = True
        return X

    def categorical_code_columns(self, splits: str = "native") -> list[int]:
        """Indices (in the ``codes`` layout) of the code columns a tree should split on as categories.

        ``splits`` is a tree adapter's ``categorical_splits``: ``"native"``, every categorical column;
        ``"low-cardinality"``, only the columns whose every training value has its own code - a column with an
        "other" code (more values than ``category_cap``) is then split on as a number, its codes being the values'
        frequency ranks (LightGBM's Advanced Topics: "for a categorical feature with high cardinality, it often
        works best to treat the feature as numeric").
        """
        if splits not in CATEGORICAL_SPLITS:
            raise ValueError(f"categorical_splits must be one of {CATEGORICAL_SPLITS}, got {splits!r}")
        d, book = len(self.numeric), self.codebook
        return [d + j for j, c in enumerate(self.categorical)
                if splits == "native" or (book is not None and book.distinct[c] <= book.cap)]

    def codes(self, table: pa.Table | pa.RecordBatch, num: np.ndarray) -> np.ndarray:
        """float32 ``(n, d + k)``: the numeric block, then each categorical column's codes (:class:`Codebook`)."""
        if self.codebook is None:
            raise ValueError("the codes format needs the training rows' codebook: build the spec with category_cap")
        d = len(self.numeric)
        X = np.empty((table.num_rows, d + len(self.categorical)), dtype=np.float32)
        X[:, :d] = num
        for j, c in enumerate(self.categorical):
            X[:, d + j] = self.codebook.codes(table.column(c), c)
        return X

    def arrow(self, table: pa.Table | pa.RecordBatch, num: np.ndarray | None = None) -> pa.Table:
        """The features as an Arrow table: numeric columns as the other formats see them (float32, log1p,
        standardised, missing -> 0), categorical columns raw (their values, nulls kept), target dropped.

        For libraries that take categorical values natively (VW's own hashing, river's nominal features).
        """
        num = self.numeric_block(table) if num is None else num
        arrays = [pa.array(num[:, j]) for j in range(num.shape[1])]
        for c in self.categorical:
            col = table.column(c)
            arrays.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        return pa.Table.from_arrays(arrays, names=[*self.numeric, *self.categorical])

    def describe(self, input_format: str = "dense") -> dict[str, Any]:
        per_column = input_format in ("arrow", "codes")  # one feature per categorical column, not buckets
        hashed = bool(self.categorical) and not per_column
        raw = {"arrow": "none: categorical values passed raw to the library (Arrow columns)",
               "codes": "none: one integer code per categorical column (see codes)"}
        out = {
            "width": len(self.numeric) + len(self.categorical) if per_column else self.width,
            "numeric": len(self.numeric),
            "count_log1p": [c for c in self.numeric if self.kinds[c] == "count"],
            "categorical": list(self.categorical),
            "hash_bits": self.hash_bits if hashed else None,
            "hash_buckets": self.hash_buckets if hashed else None,
            "hash": HASH_DOC if hashed else (raw[input_format] if self.categorical else None),
            "standardize": ("z-score with exact mean / population std of the stream's training rows (one pass at "
                            "write time, per-shard count/mean/M2 merged; partial last shard scanned once)"
                            if self.standardize else "none (used as stored)"),
            "missing": "numeric -> training mean (0 after standardising); categorical -> " + {
                "arrow": "null, passed raw to the library", "codes": "NaN (the libraries' missing value)"}.get(
                input_format, "the '__missing__' token's bucket"),
        }
        if input_format == "codes" and self.codebook is not None:
            out["codes"] = self.codebook.describe()
        return out


def check_hash_bits(bits: int) -> int:
    """``bits`` if it is a usable number of hashing bits, else a ValueError saying the valid range."""
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 1 <= bits <= MAX_HASH_BITS:
        raise ValueError(f"hash_bits must be an integer from 1 to {MAX_HASH_BITS}, got {bits!r}")
    return int(bits)


#: one batch from several of the same format (numpy, scipy CSR or Arrow): the rebatcher's own concatenation
concat_batches = concat


def take_rows(X: Any, n: int) -> Any:
    """The first ``n`` rows of a batch of any format."""
    return take(X, 0, n)


def collect_dense(stream: Iterable[tuple[np.ndarray, np.ndarray]], rows: int, width: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every dense batch of ``stream`` in one preallocated float32 array (one copy of the data, no concat):
    what an in-memory reference fits on. Returns ``(X, y)`` cut to the rows the stream gave.

    >>> X, y = collect_dense([(np.ones((2, 3)), np.zeros(2)), (np.ones((1, 3)), np.ones(1))], rows=4, width=3)
    >>> X.shape, y.tolist()
    ((3, 3), [0.0, 0.0, 1.0])
    """
    X = np.empty((rows, width), dtype=np.float32)
    y = np.empty(rows, dtype=np.float32)
    i = 0
    for Xb, yb in stream:
        X[i:i + len(yb)], y[i:i + len(yb)] = Xb, yb
        i += len(yb)
    return X[:i], y[:i]


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


class UnsupportedInputError(ValueError):
    """The adapter cannot take this dataset's features in any format it declares (the case is ``skipped``)."""


def choose_format(formats: tuple[str, ...], categorical: bool, because: str = "") -> str:
    """The batch format an adapter gets: dense for all-numeric data when it takes dense, else its first
    sparse / raw format; dense hashed categoricals (2^18 float32 columns per row) are never chosen.

    >>> choose_format(("dense", "csr"), categorical=False), choose_format(("dense", "csr"), categorical=True)
    ('dense', 'csr')
    >>> choose_format(("arrow",), categorical=False)
    'arrow'
    """
    bad = [f for f in formats if f not in INPUT_FORMATS]
    if bad or not formats:
        raise ValueError(f"input_formats must be a non-empty subset of {INPUT_FORMATS}, got {formats!r}")
    if not categorical:
        return "dense" if "dense" in formats else formats[0]
    for f in formats:
        if f != "dense":
            return f
    if because:
        raise UnsupportedInputError(f"dense data only, and this dataset has categorical columns: {because}")
    raise UnsupportedInputError(
        "the adapter takes dense batches only, and this dataset has categorical columns: their hashed features "
        "would be a dense matrix of 2^hash_bits float32 columns per row; declare 'csr' or 'arrow' in "
        "input_formats to run on it")


@dataclass
class BatchStream:
    """The first ``rows`` training rows of ``dataset``, in stream order, in batches of ``batch_size``.

    ``input_format`` is ``"dense"`` (numpy float32, C order), ``"csr"`` (scipy.sparse CSR, float32 values,
    int32 indices) or ``"arrow"`` (a ``pyarrow.Table`` of the feature columns: numeric ones transformed,
    categorical ones raw) or ``"codes"`` (numpy float32: numeric columns, then one code per categorical column,
    see :class:`Codebook`); ``hash_bits`` sets the number of hashing buckets (``2**hash_bits``, default
    :data:`DEFAULT_HASH_BITS`) of categorical columns, ``category_cap`` the values coded per column (default
    :data:`DEFAULT_CATEGORY_CAP`).
    """

    dataset: ShardedDataset
    rows: int
    batch_size: int
    input_format: str = "dense"
    hash_bits: int | None = None
    category_cap: int | None = None
    _spec: FeatureSpec | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {self.input_format!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.hash_bits is not None:
            check_hash_bits(self.hash_bits)
        if self.category_cap is not None:
            check_category_cap(self.category_cap)
        if (self.input_format == "dense" and self.dataset.manifest.has_categorical
                and (self.hash_bits or DEFAULT_HASH_BITS) > MAX_DENSE_HASH_BITS):
            raise ValueError(f"dense batches of hashed categoricals need hash_bits <= {MAX_DENSE_HASH_BITS} (each "
                             f"row would hold 2^{self.hash_bits or DEFAULT_HASH_BITS} float32 columns); use 'csr'")
        self.rows = min(self.rows, self.dataset.rows)

    @classmethod
    def for_adapter(cls, dataset: ShardedDataset, rows: int, batch_size: int, adapter_cls: type,
                    hash_bits: int | None = None, category_cap: int | None = None) -> BatchStream:
        """The stream an adapter class asks for: see :func:`choose_format` and ``Adapter.input_formats``.

        Raises :class:`UnsupportedInputError` when the adapter takes no format that suits the data.
        """
        formats = tuple(getattr(adapter_cls, "input_formats", ("dense",)))
        categorical = any(dataset.manifest.kind(c) == "categorical" for c in dataset.manifest.features)
        fmt = choose_format(formats, categorical, getattr(adapter_cls, "dense_only_because", ""))
        return cls(dataset, rows, batch_size, fmt, hash_bits, category_cap)

    @property
    def spec(self) -> FeatureSpec:
        if self._spec is None:
            cap = (self.category_cap or DEFAULT_CATEGORY_CAP) if self.input_format == "codes" else None
            self._spec = FeatureSpec.from_dataset(self.dataset, self.rows, self.hash_bits, cap)
        return self._spec

    def _iter(self, infos: list[ShardInfo], limit: int, batch_size: int) -> Iterator[tuple[Any, np.ndarray]]:
        spec, fmt = self.spec, self.input_format
        if spec.passthrough and fmt != "arrow":
            for X, y in rebatch(self.dataset.numeric_batches(infos, batch_size), batch_size, limit):
                yield (_csr(X) if fmt == "csr" else X), y
            return
        if not spec.categorical and fmt != "arrow":  # numeric only: the reader's fast path, standardised in place
            for X, y in rebatch(self._numeric_pieces(infos, batch_size), batch_size, limit):
                yield (_csr(X) if fmt == "csr" else X), y
            return
        cols = [*spec.numeric, *spec.categorical, spec.target]
        for t in rebatch(self.dataset.record_batches(infos, batch_size, cols), batch_size, limit):
            yield spec.transform(t, fmt)

    def _numeric_pieces(self, infos: list[ShardInfo], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        spec = self.spec
        for rb in self.dataset.record_batches(infos, batch_size, [*spec.numeric, spec.target]):
            yield spec.numeric_block(rb), rb.column(len(spec.numeric)).to_numpy(
                zero_copy_only=False).astype(np.float32, copy=False)

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        return self._iter(self.dataset.manifest.shards, self.rows, self.batch_size)

    def parts(self) -> list[tuple[int, int, int]]:
        """``(shard index, row group, rows)`` of every Parquet row group the stream covers, in stream order; the
        last one is cut where the stream ends. For backends that build lazy blocks (dask): see :meth:`read_part`.

        Row groups (2^16 rows), not shards (2^20): one shard as one CSR block of synth-ctr is ~180 MiB and
        building it grew RSS by ~460 MiB; a row group is ~12 MiB.
        """
        out, left = [], self.rows
        for shard, info in enumerate(self.dataset.manifest.shards):
            if left <= 0:
                break
            for group, rows in enumerate(self.dataset.row_groups(info)):
                if left <= 0:
                    break
                out.append((shard, group, min(rows, left)))
                left -= rows
        return out

    def read_part(self, shard: int, group: int, rows: int) -> tuple[Any, np.ndarray]:
        """The features of the first ``rows`` rows of one row group (a :meth:`parts` entry) as one ``(X, y)``."""
        spec = self.spec
        cols = [*spec.numeric, *spec.categorical, spec.target]
        table = self.dataset.read_row_group(self.dataset.manifest.shards[shard], group, cols).slice(0, rows)
        return spec.transform(table, self.input_format)

    def holdout(self) -> Iterator[tuple[Any, np.ndarray]]:
        """The dataset's fixed holdout, transformed with this stream's (training) statistics."""
        size = max(self.batch_size, 1 << 14)
        return self._iter([self.dataset.manifest.holdout], self.dataset.manifest.holdout.rows, size)

    def describe(self) -> dict[str, Any]:
        """What the features are, for the record: format, width, hashing, standardisation, missing values."""
        return {"input_format": self.input_format, "batch_size": self.batch_size, "rows": self.rows,
                **self.spec.describe(self.input_format)}

    @property
    def n_features(self) -> int:
        """Width of ``X`` the adapter sees (columns of the Arrow table for ``"arrow"``)."""
        if self.input_format in ("arrow", "codes"):
            return len(self.spec.numeric) + len(self.spec.categorical)
        return self.spec.width

    @property
    def task(self) -> str:
        return self.dataset.task
