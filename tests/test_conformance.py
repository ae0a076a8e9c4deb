"""One generic conformance test applied to every registered, installed adapter (benchopt / river style)."""

from __future__ import annotations

import numpy as np
import pytest

from oocbench.adapters.registry import discover
from oocbench.datasets import GENERATORS
from oocbench.features import BatchStream, UnsupportedInputError, take_rows
from oocbench.metrics import TASKS, constant_baseline, task_metrics

DATASET_FOR_TASK = {}
for _gen in GENERATORS.values():
    DATASET_FOR_TASK.setdefault(_gen.task, _gen.name)
#: (task, dataset): the first dense dataset of each task, and wide categorical data (hashed CSR or raw Arrow)
DATASETS = [*DATASET_FOR_TASK.items(), ("binary", "synth-ctr")]
ROWS = {"synth-ctr": 20_000}  # ~4% positives: enough rows for a linear model to beat the constant predictor
#: 2^14 buckets on categorical data: the contract does not depend on the width, and a boosting round costs in
#: proportion to the columns (XGBoost: ~45 s per adapter at the default 2^18, for two fits of 100 rounds)
HASH_BITS = 14

CASES = [
    pytest.param(name, task, data, id=f"{name}-{data}")
    for name, entry in discover().items()
    if entry.installed
    for task, data in DATASETS
    if task in entry.cls.tasks
]


def _fit_and_score(cls, task, data, tiny, seed=0):
    ds = tiny(data, rows=ROWS.get(data, 4000))
    try:  # the stream the case runner gives this adapter: dense, CSR or Arrow per its input_formats
        stream = BatchStream.for_adapter(ds, ds.rows, 500 if data not in ROWS else 2000, cls, HASH_BITS)
    except UnsupportedInputError as exc:
        pytest.skip(f"{cls.name} on {data}: {exc}")
    adapter = cls(task, stream.n_features, seed=seed, input_format=stream.input_format)
    try:
        adapter.prepare(stream)
        adapter.fit(stream)
        X, y = next(iter(stream.holdout()))
        X, y = take_rows(X, 3000), y[:3000]
        pred = adapter.predict_batch(X)
        weights = adapter.explain()
    finally:
        adapter.close()
    return adapter, X, y, pred, weights, ds


def test_registry_lists_every_builtin():
    assert "sklearn.sgd" in discover()
    assert CASES, "no installed adapter to test"


@pytest.mark.parametrize(("name", "task", "data"), CASES)
def test_adapter_conformance(name, task, data, tiny):
    cls = discover()[name].cls
    for attr in ("name", "library", "update_semantics", "api_path"):
        assert getattr(cls, attr), f"{name}: class attribute {attr} is empty"
    assert cls.name == name
    assert cls.tasks <= {"binary", "regression"}
    assert cls.library_version(), f"{name}: no version for {cls.requirements or cls.library}"

    adapter, X, y, pred, weights, ds = _fit_and_score(cls, task, data, tiny)
    assert pred.shape == (len(y),)
    assert np.all(np.isfinite(pred))
    if task == "binary":
        assert np.all((pred >= 0) & (pred <= 1)), "probabilities outside [0, 1]"
    scores = task_metrics(task, y, pred)
    floor = constant_baseline(task, float(np.mean(y)), y)
    key = TASKS[task].loss.key
    assert scores[key] < floor[key], f"{name} does not beat the constant predictor: {scores} vs {floor}"
    if weights is not None:
        assert np.asarray(weights).size >= 1 and np.all(np.isfinite(weights))
    adapter.close()  # idempotent: a second close is fine

    _, _, _, pred_again, _, _ = _fit_and_score(cls, task, data, tiny)
    np.testing.assert_allclose(pred_again, pred, rtol=1e-6, atol=1e-7, err_msg="same seed gave different predictions")


def test_unsupported_task_is_refused():
    from oocbench.adapters.base import Adapter

    class OnlyBinary(Adapter):
        name, library, tasks = "t.only-binary", "numpy", frozenset({"binary"})

        def partial_fit(self, X, y):  # pragma: no cover - never reached
            pass

    assert "not supported" in OnlyBinary.skip("regression")
    with pytest.raises(ValueError, match="does not support"):
        OnlyBinary("regression", 3)
