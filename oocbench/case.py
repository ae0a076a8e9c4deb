"""Execute one case inside a fresh child process: import, prepare, features, fit, evaluate - each timed apart.

Run as ``python -m oocbench.case SPEC.json OUT.json``; the parent (:mod:`oocbench.runner`) starts it with the
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
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import psutil

RSS_COVERS = ("process tree (this process and its children) RSS during fit: the larger of the 10 ms sampled "
              "high-water mark and the kernel's exact high-water mark (VmHWM, reset before fit) of the case process")
HEAP_COVERS = "memray heap peak of fit with native traces, this process only (not child processes)"
KERNEL_COVERS = "kernel VmHWM of the case process only (reset just before fit; exact, but no child processes)"
#: rows of the fixed holdout scored at each learning-curve checkpoint (the same rows every time)
CURVE_HOLDOUT_ROWS = 10_000
#: checkpoints per decade of training rows (log-spaced, snapped to batch boundaries)
CURVE_PER_DECADE = 4
WITHIN = 0.01  # "within 1% of the final holdout loss"


# ----- process-tree measurements ------------------------------------------------------------------------
def tree_rss(proc: psutil.Process) -> int:
    """Sum of the RSS of ``proc`` and all its live descendants, in bytes."""
    total = 0
    for p in [proc, *_descendants(proc)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of ``proc`` and its descendants, reaped ones included.

    A live process contributes its own times plus ``children_user/system`` (the children it has waited for:
    dask workers or helper processes that already exited); a dead, reaped process is no longer listed, and its
    time sits in its parent's ``children_*``, so nothing is counted twice.
    """
    total = 0.0
    for p in [proc, *_descendants(proc)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def kernel_hwm() -> int | None:
    """The kernel's RSS high-water mark of this process (``VmHWM``), bytes; ``None`` off Linux."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) * 1024 if m else None


def reset_kernel_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0: write 5 to clear_refs); ``False`` if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples the process tree's RSS in a background thread; ``peak`` is the high-water mark.

    The thread shares the GIL with the fit it measures, so each 10 ms sample must be cheap: it reads the RSS
    of the processes it already knows (~10 us each), and rescans /proc for new descendants only every
    ``rescan`` seconds (a scan costs ~3 ms: at every sample that was ~30% of a core taken from the fit).
    """

    def __init__(self, interval: float = 0.01, rescan: float = 0.25) -> None:
        self.proc, self.interval, self.rescan = psutil.Process(), interval, rescan
        self.peak = tree_rss(self.proc)
        self.samples = 0
        self._known: list[psutil.Process] = [self.proc, *_descendants(self.proc)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in self._known:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        last_scan = time.perf_counter()
        while not self._stop.wait(self.interval):
            if time.perf_counter() - last_scan > self.rescan:
                self._known = [self.proc, *_descendants(self.proc)]
                last_scan = time.perf_counter()
            self.peak = max(self.peak, self._sample())
            self.samples += 1

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.proc))


def watch_parent(parent_pid: int, interval: float = 0.25) -> threading.Thread | None:
    """Kill this process's group (the case and its helpers) as soon as the runner ``parent_pid`` is gone.

    The runner starts the case in a new session, so the group holds the case and whatever it spawned; a runner
    killed with SIGKILL cannot clean up, and without this the case would run on (possibly for hours). On Linux
    ``PR_SET_PDEATHSIG`` is not used: it would SIGKILL this process before it could kill its helpers.
    """
    if os.getppid() != parent_pid:  # the runner died before we got here
        _kill_own_group()

    def run() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                _kill_own_group()

    thread = threading.Thread(target=run, name="oocbench-parent-watch", daemon=True)
    thread.start()
    return thread


def _kill_own_group() -> None:
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(137)


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.shape != b.shape or not np.any(a) or not np.any(b):
        return None
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----- learning curve -----------------------------------------------------------------------------------
def checkpoints(rows: int, batch_size: int, per_decade: int = CURVE_PER_DECADE) -> list[int]:
    """Log-spaced row counts at which the curve is scored, snapped up to batch boundaries, ending at ``rows``.

    >>> checkpoints(100_000, 10_000)
    [10000, 20000, 40000, 60000, 100000]
    >>> checkpoints(5_000, 10_000)
    [5000]
    """
    bounds = list(range(batch_size, rows, batch_size)) + [rows]
    targets = [10 ** (k / per_decade) for k in range(0, math.ceil(math.log10(max(rows, 1)) * per_decade) + 1)]
    out = {next(b for b in bounds if b >= t) for t in targets if t <= rows}
    return sorted(out | {rows})


