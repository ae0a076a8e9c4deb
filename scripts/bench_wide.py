"""Wide categorical data (synth-ctr): each adapter against a plain loop calling its library, and every adapter
at 10^6 rows through the real runner. Everything printed is measured in this run.

(a) Throughput ratio, in one process, alternating sides (``--repeat`` rounds, medians):

    oocbench   ``adapter.fit(stream)``, exactly what a case times as ``fit_s``: reading the shards and
               building the features (hashed CSR, or Arrow for libraries that take raw categoricals) inside it;
    plain      the loop a user would write with the library on the same data: the same stream's batches
               (read + hashed alike) fed to the same library calls, built from the adapter's own
               hyperparameters, with no oocbench adapter in between.

    ``ratio = oocbench rows/s / plain rows/s`` (target >= 0.5 for the adapters that feed their library from
    Python). Two reference columns, same run: ``features`` (one pass of the stream alone: reading + hashing)
    and ``library`` (the plain loop on batches already in memory: the library's own speed).

(b) ``synth-ctr`` at ``--scale`` rows, every adapter through :func:`oocbench.harness.runner.run_case` (own process, no
    memray): status, fit rows/s, ``prepare + fit`` rows/s, RSS growth during fit, log loss against the constant
    predictor and the known optimum, and the checks of issue 12 (RSS growth <= 256 MiB for streaming adapters,
    linear adapters beat the constant predictor, sklearn.sgd / vw.linear / dask-ml.incremental within 2%).

Usage::

    .venv/bin/python scripts/bench_wide.py        # (a) and (b) at 10^6 rows (the per-row tree: (a) at 10^5)
    .venv/bin/python scripts/bench_wide.py --part a --rows 2e5 --only sklearn.sgd river.linear
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from oocbench import config, datasets
from oocbench.adapters.registry import discover
from oocbench.features import BatchStream

DATASET = "synth-ctr"
Batches = Iterable[tuple[Any, np.ndarray]]  # the stream itself, or its batches in memory
CLASSES = np.array([0.0, 1.0])


# ----- plain loops: what a user of the library writes, on batches already in memory --------------------------
def _sgd_params(a: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The adapter's effective hyperparameters that SGDClassifier itself takes (its intercept left at sklearn's
    default: the plain loop pays no constant column)."""
    from sklearn.linear_model import SGDClassifier

    known = set(SGDClassifier().get_params()) - {"loss", "fit_intercept", "random_state", *exclude}
    return {k: v for k, v in a.hyperparameters.items() if k in known}


def _sklearn_sgd(a: Any, batches: Batches) -> None:
    """SGDClassifier(log_loss, same params).partial_fit(X, y) per batch"""
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", random_state=0, **_sgd_params(a))
    for X, y in batches:
        model.partial_fit(X, y, classes=CLASSES)


def _sklearn_pa(a: Any, batches: Batches) -> None:
    """SGDClassifier(hinge, pa1, same params).partial_fit(X, y) per batch"""
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="hinge", random_state=0, **_sgd_params(a, ("epsilon",)))
    for X, y in batches:
        model.partial_fit(X, y, classes=CLASSES)


def _dask_incremental(a: Any, batches: Batches) -> None:
    """the SGDClassifier Incremental wraps, partial_fit per batch (no dask)"""
    _sklearn_sgd(a, batches)


def _vw(a: Any, batches: Batches) -> None:
    """VW's CLI reading VW text (the adapter's formatter) from a pipe, written batch after batch"""
    import subprocess
    import sys

    from oocbench.adapters.vw import vw_text

    cats = a.categorical or frozenset()  # set by prepare(stream)
    cmd = [sys.executable, "-m", "vowpalwabbit", "-d", "/dev/stdin", *a.model_args.split(), "--quiet"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, close_fds=False)
    with proc.stdin:
        for X, y in batches:
            proc.stdin.write(vw_text(X, y, True, cats))
    if proc.wait():
        raise RuntimeError(f"VW exited with {proc.returncode}")


def _river_linear(a: Any, batches: Batches) -> None:
    """river LogisticRegression(same schedule, l2).learn_one({column: value} of the row's non-zeros) per row"""
    from river import linear_model, optim

    hp = a.hyperparameters
    schedule = optim.schedulers.InverseScaling(hp["eta0"], hp["power_t"])
    model = linear_model.LogisticRegression(optim.SGD(schedule), intercept_lr=schedule, l2=hp["alpha"])
    for X, y in batches:
        ind, val, ptr = X.indices.tolist(), X.data.tolist(), X.indptr.tolist()
        for i, target in enumerate((y > 0.5).tolist()):
            lo, hi = ptr[i], ptr[i + 1]
            model.learn_one({k: v for k, v in zip(ind[lo:hi], val[lo:hi], strict=True) if v}, target)


