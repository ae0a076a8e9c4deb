"""Per-column statistics of the numeric features, written per shard at generation time and merged exactly.

``[count, mean, M2]`` per column of the value the feature layer sees (``log1p`` of counts), so the exact
standardisation statistics of any prefix of the stream merge without rereading the data (Chan et al.).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


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

