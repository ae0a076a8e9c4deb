"""Issue 13's targets, measured through the real runner (one process per case, no memray). Everything printed
is measured in this run.

(a) ``nonlinear``: every installed adapter on ``synth-nonlinear`` at ``--rows`` (10^6): holdout log loss, the
    gap to the known optimum (the true model's), fit rows/s. Check: every tree adapter beats every linear one.
(b) ``memory``: ``xgboost.external-memory`` against ``xgboost.in-memory`` at ``--big`` rows (10^7) of
    ``--memory-dataset``: RSS growth and anonymous RSS growth during fit, cache on disk, log loss. Checks:
    external RSS growth <= 1/3 of in-memory's (the ratio is printed), log loss within 0.5%.
(c) ``passes``: ``--passes 1`` and ``3`` for sklearn.sgd, vw.linear, tf.linear, dask-ml.incremental on
    ``synth-ctr`` at ``--rows``: the holdout-subset loss after each pass and when. Check: pass 3 <= pass 1.

Usage::

    .venv/bin/python scripts/bench_trees.py                       # all three parts
    .venv/bin/python scripts/bench_trees.py --part memory --big 1e6 --memory-dataset synth-ctr
"""

from __future__ import annotations

import argparse
import sys

from oocbench import config, datasets
from oocbench.adapters.registry import discover
from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseRecord, CaseSpec

TREES = ("xgboost.external-memory", "xgboost.in-memory", "sklearn.hist-gbdt", "lightgbm.gbdt")
NONLINEAR_LEARNERS = TREES + ("river.hoeffding-tree", "tf.mlp")  # not held to "trees beat linear"
PASS_ADAPTERS = ("sklearn.sgd", "vw.linear", "tf.linear", "dask-ml.incremental")
MiB = 2**20


def _run(spec: CaseSpec, timeout: float) -> CaseRecord:
    return run_case(spec, Limits(timeout_s=timeout), memray=False)


def _mib(v: float | None) -> str:
    return "-" if v is None else f"{v / MiB:,.0f}"


def part_nonlinear(rows: int, timeout: float) -> bool:
    datasets.load("synth-nonlinear", rows)
    print(f"\n(a) synth-nonlinear, {rows:,} rows, matched profile, one pass, --threads 1")
    print(f"{'adapter':28} {'status':8} {'log loss':>9} {'gap':>8} {'rows/s':>12}")
    losses: dict[str, float] = {}
    for name, entry in discover().items():
        if not entry.installed:
            print(f"{name:28} not installed: {entry.reason}")
            continue
        r = _run(CaseSpec(name, "synth-nonlinear", rows), timeout)
        loss = r.metrics.get("log_loss")
        gap = (r.extra.get("gap_to_optimum") or {}).get("log_loss")
        if r.status == "ok" and loss is not None:
            losses[name] = loss
        print(f"{name:28} {r.status:8} {loss if loss is not None else float('nan'):9.4f} "
              f"{gap if gap is not None else float('nan'):+8.4f} {r.rows_per_s or 0:12,.0f}"
              + ("" if r.status == "ok" else f"  {r.reason[:80]}"), flush=True)
    trees = {n: v for n, v in losses.items() if n in TREES}
    linear = {n: v for n, v in losses.items() if n not in NONLINEAR_LEARNERS}
    if not trees or not linear:
        print("check: not enough ok cases to compare")
        return False
    worst_tree, best_linear = max(trees.items(), key=lambda kv: kv[1]), min(linear.items(), key=lambda kv: kv[1])
    ok = worst_tree[1] < best_linear[1]
    print(f"check: worst tree {worst_tree[0]} {worst_tree[1]:.4f} < best linear {best_linear[0]} "
          f"{best_linear[1]:.4f}: {'yes' if ok else 'NO'}")
    return ok


def part_memory(rows: int, dataset: str, timeout: float) -> bool:
    datasets.load(dataset, rows)
    print(f"\n(b) {dataset}, {rows:,} rows: XGBoost external memory against in memory (RSS during fit, MiB)")
    print(f"{'adapter':26} {'status':7} {'RSS+':>8} {'anon+':>8} {'cache disk':>10} {'prepare s':>9} {'fit s':>8} "
          f"{'log loss':>9}")
    got: dict[str, CaseRecord] = {}
    for name in ("xgboost.in-memory", "xgboost.external-memory"):
        r = got[name] = _run(CaseSpec(name, dataset, rows), timeout)
        m, t = r.memory, r.timings
        print(f"{name:26} {r.status:7} {_mib(m.rss_fit_bytes):>8} {_mib(m.rss_anon_fit_bytes):>8} "
              f"{_mib(r.extra.get('cache_disk_bytes')):>10} {t.prepare_s or 0:9.1f} {t.fit_s or 0:8.1f} "
              f"{r.metrics.get('log_loss', float('nan')):9.4f}" + ("" if r.status == "ok" else f"  {r.reason[:80]}"),
              flush=True)
    inm, ext = got["xgboost.in-memory"], got["xgboost.external-memory"]
    if inm.status != "ok" or ext.status != "ok":
        print("check: a case failed")
        return False
    ratio = ext.memory.rss_fit_bytes / max(inm.memory.rss_fit_bytes, 1)
    anon = ext.memory.rss_anon_fit_bytes / max(inm.memory.rss_anon_fit_bytes or 1, 1)
    rel = ext.metrics["log_loss"] / inm.metrics["log_loss"] - 1
    print(f"RSS growth ratio external / in-memory: {ratio:.3f} (target <= 0.333); anonymous RSS ratio {anon:.3f}; "
          f"log loss {rel:+.3%} (target within 0.5%)")
    return ratio <= 1 / 3 and abs(rel) <= 0.005


def part_passes(rows: int, timeout: float) -> bool:
    datasets.load("synth-ctr", rows)
    print(f"\n(c) synth-ctr, {rows:,} rows: holdout-subset log loss after each pass (fit seconds at that point)")
    ok = True
    for name in PASS_ADAPTERS:
        entry = discover().get(name)
        if entry is None or not entry.installed:
            print(f"{name:22} not installed")
            continue
        r = _run(CaseSpec(name, "synth-ctr", rows, passes=3), timeout)
        pts = (r.extra.get("checkpoints") or {}).get("points", [])
        by_pass = [p for p in pts if "pass" in p]
        line = "  ".join(f"pass {p['pass']}: {p['holdout_log_loss']:.4f} @{p['fit_s']:.1f}s" for p in by_pass)
        better = len(by_pass) == 3 and by_pass[-1]["holdout_log_loss"] <= by_pass[0]["holdout_log_loss"]
        ok &= better
        print(f"{name:22} {r.status:7} {line}  final {r.metrics.get('log_loss', float('nan')):.4f}  "
              f"pass 3 <= pass 1: {'yes' if better else 'NO'}", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("nonlinear", "memory", "passes"), action="append")
    ap.add_argument("--rows", type=config.parse_scale, default=1_000_000)
    ap.add_argument("--big", type=config.parse_scale, default=10_000_000)
    ap.add_argument("--memory-dataset", default="synth-binary")
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args(argv)
    parts = args.part or ["nonlinear", "memory", "passes"]
    results = {}
    if "nonlinear" in parts:
        results["nonlinear"] = part_nonlinear(args.rows, args.timeout)
    if "memory" in parts:
        results["memory"] = part_memory(args.big, args.memory_dataset, args.timeout)
    if "passes" in parts:
        results["passes"] = part_passes(args.rows, args.timeout)
    print("\n" + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
