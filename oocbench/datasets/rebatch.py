"""The one rebatcher: re-cut a stream of arbitrary-sized pieces into batches of exactly ``batch_size`` rows.

A piece is an Arrow table / record batch, a numpy array, or a tuple of those with the same number of rows
(``(X, y)``); every batch has the piece's shape. A piece that already has the right size passes through
without a copy.

>>> import numpy as np
>>> pieces = [(np.arange(3), np.arange(3)), (np.arange(4), np.arange(4))]
>>> [len(y) for _, y in rebatch(iter(pieces), 2, limit=6)]
[2, 2, 2]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa


def _rows(piece: Any) -> int:
    return (piece[0] if isinstance(piece, tuple) else piece).__len__()


def take(piece: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a piece of any kind (numpy, scipy sparse, Arrow, or a tuple of those)."""
    if isinstance(piece, tuple):
        return tuple(take(p, start, stop) for p in piece)
    if isinstance(piece, pa.Table | pa.RecordBatch):
        return piece.slice(start, stop - start)
    return piece[start:stop]


def concat(pieces: list[Any]) -> Any:
    """The rows of several pieces of the same kind as one (numpy, scipy CSR, Arrow, or tuples of those)."""
    first = pieces[0]
    if len(pieces) == 1 and not isinstance(first, pa.RecordBatch):  # Arrow pieces always come back as a Table
        return first
    if isinstance(first, tuple):
        return tuple(concat([p[i] for p in pieces]) for i in range(len(first)))
    if isinstance(first, pa.Table | pa.RecordBatch):
        return pa.Table.from_batches([b for p in pieces for b in
                                      (p.to_batches() if isinstance(p, pa.Table) else [p])])
    if isinstance(first, np.ndarray):
        return np.concatenate(pieces)
    from scipy import sparse

    return sparse.vstack(pieces, format="csr")


def rebatch(pieces: Iterator[Any], batch_size: int, limit: int) -> Iterator[Any]:
    """Batches of ``batch_size`` rows (the last may be shorter) from ``pieces``, stopping after ``limit`` rows."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    pending: list[Any] = []
    n = emitted = 0
    for piece in pieces:
        if emitted + n >= limit:
            break
        rows = _rows(piece)
        keep = min(rows, limit - emitted - n)
        if keep < rows:
            piece = take(piece, 0, keep)
        if n == 0 and keep == batch_size:  # the common case: no copy
            emitted += batch_size
            yield piece
            continue
        pending.append(piece)
        n += keep
        while n >= batch_size:
            joined = concat(pending)
            yield take(joined, 0, batch_size)
            emitted += batch_size
            pending, n = [take(joined, batch_size, n)], n - batch_size
            if n == 0:
                pending = []
    if n:
        yield concat(pending)