def _river_many(a: Any, batches: Batches) -> None:
    """river LogisticRegression(per-step rate).learn_many(frame of the non-zero columns) per rows_per_step rows"""
    import pandas as pd
    from river import linear_model, optim

    hp = a.hyperparameters
    schedule = optim.schedulers.InverseScaling(hp["step_eta0"], hp["power_t"])
    model = linear_model.LogisticRegression(optim.SGD(schedule), intercept_lr=schedule, l2=hp["alpha"])
    m = hp["rows_per_step"]
    for X, y in batches:
        X = X.copy()
        X.eliminate_zeros()
        for i in range(0, X.shape[0], m):
            part = X[i:i + m]
            cols = np.unique(part.indices)
            model.learn_many(pd.DataFrame(part[:, cols].toarray(), columns=cols), pd.Series(y[i:i + m] > 0.5))


def _river_tree(a: Any, batches: Batches) -> None:
    """river HoeffdingTreeClassifier(same params, categoricals nominal).learn_one(Arrow row as dict) per row"""
    import pyarrow as pa
    from river import tree

    model = None
    for X, y in batches:
        if model is None:
            nominal = [f.name for f in X.schema if not pa.types.is_floating(f.type)]
            settings = {**type(a).profiles["matched"], **type(a).sparse_profiles.get("matched", {})}
            model = tree.HoeffdingTreeClassifier(**settings, nominal_attributes=nominal)
        for row, target in zip(X.to_pylist(), (y > 0.5).tolist(), strict=True):
            model.learn_one(row, target)


def _keras(a: Any, batches: Batches) -> None:
    """the adapter's compiled Keras model, train_on_batch(tf.SparseTensor of the CSR batch, y) per batch"""
    import math

    import tensorflow as tf

    from oocbench.adapters.tensorflow import coo

    first = True
    for X, y in batches:
        if first and a.hyperparameters.get("output_bias_init") == "first_batch":  # as the model is specified
            pos = float(y.sum())
            a.model.layers[-1].bias.assign([math.log((pos + 0.5) / (len(y) - pos + 0.5))])
        first = False
        a.model.train_on_batch(tf.SparseTensor(*coo(X), np.array(X.shape, dtype=np.int64)), y)


PLAIN: dict[str, Callable[[Any, Batches], None]] = {
    "tf.linear": _keras,
    "tf.mlp": _keras,
    "river.linear": _river_linear,
    "river.linear-many": _river_many,
    "river.hoeffding-tree": _river_tree,
    "vw.linear": _vw,
    "sklearn.sgd": _sklearn_sgd,
    "sklearn.passive-aggressive": _sklearn_pa,
    "dask-ml.incremental": _dask_incremental,
}


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _measure(cls: type, plain: Callable[[Any, Batches], None], stream: BatchStream, repeat: int) -> dict[str, float]:
    """Median seconds of each side, the sides alternated so drifting machine load hits them alike."""
    batches = list(stream)  # for the library-only column, materialised before any timing
    times: dict[str, list[float]] = {"oocbench": [], "plain": [], "features": [], "library": []}
    for _ in range(repeat):
        times["features"].append(_timed(lambda: sum(len(y) for _, y in stream)))
        for side, run in (("oocbench", lambda a: a.fit(stream)), ("plain", lambda a: plain(a, stream)),
                          ("library", lambda a: plain(a, batches))):
            a = cls("binary", stream.n_features, seed=0, threads="1", input_format=stream.input_format)
            try:
                a.prepare(stream)
                times[side].append(_timed(lambda a=a, run=run: run(a)))
            finally:
                a.close()
    return {k: statistics.median(v) for k, v in times.items()}


