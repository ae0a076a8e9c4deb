"""Datasets: names, generation at any scale, and the streaming reader.

Every source implements one protocol, :class:`~oocbench.datasets.source.DatasetSource` (name, task, tiers,
kind, ``build``, ``is_current``), and all share one on-disk format (Parquet shards + manifest): synthetic
generators with a known optimum (:mod:`.synthetic`), public datasets downloaded and converted (:mod:`.public`),
and data bundled inside installed packages or a user's own file (:mod:`.bundled`).

>>> from oocbench.datasets import dataset_names
>>> "synth-binary" in dataset_names()
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from oocbench import config
from oocbench.datasets.manifest import NUMERIC_KINDS, DatasetError, Manifest, ShardInfo
from oocbench.datasets.reader import ShardedDataset
from oocbench.datasets.rebatch import rebatch
from oocbench.datasets.source import DatasetSource
from oocbench.datasets.stats import column_stats, merge_stats
from oocbench.datasets.synthetic import (
    BLOCK_ROWS,
    HOLDOUT,
    TRAIN,
    SynthBinary,
    SynthCTR,
    SynthDrift,
    SynthNonlinear,
    SynthRegression,
)
from oocbench.datasets.writer import DatasetWriter
from oocbench.storage import Location, is_url, resolve

__all__ = ["BLOCK_ROWS", "HOLDOUT", "NUMERIC_KINDS", "SOURCES", "TRAIN", "DatasetError", "DatasetSource",
           "DatasetWriter", "Manifest", "ShardInfo", "ShardedDataset", "UnknownDatasetError", "column_stats",
           "dataset_names", "dataset_root", "generate", "get_source", "load", "merge_stats", "rebatch", "register"]

#: every dataset source by name; synthetic ones first (tests pick the first one of each task)
SOURCES: dict[str, DatasetSource] = {g.name: g for g in (SynthBinary(), SynthRegression(), SynthCTR(), SynthDrift(),
                                                         SynthNonlinear())}


def _register_file_sources() -> None:
    from oocbench.datasets.bundled import BUNDLED
    from oocbench.datasets.public import PUBLIC

    for src in (*PUBLIC, *BUNDLED):
        SOURCES.setdefault(src.name, src)


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def register(source: DatasetSource) -> None:
    """Make ``source`` (e.g. a :class:`~oocbench.datasets.bundled.FileSource`, or a third party's own
    :class:`DatasetSource`) loadable by name in this process."""
    missing = [a for a in ("name", "task", "tiers", "kind", "build", "is_current") if not hasattr(source, a)]
    if missing:
        raise TypeError(f"{type(source).__name__} is not a DatasetSource: it lacks {', '.join(missing)}")
    SOURCES[source.name] = source


def dataset_names() -> list[str]:
    return sorted(SOURCES)


def get_source(name: str) -> DatasetSource:
    """The source called ``name``; :class:`UnknownDatasetError` listing the valid names if there is none."""
    try:
        return SOURCES[name]
    except KeyError:
        from oocbench.datasets.bundled import remembered_file

        if (src := remembered_file(name)) is not None:  # a user's file, registered by generate --from-file
            return src
        raise UnknownDatasetError(f"unknown dataset {name!r}; valid datasets: {', '.join(dataset_names())}") from None


def dataset_root(name: str, rows: int, seed: int = 0, base: Path | str | Location | None = None
                 ) -> Path | Location:
    """``BASE/name/seed-S/rows-N``: a :class:`~pathlib.Path` for a local base, a :class:`Location` for a URL.

    ``base`` defaults to ``$OOCBENCH_DATA_DIR`` (or ``./data``); ``s3://bucket/prefix`` works wherever a
    directory does.
    """
    base = base or config.data_dir()
    if is_url(base):
        return resolve(base) / name / f"seed-{seed}" / f"rows-{rows}"
    return Path(base) / name / f"seed-{seed}" / f"rows-{rows}"


def generate(name: str, rows: int, seed: int = 0, base: Path | str | Location | None = None, rows_per_shard: int = 1 << 20,
             progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
    """Write ``name`` at ``rows`` rows (shard by shard, never all in memory) and return its reader.

    Synthetic data is generated in parallel (``workers`` processes, default both cores); public and
    bundled data is converted from its source file (downloaded once into the cache).
    """
    src = get_source(name)
    root = dataset_root(name, rows, seed, base)
    return src.build(root, rows, seed=seed, rows_per_shard=rows_per_shard, progress=progress, workers=workers)


def load(name: str, rows: int, seed: int = 0, base: Path | str | Location | None = None,
         create: bool = True) -> ShardedDataset:
    """Open ``name`` at ``rows`` rows, generating it first if it is not on disk (and ``create``)."""
    src = get_source(name)
    root = dataset_root(name, rows, seed, base)
    if not (root / "manifest.json").exists():
        if not create:
            raise DatasetError(f"{root}: not generated; run `oocbench generate {name} --scale {rows}`")
        return generate(name, rows, seed, base)
    ds = ShardedDataset(root)
    if not src.is_current(ds.manifest):
        # written by an older generator: its rows and optimum are not this version's
        if not create:
            raise DatasetError(f"{root}: written by an older generator version; run `oocbench generate {name} "
                               f"--scale {rows}` to regenerate it")
        print(f"oocbench: {root} was written by an older generator version; regenerating", file=sys.stderr)
        return generate(name, rows, seed, base)
    return ds


_register_file_sources()
