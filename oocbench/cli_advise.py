"""``oocbench advise FILE --target COL``: which library for the user's own file at the user's own size.

Builds the dataset from the file (the ``generate --from-file`` path: prefixes, read only as far as a rung
needs), runs a ladder of prefix scales for the candidate adapters with their ``recommended`` profiles within
``--hours`` (:mod:`oocbench.harness.ladder`), projects each adapter to ``--rows`` (:mod:`oocbench.advice`) and
prints the recommendation and a table, then writes the page (:mod:`oocbench.reports.advice_page`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

#: the candidates when --adapters is not given: each library's main learner (river's trees and the in-memory
#: scikit-learn batch solver take hours at 10^6 rows; name them to include them)
CANDIDATES = ("sklearn.sgd", "vw.linear", "river.linear", "tf.linear", "dask-ml.incremental", "lightgbm.gbdt",
              "xgboost.external-memory", "sklearn.hist-gbdt")


def add_parser(sub, where, memory, positive) -> None:
    """The ``advise`` subcommand's options (``where``, ``memory``, ``positive``: the CLI's argparse types)."""
    a = sub.add_parser("advise", help="which library for your own file at your size: a ladder of prefixes "
                                      "measured, each adapter projected (with ranges) to the full size")
    a.add_argument("file", type=Path, help="your CSV (.gz) or Parquet file")
    a.add_argument("--target", required=True, help="the label column")
    a.add_argument("--task", choices=("binary", "regression"), default=None,
                   help="when inferring it from the target column is not what you mean")
    a.add_argument("--rows", type=_rows, default=None,
                   help="the full size to plan for, e.g. 2e9 (default: the file's own training rows)")
    a.add_argument("--ram", type=memory, default=None, help="RAM of the machine you will train on (default: this "
                                                            "one's), e.g. 64G")
    a.add_argument("--cores", type=positive(int), default=None, help="its cores (default: this machine's)")
    a.add_argument("--hours", type=positive(float), default=0.5, help="time for the ladder (default 0.5)")
    a.add_argument("--adapters", default=None, help="comma-separated candidates (default: " + ", ".join(CANDIDATES)
                   + ", those installed)")
    a.add_argument("--ladder", default=None, help="comma-separated rungs in rows (default 10000,100000,1000000, "
                                                  "up to the file's rows)")
    a.add_argument("--timeout", type=positive(float), default=600.0, help="seconds per case at most (default 600)")
    a.add_argument("--data", type=where, default=None, metavar="DIR",
                   help="data directory (default $OOCBENCH_DATA_DIR or ./data)")
    a.add_argument("--results", dest="advise_results", type=Path, default=None,
                   help="records (default results/advise-<dataset>)")
    a.add_argument("--out", type=Path, default=None, help="the page (default reports/advise-<dataset>)")
    a.set_defaults(func=cmd_advise)


def _rows(text: str) -> int:
    try:
        n = int(float(text))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a row count (e.g. 10000000 or 1e7)") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least 1 row")
    return n


def _candidates(text: str | None, task: str) -> list[str]:
    from oocbench.adapters.registry import get_entry

    if text is not None:
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise ValueError("--adapters is empty; name at least one adapter (see `oocbench list`)")
        for n in names:
            e = get_entry(n)  # an unknown name: UnknownAdapterError, one line
            if not e.installed:
                raise ValueError(f"--adapters: {n} is not installed here ({e.reason}); install its extra or leave it out")
            if task not in e.cls.tasks:
                raise ValueError(f"--adapters: {n} does not do {task} (its tasks: {', '.join(sorted(e.cls.tasks))})")
        return names
    out = []
    for n in CANDIDATES:
        e = get_entry(n)
        if e.installed and task in e.cls.tasks:
            out.append(n)
    return out


def training_rows(file_rows: int) -> int:
    """Training rows a file of ``file_rows`` rows gives (every 10th of its first 500,000 rows is the holdout)."""
    from oocbench.datasets.public import HOLDOUT_EVERY, HOLDOUT_WINDOW

    return file_rows - min(file_rows, HOLDOUT_WINDOW) // HOLDOUT_EVERY


def rungs_for(text: str | None, available: int) -> list[int]:
    """The ladder's rungs up to ``available`` training rows (the largest the file allows replaces the first rung
    past it, so a small file still gets a last rung at its size)."""
    from oocbench.harness.ladder import DEFAULT_RUNGS

    try:
        wanted = sorted({int(float(x)) for x in text.split(",") if x.strip()}) if text else list(DEFAULT_RUNGS)
    except ValueError:
        raise ValueError(f"--ladder {text!r}: give rungs in rows, comma-separated, e.g. 10000,100000") from None
    if not wanted or wanted[0] < 100:
        raise ValueError(f"--ladder {text!r}: give rungs of at least 100 rows, e.g. 10000,100000")
    if available < 100:
        raise ValueError(f"the file gives only {available:,} training rows: too few to measure anything")
    rungs = [n for n in wanted if n <= available]
    if len(rungs) < len(wanted) and (not rungs or available > rungs[-1] * 2):
        rungs.append(available)
    return rungs


def cmd_advise(args: argparse.Namespace) -> int:
    import psutil

    from oocbench import config, datasets
    from oocbench.advice import advise, fmt_seconds
    from oocbench.datasets.bundled import FileSource
    from oocbench.fmt import fmt_bytes
    from oocbench.harness.ladder import LadderError, run_ladder
    from oocbench.harness.runner import Limits
    from oocbench.reports.advice_page import SHORT_HEADERS, short_cells, write_page

    console, err = Console(), Console(stderr=True)
    if args.data:
        os.environ["OOCBENCH_DATA_DIR"] = str(args.data)
    if not args.file.exists():
        err.print(f"oocbench advise: {args.file}: no such file; give a CSV or Parquet file", markup=False)
        return 1
    src = FileSource(args.file, args.target, given_task=args.task)
    info = src.inspect()  # unreadable file, missing target, unusable target: DatasetError, one line
    src.remember(config.data_dir())
    datasets.register(src)
    available = training_rows(info["rows"])
    rungs = rungs_for(args.ladder, min(available, args.rows or available))
    adapters = _candidates(args.adapters, info["task"])
    if not adapters:
        err.print(f"oocbench advise: no candidate adapter for {info['task']} is installed; see `oocbench list`",
                  markup=False)
        return 1
    rows = args.rows or available
    ram = args.ram or psutil.virtual_memory().total
    this_cores = os.cpu_count() or 1
    cores = args.cores or this_cores
    results = args.advise_results or Path("results") / f"advise-{src.name}"
    out = args.out or Path("reports") / f"advise-{src.name}"
    console.print(f"{src.name}: {info['rows']:,} rows, {info['task']}; ladder {', '.join(f'{n:,}' for n in rungs)} "
                  f"rows x {len(adapters)} adapter(s) ({', '.join(adapters)}) within {args.hours:g} h; planning for "
                  f"{rows:,} rows", highlight=False, markup=False)

    def done(record) -> None:
        if record is not None:
            console.print(f"  {record.case.adapter} at {record.case.scale:,} rows: {record.status}"
                          + (f", fit {record.timings.fit_s:.1f} s" if record.timings.fit_s else ""),
                          highlight=False, markup=False)

    try:
        ladder = run_ladder(adapters, src.name, rungs, results, args.hours * 3600, Limits(timeout_s=args.timeout),
                            on_done=done)
    except LadderError as exc:
        err.print(f"oocbench advise: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 1
    reach = f"ladder: {', '.join(f'{n:,}' for n in ladder.rungs)} rows in {fmt_seconds(ladder.seconds)}" + (
        f" ({kept} case(s) kept from an earlier run in {results})" if (kept := ladder.kept) else "")
    note = reach + (f"; {ladder.stopped}" if ladder.stopped else "") + "."
    records = ladder.records  # this run's cases, those kept from an earlier run of the same ladder included
    advice = advise(records, rows, ram, cores, this_cores, candidates=adapters)
    table = Table(title=f"projected at {rows:,} rows, {cores} core(s), {fmt_bytes(ram)} RAM",
                  caption="* holds every row in RAM; peak RSS of the process tree; each a range (the page shows how)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for h in SHORT_HEADERS:
        table.add_column(h.format(loss=advice.loss_name), overflow="fold", no_wrap=h == "adapter")
    for p in advice.projections:
        table.add_row(*short_cells(p))
    console.print(table)
    console.print(note, highlight=False, markup=False)
    for s in advice.sentences:
        console.print(s, highlight=False, markup=False)
    page = write_page(advice, records, out, str(args.file), note)  # with this ladder's records beside it
    console.print(f"page: {page}", highlight=False, markup=False)
    return 0