def ratios(names: list[str], rows: int, batch_size: int, repeat: int, rows_for: dict[str, int]) -> None:
    print(f"\n(a) {DATASET}, batch {batch_size}, matched, threads 1: median of {repeat} alternated runs")
    print(f"{'adapter':28s} {'rows':>9s} {'format':6s} {'oocbench':>10s} {'plain':>10s} {'ratio':>6s} "
          f"{'features':>10s} {'library':>10s}  (rows/s) plain loop")
    for name in names:
        entry = discover()[name]
        if not entry.installed or name not in PLAIN:
            why = entry.reason if not entry.installed else "in-memory reference, or full-batch / skipped here"
            print(f"{name:28s} {'-':>9s} {'-':6s} {'-':>10s} {'-':>10s} {'-':>6s} {'-':>10s} {'-':>10s}  {why}")
            continue
        n = rows_for.get(name, rows)
        stream = BatchStream.for_adapter(datasets.load(DATASET, n), n, batch_size, entry.cls)
        rate = {k: n / v for k, v in _measure(entry.cls, PLAIN[name], stream, repeat).items()}
        doc = (PLAIN[name].__doc__ or PLAIN[name].__name__).strip().splitlines()[0]
        print(f"{name:28s} {n:9,} {stream.input_format:6s} {rate['oocbench']:10,.0f} {rate['plain']:10,.0f} "
              f"{rate['oocbench'] / rate['plain']:6.2f} {rate['features']:10,.0f} {rate['library']:10,.0f}  {doc}")


STREAMING_EXEMPT = {"sklearn.batch"}  # the in-memory reference: holds the data by design
AGREE = ("sklearn.sgd", "vw.linear", "dask-ml.incremental")
LINEAR = {"sklearn.sgd", "sklearn.passive-aggressive", "sklearn.batch", "vw.linear", "river.linear",
          "river.linear-many", "dask-ml.incremental", "dask-ml.glm", "tf.linear"}


def at_scale(names: list[str], scale: int, batch_size: int, timeout: float) -> None:
    from oocbench.harness.runner import Limits, run_case
    from oocbench.records import CaseSpec

    ds = datasets.load(DATASET, scale)
    opt = ds.manifest.optimum["log_loss"]
    print(f"\n(b) {DATASET} n={scale:,}, matched, threads 1, batch {batch_size}, run_case each (no memray); "
          f"known optimum log loss {opt:.4f}")
    print(f"{'adapter':28s} {'status':8s} {'format':6s} {'fit rows/s':>11s} {'prep+fit rows/s':>15s} "
          f"{'RSS +MiB':>9s} {'log loss':>9s} {'constant':>9s}  checks")
    records = {}
    for name in names:
        rec = run_case(CaseSpec(name, DATASET, scale, batch_size=batch_size), Limits(timeout_s=timeout),
                       memray=False)
        records[name] = rec
        if rec.status != "ok":
            print(f"{name:28s} {rec.status:8s} {rec.reason[:110]}")
            continue
        t = rec.timings
        both = scale / ((t.prepare_s or 0.0) + t.fit_s)
        mib = (rec.memory.rss_fit_bytes or 0) / 2**20
        ll, const = rec.metrics["log_loss"], rec.baseline["log_loss"]
        checks = []
        if name not in STREAMING_EXEMPT:
            checks.append(f"RSS {'ok' if mib <= 256 else 'OVER 256'}")
        if name in LINEAR:
            checks.append("beats constant" if ll < const else "NOT BETTER THAN CONSTANT")
        fmt = rec.extra.get("features", {}).get("input_format", "-")
        print(f"{name:28s} {rec.status:8s} {fmt:6s} {rec.rows_per_s:11,.0f} {both:15,.0f} {mib:9.1f} {ll:9.4f} "
              f"{const:9.4f}  {', '.join(checks)}")
    have = {n: records[n].metrics["log_loss"] for n in AGREE if n in records and records[n].status == "ok"}
    if len(have) >= 2:
        spread = max(have.values()) / min(have.values()) - 1
        print(f"log loss spread of {', '.join(have)}: {spread:.2%} ({'within' if spread <= 0.02 else 'OVER'} 2%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--rows", type=config.parse_scale, default=1_000_000, help="rows for (a)")
    parser.add_argument("--rows-for", nargs="*", default=["river.hoeffding-tree=1e5"], metavar="NAME=ROWS",
                        help="(a) rows for one adapter (default: the per-row tree at 10^5: ~8k rows/s)")
    parser.add_argument("--scale", type=config.parse_scale, default=1_000_000, help="rows for (b)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="per case in (b): the runner's default")
    parser.add_argument("--only", nargs="*", help="adapter names (default: every registered one)")
    args = parser.parse_args()
    names = args.only or list(discover())
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.part in ("a", "both"):
        rows_for = {k: config.parse_scale(v) for k, v in (item.split("=", 1) for item in args.rows_for)}
        ratios(names, args.rows, args.batch_size, args.repeat, rows_for)
    if args.part in ("b", "both"):
        at_scale(names, args.scale, args.batch_size, args.timeout)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
