"""Adapter performance, two parts, side by side in one run.

(a) Harness overhead: for each installed adapter, fit throughput through oocbench (``adapter.fit(stream)``
    in-process, the stream serving the batches from memory) against a plain loop that drives the *same
    library object* directly on the same in-memory batches. Prints ``ratio`` = oocbench rows/s / plain rows/s
    (target >= 0.95), best of ``--repeat`` alternated runs each. Adapters that read the shards themselves
    (dask-ml: workers read Parquet) cannot be fed from memory through oocbench: their ratio includes reading.
(b) Accuracy and speed at scale through the real runner (:func:`oocbench.harness.runner.run_case`, one child process
    per case): ``synth-binary`` at ``--scale`` rows, matched profile, ``--threads 1``. Prints rows/s and log
    loss of every adapter next to the Bayes limit (the manifest's optimum) and ``sklearn.batch``, and for each
    linear adapter whether it is within 5% of ``sklearn.batch``'s log loss.

Usage::

    .venv/bin/python scripts/bench_adapters.py                 # both parts, 10^5 rows for (a), 10^6 for (b)
    .venv/bin/python scripts/bench_adapters.py --part a --rows 200000 --only sklearn.sgd river.linear
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from oocbench import datasets
from oocbench.adapters.registry import discover
from oocbench.features import BatchStream

Batches = list[tuple[np.ndarray, np.ndarray]]


class MemoryStream(BatchStream):
    """A :class:`BatchStream` whose iteration serves batches already in memory (no Parquet read while timed)."""

    def __init__(self, stream: BatchStream, batches: Batches) -> None:
        super().__init__(stream.dataset, stream.rows, stream.batch_size)
        self.batches = batches

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter(self.batches)


# ----- plain loops: the library object the adapter built, driven directly -----------------------------------
def _sklearn_partial(a: Any, batches: Batches) -> None:
    kw = {"classes": np.array([0.0, 1.0])} if a.task == "binary" else {}
    fit = a.model.partial_fit
    for X, y in batches:
        fit(X, y, **kw)


def _sklearn_batch(a: Any, batches: Batches) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    LogisticRegression(C=1.0 / (a.hyperparameters["alpha"] * len(y)), max_iter=100, tol=1e-4).fit(X, y)


def _river_one(a: Any, batches: Batches) -> None:
    learn, names = a.model.learn_one, range(a.n_features)  # column-index keys, as the adapter's dicts
    for X, y in batches:
        for row, target in zip(X.tolist(), (y > 0.5).tolist(), strict=True):
            learn(dict(zip(names, row, strict=True)), target)


def _river_many(a: Any, batches: Batches) -> None:
    import pandas as pd

    m = int(a.hyperparameters["rows_per_step"])  # one learn_many (one SGD step) per rows_per_step rows
    for X, y in batches:
        for i in range(0, len(y), m):
            a.model.learn_many(pd.DataFrame(X[i:i + m], columns=range(X.shape[1]), copy=False),
                               pd.Series(y[i:i + m] > 0.5))


def _vw(a: Any, batches: Batches) -> None:
    """VW's own command line reading VW text from a pipe, written batch after batch (no overlap thread)."""
    import subprocess
    import sys

    from oocbench.adapters.vw import vw_text

    cmd = [sys.executable, "-m", "vowpalwabbit", "-d", "/dev/stdin", *a.model_args.split(), "--quiet"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, close_fds=False)
    with proc.stdin:
        for X, y in batches:
            proc.stdin.write(vw_text(X, y, a.task == "binary"))
    proc.wait()


def _keras(a: Any, batches: Batches) -> None:
    X, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    a.model.fit(X, y, batch_size=len(batches[0][1]), epochs=1, shuffle=False, verbose=0)


def _dask_incremental(a: Any, batches: Batches) -> None:
    import dask.array as da

    X = da.concatenate([da.from_array(b[0]) for b in batches])
    y = da.concatenate([da.from_array(b[1]) for b in batches])
    with a._client.as_current():
        a.model.fit(X, y, classes=np.array([0.0, 1.0]))


def _dask_glm(a: Any, batches: Batches) -> None:
    import dask.array as da
    from dask_ml.linear_model import LogisticRegression

    X = da.concatenate([da.from_array(b[0]) for b in batches])
    y = da.concatenate([da.from_array(b[1]) for b in batches])
    with a._client.as_current():
        LogisticRegression(solver="lbfgs", C=1.0 / (len(batches) * len(batches[0][1]) * 1e-4), max_iter=100,
                           tol=1e-4).fit(X, y)


