"""``benchmarks/inprocess.py`` for every registered adapter, driven as asv drives it (setup, fit, teardown).

asv calls ``teardown`` even when ``setup`` raised ``NotImplementedError`` (its "skipped"), so teardown must not
touch what setup did not build; and the in-process stream must be the format the adapter declares (CSR or
Arrow on categorical data), as the isolated runner gives it. Run in a child process: importing the module
pins the thread variables of the process, and every backend is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oocbench.adapters.registry import discover

REPO = Path(__file__).resolve().parent.parent

DRIVER = r"""
import json, sys
from benchmarks import inprocess
from oocbench.adapters.registry import discover

out = {}
for adapter, entry in discover().items():
    if entry.cls is not None and entry.cls.scale_out:  # not in a suite of every adapter (see _common.adapters)
        continue
    cls = getattr(inprocess, adapter.replace(".", "_").replace("-", "_"), None)
    if cls is None:
        out[adapter] = {"missing": True}
        continue
    for dataset in ("synth-binary", "synth-ctr"):
        bench, seen = cls(), {"dataset": dataset}
        try:
            bench.setup(dataset, 1000, "matched")
        except NotImplementedError as exc:
            seen["skipped"] = str(exc)
        else:
            seen["stream_format"] = bench.stream.input_format
            seen["model_format"] = bench.model.input_format
            X, _ = next(iter(bench.stream))
            seen["batch_type"] = type(X).__module__.split(".")[0] + "." + type(X).__name__
            try:
                bench.time_fit(dataset, 1000, "matched")
                seen["fit"] = "ok"
            except Exception as exc:
                seen["fit"] = f"{type(exc).__name__}: {exc}"
        try:
            bench.teardown(dataset, 1000, "matched")
            seen["teardown"] = "ok"
        except Exception as exc:
            seen["teardown"] = f"{type(exc).__name__}: {exc}"
        out.setdefault(adapter, []).append(seen)
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def driven(tmp_path_factory) -> dict:
    env = {**os.environ, "OOCBENCH_ASV_PROFILE": "tiny", "OOCBENCH_DATA_DIR": str(tmp_path_factory.mktemp("data")),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", DRIVER], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_adapter_runs_or_is_skipped_with_a_reason(driven) -> None:
    entries = discover()
    assert set(driven) == {n for n, e in entries.items() if not (e.cls is not None and e.cls.scale_out)}
    for adapter, cases in driven.items():
        assert "missing" not in cases, f"inprocess has no class for {adapter}"
        for seen in cases:
            where = f"{adapter} on {seen['dataset']}"
            assert seen["teardown"] == "ok", f"{where}: teardown after setup: {seen['teardown']}"
            if "skipped" in seen:
                assert seen["skipped"].strip(), f"{where}: skipped without a reason"
                runnable = entries[adapter].installed and "binary" in entries[adapter].cls.tasks
                assert not (runnable and seen["dataset"] == "synth-binary"), f"{where}: {seen['skipped']}"
                continue
            assert seen["fit"] == "ok", f"{where}: {seen['fit']}"


@pytest.mark.slow
def test_stream_is_the_format_the_adapter_declares(driven) -> None:
    """On categorical data an adapter that takes CSR, Arrow or codes gets those batches, never dense ones (codes
    are a numpy array of one code per categorical column, never the hashed width)."""
    batch_types = {"dense": "numpy.ndarray", "csr": "scipy.csr_matrix", "arrow": "pyarrow", "codes": "numpy.ndarray"}
    for adapter, cases in driven.items():
        cls = discover()[adapter].cls
        for seen in cases:
            if "skipped" in seen:
                continue
            where = f"{adapter} on {seen['dataset']}"
            assert seen["stream_format"] in cls.input_formats, where
            assert seen["model_format"] == seen["stream_format"], where
            assert seen["batch_type"].startswith(batch_types[seen["stream_format"]]), f"{where}: {seen}"
            if seen["dataset"] == "synth-ctr" and set(cls.input_formats) - {"dense"}:
                assert seen["stream_format"] != "dense", f"{where}: dense batches for an adapter taking " \
                                                         f"{cls.input_formats}"
