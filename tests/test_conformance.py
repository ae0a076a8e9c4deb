"""Every registered, installed adapter passes the adapter check suite (:mod:`oocbench.adapters.checks`), the same
``check_adapter`` a third-party adapter package runs in its own tests (benchopt / river / scikit-learn style).

Coverage: every adapter on the first dense dataset of each of its tasks and on wide categorical ``synth-ctr``
(hashed CSR with ``2^HASH_BITS`` = 2^14 buckets, or raw Arrow), where a dense-only adapter is refused and skipped with the
reason; plus one case through the isolated runner.
"""

from __future__ import annotations

import pytest

from oocbench.adapters.checks import CATEGORICAL_DATASET, check_adapter, dense_dataset
from oocbench.adapters.registry import discover
from oocbench.metrics import TASKS

INSTALLED = [pytest.param(name, id=name) for name, entry in discover().items() if entry.installed]


def test_registry_lists_every_builtin():
    assert "sklearn.sgd" in discover()
    assert INSTALLED, "no installed adapter to test"


@pytest.mark.parametrize("name", INSTALLED)
def test_adapter_passes_the_checks(name, data_base):
    cls = discover()[name].cls
    results = {r.name: r for r in check_adapter(cls, data_dir=data_base)}  # raises naming every failed check
    labels = [f"{task}/{dense_dataset(task)}" for task in TASKS if task in cls.tasks]
    if "binary" in cls.tasks:
        labels.append(f"binary/{CATEGORICAL_DATASET}")
    for label in labels:  # learnt, or refused with the reason (a dense-only adapter on categorical data)
        r = results[f"check_beats_constant_predictor[{label}]"]
        refused = label.endswith(CATEGORICAL_DATASET) and tuple(cls.input_formats) == ("dense",)
        assert r.status == ("skipped" if refused else "passed"), r
    # a registered built-in runs in the isolated runner: never skipped as unregistered
    assert results[f"check_isolated_run[{labels[0]}]"].status == "passed", results[f"check_isolated_run[{labels[0]}]"]


def test_unsupported_task_is_refused():
    from oocbench.adapters.base import Adapter

    class OnlyBinary(Adapter):
        name, library, tasks = "t.only-binary", "numpy", frozenset({"binary"})

        def partial_fit(self, X, y):  # pragma: no cover - never reached
            pass

    assert "not supported" in OnlyBinary.skip("regression")
    with pytest.raises(ValueError, match="does not support"):
        OnlyBinary("regression", 3)
