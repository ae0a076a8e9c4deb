"""TensorFlow adapters on wide hashed categoricals (CSR -> ``tf.SparseTensor``), real TF on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from oocbench.features import BatchStream
from oocbench.metrics import constant_baseline, task_metrics

tf = pytest.importorskip("tensorflow")

from oocbench.adapters.tensorflow import MLP, Linear, coo  # noqa: E402 - after the importorskip


@pytest.fixture(scope="module")
def ctr(tiny):
    return tiny("synth-ctr", rows=20_000)


def _scores(adapter, stream):
    """(log loss on the holdout, the best constant's log loss on the same rows)."""
    y = np.concatenate([y for _, y in stream.holdout()])
    pred = np.concatenate([adapter.predict_batch(X) for X, _ in stream.holdout()])
    return task_metrics("binary", y, pred)["log_loss"], constant_baseline("binary", float(y.mean()), y)["log_loss"]


def test_csr_batches_become_sparse_tensors_equal_to_the_dense_matrix(ctr):
    # 2^8 buckets: dense batches are allowed (<= 2^12) and in-row collisions (summed entries) are common
    csr = BatchStream(ctr, 3000, 1000, "csr", hash_bits=8)
    dense = list(BatchStream(ctr, 3000, 1000, "dense", hash_bits=8))
    adapter = Linear("binary", csr.n_features, input_format="csr")
    try:
        batches = list(csr)
        per_row = len(csr.spec.numeric) + len(csr.spec.categorical)
        assert any(X.nnz < X.shape[0] * per_row for X, _ in batches)  # collisions are covered
        for (X, _), (D, yd), (S, ys) in zip(batches, dense, adapter.dataset(csr), strict=True):
            assert isinstance(S, tf.SparseTensor) and tuple(S.dense_shape.numpy()) == D.shape
            np.testing.assert_array_equal(tf.sparse.to_dense(S).numpy(), D)  # the tf.data pipeline
            np.testing.assert_array_equal(tf.sparse.to_dense(adapter._input(X)).numpy(), D)  # predict / partial_fit
            np.testing.assert_array_equal(ys.numpy(), yd)
        ij, v = coo(batches[0][0])
        assert ij.dtype == np.int64 and v.dtype == np.float32 and (np.diff(ij[:, 0]) >= 0).all()
    finally:
        adapter.close()


def test_linear_on_ctr_beats_constant_and_never_builds_a_dense_batch(ctr):
    stream = BatchStream.for_adapter(ctr, ctr.rows, 1000, Linear)
    assert stream.input_format == "csr" and stream.n_features == 13 + 2**18
    adapter = Linear("binary", stream.n_features, input_format=stream.input_format)
    try:
        hp = adapter.effective_hyperparameters()
        assert hp["optimizer"] == "adagrad" and hp["layers"] == f"Input({stream.n_features}, sparse) -> Dense(1)"
        # the data term's gradient for the kernel touches only the batch's columns: IndexedSlices, not a
        # (batch, width) product; the sparse input is multiplied, never densified
        X, y = next(iter(stream))
        with tf.GradientTape() as tape:
            p = adapter.model(adapter._input(X))
            loss = tf.reduce_mean(tf.keras.losses.binary_crossentropy(y[:, None], p))
        grad = tape.gradient(loss, adapter.model.layers[0].kernel.value)
        assert isinstance(grad, tf.IndexedSlices) and grad.values.shape[0] <= X.nnz
        adapter.fit(stream)
        assert int(adapter.model.optimizer.iterations.numpy()) == 20  # one step per batch of the tf.data pipeline
        loss, floor = _scores(adapter, stream)
        assert loss < floor, (loss, floor)
        assert adapter.explain().shape == (stream.n_features,)
    finally:
        adapter.close()


def test_mlp_on_ctr_sits_on_an_embedding_sum_and_learns(ctr):
    stream = BatchStream.for_adapter(ctr, ctr.rows, 500, MLP)
    adapter = MLP("binary", stream.n_features, input_format="csr")
    try:
        first = adapter.model.layers[0]
        assert tuple(first.kernel.shape) == (stream.n_features, adapter.effective_hyperparameters()["embedding_dim"])
        assert first.activation.__name__ == "linear"  # a plain sum of embeddings, the MLP's ReLUs come after
        for X, y in stream:
            adapter.partial_fit(X, y)  # the per-batch path (train_on_batch on a SparseTensor) works too
        loss, floor = _scores(adapter, stream)
        assert np.isfinite(loss) and loss < floor, (loss, floor)
    finally:
        adapter.close()


def test_dense_data_keeps_the_plain_mlp_and_caller_params_win_on_csr(tiny, ctr):
    ds = tiny("synth-binary", rows=4000)
    stream = BatchStream.for_adapter(ds, ds.rows, 500, MLP)
    assert stream.input_format == "dense"
    adapter = MLP("binary", stream.n_features, input_format="dense")
    try:
        assert "embedding_dim" not in adapter.effective_hyperparameters()
        assert adapter.effective_hyperparameters()["layers"] == "Input(20) -> Dense(64) -> Dense(64) -> Dense(1)"
        adapter.fit(stream)
        loss, floor = _scores(adapter, stream)
        assert loss < floor
    finally:
        adapter.close()
    # the CSR override of the matched optimizer sits under what the caller asked for
    wide = Linear("binary", 13 + 2**8, input_format="csr", params={"optimizer": "sgd", "power_t": 0.5})
    try:
        assert wide.effective_hyperparameters()["optimizer"] == "sgd" and wide.effective_hyperparameters()["power_t"] == 0.5
    finally:
        wide.close()
