"""The streaming reader: every row exactly once, exact batch sizes, prefixes, constant memory, integrity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oocbench import datasets
from oocbench.datasets import DatasetError, ShardedDataset


@pytest.fixture(scope="module")
def multi_shard(tmp_path_factory):
    # 50k rows in shards of 16384 rows: 4 shards, the last one short
    return datasets.generate("synth-binary", 50_000, base=tmp_path_factory.mktemp("ms"), rows_per_shard=1 << 14)


@settings(max_examples=25, deadline=None)
@given(batch_size=st.integers(1, 70_000), limit=st.integers(1, 50_000))
def test_every_row_once_in_batches_of_the_asked_size(multi_shard, batch_size, limit):
    sizes, firsts = [], []
    for X, y in multi_shard.batches(batch_size, rows=limit):
        assert X.dtype == np.float32 and y.dtype == np.float32 and X.shape == (len(y), 20)
        sizes.append(len(y))
        firsts.append(X[0, 0])
    assert sum(sizes) == limit
    assert all(s == batch_size for s in sizes[:-1]) and 0 < sizes[-1] <= batch_size


def test_rows_in_stream_order_across_shards(multi_shard):
    small = np.concatenate([X for X, _ in multi_shard.batches(777)])
    big = np.concatenate([X for X, _ in multi_shard.batches(50_000)])
    assert len(multi_shard.manifest.shards) == 4
    np.testing.assert_array_equal(small, big)
    assert len(np.unique(small, axis=0)) == len(small)  # continuous features: no row repeated


def test_scale_is_a_prefix(tmp_path):
    a = datasets.generate("synth-binary", 10_000, base=tmp_path)
    b = datasets.generate("synth-binary", 30_000, base=tmp_path)
    Xa = np.concatenate([X for X, _ in a.batches(4096)])
    Xb = np.concatenate([X for X, _ in b.batches(4096, rows=10_000)])
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(next(a.holdout())[0], next(b.holdout())[0])  # one holdout at every scale


def _peak_heap_reading(root: str, tmp) -> int:
    code = textwrap.dedent(f"""
        import memray, pathlib
        from oocbench.datasets import ShardedDataset
        ds = ShardedDataset({root!r})
        path = pathlib.Path({str(tmp / 'trace.bin')!r}); path.unlink(missing_ok=True)
        with memray.Tracker(path, native_traces=True):
            for X, y in ds.batches(4096):
                pass
        print(memray.FileReader(path).metadata.peak_memory)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"})
    return int(out.stdout.strip().splitlines()[-1])


def test_memory_does_not_grow_with_shards(tmp_path):
    few = datasets.generate("synth-binary", 1 << 14, base=tmp_path / "few", rows_per_shard=1 << 14)
    many = datasets.generate("synth-binary", 12 * (1 << 14), base=tmp_path / "many", rows_per_shard=1 << 14)
    assert len(many.manifest.shards) == 12
    peak_few, peak_many = _peak_heap_reading(str(few.root), tmp_path), _peak_heap_reading(str(many.root), tmp_path)
    assert peak_many < 1.5 * peak_few + (1 << 20), (peak_few, peak_many)


def test_truncated_shard_is_named(tmp_path):
    ds = datasets.generate("synth-binary", 5000, base=tmp_path)
    shard = ds.shard_paths()[0]
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(DatasetError, match=shard.name):
        list(ShardedDataset(ds.root).batches(1000))


def test_malformed_manifest_is_a_clear_error(tmp_path):
    ds = datasets.generate("synth-binary", 2000, base=tmp_path)
    (ds.root / "manifest.json").write_text(json.dumps({"format": "oocbench-shards", "rows": "x"}))
    with pytest.raises(DatasetError, match="malformed manifest"):
        ShardedDataset(ds.root)


def test_interrupted_generation_leaves_nothing_complete(tmp_path):
    def boom(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datasets.generate("synth-binary", 40_000, base=tmp_path, progress=boom)
    root = datasets.dataset_root("synth-binary", 40_000, base=tmp_path)
    assert not root.exists() and not list(root.parent.glob("*.tmp-*"))


def test_memory_does_not_grow_with_shard_size(tmp_path):
    """One big shard streams row group by row group: pyarrow's whole-file iter_batches read the entire shard
    ahead (peak ~ the shard's size), which made a streaming learner look like it held the data in memory."""
    small = datasets.generate("synth-binary", 4 * (1 << 16), base=tmp_path / "small", rows_per_shard=1 << 20)
    big = datasets.generate("synth-binary", 16 * (1 << 16), base=tmp_path / "big", rows_per_shard=1 << 20)
    assert len(small.manifest.shards) == len(big.manifest.shards) == 1  # one shard each, 4 vs 16 row groups
    grown = big.manifest.shards[0].bytes - small.manifest.shards[0].bytes  # ~66 MB more data in the shard
    peak_small, peak_big = _peak_heap_reading(str(small.root), tmp_path), _peak_heap_reading(str(big.root), tmp_path)
    assert peak_big - peak_small < 0.1 * grown, (peak_small, peak_big, grown)


@pytest.mark.parametrize("where", ["../../x.parquet", "/etc/passwd", "sub/train-00000.parquet", "..", ".hidden.parquet"])
@pytest.mark.parametrize("which", ["shard", "holdout"])
def test_manifest_paths_cannot_lead_outside_the_dataset(tmp_path, where, which):
    # an edited manifest must not make oocbench read (or reveal the size of) a file outside the dataset
    ds = datasets.generate("synth-binary", 2000, base=tmp_path)
    raw = json.loads((ds.root / "manifest.json").read_text())
    (raw["shards"][0] if which == "shard" else raw["holdout"])["path"] = where
    (ds.root / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match="not a plain file name") as exc:
        ShardedDataset(ds.root)
    assert "bytes" not in str(exc.value)
