"""The one protocol every dataset source implements: synthetic generators, public files, bundled data, a
user's file, or a third party's source passed to :func:`oocbench.datasets.register`.

A source has a ``name`` (what ``--dataset`` takes), a ``task`` (a key of :data:`oocbench.metrics.TASKS`),
``tiers`` (the named scales it offers, see :data:`oocbench.config.SCALES`), ``kind`` (shown by ``oocbench
datasets``), and two methods: :meth:`~DatasetSource.build` writes it at a row count as Parquet shards plus a
manifest, and :meth:`~DatasetSource.is_current` says whether data on disk was written by this version of it.

>>> from oocbench.datasets import SOURCES
>>> all(isinstance(s, DatasetSource) for s in SOURCES.values())
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from oocbench.datasets.manifest import Manifest
    from oocbench.datasets.reader import ShardedDataset
    from oocbench.storage import Location


@runtime_checkable
class DatasetSource(Protocol):
    """What :func:`oocbench.datasets.generate` and :func:`~oocbench.datasets.load` need from a dataset."""

    name: str
    task: str
    tiers: tuple[str, ...]
    kind: str

    def build(self, root: Path | Location, rows: int, seed: int = 0, rows_per_shard: int = 1 << 20,
              progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
        """Write ``rows`` training rows (and the holdout) under ``root``, shard by shard; return the reader."""
        ...

    def is_current(self, manifest: Manifest) -> bool:
        """Whether a dataset on disk with ``manifest`` was written by this version of the source."""
        ...


def describe(source: Any) -> str:
    """One line about ``source``: its note, else the first line of its docstring."""
    return getattr(source, "note", "") or (type(source).__doc__ or "").strip().splitlines()[0]
