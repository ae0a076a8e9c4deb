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

    def holdout(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.dataset.holdout(max(self.batch_size, 1 << 14))

    @property
    def n_features(self) -> int:
        return self.dataset.n_features

    @property
    def task(self) -> str:
        return self.dataset.task
