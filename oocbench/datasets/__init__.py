"""Datasets: names, generation at any scale, and the streaming reader.

>>> from oocbench.datasets import dataset_names
>>> "synth-binary" in dataset_names()
True
"""

from __future__ import annotations

import math
from pathlib import Path

from oocbench import config
from oocbench.datasets.shards import DatasetError, DatasetWriter, Manifest, ShardedDataset
from oocbench.datasets.synthetic import BLOCK_ROWS, HOLDOUT, TRAIN, SynthBinary, SynthRegression

__all__ = ["DatasetError", "UnknownDatasetError", "Manifest", "ShardedDataset", "dataset_names", "get_generator", "load", "generate"]

GENERATORS = {g.name: g for g in (SynthBinary(), SynthRegression())}


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def dataset_names() -> list[str]:
    return sorted(GENERATORS)


def get_generator(name: str):
    try:
        return GENERATORS[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r}; valid datasets: {', '.join(dataset_names())}") from None


def dataset_root(name: str, rows: int, seed: int = 0, base: Path | None = None) -> Path:
    return (base or config.data_dir()) / name / f"seed-{seed}" / f"rows-{rows}"


def generate(name: str, rows: int, seed: int = 0, base: Path | None = None, rows_per_shard: int = 1 << 20,
             progress=None) -> ShardedDataset:
    """Write ``name`` at ``rows`` rows (block by block, never all in memory) and return its reader."""
    gen = get_generator(name)
    root = dataset_root(name, rows, seed, base)
    truth = gen.truth(seed)
    with DatasetWriter(root, gen.features, rows_per_shard=rows_per_shard) as writer:
        for k in range(math.ceil(rows / BLOCK_ROWS)):
            n = min(BLOCK_ROWS, rows - k * BLOCK_ROWS)
            # always draw the whole block and cut it: the random stream inside a block is consumed column
            # group by column group, so drawing fewer rows would change the labels of the rows we keep
            X, y = gen.block(seed, TRAIN, k, BLOCK_ROWS, truth)
            writer.write(X[:n], y[:n])
            if progress is not None:
                progress(n)
        hold = _holdout(gen, seed, truth)
        writer.finish(hold, name=name, task=gen.task, seed=seed,
                      generator={"name": name, "block_rows": BLOCK_ROWS, "params": gen.params},
                      optimum=gen.optimum(*hold, truth), truth={k: v for k, v in truth.items() if k != "chol"})
    return ShardedDataset(root)


def _holdout(gen, seed: int, truth):
    import numpy as np

    parts = [gen.block(seed, HOLDOUT, k, min(BLOCK_ROWS, gen.holdout_rows - k * BLOCK_ROWS), truth)
             for k in range(math.ceil(gen.holdout_rows / BLOCK_ROWS))]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load(name: str, rows: int, seed: int = 0, base: Path | None = None, create: bool = True) -> ShardedDataset:
    """Open ``name`` at ``rows`` rows, generating it first if it is not on disk (and ``create``)."""
    get_generator(name)
    root = dataset_root(name, rows, seed, base)
    if not (root / "manifest.json").exists():
        if not create:
            raise DatasetError(f"{root}: not generated; run `oocbench generate {name} --scale {rows}`")
        return generate(name, rows, seed, base)
    return ShardedDataset(root)
