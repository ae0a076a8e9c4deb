"""What a fitted model learned, in the source's terms: its top features mapped back to columns and values.

An adapter's :meth:`~oocbench.adapters.base.Adapter.explain` returns one number per column of the matrix it
learnt from (signed weights of a linear model, or a tree's gain importances). This module says which source
column (and, for hashed categoricals, which raw values) each of the largest ones stands for, so a report can
name ``carrier=DL`` instead of bucket 183,204.

The feature spaces (:func:`feature_space`), as :mod:`oocbench.features` builds them:

- ``dense`` / ``csr``: the numeric columns in manifest order (``count`` columns ``log1p``-transformed,
  standardised where the dataset asks), then ``2**hash_bits`` hashing buckets when there are categorical
  columns. There is no intercept column and no sign hashing: a value adds +1 to bucket
  ``hash(column, value) & (2**hash_bits - 1)`` (:data:`oocbench.features.HASH_DOC`), so several columns' values
  may share a bucket. Which values fall in a bucket is found by hashing a sample of the training rows (the
  first :data:`SAMPLE_ROWS`) with the same function and counting.
- ``arrow`` / ``codes``: the numeric columns, then the categorical columns, one feature per column (raw values,
  or the trees' integer codes). An adapter that returns only the numeric columns' weights (VW, which hashes categorical values
  itself) is mapped on those, and the record says the categorical part is not covered.

Features are keyed across adapters by stable strings (:func:`feature_space`): ``num:<column>`` for a numeric
column, ``b<bits>:<bucket>`` for a hashing bucket, ``col:<column>`` for a whole categorical column; two
adapters' weights can be compared on the keys both cover.

>>> import pyarrow as pa
>>> from oocbench.features import FeatureSpec, hash_column
>>> spec = FeatureSpec(["x"], {"x": "numeric", "c": "categorical"}, ["c"], "y", hash_bits=4, standardize=False)
>>> sample = pa.table({"c": ["DL", "DL", "AA", None]})
>>> w = np.zeros(spec.width)
>>> w[0], w[1 + hash_column(pa.array(["DL"]), "c", 4)[0]] = 0.5, -2.0
>>> out = model_insight(w, "weights", spec, "csr", sample=sample)
>>> [(t["label"], t["value"]) for t in out["top"]]
[('c=DL', -2.0), ('x', 0.5)]
>>> out["top"][0]["values"]
[{'column': 'c', 'value': 'DL', 'rows': 2}]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oocbench.features import FeatureSpec, hash_column

if TYPE_CHECKING:
    from oocbench.features import BatchStream

#: features named with their source in the record (``top``)
TOP_K = 20
#: features kept as ``[key, value]`` pairs for comparing adapters (``ranked``): never the whole 2^18 vector
RANKED = 100
#: training rows hashed to find which raw values fall in a bucket (the first rows of the stream)
SAMPLE_ROWS = 50_000
#: raw values named per bucket, most frequent first
VALUES_PER_BUCKET = 3
#: training rows used to estimate the true model's Fisher information (:func:`detectable`)
INFORMATION_ROWS = 10_000
#: a true coefficient counts as detectable at a scale from this many standard errors (see :func:`detectable`)
DETECTABLE_Z = 3.0
MISSING_LABEL = "(missing)"


@dataclass(frozen=True)
class Space:
    """How the indices of an ``explain()`` vector map to source features.

    ``numeric`` names indices ``0..len(numeric)-1``; after them come ``buckets`` hashing buckets
    (``bits`` bits) or, for ``layout == "columns"``, one feature per name of ``categorical``.
    """

    layout: str  # "columns" (numeric, then whole categorical columns), "hashed" or "numeric-only"
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    bits: int | None = None

    @property
    def width(self) -> int:
        if self.layout == "hashed":
            return len(self.numeric) + (1 << self.bits)
        if self.layout == "columns":
            return len(self.numeric) + len(self.categorical)
        return len(self.numeric)

    @property
    def families(self) -> list[str]:
        """The key families this space covers (see the module docstring)."""
        out = ["num"] if self.numeric else []
        if self.layout == "hashed":
            out.append(f"b{self.bits}")
        elif self.layout == "columns" and self.categorical:
            out.append("col")
        return out

    def key(self, j: int) -> str:
        d = len(self.numeric)
        if j < d:
            return f"num:{self.numeric[j]}"
        return f"b{self.bits}:{j - d}" if self.layout == "hashed" else f"col:{self.categorical[j - d]}"

    def bucket(self, j: int) -> int | None:
        """The hashing bucket of index ``j`` (``None`` for a numeric or whole-column feature)."""
        return j - len(self.numeric) if self.layout == "hashed" and j >= len(self.numeric) else None


def feature_space(spec: FeatureSpec, input_format: str, n_weights: int) -> tuple[Space | None, str]:
    """The :class:`Space` of an ``explain()`` vector of ``n_weights`` values, and what it does not cover.

    Returns ``(space, not_covered)``: ``space`` is ``None`` when the length matches no layout of this data
    (the reason is then in ``not_covered``); ``not_covered`` is ``""`` when every feature is mapped.

    >>> spec = FeatureSpec(["a", "b"], {}, ["c"], "y", hash_bits=3, standardize=False)
    >>> feature_space(spec, "csr", 10)[0].families, feature_space(spec, "arrow", 3)[0].families
    (['num', 'b3'], ['num', 'col'])
    >>> feature_space(spec, "arrow", 2)
    (Space(layout='numeric-only', numeric=('a', 'b'), categorical=('c',), bits=None), 'the categorical columns (c)')
    """
    numeric, categorical = tuple(spec.numeric), tuple(spec.categorical)
    if input_format in ("arrow", "codes"):  # one feature per categorical column
        if n_weights == len(numeric) + len(categorical):
            return Space("columns", numeric, categorical), ""
        if n_weights == len(numeric) and numeric:
            missing = f"the categorical columns ({', '.join(categorical)})" if categorical else ""
            return Space("numeric-only", numeric, categorical), missing
    elif categorical:
        space = Space("hashed", numeric, categorical, spec.hash_bits)
        if n_weights == space.width:
            return space, ""
    elif n_weights == len(numeric):
        return Space("columns", numeric, ()), ""
    layout = "columns" if input_format in ("arrow", "codes") or not categorical else "hashed"
    expected = Space(layout, numeric, categorical, spec.hash_bits).width
    return None, (f"explain() gave {n_weights:,} values for a feature space of {expected:,} ({input_format} "
                  "batches): they cannot be mapped to source columns")


def top_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``|values|``, largest first; zeros (unused features) and NaN left out.

    >>> top_indices(np.array([0.1, -3.0, 0.0, 2.0, np.nan]), 3).tolist()
    [1, 3, 0]
    """
    mag = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    live = np.flatnonzero(mag > 0)
    if len(live) > k:
        live = live[np.argpartition(-mag[live], k - 1)[:k]]
    return live[np.lexsort((live, -mag[live]))]  # ties: lower index first (a stable order)


