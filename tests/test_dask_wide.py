"""dask-ml on wide categorical data: lazy scipy-CSR blocks (one per Parquet row group), Incremental(SGD) learning
from them on a real in-process LocalCluster exactly as a plain partial_fit loop over the same blocks, dense data
unchanged, and dask-ml.glm skipped (dask-glm takes no scipy CSR chunks)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import sparse

from oocbench import datasets
from oocbench.features import BatchStream, UnsupportedInputError, concat_batches
from oocbench.metrics import constant_baseline, task_metrics
from tests.conftest import flights_dataset

pytest.importorskip("dask_ml")
pytest.importorskip("distributed")


def _holdout_loss(adapter, stream) -> tuple[float, float]:
    X, y = next(iter(stream.holdout()))
    loss = task_metrics("binary", y, adapter.predict_batch(X))["log_loss"]
    return loss, constant_baseline("binary", float(y.mean()), y)["log_loss"]


@pytest.fixture(scope="module")
def ctr_two_groups(data_base):
    """synth-ctr with one shard of two row groups (2^16 + 4,464 rows) and a second shard."""
    return datasets.generate("synth-ctr", 80_000, base=data_base / "wide", rows_per_shard=70_000)


def test_csr_blocks_one_per_row_group_equal_read_part(ctr_two_groups):
    import dask
    import dask.array as da

    from oocbench.adapters.dask_ml import Incremental, lazy_arrays

    stream = BatchStream.for_adapter(ctr_two_groups, 75_000, 10_000, Incremental)
    assert stream.input_format == "csr"
    # shard 0: its two row groups; shard 1: cut where the stream ends
    assert stream.parts() == [(0, 0, 65_536), (0, 1, 4_464), (1, 0, 5_000)]
    X, y = lazy_arrays(stream)
    assert X.chunks == ((65_536, 4_464, 5_000), (stream.n_features,)) and y.chunks == ((65_536, 4_464, 5_000),)
    assert isinstance(X._meta, sparse.csr_matrix)
    graph = dict(da.Array.__dask_graph__(X))
    reads = [k for k in graph if (k[0] if isinstance(k, tuple) else k).startswith("_read_part")]
    assert len(reads) == 3
    nbytes = sum(stream.read_part(*p)[0].data.nbytes for p in stream.parts())
    assert len(pickle.dumps(graph)) < nbytes / 4  # the recipe, not the data
    with dask.config.set(scheduler="sync"):
        got = [dask.compute(xb, yb) for xb, yb in zip(X.blocks, y.blocks, strict=True)]
    assert all(isinstance(xb, sparse.csr_matrix) and xb.dtype == np.float32 and xb.indices.dtype == np.int32
               for xb, _ in got)
    # the blocks, in order, are exactly the stream's batches (same features, same training statistics)
    want_X = concat_batches([X for X, _ in stream])
    have = concat_batches([xb for xb, _ in got])
    assert have.shape == want_X.shape and (have != want_X).nnz == 0
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), np.concatenate([y for _, y in stream]))


def test_incremental_on_csr_beats_constant_and_equals_plain_loop(data_base):
    from sklearn.linear_model import SGDClassifier

    from oocbench.adapters.dask_ml import Incremental
    from oocbench.adapters.sklearn import with_constant_column

    ds = datasets.generate("synth-ctr", 20_000, base=data_base / "wide4", rows_per_shard=5_000)  # 4 blocks
    stream = BatchStream.for_adapter(ds, ds.rows, 5_000, Incremental)
    adapter = Incremental("binary", stream.n_features, input_format=stream.input_format)
    try:
        adapter.fit(stream)
        loss, floor = _holdout_loss(adapter, stream)
        assert loss < floor, (loss, floor)
        hp = adapter.effective_hyperparameters()
        assert hp["fit_intercept"] is False and hp["sparse_intercept"].startswith("constant column")
        # the plain loop: the same estimator's partial_fit over the same blocks, in stream order
        plain = SGDClassifier(**{k: v for k, v in hp.items() if k not in (
            "cluster", "processes", "shuffle_blocks", "sparse_intercept")}, loss="log_loss", random_state=0)
        for part in stream.parts():
            X, y = stream.read_part(*part)
            plain.partial_fit(with_constant_column(X), y, classes=np.array([0.0, 1.0]))
        coef = adapter.model.estimator_.coef_
        assert coef.shape == (1, stream.n_features + 1)  # learnt from CSR blocks with the constant column
        np.testing.assert_allclose(coef, plain.coef_, rtol=1e-6, atol=1e-9)
        assert adapter.explain().shape == (stream.n_features,)
    finally:
        adapter.close()


def test_incremental_on_string_categoricals_from_a_csv(tmp_path):
    from oocbench.adapters.dask_ml import Incremental

    ds = flights_dataset(tmp_path)
    stream = BatchStream.for_adapter(ds, ds.rows, 5_000, Incremental)
    assert stream.input_format == "csr" and stream.spec.categorical == ["carrier", "origin"]
    adapter = Incremental("binary", stream.n_features, input_format="csr")
    try:
        adapter.fit(stream)
        loss, floor = _holdout_loss(adapter, stream)
        assert loss < 0.95 * floor, (loss, floor)
    finally:
        adapter.close()


def test_dense_data_still_dense_and_learnt(tiny):
    from oocbench.adapters.dask_ml import GLM, Incremental, lazy_arrays

    ds = tiny("synth-binary", rows=4000)
    for cls in (Incremental, GLM):
        stream = BatchStream.for_adapter(ds, ds.rows, 1000, cls)
        assert stream.input_format == "dense"
        X, _ = lazy_arrays(stream)
        assert isinstance(X._meta, np.ndarray) and isinstance(X.blocks[0].compute(), np.ndarray)
        adapter = cls("binary", stream.n_features)
        try:
            adapter.fit(stream)
            loss, floor = _holdout_loss(adapter, stream)
            assert loss < floor, (cls.name, loss, floor)
            assert adapter.explain().shape == (stream.n_features,)
        finally:
            adapter.close()


def test_glm_is_skipped_on_categorical_data(tiny, data_base):
    from oocbench.adapters.dask_ml import GLM

    assert GLM.input_formats == ("dense",) and "scipy CSR" in GLM.__doc__
    with pytest.raises(UnsupportedInputError, match="no scipy CSR chunks"):
        BatchStream.for_adapter(tiny("synth-ctr", rows=3000), 3000, 1000, GLM)
    # through the runner: a recorded `skipped` with the library's reason, never an oom
    from oocbench.harness.runner import run_case
    from oocbench.records import CaseSpec

    tiny("synth-ctr", rows=3000)
    record = run_case(CaseSpec("dask-ml.glm", "synth-ctr", 3000), memray=False, data_base=data_base)
    assert record.status == "skipped" and "no scipy CSR chunks" in record.reason
