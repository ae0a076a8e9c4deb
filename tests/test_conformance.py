"""One generic conformance test applied to every registered, installed adapter (benchopt / river style)."""

from __future__ import annotations

import numpy as np
import pytest

from oocbench.adapters.registry import discover
from oocbench.datasets import GENERATORS
from oocbench.features import BatchStream
from oocbench.metrics import constant_baseline, task_metrics

DATASET_FOR_TASK = {}
for _gen in GENERATORS.values():
    DATASET_FOR_TASK.setdefault(_gen.task, _gen.name)

CASES = [
    pytest.param(name, task, id=f"{name}-{task}")
    for name, entry in discover().items()
    if entry.installed
    for task in sorted(entry.cls.tasks)
    if task in DATASET_FOR_TASK
]


def _fit_and_score(cls, task, tiny, seed=0):
    ds = tiny(DATASET_FOR_TASK[task], rows=4000)
    stream = BatchStream(ds, ds.rows, batch_size=500)
    adapter = cls(task, ds.n_features, seed=seed)
    try:
        adapter.prepare(stream)
        adapter.fit(stream)
        X, y = next(iter(stream.holdout()))
        X, y = X[:3000], y[:3000]
        pred = adapter.predict_batch(X)
        weights = adapter.explain()
    finally:
        adapter.close()
    return adapter, X, y, pred, weights, ds


def test_registry_lists_every_builtin():
    assert "sklearn.sgd" in discover()
    assert CASES, "no installed adapter to test"


@pytest.mark.parametrize(("name", "task"), CASES)
def test_adapter_conformance(name, task, tiny):
    cls = discover()[name].cls
    for attr in ("name", "library", "update_semantics", "api_path"):
        assert getattr(cls, attr), f"{name}: class attribute {attr} is empty"
    assert cls.name == name
    assert cls.tasks <= {"binary", "regression"}
    assert cls.library_version(), f"{name}: no version for {cls.requirements or cls.library}"

    adapter, X, y, pred, weights, ds = _fit_and_score(cls, task, tiny)
    assert pred.shape == (len(y),)
    assert np.all(np.isfinite(pred))
    if task == "binary":
        assert np.all((pred >= 0) & (pred <= 1)), "probabilities outside [0, 1]"
    scores = task_metrics(task, y, pred)
    floor = constant_baseline(task, float(np.mean(y)), y)
    key = "log_loss" if task == "binary" else "rmse"
    assert scores[key] < floor[key], f"{name} does not beat the constant predictor: {scores} vs {floor}"
    if weights is not None:
        assert np.asarray(weights).size >= 1 and np.all(np.isfinite(weights))
    adapter.close()  # idempotent: a second close is fine

    _, _, _, pred_again, _, _ = _fit_and_score(cls, task, tiny)
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
