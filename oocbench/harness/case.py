"""Execute one case inside a fresh child process: import, prepare, features, fit, evaluate - each timed apart.

Run as ``python -m oocbench.harness.case SPEC.json OUT.json``; the parent (:mod:`oocbench.harness.runner`) starts it with the
thread environment already set, watches it, and reads OUT.json. ``mode`` ``"timed"`` measures time, sampled
RSS, the kernel's RSS high-water mark and the learning curve; ``"memray"`` re-runs fit under memray for the
heap peak only (never used for throughput).

The child kills itself (and its process group: helper processes, dask workers) when the runner that started
it dies, so a runner killed with SIGKILL leaves nothing running.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from oocbench.curve import (
    CURVE_HOLDOUT_ROWS,
    Monitor,
    fit_with_curve,
    holdout_subset,
    loss_name,
    within_final,
)
from oocbench.harness.measure import (
    ANON_COVERS,
    HEAP_COVERS,
    KERNEL_COVERS,
    RSS_COVERS,
    RssSampler,
    kernel_hwm,
    reset_kernel_hwm,
    tree_cpu,
    tree_rss,
)
from oocbench.harness.watchdog import watch_parent


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.shape != b.shape or not np.any(a) or not np.any(b):
        return None
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _insight(weights: np.ndarray | None, explains: str, stream: Any) -> dict[str, Any]:
    """``extra.insight``: the model's top features named by source column and value (:mod:`oocbench.insight`).

    Never fails the case: a model insight that cannot be computed is recorded as ``unavailable`` with why.
    """
    from oocbench.insight import stream_insight

    try:
        return stream_insight(weights, explains, stream)
    except Exception as exc:  # noqa: BLE001 - the measurement stands without its insight
        return {"kind": explains, "unavailable": f"insight failed: {type(exc).__name__}: {exc}"}


# ----- the case -----------------------------------------------------------------------------------------
def execute(spec: dict[str, Any], data_root: str, mode: str = "timed",
            validation: dict[str, int] | None = None) -> dict[str, Any]:
    """Run the case; returns the measurement part of a record (the parent adds identity and provenance).

    ``validation`` (``{"train_rows": n, "valid_rows": m}``) makes it a tuning grid point: it learns from the first
    ``n`` training rows and everything it would score on the holdout is scored on the ``m`` after them
    (:class:`~oocbench.harness.validation.ValidationSplit`); the holdout is not read.
    """
    from oocbench.adapters.base import Adapter
    from oocbench.adapters.registry import get_adapter
    from oocbench.datasets import DatasetError, ShardedDataset
    from oocbench.features import BatchStream

    out: dict[str, Any] = {"timings": {}, "memory": {}, "extra": {}}
    with contextlib.suppress(psutil.Error):
        # interpreter start + oocbench imports, until the case begins (the harness's per-case start cost)
        out["timings"]["child_start_s"] = max(0.0, time.time() - psutil.Process().create_time())
    t = time.perf_counter()
    cls = get_adapter(spec["adapter"])
    importlib.import_module(cls.library)
    out["timings"]["import_s"] = time.perf_counter() - t
    from oocbench.metrics import constant_baseline, task_metrics

    dataset = ShardedDataset(data_root)
    if dataset.rows < spec["scale"]:  # the runner checked this: the data changed since, never measure fewer rows
        raise DatasetError(f"{dataset.root}: holds {dataset.rows:,} training rows, fewer than the case's "
                           f"{spec['scale']:,}; {dataset.hint()}")
    rows = spec["scale"]
    # dense for numeric data, CSR (hashed) or Arrow (raw categoricals) per the adapter's input_formats
    stream = BatchStream.for_adapter(dataset, rows, spec["batch_size"], cls, spec.get("hash_bits"))
    if validation:  # a tuning grid point: the rows after the training part stand in for the holdout
        from oocbench.harness.validation import ValidationSplit

        stream = ValidationSplit.of(stream, validation["train_rows"], validation["valid_rows"])
        rows = stream.rows
    passes = int(spec.get("passes") or 1)
    adapter = cls(dataset.task, stream.n_features, profile=spec["profile"], params=dict(spec.get("params") or {}),
                  seed=spec["seed"], threads=spec["threads"], input_format=stream.input_format, passes=passes,
                  workdir=os.environ.get("OOCBENCH_CASE_DIR"))
    try:
        out["task"], out["rows"] = dataset.task, rows
        out["adapter_info"] = {**cls.describe(), "hyperparameters": adapter.effective_hyperparameters()}
        out["extra"]["features"] = stream.describe()
        if passes > 1:
            out["extra"]["passes"] = {"passes": passes, "how": cls.multi_pass()}

        t = time.perf_counter()
        adapter.prepare(stream)
        out["timings"]["prepare_s"] = time.perf_counter() - t

        # the default fit loop can be driven here, so the curve comes from the same pass as the timed fit;
        # an adapter with its own reader (VW, TF, dask, the trees) reports passes / rounds to its monitor
        curve = type(adapter).fit is Adapter.fit
        proc = psutil.Process()
        if mode == "memray":
            import memray

            trace = Path(os.environ.get("OOCBENCH_MEMRAY_FILE", f"memray-{os.getpid()}.bin"))
            trace.unlink(missing_ok=True)
            t = time.perf_counter()
            with memray.Tracker(trace, native_traces=True):
                for _ in range(passes if curve else 1):  # an adapter with its own fit makes its passes itself
                    adapter.fit(stream)
            out["timings"]["memray_fit_s"] = time.perf_counter() - t
            out["memory"]["heap_peak_bytes"] = memray.FileReader(trace).metadata.peak_memory
            out["memory"]["heap_covers"] = HEAP_COVERS + (f"; {cls.heap_note}" if cls.heap_note else "")
            trace.unlink(missing_ok=True)
            return out

        # one pass of reading + features without learning: the data-preparation share of fit, measured apart
        t = time.perf_counter()
        y_sum, read, bad = 0.0, 0, 0
        for _, y in stream:
            y_sum, read, bad = y_sum + float(y.sum()), read + len(y), bad + len(y) - int(np.isfinite(y).sum())
        out["timings"]["features_s"] = time.perf_counter() - t
        # what the record will claim: exactly `rows` training rows, with finite targets (an inf made RMSE 1.1e10)
        if read != rows or bad:
            raise DatasetError(f"{dataset.root}: " + (f"read {read:,} training rows, not the case's {rows:,}"
                                                      if read != rows else
                                                      f"target {dataset.manifest.target!r} has {bad:,} non-finite "
                                                      f"values (inf or NaN) in the first {rows:,} training rows")
                               + f"; {dataset.hint()}")

        hold = holdout_subset(stream, CURVE_HOLDOUT_ROWS)  # read before the baseline
        monitor = adapter.monitor = Monitor(adapter, hold)
        baseline = tree_rss(proc)
        cpu0 = tree_cpu(proc)
        kernel_reset = reset_kernel_hwm()
        with RssSampler() as sampler:
            t = time.perf_counter()
            monitor.begin()
            if curve:
                points, score_wall, score_cpu = fit_with_curve(adapter, stream, rows, hold, passes, monitor)
            else:
                adapter.fit(stream)
                points, score_wall, score_cpu = [], 0.0, 0.0
            loop_s = time.perf_counter() - t
            cpu_s = tree_cpu(proc) - cpu0
        adapter.monitor = None
        hwm = kernel_hwm() if kernel_reset else None
        score_wall, score_cpu = score_wall + monitor.scoring_wall, score_cpu + monitor.scoring_cpu
        fit_s = loop_s - score_wall
        out["timings"].update(fit_s=fit_s, fit_cpu_s=max(0.0, cpu_s - score_cpu), curve_s=score_wall)
        # training rows over the whole fit, every pass included (as for boosting, whose rounds each re-read the
        # data): the time to learn from this many rows with these settings
        out["rows_per_s"] = rows / fit_s if fit_s > 0 else None
        peak = max(sampler.peak, hwm or 0)
        out["memory"].update(rss_baseline_bytes=baseline, rss_peak_bytes=peak, rss_fit_bytes=max(0, peak - baseline),
                             rss_peak_sampled_bytes=sampler.peak, rss_peak_kernel_bytes=hwm,
                             rss_kernel_covers=KERNEL_COVERS if hwm is not None else "", rss_samples=sampler.samples,
                             rss_covers=RSS_COVERS, rss_anon_fit_bytes=max(0, sampler.anon_peak - sampler.anon_baseline),
                             rss_anon_covers=ANON_COVERS)
        out["extra"].update(adapter.fit_facts())
        # facts an adapter learns only while fitting (C from the rows, VW's -b from the stream...)
        out["adapter_info"]["hyperparameters"] = adapter.effective_hyperparameters()

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
        name = loss_name(dataset.task)
        if name in out["optimum"]:
            out["extra"]["gap_to_optimum"] = {name: out["metrics"][name] - out["optimum"][name]}

        if curve:
            out["extra"]["learning_curve"] = {
                "points": points, "loss": name, "holdout_rows": len(hold[1]),
                "what": ("at log-spaced row counts of the first pass: prequential loss on the next batch before it is "
                         f"learnt, and loss on the first {len(hold[1]):,} holdout rows; fit_s excludes scoring "
                         "(subtracted)")}
            out["extra"]["within_1pct_of_final"] = within_final(points, "holdout_" + name)
        else:
            out["extra"]["learning_curve_missing"] = (
                "runs its own fit loop (its own reader, a full-batch fit or boosting rounds), which oocbench cannot "
                "score batch by batch; its loss after each pass or round, where it reports one, is in "
                "extra.checkpoints")
        if monitor.points:
            out["extra"]["checkpoints"] = monitor.describe()

        weights = adapter.explain()
        true_coef = dataset.manifest.truth.get("coef")
        # a tree's importances are not signed weights: their cosine with the true coefficients means nothing
        if weights is not None and true_coef is not None and cls.explains == "weights":
            out["extra"]["coef_cosine"] = _cosine(np.asarray(weights, float).ravel(), np.asarray(true_coef, float))
        out["extra"]["insight"] = _insight(weights, cls.explains, stream)
        return out
    finally:
        adapter.close()


def _guarded(payload: dict[str, Any]) -> dict[str, Any]:
    """One case's result with its status: every failure becomes a recorded status, never an exception."""
    from oocbench.datasets.manifest import DatasetError

    try:
        return {"status": "ok", **execute(payload["case"], payload["data_root"], payload.get("mode", "timed"),
                                          payload.get("validation"))}
    except MemoryError:
        return {"status": "oom", "reason": "MemoryError raised inside the case"}
    except DatasetError as exc:  # damaged data: the runner raises it as a harness failure (never recorded)
        tb = traceback.format_exc().strip().splitlines()
        return {"status": "harness-error", "reason": str(exc), "traceback": "\n".join(tb[-15:])}
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a recorded status
        tb = traceback.format_exc().strip().splitlines()
        status = "timeout" if isinstance(exc, KeyboardInterrupt) else "error"
        return {"status": status, "reason": f"{type(exc).__name__}: {exc}", "traceback": "\n".join(tb[-15:])}


