"""The DatasetSource protocol: every built-in source implements it, and a third party's source works by name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pytest

from oocbench import datasets
from oocbench.datasets import SOURCES, DatasetSource, get_source, register
from oocbench.datasets.public import convert


@dataclass
class Squares:
    """A third party's source: y = 1 when x^2 > 1; ``version`` stands for its code version."""

    version: int = 1
    name: str = "thirdparty-squares"
    task: str = "binary"
    tiers: tuple[str, ...] = ("xs",)
    kind: str = "thirdparty"

    def build(self, root, rows, seed=0, rows_per_shard=1 << 20, progress=None, workers=None):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=rows + 1000).astype(np.float32)
        table = pa.table({"x": x, "y": (x * x > 1).astype(np.float32)})
        return convert(iter([table]), root, name=self.name, task=self.task, features=["x"], categorical=[],
                       rows=rows, rows_per_shard=rows_per_shard, holdout_every=5, holdout_window=5000,
                       progress=progress, source={"kind": self.kind, "version": self.version}, seed=seed)

    def is_current(self, manifest) -> bool:
        return manifest.source.get("version") == self.version


def test_every_builtin_source_implements_the_protocol():
    assert SOURCES and all(isinstance(s, DatasetSource) for s in SOURCES.values())
    kinds = {s.kind for s in SOURCES.values()}
    assert {"synthetic", "public", "bundled"} <= kinds
    for s in SOURCES.values():  # generate() and load() call these without hasattr checks
        assert callable(s.build) and callable(s.is_current) and isinstance(s.tiers, tuple)


def test_a_third_party_source_is_generated_loaded_and_regenerated_when_stale(tmp_path):
    src = Squares()
    register(src)
    try:
        assert get_source(src.name) is src and src.name in datasets.dataset_names()
        ds = datasets.load(src.name, 2000, base=tmp_path)
        assert ds.rows == 2000 and ds.manifest.source["version"] == 1
        again = datasets.load(src.name, 2000, base=tmp_path, create=False)  # current: reused as is
        assert again.manifest.source == ds.manifest.source
        src.version = 2  # the source's code changed: data on disk is stale
        with pytest.raises(datasets.DatasetError, match="older generator version"):
            datasets.load(src.name, 2000, base=tmp_path, create=False)
        assert datasets.load(src.name, 2000, base=tmp_path).manifest.source["version"] == 2
    finally:
        SOURCES.pop(src.name, None)


def test_register_refuses_what_is_not_a_source():
    class NoBuild:
        name, task, tiers, kind = "x", "binary", (), "x"

        def is_current(self, manifest):
            return True

    with pytest.raises(TypeError, match="lacks build"):
        register(NoBuild())
    assert "x" not in SOURCES


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(datasets.UnknownDatasetError, match="valid datasets: .*synth-binary"):
        get_source("nosuch")
