"""The shared feature layer: same features for dense and CSR, hashing, standardisation, missing values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from oocbench import datasets
from oocbench.adapters.base import Adapter
from oocbench.features import BatchStream, hash_column


@pytest.fixture(scope="module")
def ctr(tmp_path_factory):
    return datasets.generate("synth-ctr", 12_000, base=tmp_path_factory.mktemp("ctr"), rows_per_shard=5_000)


def test_dense_numeric_is_the_raw_data_without_a_copy_path(tiny):
    ds = tiny("synth-binary", rows=3000)
    stream = BatchStream(ds, 3000, 1000)
    assert stream.spec.passthrough and stream.n_features == 20
    raw = np.concatenate([X for X, _ in ds.batches(1000)])
    np.testing.assert_array_equal(np.concatenate([X for X, _ in stream]), raw)
    assert stream.describe()["standardize"].startswith("none")


def test_csr_and_dense_are_the_same_features(ctr):
    dense = BatchStream(ctr, 9_000, 2_000, "dense")
    csr = BatchStream(ctr, 9_000, 2_000, "csr")
    assert dense.n_features == csr.n_features == 13 + 4096
    for (Xd, yd), (Xs, ys) in zip(dense, csr):
        assert sparse.issparse(Xs) and Xs.dtype == np.float32 and Xd.dtype == np.float32
        np.testing.assert_array_equal(Xs.toarray(), Xd)
        np.testing.assert_array_equal(yd, ys)
    # each row: 13 numeric values then exactly 10 hashed ones (collisions add up to 10 in total)
    Xd, _ = next(iter(dense))
    np.testing.assert_array_equal(Xd[:, 13:].sum(axis=1), 10.0)


def test_standardisation_uses_exactly_the_streams_training_rows(ctr):
    # 9,000 rows cover shard 0 (5,000) fully and shard 1 in part: both paths of the statistics
    stream = BatchStream(ctr, 9_000, 3_000)
    X = np.concatenate([X[:, :13] for X, _ in stream])
    raw = np.concatenate([np.log1p(pa.concat_tables([pa.Table.from_batches([b]) for b in
                                                      ctr.record_batches(ctr.manifest.shards, 9_000, [c])])
                                   .column(c).to_numpy(zero_copy_only=False).astype(float))[:9_000, None]
                          for c in [f"I{j}" for j in range(1, 14)]], axis=1)
    mean, std = np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
    np.testing.assert_allclose(stream.spec.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(stream.spec.std, std, rtol=1e-9)
    np.testing.assert_allclose(X, np.nan_to_num((raw - mean) / std), atol=1e-5)
    assert not np.isnan(X).any()  # missing -> the mean, 0 after standardising
    # the holdout uses the training statistics
    Xh = next(iter(stream.holdout()))[0]
    assert abs(float(Xh[:, :13].mean())) < 0.1


def test_read_part_matches_the_stream(ctr):
    stream = BatchStream(ctr, 12_000, 4_000, "csr")
    parts = [stream.read_part(i) for i, _ in stream.parts()]
    assert sum(p[0].shape[0] for p in parts) == 12_000
    Xall = sparse.vstack([X for X, _ in stream])
    np.testing.assert_array_equal(sparse.vstack([p[0] for p in parts]).toarray(), Xall.toarray())


def test_for_adapter_reads_input_format(ctr):
    class Sparse(Adapter):
        name, library, input_format = "t.sparse", "numpy", "csr"

        def partial_fit(self, X, y):  # pragma: no cover
            pass

    stream = BatchStream.for_adapter(ctr, 1000, 500, Sparse)
    assert stream.input_format == "csr" and sparse.issparse(next(iter(stream))[0])
    assert stream.describe()["hash_buckets"] == 4096
    with pytest.raises(ValueError, match="input_format"):
        BatchStream(ctr, 10, 10, "coo")


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-2**40, 2**40)), min_size=1, max_size=50),
       buckets=st.sampled_from([1, 7, 4096]))
def test_hashing_is_deterministic_in_range_and_type_consistent(values, buckets):
    ints = pa.array(values, type=pa.int64())
    h = hash_column(ints, 3, buckets)
    assert h.shape == (len(values),) and h.min() >= 0 and h.max() < buckets
    np.testing.assert_array_equal(h, hash_column(pa.chunked_array([ints]), 3, buckets))
    # equal values share a bucket; missing values all go to one bucket
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if a == b:
                assert h[i] == h[j]
    strs = hash_column(pa.array([None if v is None else str(v) for v in values]), 3, buckets)
    assert strs.min() >= 0 and strs.max() < buckets


def test_hashing_spreads_values():
    h = hash_column(pa.array(np.arange(100_000)), 0, 4096)
    counts = np.bincount(h, minlength=4096)
    assert counts.min() > 0 and counts.max() < 2 * 100_000 / 4096
