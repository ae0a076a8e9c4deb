"""river adapters on wide categorical data (hashed CSR, raw Arrow) and on dense data: real river, tiny data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from oocbench.adapters.registry import discover, get_adapter
from oocbench.features import BatchStream, take_rows
from oocbench.metrics import constant_baseline, task_metrics

pytestmark = pytest.mark.skipif(not discover()["river.linear"].installed, reason="river not installed")


def _ctr(tiny, name: str, rows: int = 20_000, batch_size: int = 2000) -> BatchStream:
    return BatchStream.for_adapter(tiny("synth-ctr", rows=rows), rows, batch_size, get_adapter(name))


def _fit(name: str, stream: BatchStream):
    adapter = get_adapter(name)(stream.task, stream.n_features, input_format=stream.input_format)
    adapter.prepare(stream)
    adapter.fit(stream)
    return adapter


def _nonzeros(X, i: int) -> dict[int, float]:
    row = X.getrow(i).tocoo()
    return {int(j): float(v) for j, v in zip(row.col, row.data, strict=True) if v != 0}


def test_csr_dicts_are_each_rows_nonzeros(tiny):
    from oocbench.adapters.river import csr_dicts

    X, _ = next(iter(_ctr(tiny, "river.linear", rows=3000, batch_size=500)))
    dicts = list(csr_dicts(X))
    assert len(dicts) == X.shape[0]
    assert all(d == _nonzeros(X, i) for i, d in enumerate(dicts))
    assert max(k for d in dicts for k in d) < X.shape[1]  # keys are column indices: 2^hash_bits + d at most
    assert all(type(k) is int and type(v) is float for k, v in dicts[0].items())

    # explicit zeros and duplicate entries (not canonical): the same non-zeros, the caller's matrix untouched
    odd = sparse.csr_matrix((np.array([1.0, 0.0, 2.0, 3.0], np.float32), np.array([4, 1, 4, 0], np.int32),
                             np.array([0, 3, 3, 4])), shape=(3, 6))
    before = odd.data.copy()
    assert list(csr_dicts(odd)) == [{4: 3.0}, {}, {0: 3.0}]
    np.testing.assert_array_equal(odd.data, before)


def test_linear_many_on_csr_beats_the_constant_predictor_with_matched_steps(tiny):
    stream = _ctr(tiny, "river.linear-many")
    assert stream.input_format == "csr"
    adapter = _fit("river.linear-many", stream)
    hp = adapter.effective_hyperparameters()
    # the mini-batch rate is the per-row schedule summed over the mini-batch: eta0 * sqrt(rows_per_step)
    assert hp["step_eta0"] == pytest.approx(hp["eta0"] * math.sqrt(hp["rows_per_step"]))
    assert adapter.model.optimizer.n_iterations == stream.rows // hp["rows_per_step"]

    X, y = next(iter(stream.holdout()))
    X, y = take_rows(X, 5000), y[:5000]
    loss = task_metrics("binary", y, adapter.predict_batch(X))["log_loss"]
    assert loss < constant_baseline("binary", float(y.mean()), y)["log_loss"]

    # learn_many sees only the columns non-zero in its mini-batch, never the 2^hash_bits hashed columns
    frame = adapter._frame(X, 0, 100)
    assert list(frame.columns) == np.unique(X[:100].indices).tolist()
    np.testing.assert_array_equal(frame.to_numpy(), X[:100][:, frame.columns.to_numpy()].toarray())
    weights = adapter.explain()
    assert weights.shape == (stream.n_features,) and np.count_nonzero(weights) < stream.n_features
    adapter.close()


def test_linear_learn_one_on_csr_gets_nonzeros_keyed_by_column(tiny):
    stream = _ctr(tiny, "river.linear", rows=4000, batch_size=1000)
    adapter = _fit("river.linear", stream)
    keys = set(adapter.model.weights)
    seen = set(np.concatenate([X.indices for X, _ in stream]).tolist())
    assert keys <= seen and len(keys) > len(stream.spec.numeric)  # categorical buckets learnt, nothing else
    assert adapter.model.optimizer.n_iterations == stream.rows
    adapter.close()


def test_hoeffding_tree_gets_raw_categorical_values(tiny):
    stream = _ctr(tiny, "river.hoeffding-tree", rows=3000, batch_size=1000)
    assert stream.input_format == "arrow"
    adapter = _fit("river.hoeffding-tree", stream)
    categorical = stream.spec.categorical
    assert adapter.model.nominal_attributes == categorical == adapter.effective_hyperparameters()["nominal_attributes"]
    table, _ = next(iter(stream))
    row = next(adapter._dicts(table))
    assert set(row) == set(table.column_names)
    assert all(row[c] is None or type(row[c]) is int for c in categorical)  # raw ids, not hashed floats
    # the leaves' statistics are per category value (nominal splitters), for the values the data holds
    seen = {c: {v for X, _ in stream for v in X.column(c).to_pylist()} for c in categorical}
    splitters = [(c, leaf.splitters[c]) for leaf in adapter.model._root.iter_leaves() for c in categorical
                 if c in leaf.splitters]
    assert splitters and not any(s.is_numeric for _, s in splitters)
    assert all(s._att_values <= seen[c] for c, s in splitters)
    assert any(len(s._att_values) > 1 for _, s in splitters)
    p = adapter.predict_batch(take_rows(next(iter(stream.holdout()))[0], 200))
    assert np.all((p >= 0) & (p <= 1))
    adapter.close()


def test_string_categoricals_from_a_users_csv(tmp_path):
    """A CSV with text categories: the linear adapters hash them (CSR), the tree takes the strings."""
    from oocbench.datasets.bundled import FileSource
    from oocbench.datasets.public import HOLDOUT_EVERY

    rng = np.random.default_rng(0)
    n = 3000
    carrier = rng.choice(["AA", "DL", "UA", "WN"], n)
    origin = rng.choice([f"A{i:02d}" for i in range(40)], n)
    x = rng.normal(size=n)
    label = rng.random(n) < 1 / (1 + np.exp(-(x + (carrier == "WN") * 1.5 - 1)))
    lines = ["x,carrier,origin,label"] + [f"{a:.4f},{b},{c},{'yes' if d else 'no'}"
                                          for a, b, c, d in zip(x, carrier, origin, label, strict=True)]
    (tmp_path / "flights.csv").write_text("\n".join(lines) + "\n")
    ds = FileSource(tmp_path / "flights.csv", "label").build(tmp_path / "d", n - n // HOLDOUT_EVERY)
    for name in ("river.linear", "river.linear-many", "river.hoeffding-tree"):
        stream = BatchStream.for_adapter(ds, ds.rows, 500, get_adapter(name))
        adapter = _fit(name, stream)
        if name == "river.hoeffding-tree":
            assert stream.input_format == "arrow"
            assert {v for v in next(adapter._dicts(next(iter(stream))[0])).values() if isinstance(v, str)}
        else:
            assert stream.input_format == "csr"
        X, y = next(iter(stream.holdout()))
        p = adapter.predict_batch(X)
        assert p.shape == y.shape and np.all((p >= 0) & (p <= 1))
        adapter.close()


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_dense_data_still_works(tiny, task):
    ds = tiny("synth-binary" if task == "binary" else "synth-regression", rows=3000)
    for name in ("river.linear", "river.linear-many", "river.hoeffding-tree"):
        stream = BatchStream.for_adapter(ds, ds.rows, 500, get_adapter(name))
        assert stream.input_format == "dense"
        adapter = _fit(name, stream)
        X, y = next(iter(stream.holdout()))
        key = "log_loss" if task == "binary" else "rmse"
        score = task_metrics(task, y, adapter.predict_batch(X))[key]
        assert score < constant_baseline(task, float(y.mean()), y)[key], name
        if name != "river.hoeffding-tree":  # dense rows are dicts over every column, keyed by index
            assert set(adapter.model.weights) == set(range(stream.n_features))
        adapter.close()


def test_tree_settings_for_categorical_data_apply_to_categorical_data_only():
    # river's defaults on numeric data (the categorical settings cost accuracy there: 0.6473 vs 0.5829 at 10^6
    # rows of synth-binary); binary Hellinger splits on raw categoricals; the caller's params win over both
    from oocbench.adapters.river import HoeffdingTree

    dense = HoeffdingTree("binary", 5, input_format="dense")
    arrow = HoeffdingTree("binary", 5, input_format="arrow")
    mine = HoeffdingTree("binary", 5, input_format="arrow", params={"grace_period": 300})
    try:
        assert dense.effective_hyperparameters()["split_criterion"] == "info_gain" and not dense.effective_hyperparameters()["binary_split"]
        assert arrow.effective_hyperparameters()["split_criterion"] == "hellinger" and arrow.effective_hyperparameters()["binary_split"]
        assert mine.effective_hyperparameters()["grace_period"] == 300 and mine.effective_hyperparameters()["binary_split"]
        assert HoeffdingTree.describe()["sparse_profiles"]["matched"]["split_criterion"] == "hellinger"
    finally:
        for a in (dense, arrow, mine):
            a.close()
