"""Wall time of the quick suite and the harness's own overhead per case, as a share of the total.

Runs the ``quick`` suite (every installed adapter x synth-binary, synth-regression x 10^4, 10^5 rows) through
the same ``run_cases`` loop ``oocbench run --suite quick`` uses, in a fresh results directory, and splits each
case's wall time (as the suite loop sees it, from case start to its record being written) into:

- **measured work** inside the timed child: import, prepare, features, fit (with learning-curve scoring),
  evaluate - the phases a record reports;
- **memray run**: the second child process for the heap peak (a measurement, but a cost of its own);
- **harness overhead**: everything else - child interpreter start and oocbench imports (``child_start_s``,
  also shown apart), adapter build/close, out.json, the parent's 50 ms polling, process exit, provenance and
  the record's append + fsync.

Dataset generation is done first, timed and printed apart: it is included in the total wall time and
excluded from the per-case overhead (it happens once per dataset and scale, not per case).

Usage::

    .venv/bin/python scripts/bench_suite.py [--suite quick] [--results DIR] [--no-memray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from oocbench import datasets
from oocbench.harness.runner import Limits
from oocbench.harness.suites import available_datasets, expand, get_suite, run_cases
from oocbench.records import CaseRecord, CaseSpec, append_record


def _work(r: CaseRecord) -> float:
    t = r.timings
    return sum(v or 0.0 for v in (t.import_s, t.prepare_s, t.features_s, t.fit_s, t.curve_s, t.evaluate_s))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="quick")
    p.add_argument("--results", type=Path, default=None, help="default: a fresh temporary directory")
    p.add_argument("--no-memray", action="store_true")
    args = p.parse_args(argv)
    suite = get_suite(args.suite)
    results = args.results or Path(tempfile.mkdtemp(prefix="oocbench-bench-suite-"))
    present, absent = available_datasets(suite)
    print(f"suite {suite.name}: datasets {present} (left out: {absent or 'none'}), scales {list(suite.scales)}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

    t_all = time.perf_counter()
    t = time.perf_counter()
    for d in present:
        for n in suite.scales:
            datasets.load(d, n)
    gen_s = time.perf_counter() - t

    cases = expand(suite)
    walls: dict[str, float] = {}
    starts: dict[str, float] = {}

    def on_start(spec: CaseSpec) -> None:
        starts[spec.key()] = time.perf_counter()

    def on_done(r: CaseRecord | None) -> None:
        if r is not None:
            walls[r.case.key()] = time.perf_counter() - starts[r.case.key()]
            print(f"  {walls[r.case.key()]:6.1f} s  {r.case.label()}: {r.status} {r.reason[:80]}", flush=True)

    errors: list = []
    t = time.perf_counter()
    records = run_cases(cases, results, Limits(), memray=not args.no_memray, force=True, on_start=on_start,
                        on_done=on_done, errors=errors)
    cases_s = time.perf_counter() - t
    total_s = time.perf_counter() - t_all

    # record writing, measured apart: append the suite's own records again to a scratch file (O_APPEND + fsync)
    scratch = Path(tempfile.mkdtemp(prefix="oocbench-append-")) / "records.jsonl"
    t = time.perf_counter()
    for r in records:
        append_record(scratch, r)
    append_each = (time.perf_counter() - t) / max(len(records), 1)
    shutil.rmtree(scratch.parent)

    ran = [r for r in records if r.case.key() in walls]
    wall = sum(walls[r.case.key()] for r in ran)
    work = sum(_work(r) for r in ran)
    memray = sum(r.timings.memray_total_s or 0.0 for r in ran)
    start = sum(r.timings.child_start_s or 0.0 for r in ran)
    over = [walls[r.case.key()] - _work(r) - (r.timings.memray_total_s or 0.0) for r in ran]
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1

    print(f"\n{len(records)} cases ({', '.join(f'{v} {k}' for k, v in sorted(statuses.items()))}); "
          f"harness failures: {len(errors)}")
    print(f"wall time, total:               {total_s:8.1f} s  ({total_s / 60:.1f} min; under 10 min: "
          f"{'yes' if total_s < 600 else 'NO'})")
    print(f"  dataset generation:           {gen_s:8.1f} s  (once per dataset x scale; not in per-case figures)")
    print(f"  cases:                        {cases_s:8.1f} s")
    print(f"per case, summed over {len(ran)} cases ({wall:.1f} s):")
    print(f"  measured work (phases):       {work:8.1f} s  {work / wall:6.1%}")
    print(f"  memray run (heap peak):       {memray:8.1f} s  {memray / wall:6.1%}")
    print(f"  harness overhead:             {sum(over):8.1f} s  {sum(over) / wall:6.1%}  "
          f"(median {statistics.median(over):.2f} s per case)")
    print(f"    of which child start:       {start:8.1f} s  {start / wall:6.1%}  "
          f"(interpreter + oocbench imports, timed child only)")
    print(f"    of which record writing:    {append_each * len(ran):8.3f} s  "
          f"{append_each * len(ran) / wall:6.2%}  ({append_each * 1e3:.2f} ms per record, append + fsync)")
    print(f"records: {results}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
