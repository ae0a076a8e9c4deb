"""Execute one case inside a fresh child process: import, prepare, features, fit, evaluate - each timed apart.

Run as ``python -m oocbench.case SPEC.json OUT.json``; the parent (:mod:`oocbench.runner`) starts it with the
thread environment already set, watches it, and reads OUT.json. ``mode`` ``"timed"`` measures time and
sampled RSS; ``"memray"`` re-runs fit under memray for the heap peak only (never used for throughput).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import psutil

RSS_COVERS = "process tree (this process and its children) RSS, sampled every 10 ms during fit"
HEAP_COVERS = "memray heap peak of fit with native traces, this process only (not child processes)"


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class RssSampler:
    """Samples the process tree's RSS in a background thread; ``peak`` is the high-water mark."""

    def __init__(self, interval: float = 0.01) -> None:
        self.proc, self.interval = psutil.Process(), interval
        self.peak = tree_rss(self.proc)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(self.proc))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.proc))


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.shape != b.shape or not np.any(a) or not np.any(b):
        return None
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def execute(spec: dict[str, Any], data_root: str, mode: str = "timed") -> dict[str, Any]:
    """Run the case; returns the measurement part of a record (the parent adds identity and provenance)."""
    from oocbench.adapters.registry import get_adapter
    from oocbench.datasets.shards import ShardedDataset
    from oocbench.features import BatchStream

    out: dict[str, Any] = {"timings": {}, "memory": {}, "extra": {}}
    t = time.perf_counter()
    cls = get_adapter(spec["adapter"])
    importlib.import_module(cls.library)
    out["timings"]["import_s"] = time.perf_counter() - t
    from oocbench.metrics import constant_baseline, task_metrics

    dataset = ShardedDataset(data_root)
    rows = min(spec["scale"], dataset.rows)
    stream = BatchStream(dataset, rows, spec["batch_size"])
    adapter = cls(dataset.task, dataset.n_features, profile=spec["profile"], params=dict(spec.get("params") or {}),
                  seed=spec["seed"], threads=spec["threads"])
    try:
        out["task"], out["rows"] = dataset.task, rows
        out["adapter_info"] = {**cls.describe(), "hyperparameters": adapter.hyperparameters}

        t = time.perf_counter()
        adapter.prepare(stream)
        out["timings"]["prepare_s"] = time.perf_counter() - t

        proc = psutil.Process()
        if mode == "memray":
            import memray

            trace = Path(os.environ.get("OOCBENCH_MEMRAY_FILE", f"memray-{os.getpid()}.bin"))
            trace.unlink(missing_ok=True)
            with memray.Tracker(trace, native_traces=True):
                adapter.fit(stream)
            out["memory"]["heap_peak_bytes"] = memray.FileReader(trace).metadata.peak_memory
            out["memory"]["heap_covers"] = HEAP_COVERS
            trace.unlink(missing_ok=True)
            return out

        # one pass of reading + features without learning: the data-preparation share of fit, measured apart
        t = time.perf_counter()
        y_sum = sum(float(y.sum()) for _, y in stream)
        out["timings"]["features_s"] = time.perf_counter() - t

        baseline = tree_rss(proc)
        cpu0 = tree_cpu(proc)
        with RssSampler() as sampler:
            t = time.perf_counter()
            adapter.fit(stream)
            fit_s = time.perf_counter() - t
            out["timings"]["fit_cpu_s"] = tree_cpu(proc) - cpu0
        out["timings"]["fit_s"] = fit_s
        out["rows_per_s"] = rows / fit_s if fit_s > 0 else None
        out["memory"].update(rss_baseline_bytes=baseline, rss_peak_bytes=sampler.peak,
                             rss_fit_bytes=max(0, sampler.peak - baseline), rss_covers=RSS_COVERS)

        t = time.perf_counter()
        ys, preds = [], []
        for X, y in stream.holdout():
            ys.append(y)
            preds.append(adapter.predict_batch(X))
        y_hold, p_hold = np.concatenate(ys), np.concatenate(preds)
        out["metrics"] = task_metrics(dataset.task, y_hold, p_hold)
        out["timings"]["evaluate_s"] = time.perf_counter() - t
        out["baseline"] = constant_baseline(dataset.task, y_sum / max(rows, 1), y_hold)
        out["optimum"] = dict(dataset.manifest.optimum)

        weights = adapter.explain()
        true_coef = dataset.manifest.truth.get("coef")
        if weights is not None and true_coef is not None:
            out["extra"]["coef_cosine"] = _cosine(np.asarray(weights, float).ravel(), np.asarray(true_coef, float))
        return out
    finally:
        adapter.close()


def main(argv: list[str] | None = None) -> int:
    spec_path, out_path = (argv or sys.argv[1:])[:2]
    payload = json.loads(Path(spec_path).read_text())
    try:
        result = {"status": "ok", **execute(payload["case"], payload["data_root"], payload.get("mode", "timed"))}
    except MemoryError:
        result = {"status": "oom", "reason": "MemoryError raised inside the case"}
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a recorded status
        tb = traceback.format_exc().strip().splitlines()
        status = "timeout" if isinstance(exc, KeyboardInterrupt) else "error"
        result = {"status": status, "reason": f"{type(exc).__name__}: {exc}", "traceback": "\n".join(tb[-15:])}
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
