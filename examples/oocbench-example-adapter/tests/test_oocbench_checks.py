"""oocbench's adapter check suite on this package's adapter: the test every adapter package should carry.

``check_adapter`` fits the adapter on tiny synthetic data (each task's dense dataset and categorical
``synth-ctr``, in the batch format the adapter declares) and raises ``AssertionError`` naming every failed
check; it returns the results, skipped ones with the reason (this adapter takes dense batches only, so it is
refused the categorical data).
"""

from __future__ import annotations

import importlib.metadata

from oocbench_example.adapter import Perceptron

from oocbench.adapters.checks import check_adapter


def test_perceptron_passes_the_oocbench_adapter_checks(tmp_path):
    results = {r.name: r for r in check_adapter(Perceptron, data_dir=tmp_path)}

    assert results["check_beats_constant_predictor[binary/synth-binary]"].status == "passed"
    # installed (pip install .), the entry point registers it: the isolated runner's child process must run it
    registered = importlib.metadata.entry_points(group="oocbench.adapters", name=Perceptron.name)
    isolated = results["check_isolated_run[binary/synth-binary]"]
    assert isolated.status == ("passed" if registered else "skipped"), isolated