def read_sample(stream: BatchStream, columns: list[str], rows: int = SAMPLE_ROWS) -> pa.Table:
    """The first ``rows`` training rows of the stream (at most ``stream.rows``), ``columns`` only, raw."""
    want, pieces = min(rows, stream.rows), []
    got = 0
    for rb in stream.dataset.record_batches(stream.dataset.manifest.shards, 1 << 16, columns):
        pieces.append(rb.slice(0, want - got))
        got += pieces[-1].num_rows
        if got >= want:
            break
    if not pieces:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.Table.from_batches(pieces)


def bucket_values(sample: pa.Table, spec: FeatureSpec, buckets: list[int],
                  per_bucket: int = VALUES_PER_BUCKET) -> dict[int, dict[str, Any]]:
    """Which raw values of which categorical columns fall in each of ``buckets``, counted over ``sample``.

    Returns, per bucket, ``{"rows": sample rows whose value lands there (over every column), "distinct":
    distinct (column, value) pairs seen, "values": the ``per_bucket`` most frequent as
    {"column", "value", "rows"}}``; a null is named :data:`MISSING_LABEL` (it hashes as the missing token).
    """
    wanted = np.asarray(sorted(set(buckets)), dtype=np.int64)
    found: dict[int, list[tuple[int, str, str]]] = {int(b): [] for b in wanted}
    for c in spec.categorical:
        col = sample.column(c).combine_chunks()
        b = hash_column(col, c, spec.hash_bits).astype(np.int64)
        hit = np.isin(b, wanted)
        if not hit.any():
            continue
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        enc = pc.dictionary_encode(col.filter(pa.array(hit)), null_encoding="encode")
        names = [MISSING_LABEL if v is None else str(v) for v in enc.dictionary.to_pylist()]
        codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        pairs, counts = np.unique(b[hit] * len(names) + codes, return_counts=True)
        for pair, n in zip(pairs.tolist(), counts.tolist(), strict=True):
            found[pair // len(names)].append((int(n), c, names[pair % len(names)]))
    out = {}
    for bucket, seen in found.items():
        seen.sort(key=lambda t: (-t[0], t[1], t[2]))
        out[bucket] = {"rows": sum(n for n, _, _ in seen), "distinct": len(seen),
                       "values": [{"column": c, "value": v, "rows": n} for n, c, v in seen[:per_bucket]]}
    return out


def bucket_label(found: dict[str, Any] | None, bucket: int) -> str:
    """A short name for a bucket: ``"C1=5"``, ``"C1=5 | C3=x (+4 more)"``, or why it has none.

    >>> bucket_label({"rows": 9, "distinct": 3, "values": [{"column": "C1", "value": "5", "rows": 7},
    ...               {"column": "C3", "value": "x", "rows": 1}]}, 17)
    'C1=5 | C3=x (+1 more)'
    >>> bucket_label(None, 17)
    'bucket 17 (no sampled value)'
    """
    if not found or not found["values"]:
        return f"bucket {bucket} (no sampled value)"
    shown = found["values"][:2]
    text = " | ".join(f"{v['column']}={v['value']}" for v in shown)
    more = found["distinct"] - len(shown)
    return text + (f" (+{more} more)" if more > 0 else "")


def informative(values: np.ndarray, true_coef: np.ndarray, space: Space,
                detect: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """How many of the truly informative features (non-zero true coefficients) are among the model's top
    ``n_informative`` by ``|value|`` (``recovered``); ``None`` when the true coefficients are not in this
    feature space. With ``detect`` (:func:`detectable`), the same count over the features the scale can tell
    from zero (``detectable``).

    >>> s = Space("columns", ("a", "b", "c", "d"), ())
    >>> informative(np.array([0.9, 0.01, -0.5, 0.2]), np.array([1.0, 0.0, -1.0, 0.0]), s)["recovered"]
    2
    """
    coef = np.asarray(true_coef, dtype=np.float64).ravel()
    if len(coef) != space.width or space.layout == "hashed":
        return None
    truth = np.flatnonzero(coef)
    if not len(truth):
        return None
    top = top_indices(values, len(truth))
    hit = np.isin(truth, top)
    se = detect["se"] if detect else None
    out: dict[str, Any] = {
        "recovered": int(hit.sum()), "of": int(len(truth)), "top_n": int(len(truth)),
        "missed": [space.key(int(j)) for j in truth[~hit]],
        # [key, true coefficient, its standard error at this scale (None without detect)]
        "true": [[space.key(int(j)), float(coef[j]), None if se is None else float(se[j])] for j in truth]}
    if detect:
        seen = np.asarray(detect["detectable"], dtype=np.int64)
        found = np.isin(seen, top)
        out["detectable"] = {"of": int(len(seen)), "recovered": int(found.sum()), "z": detect["z"],
                             "rows": detect.get("rows"), "missed": [space.key(int(j)) for j in seen[~found]]}
    return out


def detectable(coef: np.ndarray, X: np.ndarray, task: str, intercept: float = 0.0, noise_std: float | None = None,
               rows: int = 1, z: float = DETECTABLE_Z) -> dict[str, Any]:
    """Which true coefficients ``rows`` training rows can tell from zero: ``|coef| >= z`` asymptotic standard
    errors of the maximum-likelihood estimate, from the true model's Fisher information on sample rows ``X``.

    A tiny true coefficient is noise at a small scale for every estimator: an adapter is not faulted for missing
    it. Binary: information ``E[p (1 - p) x x^T]`` with the true ``p``; regression: ``E[x x^T] / noise_std^2``;
    the intercept is estimated too (a constant column). Standard error ``sqrt(diag(I^-1) / rows)``.

    >>> rng = np.random.default_rng(0)
    >>> out = detectable(np.array([1.0, 0.01, 0.0]), rng.standard_normal((5000, 3)), "regression", noise_std=1.0,
    ...                  rows=10_000)
    >>> out["detectable"], [round(s, 3) for s in out["se"]]
    ([0], [0.01, 0.01, 0.01])
    """
    X = np.asarray(X, dtype=np.float64)
    X1 = np.column_stack([X, np.ones(len(X))])
    if task == "binary":
        p = 1.0 / (1.0 + np.exp(-(X @ coef + intercept)))
        w = p * (1.0 - p)
    else:
        w = np.full(len(X), 1.0 / max(noise_std or 1.0, 1e-12) ** 2)
    info = (X1 * w[:, None]).T @ X1 / max(len(X), 1)
    se = np.sqrt(np.maximum(np.diag(np.linalg.pinv(info))[:-1], 0.0) / max(rows, 1))
    nonzero = np.flatnonzero(coef)
    return {"detectable": [int(j) for j in nonzero if abs(coef[j]) >= z * se[j]], "se": se.tolist(), "z": z}


def model_insight(values: np.ndarray, kind: str, spec: FeatureSpec, input_format: str, *,
                  sample: pa.Table | None = None, true_coef: np.ndarray | None = None,
                  detect: dict[str, Any] | None = None, k: int = TOP_K, ranked: int = RANKED) -> dict[str, Any]:
    """The ``extra.insight`` record of one fitted model.

    Parameters
    ----------
    values : ndarray
        What ``Adapter.explain()`` returned.
    kind : str
        The adapter's ``explains``: ``"weights"`` (signed) or ``"importance"`` (non-negative, e.g. gain).
    spec, input_format
        The stream's :class:`~oocbench.features.FeatureSpec` and batch format (what the indices mean).
    sample : pyarrow.Table, optional
        Raw categorical columns of the first training rows, to name the values in a hashing bucket.
    true_coef : ndarray, optional
        The true coefficients of a synthetic dataset (same space as dense numeric features).
    detect : dict, optional
        :func:`detectable` of those coefficients at the case's scale (with ``rows``).
    k, ranked : int
        Features named in ``top``; ``[key, value]`` pairs kept in ``ranked``.

    Returns
    -------
    dict
        ``kind``, ``layout``, ``families``, ``width``, ``top`` (rank, key, label, column(s), value, raw values
        for a bucket), ``ranked``, ``sample_rows`` (when buckets were named), ``informative`` (synthetic data),
        and ``unavailable`` saying what is not covered, if anything.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    space, not_covered = feature_space(spec, input_format, len(values))
    out: dict[str, Any] = {"kind": kind}
    if space is None:
        return {**out, "unavailable": not_covered}
    out.update(layout=space.layout, families=space.families, width=space.width,
               hash_bits=space.bits, what=_what(kind, space))
    if not_covered:
        out["unavailable"] = f"{not_covered}: the adapter's explain() returns no weights for them"
    order = top_indices(values, max(k, ranked))
    out["ranked"] = [[space.key(int(j)), float(values[j])] for j in order[:ranked]]
    top = order[:k]
    buckets = [b for j in top if (b := space.bucket(int(j))) is not None]
    found: dict[int, dict[str, Any]] = {}
    if buckets and sample is not None:
        found = bucket_values(sample, spec, buckets)
        out["sample_rows"] = sample.num_rows
    elif buckets:
        out["sample_rows"] = 0
    out["top"] = [_feature(int(j), rank, float(values[j]), space, found) for rank, j in enumerate(top, start=1)]
    if true_coef is not None and (info := informative(values, true_coef, space, detect)) is not None:
        measure = "weight" if kind == "weights" else "importance"
        info["what"] = (f"the {info['of']} features with a non-zero true coefficient; recovered: how many are among "
                        f"the model's top {info['top_n']} by |{measure}|; detectable: those whose true coefficient "
                        "is at least z asymptotic standard errors of the maximum-likelihood estimate at this many "
                        "training rows (a smaller one is noise for any estimator at this scale)")
        out["informative"] = info
    if not out["top"]:
        out["unavailable"] = out.get("unavailable") or "every weight is zero: nothing learnt to rank"
    return out


def _feature(j: int, rank: int, value: float, space: Space, found: dict[int, dict[str, Any]]) -> dict[str, Any]:
    d = len(space.numeric)
    row: dict[str, Any] = {"rank": rank, "key": space.key(j), "value": value}
    if j < d:
        return {**row, "source": "numeric", "column": space.numeric[j], "label": space.numeric[j]}
    if space.layout == "columns":
        col = space.categorical[j - d]
        return {**row, "source": "categorical column", "column": col, "label": f"{col} (all values)"}
    bucket = j - d
    info = found.get(bucket)
    cols = sorted({v["column"] for v in info["values"]}) if info else []
    return {**row, "source": "hashed bucket", "bucket": bucket, "columns": cols,
            "values": info["values"] if info else [], "sample_rows_in_bucket": info["rows"] if info else 0,
            "label": bucket_label(info, bucket)}


def _what(kind: str, space: Space) -> str:
    measure = "signed weight" if kind == "weights" else "importance (non-negative, e.g. total gain)"
    where = {"hashed": (f"numeric columns, then 2^{space.bits} hashing buckets: a bucket is named by the most "
                        "frequent raw values that hash into it in the sample of training rows"),
             "columns": ("one feature per source column (categorical columns whole, with native categories)"
                         if space.categorical else "the numeric columns, in order"),
             "numeric-only": "the numeric columns only"}[space.layout]
    return f"top features by |{measure}|; feature space: {where}"


def stream_insight(values: np.ndarray | None, kind: str, stream: BatchStream,
                   sample_rows: int = SAMPLE_ROWS) -> dict[str, Any]:
    """:func:`model_insight` for a fitted adapter's ``explain()`` on ``stream`` (the harness's entry point).

    Reads the raw categorical values of the first ``sample_rows`` training rows only when a top feature is a
    hashing bucket; on a synthetic dataset whose truth has ``coef``, the first :data:`INFORMATION_ROWS` rows'
    numeric features for :func:`detectable`.
    """
    if values is None:
        return {"unavailable": "the model gives no per-feature weights or importances (explain() returns None)"}
    t = time.perf_counter()
    values = np.asarray(values, dtype=np.float64).ravel()
    spec, truth = stream.spec, stream.dataset.manifest.truth
    space, _ = feature_space(spec, stream.input_format, len(values))
    sample = None
    if space is not None and any(space.bucket(int(j)) is not None for j in top_indices(values, TOP_K)):
        sample = read_sample(stream, list(spec.categorical), sample_rows)
    coef, detect = truth.get("coef"), None
    if coef is not None:
        coef = np.asarray(coef, dtype=np.float64).ravel()
        if not spec.categorical and len(coef) == len(spec.numeric):
            X = spec.numeric_block(read_sample(stream, list(spec.numeric), INFORMATION_ROWS))
            detect = detectable(coef, X, stream.task, float(truth.get("intercept", 0.0)), truth.get("noise_std"),
                                stream.rows)
            detect["rows"] = stream.rows
    out = model_insight(values, kind, spec, stream.input_format, sample=sample, true_coef=coef, detect=detect)
    out["seconds"] = time.perf_counter() - t
    return out
