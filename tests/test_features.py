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
from oocbench.features import MISSING_TOKEN, BatchStream, hash_column


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
    dense = BatchStream(ctr, 9_000, 2_000, "dense", hash_bits=12)
    csr = BatchStream(ctr, 9_000, 2_000, "csr", hash_bits=12)
    assert dense.n_features == csr.n_features == 13 + 4096
    for (Xd, yd), (Xs, ys) in zip(dense, csr):
        assert sparse.isspmatrix_csr(Xs) and Xs.dtype == np.float32 and Xs.indices.dtype == np.int32
        assert Xs.has_canonical_format
        np.testing.assert_array_equal(Xs.toarray(), Xd)
        np.testing.assert_array_equal(yd, ys)
    # each row: 13 numeric values then exactly 10 hashed ones (collisions add up to 10 in total)
    Xd, _ = next(iter(dense))
    np.testing.assert_array_equal(Xd[:, 13:].sum(axis=1), 10.0)


def test_default_is_vw_like_18_bits_and_csr_is_bounded_by_non_zeros(ctr):
    stream = BatchStream(ctr, 9_000, 3_000, "csr")
    assert stream.n_features == 13 + 2**18 and stream.describe()["hash_bits"] == 18
    X, _ = next(iter(stream))
    assert X.nnz <= 3_000 * 23  # 13 numeric + 10 categorical per row: memory independent of the buckets


def test_csr_and_dense_give_the_same_model(ctr):
    # the exact optimum (sklearn.batch, L-BFGS) on either layout: same coefficients. (SGD is not a fair
    # check: scikit-learn damps the intercept's steps by 0.01 on sparse input, SPARSE_INTERCEPT_DECAY.)
    from oocbench.adapters.sklearn import Batch

    coefs, preds = {}, {}
    for fmt in ("dense", "csr"):
        stream = BatchStream(ctr, 6_000, 2_000, fmt, hash_bits=8)
        with Batch("binary", stream.n_features, input_format=fmt) as model:
            model.fit(stream)
            coefs[fmt] = model.explain()
            preds[fmt] = model.predict_batch(next(iter(stream.holdout()))[0])
    np.testing.assert_allclose(coefs["csr"], coefs["dense"], atol=2e-3)
    np.testing.assert_allclose(preds["csr"], preds["dense"], atol=1e-3)


def test_arrow_format_keeps_raw_categoricals_and_the_same_numeric_features(ctr):
    arrow = BatchStream(ctr, 4_000, 2_000, "arrow")
    csr = BatchStream(ctr, 4_000, 2_000, "csr")
    assert arrow.n_features == 23 and arrow.describe()["hash_bits"] is None
    for (T, ya), (X, yc) in zip(arrow, csr):
        assert isinstance(T, pa.Table) and T.column_names == [*(f"I{j}" for j in range(1, 14)),
                                                               *(f"C{j}" for j in range(1, 11))]
        num = np.column_stack([T.column(f"I{j}").to_numpy() for j in range(1, 14)])
        np.testing.assert_array_equal(num, X[:, :13].toarray())
        raw = pa.Table.from_batches(list(ctr.record_batches(ctr.manifest.shards, 4_000, ["C6"]))).column("C6")
        assert T.column("C6").null_count > 0 and T.column("C6").type == raw.type
        np.testing.assert_array_equal(ya, yc)
        break


def test_dense_only_adapters_are_refused_categorical_data(ctr, tiny):
    from oocbench.features import UnsupportedInputError

    class DenseOnly(Adapter):
        name, library = "t.dense", "numpy"

        def partial_fit(self, X, y):  # pragma: no cover
            pass

    with pytest.raises(UnsupportedInputError, match="dense"):
        BatchStream.for_adapter(ctr, 1000, 500, DenseOnly)
    assert BatchStream.for_adapter(tiny("synth-binary"), 1000, 500, DenseOnly).input_format == "dense"


def test_standardisation_uses_exactly_the_streams_training_rows(ctr):
    # 9,000 rows cover shard 0 (5,000) fully and shard 1 in part: both paths of the statistics
    stream = BatchStream(ctr, 9_000, 3_000, "csr")
    X = np.concatenate([X[:, :13].toarray() for X, _ in stream])
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
    Xh = next(iter(stream.holdout()))[0][:, :13].toarray()
    assert abs(float(Xh[:, :13].mean())) < 0.1