def _json(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def run_points(payload: dict[str, Any], out_path: Path) -> dict[str, Any]:
    """Tuning grid points one after another in this process (see :func:`oocbench.harness.runner.run_points`).

    Each finished point's result is appended to ``points.jsonl`` beside ``out_path`` at once, so the runner keeps
    what ended before a crash; a point that ran out of memory, was stopped or met damaged data ends the run (the
    runner runs the points after it alone). Each point has its own work directory; the process start is the
    first point's.
    """
    from oocbench.harness.runner import POINTS_FILE

    base = os.environ.get("OOCBENCH_CASE_DIR")
    with open(out_path.with_name(POINTS_FILE), "a") as steps:
        for i, point in enumerate(payload["points"]):
            if base:
                (work := Path(base) / f"point-{i}").mkdir(exist_ok=True)
                os.environ["OOCBENCH_CASE_DIR"] = str(work)
            t = time.perf_counter()
            result = _guarded(point)
            result["wall_s"] = time.perf_counter() - t
            if i and "timings" in result:  # the process started once, before the first point
                result["timings"]["child_start_s"] = 0.0
            elif "timings" in result:
                result["wall_s"] += result["timings"].get("child_start_s") or 0.0
            steps.write(_json(result) + "\n")
            steps.flush()
            if result["status"] in ("oom", "timeout", "harness-error"):
                break
    return {"status": "ok"}


def main(argv: list[str] | None = None) -> int:
    spec_path, out_path = (argv or sys.argv[1:])[:2]
    # a shell starts a background job (`make bench &`, nohup) with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: the timeout's first, gentle step would do nothing and every hang end by SIGTERM
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if parent := os.environ.get("OOCBENCH_PARENT_PID"):
        watch_parent(int(parent))
    payload = json.loads(Path(spec_path).read_text())
    result = run_points(payload, Path(out_path)) if payload.get("mode") == "points" else _guarded(payload)
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(_json(result))
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
