"""The shared feature layer: every adapter learns from the same batches of the same features.

A :class:`BatchStream` is what :meth:`Adapter.fit` receives: iterate it for ``(X, y)`` float32 batches,
or use ``stream.dataset`` / ``stream.rows`` to reach the shards when the backend has its own reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from oocbench.datasets.shards import ShardedDataset


@dataclass
class BatchStream:
    """The first ``rows`` training rows of ``dataset``, in stream order, in batches of ``batch_size``."""

    dataset: ShardedDataset
    rows: int
    batch_size: int

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.dataset.batches(self.batch_size, rows=self.rows)

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

    def read_part(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The features of one shard's rows (those the stream covers) as one ``(X, y)`` block."""
        take = dict(self.parts())[index]
        info = self.dataset.manifest.shards[index]
        pieces = list(self.dataset._record_batches([info], 1 << 16))
        X = np.concatenate([p[0] for p in pieces])[:take]
        y = np.concatenate([p[1] for p in pieces])[:take]
        return X, y

    def holdout(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.dataset.holdout(max(self.batch_size, 1 << 14))

    @property
    def n_features(self) -> int:
        return self.dataset.n_features

    @property
    def task(self) -> str:
        return self.dataset.task
