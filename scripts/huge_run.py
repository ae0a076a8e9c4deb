"""The larger-than-RAM run (not CI): generate a ``huge`` synth-binary whose Parquet outgrows RAM, then stream it.

Usage::

    .venv/bin/python scripts/huge_run.py                     # the real run: rows from RAM (see below)
    .venv/bin/python scripts/huge_run.py --rows 2e5 --adapters sklearn.sgd,sklearn.batch --memory-limit 30%
    # the scale series on wide categorical data that reports/huge publishes (see the README for its figures):
    .venv/bin/python scripts/huge_run.py --dataset synth-ctr --codec plain --rows 1e6,1e7,1e8 --ram-factor 1.05 \
        --adapters series --budget 480 --xgb-rounds 10 --timeout 1800 --data data/huge-ctr --results results/huge-ctr

A series (several ``--rows``, plus the ``--ram-factor`` scale) runs scale by scale, smallest first, so that
``--budget`` (the harness's per-case time budget) can skip a case projected past it from the same adapter one
scale down: it is recorded ``skipped`` with the projection, never silently left out. ``--codec plain`` writes
the Parquet without compression or dictionary encoding (``$OOCBENCH_PARQUET_COMPRESSION``): the files are as
large as the decoded columns, so "larger than RAM" is true of the data a reader decodes, not only of the files.

What it does, in order, printing every figure the README needs:

1. **sizes the data**: ``synth-binary`` as in every other suite (20 float32 features + target, uncompressed:
   random floats do not compress), so the huge run is the same dataset and optimum as the small scales, only
   longer: 84 B/row (measured on a sample written with the same writer, and printed). The default is the
   ``huge`` scale, 3.4e8 rows = 28.6 GB of Parquet, 1.13x this project's 24 GB machine; ``--ram-factor F``
   sizes it to F x this machine's RAM instead (whole 2^20-row shards);
2. **checks free disk** (shutil.disk_usage) for what is still to be written, plus 5% headroom, and refuses
   with exit code 2 and a clear message if there is not enough;
3. **generates** it (resumable: a killed generation keeps its finished shards; a complete dataset is reused)
   and prints the time and MB/s;
4. **runs each adapter** through the real isolated runner (its own child process, time and memory limits;
   ``--memory-limit`` is the cap, in the unit ``oocbench run`` takes (``50%`` of RAM by default, or ``12GiB``) so the deliberate ``sklearn.batch`` OOM
   is killed with half the machine still free), without the memray run (a second full pass, and memray slows
   code 1.1-3x), appending records to ``results/huge/records.jsonl``; a case already recorded there is kept
   (rerun to resume), a crash of one case never stops the others;
5. **prints a table**: status, wall time, rows/s, peak RSS of the process tree during fit as % of RAM (target
   < 10% for the streaming adapters), RSS growth during fit, and the disk the dataset uses.

Adapters left out by default, with the reason printed: ``river.linear`` and ``river.hoeffding-tree`` (one
Python call per row, ~70k rows/s: > 1 h at 3e8 rows), ``dask-ml.glm`` (full-batch L-BFGS: every iteration re-reads the whole dataset from disk, up to 100 passes),
``tf.mlp`` (same input pipeline as ``tf.linear``, slower). ``--adapters`` runs any of them anyway.

Disk and time for the default run on the project's machine type (2 cores, 24 GB RAM): about 29 GB of disk;
generation at the bench's ~100-200 MB/s on 2 cores is 3-5 min, then per case one features pass plus one fit
pass over 28 GB read from disk (the page cache cannot hold it): roughly 5-10 min for sklearn.sgd and
river.linear-many, 10-15 min for dask-ml.incremental, 20-40 min for tf.linear, 1-2 min until sklearn.batch
reaches the cap: about 1-1.5 h in all. Measure, don't trust this estimate: the script prints the real figures.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

SHARD_ROWS = 1 << 20
DEFAULT_ADAPTERS = ("sklearn.sgd", "vw.linear", "dask-ml.incremental", "river.linear-many", "tf.linear",
                    "sklearn.batch")
#: ``--adapters series``: every streaming adapter, XGBoost's external memory, and the in-memory learners that
#: must end ``oom`` past RAM (a budget skips what would not finish in time, with the projection recorded)
SERIES_ADAPTERS = ("sklearn.sgd", "vw.linear", "dask-ml.incremental", "tf.linear", "tf.mlp", "river.linear-many",
                   "river.linear", "river.hoeffding-tree", "xgboost.external-memory", "sklearn.batch", "lightgbm.gbdt")
EXCLUDED = {
    "river.linear": "one learn_one call per row (~70k rows/s): over an hour at this scale",
    "river.hoeffding-tree": "one learn_one call per row: over an hour at this scale",
    "dask-ml.glm": "full-batch L-BFGS: every iteration re-reads all the data from disk (up to 100 passes)",
    "tf.mlp": "the same tf.data pipeline as tf.linear, only slower: tf.linear shows the pipeline's cost",
    "sklearn.passive-aggressive": "the same partial_fit path as sklearn.sgd",
    "xgboost.in-memory": "the in-memory control of xgboost.external-memory, as slow per round; lightgbm.gbdt shows "
                         "where a learner that holds every row ends oom",
    "sklearn.hist-gbdt": "dense input only (skipped on categorical data)",
}
IN_MEMORY = ("sklearn.batch", "lightgbm.gbdt", "xgboost.in-memory", "sklearn.hist-gbdt")
STREAMING_TARGET = 0.10  # peak RSS of a streaming adapter as a fraction of RAM


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def bytes_per_row(name: str, sample_rows: int = 200_000) -> float:
    """Training bytes per row of the dataset as written (measured on a sample, same writer and layout)."""
    from oocbench import datasets

    with tempfile.TemporaryDirectory(prefix="oocbench-huge-sample-") as tmp:
        ds = datasets.generate(name, sample_rows, base=tmp, workers=1)
        return sum(s.bytes for s in ds.manifest.shards) / ds.rows


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def existing_root(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synth-binary", help="synthetic dataset (default synth-binary)")
    p.add_argument("--rows", default=None,
                   help="training rows or scale names, comma-separated for a series (default huge = 3.4e8, or "
                        "none with --ram-factor)")
    p.add_argument("--ram-factor", type=float, default=None,
                   help="one more scale: Parquet size as a multiple of this machine's RAM (e.g. 1.05)")
    p.add_argument("--codec", default=None, choices=("none", "snappy", "zstd", "plain"),
                   help="Parquet codec to write with (plain: no codec, no dictionary; default: the dataset's own)")
    p.add_argument("--adapters", default=",".join(DEFAULT_ADAPTERS),
                   help="comma-separated adapters, or 'series' for " + ",".join(SERIES_ADAPTERS))
    p.add_argument("--budget", type=float, default=None,
                   help="per-case time budget (s): a case projected past it from one scale down is recorded skipped (0: none)")
    p.add_argument("--xgb-rounds", type=int, default=None,
                   help="boosting rounds of the xgboost adapters (default: their profile's 100)")
    p.add_argument("--data", type=Path, default=Path("data/huge"), help="data directory (default data/huge)")
    p.add_argument("--results", type=Path, default=Path("results/huge"), help="records (default results/huge)")
    p.add_argument("--timeout", type=float, default=3 * 3600.0, help="seconds per case (default 3 h)")
    p.add_argument("--memory-limit", default="50%",
                   help="per-case cap on process-tree RSS, as `oocbench run --memory-limit` takes it: 50%% (of RAM, "
                        "the default), 12GiB, or GiB")
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--force", action="store_true", help="rerun cases already in the records")
    args = p.parse_args(argv)

    from oocbench.adapters.registry import get_entry

    ram = psutil.virtual_memory().total
    name = args.dataset
    if args.codec:  # the generator and the size sample below both read it
        os.environ["OOCBENCH_PARQUET_COMPRESSION"] = args.codec
    adapters = list(SERIES_ADAPTERS) if args.adapters == "series" else [
        a.strip() for a in args.adapters.split(",") if a.strip()]
    from oocbench.adapters.registry import UnknownAdapterError

    try:
        for a in adapters:
            get_entry(a)  # unknown names fail here, before hours of work
    except UnknownAdapterError as exc:
        print(f"huge_run: {exc}", file=sys.stderr)
        return 2
    from oocbench.config import parse_memory

    try:
        parse_memory(args.memory_limit, ram)  # a typo fails here, before hours of generation
    except ValueError as exc:
        p.error(str(exc))
    bpr = bytes_per_row(name)
    from oocbench.config import parse_scale

    scales = [parse_scale(r) for r in (args.rows or ("" if args.ram_factor else "huge")).split(",") if r.strip()]
    if args.ram_factor:
        scales.append(math.ceil(args.ram_factor * ram / bpr / SHARD_ROWS) * SHARD_ROWS)
    scales = sorted(set(scales))
    print(f"machine: {psutil.cpu_count()} cores, RAM {gib(ram)}; {name}: {bpr:.1f} B/row on disk (measured"
          + (f", codec {args.codec})" if args.codec else ")"))
    for rows in scales:
        expected = rows * bpr
        print(f"rows: {rows:,} -> training Parquet {gib(expected)} = {expected / ram:.2f}x RAM"
              + ("  LARGER THAN RAM" if expected > ram else ""))
    for adapter, why in EXCLUDED.items():
        if adapter not in adapters:
            print(f"excluded: {adapter}: {why}")
    datasets_ = [generate(name, rows, bpr, args.data) for rows in scales]
    if any(d is None for d in datasets_):
        return 2
    return run(args, name, adapters, datasets_, ram)


def generate(name: str, rows: int, bpr: float, data: Path):
    """The dataset at ``rows``: reused when complete, else generated (disk checked first); ``None``: refused."""
    from oocbench import datasets

    expected = rows * bpr

    # ---- disk -----------------------------------------------------------------------------------------
    data = data.absolute()
    root = datasets.dataset_root(name, rows, 0, data)
    complete = (root / "manifest.json").exists()
    partial = root.with_name(root.name + ".partial")
    written = dir_bytes(root) if complete else dir_bytes(partial)
    need = 0 if complete else max(0.0, expected * 1.05 + 64 * 2**20 - written)  # + holdout, 5% headroom
    free = shutil.disk_usage(existing_root(data)).free
    print(f"disk: {gib(free)} free at {existing_root(data)}; still to write {gib(need)}"
          + (f" ({gib(written)} already there)" if written else ""))
    if need > free:
        print(f"REFUSED: not enough disk: {gib(need)} needed, {gib(free)} free. Free space, or pass --data on a "
              f"bigger disk, or fewer --rows.", file=sys.stderr)
        return None

    # ---- generate -------------------------------------------------------------------------------------
    if complete:
        ds = datasets.ShardedDataset(root)
        print(f"generate: reusing the complete dataset at {root}")
    else:
        state = {"done": 0, "last": time.monotonic()}
        t0 = time.monotonic()

        def progress(n: int) -> None:
            state["done"] += n
            if time.monotonic() - state["last"] > 30:
                state["last"] = time.monotonic()
                el = time.monotonic() - t0
                print(f"  generated {state['done']:,}/{rows:,} rows ({state['done'] / rows:.0%}) in {el:.0f} s",
                      flush=True)

        ds = datasets.generate(name, rows, 0, base=data, progress=progress)
        took = time.monotonic() - t0
        made = sum(s.bytes for s in ds.manifest.shards) - written
        print(f"generate: {ds.rows:,} rows in {took:.0f} s: {made / 1e6 / took:.0f} MB/s, "
              f"{ds.rows / took / 1e6:.2f}M rows/s" + (f" (resumed: {gib(written)} were already written)"
                                                       if written else ""))
    on_disk = dir_bytes(ds.root)
    ram = psutil.virtual_memory().total
    print(f"dataset: {ds.root}: {len(ds.manifest.shards)} shards, {gib(on_disk)} on disk "
          f"({on_disk / ram:.2f}x RAM)", flush=True)
    return ds


def run(args: argparse.Namespace, name: str, adapters: list[str], data: list, ram: int) -> int:
    """Every adapter at every scale, smallest scale first (what --budget projects from), then the table."""
    from oocbench.config import parse_memory
    from oocbench.harness.runner import Limits
    from oocbench.harness.suites import run_cases
    from oocbench.records import RECORDS_FILE, CaseSpec

    args.data = args.data.absolute()
    os.environ["OOCBENCH_DATA_DIR"] = str(args.data)  # the runner loads the dataset from there (no generation)
    cap = parse_memory(args.memory_limit, ram)
    limits = Limits(timeout_s=args.timeout, memory_bytes=cap, budget_s=args.budget or None)  # 0: none, as oocbench run --budget 0
    print(f"cases: {', '.join(adapters)}; timeout {args.timeout:.0f} s; memory cap {gib(cap)} "
          f"({cap / ram:.0%} of RAM)" + (f"; budget {args.budget:.0f} s per case" if args.budget else "")
          + (f"; xgboost: {args.xgb_rounds} rounds" if args.xgb_rounds else "")
          + f"; records -> {args.results / RECORDS_FILE}", flush=True)

    def params(adapter: str) -> tuple:
        return (("num_boost_round", args.xgb_rounds),) if args.xgb_rounds and adapter.startswith("xgboost.") else ()

    cases = [CaseSpec(adapter=a, dataset=name, scale=ds.rows, batch_size=args.batch_size, params=params(a))
             for ds in data for a in adapters]
    failed: list = []

    def started(spec) -> None:
        print(f"  running {spec.adapter} at {spec.scale:,} rows ...", flush=True)

    records = run_cases(cases, args.results, limits, memray=False, force=args.force, on_start=started,
                        errors=failed)
    # ---- report ---------------------------------------------------------------------------------------
    print()
    print(f"{'adapter':<26} {'rows':>12} {'status':<8} {'wall s':>8} {'fit s':>8} {'rows/s':>10} {'peak RSS':>10} "
          f"{'% RAM':>6} {'RSS +fit':>10}  note")
    for r in records:
        mem = r.memory
        peak = mem.rss_peak_bytes
        pct = peak / ram if peak else None
        streaming = r.case.adapter not in IN_MEMORY
        if r.status == "ok":
            note = ("< 10% RAM: yes" if pct is not None and pct < STREAMING_TARGET else "< 10% RAM: NO") \
                if streaming else "in-memory fit, ok: the data fits under the cap at this size"
        else:
            note = r.reason[:90]
        print(f"{r.case.adapter:<26} {r.case.scale:>12,} {r.status:<8} {r.timings.total_s or 0:>8.0f} "
              f"{(r.timings.fit_s or 0):>8.0f} {(r.rows_per_s or 0) / 1e6:>9.2f}M "
              f"{(gib(peak) if peak else '-'):>10} {(f'{pct:.1%}' if pct else '-'):>6} "
              f"{(gib(mem.rss_fit_bytes) if mem.rss_fit_bytes is not None else '-'):>10}  {note}")
    for spec, why in failed:
        print(f"HARNESS FAILURE (not recorded; rerun retries it): {spec.adapter}: {why}")
    on_disk = sum(dir_bytes(ds.root) for ds in data)
    print(f"\ndisk used by the data: {gib(on_disk)}; records: {args.results / RECORDS_FILE}")
    print(f"report: .venv/bin/oocbench report --results {args.results} --out reports/huge")
    for r in records:
        if r.case.adapter in IN_MEMORY and r.status != "oom" and r.case.scale * 100 > cap:  # >100 B/row past the cap
            print(f"NOTE: {r.case.adapter} at {r.case.scale:,} rows ended {r.status}, not oom: {r.reason[:120]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
