"""Memory-scaling exponent of an out-of-core learner against an in-memory one, through the real runner.

Runs ``sklearn.sgd`` (partial_fit, one batch in memory at a time) and ``sklearn.batch`` (LogisticRegression
on every row held in RAM) on ``synth-binary`` at 10^5, 10^6 and 10^7 rows, each case in its own child process
(with the separate memray run), and prints the slope of log(peak memory during fit) vs log(rows) for each
memory figure: about 0 = out-of-core, about 1 = the data is held in memory.

Usage::

    .venv/bin/python scripts/bench_memory_scaling.py [--scales 1e5,1e6,1e7] [--results DIR] [--force]

Dataset generation is timed and printed apart (it is not part of any case).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from oocbench import config, datasets
from oocbench.analysis import fit_memory, memory_scaling_exponent
from oocbench.harness.runner import Limits
from oocbench.harness.suites import run_cases
from oocbench.records import CaseRecord, CaseSpec

FIGURES = {
    "rss_fit (tree RSS growth during fit)": lambda r: r.memory.rss_fit_bytes,
    "heap_peak (memray, separate run)": lambda r: r.memory.heap_peak_bytes,
    "fit_memory (larger of the two)": fit_memory,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", default="1e5,1e6,1e7")
    p.add_argument("--adapters", default="sklearn.sgd,sklearn.batch")
    p.add_argument("--dataset", default="synth-binary")
    p.add_argument("--results", type=Path, default=Path("results/memory-scaling"))
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    scales = [config.parse_scale(s) for s in args.scales.split(",")]
    adapters = args.adapters.split(",")

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared machines skew times, "
          "not memory)")
    for n in scales:
        t = time.perf_counter()
        ds = datasets.load(args.dataset, n)
        print(f"data {args.dataset} n={n:,}: {ds.rows:,} rows ready in {time.perf_counter() - t:.1f} s")

    cases = [CaseSpec(adapter=a, dataset=args.dataset, scale=n) for a in adapters for n in scales]
    t = time.perf_counter()
    records: list[CaseRecord] = run_cases(cases, args.results, Limits(timeout_s=args.timeout), force=args.force,
                                          on_done=lambda r: r and print(f"  {r.case.label()}: {r.status} "
                                                                        f"{r.reason}".rstrip(), flush=True))
    print(f"cases: {time.perf_counter() - t:.1f} s wall (records in {args.results})")

    print(f"\n{'adapter':<14} {'rows':>12} {'status':<8} {'rss_fit MiB':>12} {'heap MiB':>10} {'rows/s':>12}")
    for r in records:
        mib = lambda v: f"{v / 2**20:.1f}" if v else "-"  # noqa: E731
        rate = f"{r.rows_per_s:,.0f}" if r.rows_per_s else "-"
        print(f"{r.case.adapter:<14} {r.case.scale:>12,} {r.status:<8} {mib(r.memory.rss_fit_bytes):>12} "
              f"{mib(r.memory.heap_peak_bytes):>10} {rate:>12}")
    print("\nmemory-scaling exponent (slope of log memory vs log rows; ~0 out-of-core, ~1 in memory):")
    for a in adapters:
        ok = [r for r in records if r.case.adapter == a and r.status == "ok"]
        parts = []
        for label, fn in FIGURES.items():
            e = memory_scaling_exponent((r.case.scale, fn(r)) for r in ok)
            parts.append(f"{label}: {'-' if e is None else f'{e:.3f}'}")
        print(f"  {a} ({len(ok)}/{len(scales)} scales ok): " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