PLAIN: dict[str, Callable[[Any, Batches], None]] = {
    "sklearn.sgd": _sklearn_partial, "sklearn.passive-aggressive": _sklearn_partial, "sklearn.batch": _sklearn_batch,
    "river.linear": _river_one, "river.hoeffding-tree": _river_one, "river.linear-many": _river_many,
    "vw.linear": _vw, "tf.linear": _keras, "tf.mlp": _keras,
    "dask-ml.incremental": _dask_incremental, "dask-ml.glm": _dask_glm,
}
READS_SHARDS = {"dask-ml.incremental", "dask-ml.glm"}  # their fit reads Parquet in workers whatever the stream


def overhead(names: list[str], rows: int, batch_size: int, repeat: int) -> None:
    ds = datasets.load("synth-binary", rows)
    stream = BatchStream(ds, ds.rows, batch_size)
    batches = list(stream)
    mem = MemoryStream(stream, batches)
    print(f"\n(a) harness overhead: synth-binary n={rows:,} batch {batch_size}, matched, best of {repeat}")
    print(f"{'adapter':28s} {'oocbench rows/s':>16s} {'plain rows/s':>14s} {'ratio':>7s}  note")
    for name in names:
        entry = discover()[name]
        if not entry.installed or name not in PLAIN:
            print(f"{name:28s} {'-':>16s} {'-':>14s} {'-':>7s}  "
                  f"{entry.reason if not entry.installed else 'no plain loop defined'}")
            continue
        best = {"oocbench": float("inf"), "plain": float("inf")}
        for _ in range(repeat):
            for side in ("oocbench", "plain"):  # alternated, so drifting machine load hits both alike
                a = entry.cls("binary", ds.n_features, profile="matched", seed=0, threads="1")
                try:
                    a.prepare(mem)
                    t = time.perf_counter()
                    if side == "oocbench":
                        a.fit(mem)
                    else:
                        PLAIN[name](a, batches)
                    best[side] = min(best[side], time.perf_counter() - t)
                finally:
                    a.close()
        ratio = best["plain"] / best["oocbench"]
        note = "oocbench side reads Parquet in workers" if name in READS_SHARDS else ""
        print(f"{name:28s} {rows / best['oocbench']:16,.0f} {rows / best['plain']:14,.0f} {ratio:7.3f}  {note}")


def at_scale(names: list[str], scale: int, batch_size: int, timeout: float) -> None:
    from oocbench.harness.runner import Limits, run_case
    from oocbench.records import CaseSpec

    ds = datasets.load("synth-binary", scale)
    print(f"\n(b) synth-binary n={scale:,}, matched, --threads 1, batch {batch_size}, through run_case (no memray)")
    print(f"Bayes limit (manifest optimum) log loss {ds.manifest.optimum['log_loss']:.4f}")
    records = {}
    for name in names:
        records[name] = run_case(CaseSpec(name, "synth-binary", scale, "matched", 0, batch_size, "1"),
                                 Limits(timeout_s=timeout), memray=False)
    ref = records.get("sklearn.batch")
    ref_ll = ref.metrics["log_loss"] if ref is not None and ref.status == "ok" else None
    print(f"{'adapter':28s} {'status':8s} {'rows/s':>12s} {'fit s':>8s} {'prep s':>7s} {'log loss':>9s} "
          f"{'vs batch':>9s}  linear within 5% of sklearn.batch?")
    for name, rec in records.items():
        if rec.status != "ok":
            print(f"{name:28s} {rec.status:8s} {rec.reason[:80]}")
            continue
        ll = rec.metrics["log_loss"]
        linear = rec.extra.get("coef_cosine") is not None
        rel = (ll / ref_ll - 1) if ref_ll else None
        verdict = "-" if not linear or rel is None else ("yes" if rel <= 0.05 else "NO")
        print(f"{name:28s} {rec.status:8s} {rec.rows_per_s:12,.0f} {rec.timings.fit_s:8.2f} "
              f"{rec.timings.prepare_s or 0:7.2f} {ll:9.4f} {'' if rel is None else f'{rel:+8.1%}':>9s}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--rows", type=int, default=100_000, help="rows for (a)")
    parser.add_argument("--scale", type=int, default=1_000_000, help="rows for (b)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--only", nargs="*", help="adapter names (default: every registered one)")
    args = parser.parse_args()
    names = args.only or list(discover())
    load = os.getloadavg()
    print(f"{platform.node()}: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.part in ("a", "both"):
        overhead(names, args.rows, args.batch_size, args.repeat)
    if args.part in ("b", "both"):
        at_scale(names, args.scale, args.batch_size, args.timeout)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