def loss_name(task: str) -> str:
    return "log_loss" if task == "binary" else "rmse"


def _loss(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    from oocbench.metrics import task_metrics

    return task_metrics(task, y, pred)[loss_name(task)]


def fit_with_curve(adapter: Any, stream: Any, rows: int, hold: tuple[np.ndarray, np.ndarray]
                   ) -> tuple[list[dict[str, Any]], float, float]:
    """``Adapter.fit``'s own loop (one ``partial_fit`` per batch, stream order) plus the learning curve.

    At each checkpoint, before the next batch is learnt, the model is scored on that batch (prequential,
    test-then-train) and on a fixed holdout subset. Scoring is timed (wall and this process's CPU) so the
    caller subtracts it from fit; the last point is scored after the last batch on the holdout subset only.
    Returns ``(points, scoring wall s, scoring CPU s)``.
    """
    task = adapter.task
    marks = checkpoints(rows, stream.batch_size)
    points: list[dict[str, Any]] = []
    seen, score_wall, score_cpu = 0, 0.0, 0.0
    start = time.perf_counter()

    def score(X: np.ndarray | None, y: np.ndarray | None) -> None:
        nonlocal score_wall, score_cpu
        t, c = time.perf_counter(), time.process_time()
        point: dict[str, Any] = {"rows": seen, "fit_s": t - start - score_wall}
        if X is not None:
            point["prequential_" + loss_name(task)] = _loss(task, y, adapter.predict_batch(X))
            point["prequential_rows"] = len(y)
        point["holdout_" + loss_name(task)] = _loss(task, hold[1], adapter.predict_batch(hold[0]))
        points.append(point)
        score_wall += time.perf_counter() - t
        score_cpu += time.process_time() - c

    pending = list(marks)
    for X, y in stream:
        if pending and seen >= pending[0] and seen > 0:
            while pending and pending[0] <= seen:
                pending.pop(0)
            score(X, y)
        adapter.partial_fit(X, y)
        seen += len(y)
    score(None, None)
    return points, score_wall, score_cpu


def within_final(points: list[dict[str, Any]], key: str, tol: float = WITHIN) -> dict[str, Any] | None:
    """The first checkpoint whose ``key`` loss is within ``tol`` (relative) of the last checkpoint's.

    >>> within_final([{"rows": 1, "fit_s": .1, "l": 2.0}, {"rows": 2, "fit_s": .2, "l": 1.005},
    ...               {"rows": 4, "fit_s": .4, "l": 1.0}], "l")
    {'rows': 2, 'fit_s': 0.2, 'loss': 1.005, 'final': 1.0, 'tolerance': 0.01, 'of': 'l'}
    """
    vals = [p for p in points if p.get(key) is not None and math.isfinite(p[key])]
    if not vals:
        return None
    final = vals[-1][key]
    for p in vals:
        if abs(p[key] - final) <= tol * abs(final):
            return {"rows": p["rows"], "fit_s": p["fit_s"], "loss": p[key], "final": final, "tolerance": tol,
                    "of": key}
    return None


def _holdout_subset(stream: Any, n: int) -> tuple[Any, np.ndarray]:
    from oocbench.features import concat_batches, take_rows

    xs, ys, got = [], [], 0
    for X, y in stream.holdout():
        xs.append(X)
        ys.append(y)
        got += len(y)
        if got >= n:
            break
    return take_rows(concat_batches(xs), n), np.concatenate(ys)[:n]


# ----- the case -----------------------------------------------------------------------------------------
def execute(spec: dict[str, Any], data_root: str, mode: str = "timed") -> dict[str, Any]:
    """Run the case; returns the measurement part of a record (the parent adds identity and provenance)."""
    from oocbench.adapters.base import Adapter
    from oocbench.adapters.registry import get_adapter
    from oocbench.datasets import ShardedDataset
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
    rows = min(spec["scale"], dataset.rows)
    # dense for numeric data, CSR (hashed) or Arrow (raw categoricals) per the adapter's input_formats
    stream = BatchStream.for_adapter(dataset, rows, spec["batch_size"], cls, spec.get("hash_bits"))
    adapter = cls(dataset.task, stream.n_features, profile=spec["profile"], params=dict(spec.get("params") or {}),
                  seed=spec["seed"], threads=spec["threads"], input_format=stream.input_format)
    try:
        out["task"], out["rows"] = dataset.task, rows
        out["adapter_info"] = {**cls.describe(), "hyperparameters": adapter.hyperparameters}
        out["extra"]["features"] = stream.describe()

        t = time.perf_counter()
        adapter.prepare(stream)
        out["timings"]["prepare_s"] = time.perf_counter() - t

        proc = psutil.Process()
        if mode == "memray":
            import memray

            trace = Path(os.environ.get("OOCBENCH_MEMRAY_FILE", f"memray-{os.getpid()}.bin"))
            trace.unlink(missing_ok=True)
            t = time.perf_counter()
            with memray.Tracker(trace, native_traces=True):
                adapter.fit(stream)
            out["timings"]["memray_fit_s"] = time.perf_counter() - t
            out["memory"]["heap_peak_bytes"] = memray.FileReader(trace).metadata.peak_memory
            out["memory"]["heap_covers"] = HEAP_COVERS
            trace.unlink(missing_ok=True)
            return out

        # one pass of reading + features without learning: the data-preparation share of fit, measured apart
        t = time.perf_counter()
        y_sum = sum(float(y.sum()) for _, y in stream)
        out["timings"]["features_s"] = time.perf_counter() - t

        # the default fit loop can be driven here, so the curve comes from the same pass as the timed fit;
        # an adapter with its own reader (VW, TF, dask) cannot be stepped batch by batch from outside
        curve = type(adapter).fit is Adapter.fit
        hold = _holdout_subset(stream, CURVE_HOLDOUT_ROWS) if curve else None  # read before the baseline

        baseline = tree_rss(proc)
        cpu0 = tree_cpu(proc)
        kernel_reset = reset_kernel_hwm()
        with RssSampler() as sampler:
            t = time.perf_counter()
            if curve:
                points, score_wall, score_cpu = fit_with_curve(adapter, stream, rows, hold)
            else:
                adapter.fit(stream)
                points, score_wall, score_cpu = [], 0.0, 0.0
            loop_s = time.perf_counter() - t
            cpu_s = tree_cpu(proc) - cpu0
        hwm = kernel_hwm() if kernel_reset else None
        fit_s = loop_s - score_wall
        out["timings"].update(fit_s=fit_s, fit_cpu_s=max(0.0, cpu_s - score_cpu), curve_s=score_wall)
        out["rows_per_s"] = rows / fit_s if fit_s > 0 else None
        peak = max(sampler.peak, hwm or 0)
        out["memory"].update(rss_baseline_bytes=baseline, rss_peak_bytes=peak, rss_fit_bytes=max(0, peak - baseline),
                             rss_peak_sampled_bytes=sampler.peak, rss_peak_kernel_bytes=hwm,
                             rss_kernel_covers=KERNEL_COVERS if hwm is not None else "", rss_samples=sampler.samples,
                             rss_covers=RSS_COVERS)

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
                "what": ("at log-spaced row counts: prequential loss on the next batch before it is learnt, and loss "
                         f"on the first {len(hold[1]):,} holdout rows; fit_s excludes scoring (subtracted)")}
            out["extra"]["within_1pct_of_final"] = within_final(points, "holdout_" + name)
        else:
            out["extra"]["learning_curve_missing"] = (
                f"{cls.__name__} overrides fit() (its own reader, or a full-batch fit), which oocbench cannot step "
                "batch by batch; "
                "no prequential curve without a checkpoint hook")

        weights = adapter.explain()
        true_coef = dataset.manifest.truth.get("coef")
        if weights is not None and true_coef is not None:
            out["extra"]["coef_cosine"] = _cosine(np.asarray(weights, float).ravel(), np.asarray(true_coef, float))
        return out
    finally:
        adapter.close()


def main(argv: list[str] | None = None) -> int:
    spec_path, out_path = (argv or sys.argv[1:])[:2]
    if parent := os.environ.get("OOCBENCH_PARENT_PID"):
        watch_parent(int(parent))
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