def test_read_part_matches_the_stream(ctr):
    stream = BatchStream(ctr, 12_000, 4_000, "csr")
    assert stream.parts() == [(0, 0, 5_000), (1, 0, 5_000), (2, 0, 2_000)]  # 5,000-row shards, one group each
    parts = [stream.read_part(*p) for p in stream.parts()]
    assert sum(p[0].shape[0] for p in parts) == 12_000
    Xall = sparse.vstack([X for X, _ in stream])
    assert (sparse.vstack([p[0] for p in parts]) != Xall).nnz == 0


def test_for_adapter_reads_input_formats(ctr, tiny):
    class Sparse(Adapter):
        name, library, input_formats = "t.sparse", "numpy", ("dense", "csr")

        def partial_fit(self, X, y):  # pragma: no cover
            pass

    stream = BatchStream.for_adapter(ctr, 1000, 500, Sparse)
    assert stream.input_format == "csr" and sparse.issparse(next(iter(stream))[0])
    assert BatchStream.for_adapter(tiny("synth-binary"), 1000, 500, Sparse).input_format == "dense"
    with pytest.raises(ValueError, match="input_format"):
        BatchStream(ctr, 10, 10, "coo")
    with pytest.raises(ValueError, match="hash_bits"):
        BatchStream(ctr, 10, 10, "csr", hash_bits=0)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-2**40, 2**40)), min_size=1, max_size=50),
       bits=st.sampled_from([1, 3, 12, 18]))
def test_hashing_is_deterministic_in_range_and_missing_is_one_token(values, bits):
    ints = pa.array(values, type=pa.int64())
    h = hash_column(ints, "C1", bits)
    assert h.dtype == np.int32 and h.shape == (len(values),) and h.min() >= 0 and h.max() < 2**bits
    np.testing.assert_array_equal(h, hash_column(pa.chunked_array([ints]), "C1", bits))
    strs = [None if v is None else str(v) for v in values]
    hs = hash_column(pa.array(strs), "C1", bits)
    assert hs.min() >= 0 and hs.max() < 2**bits
    # equal values share a bucket (ints and strings alike); every missing value is the "__missing__" token
    for h_, vs in ((h, values), (hs, strs)):
        for i, a in enumerate(vs):
            for j, b in enumerate(vs):
                if a == b:
                    assert h_[i] == h_[j]
    token = hash_column(pa.array([MISSING_TOKEN]), "C1", bits)[0]
    assert all(hs[i] == token for i, v in enumerate(values) if v is None)
    assert all(h[i] == token for i, v in enumerate(values) if v is None)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.text(max_size=30), min_size=1, max_size=40))
def test_string_hash_matches_a_per_value_reference(values):
    # the vectorised FNV-1a over Arrow's buffers equals hashing each value's UTF-8 bytes on its own
    from oocbench.features import column_salt, fnv1a, splitmix64

    salt = column_salt("city")
    got = hash_column(pa.array(values), "city", 20)
    for v, g in zip(values, got):
        raw = np.frombuffer(v.encode(), dtype=np.uint8)
        ref = splitmix64(fnv1a(raw, np.zeros(1, np.int64), np.array([len(raw)]), salt))[0] & np.uint64(2**20 - 1)
        assert g == ref
    # slices (non-zero Arrow offset) and large_string hash the same
    arr = pa.array(["pad", *values])
    np.testing.assert_array_equal(hash_column(arr.slice(1), "city", 20), got)
    np.testing.assert_array_equal(hash_column(pa.array(values, pa.large_string()), "city", 20), got)


def test_column_salts_separate_equal_values():
    values = pa.array(np.arange(50_000))
    a, b = hash_column(values, "C1", 18), hash_column(values, "C2", 18)
    assert (a == b).mean() < 0.01  # same ids, different columns: almost never the same bucket
    sa, sb = hash_column(values.cast(pa.string()), "C1", 18), hash_column(values.cast(pa.string()), "C2", 18)
    assert (sa == sb).mean() < 0.01


def test_hashing_spreads_values():
    for values in (pa.array(np.arange(100_000)), pa.array(np.arange(100_000)).cast(pa.string())):
        counts = np.bincount(hash_column(values, "C1", 12), minlength=4096)
        assert counts.min() > 0 and counts.max() < 2 * 100_000 / 4096
