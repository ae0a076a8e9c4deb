"""The ``oocbench`` command line: list, datasets, generate, run, report.

Unknown adapter, dataset or suite names exit with code 2 and list the valid ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from oocbench import config
from oocbench.fmt import fmt_bytes, fmt_rate
from oocbench.metrics import get_task, task_of_metrics


def _console(stderr: bool = False) -> Console:
    """A rich console; into a pipe or a file it never cuts or wraps a line (rich would fit 80 columns, and
    `oocbench list | cat` printed `dask-ml.increme…`, the very name `--adapter` needs)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 100_000, soft_wrap=not stream.isatty())


console = _console()
err = _console(stderr=True)


def _where(text: str) -> Path | str:
    """A data directory argument: a local path, or a URL (``s3://bucket/prefix``) kept as text."""
    return text if "://" in text else Path(text)


def summary_line(record) -> str:
    c = record.case
    setting = c.setting()  # passes, hash bits...: two cases differing only there must not print alike
    head = f"{c.adapter} {c.dataset} n={c.scale:,} {c.profile} threads={c.threads}" + (f" [{setting}]" if setting else "")
    if record.status != "ok":
        return f"{head}: {record.status.upper()} - {record.reason}"
    loss = get_task(record.task or task_of_metrics(record.metrics)).loss
    score = f"{loss.label} {record.metrics.get(loss.key, float('nan')):.4f}"
    best = record.optimum.get(loss.key)
    if best is not None:
        score += f" (optimum {best:.4f})"
    return (f"{head}: ok  {fmt_rate(record.rows_per_s)}  fit {record.timings.fit_s:.2f} s  "
            f"peak RSS +{fmt_bytes(record.memory.rss_fit_bytes)}  heap peak {fmt_bytes(record.memory.heap_peak_bytes)}"
            f"  {score}")


def cmd_list(args: argparse.Namespace) -> int:
    from oocbench.adapters.registry import discover
    from oocbench.datasets import dataset_names, get_generator

    table = Table(title="adapters")
    for col in ("name", "status", "version", "tasks", "source / reason"):
        table.add_column(col)
    for name, e in discover().items():
        version = (e.cls.library_version() if e.cls else None) or "-"
        tasks = ",".join(sorted(e.cls.tasks)) if e.cls else "-"
        style = "green" if e.installed else "yellow"
        table.add_row(name, f"[{style}]{e.status}[/]", version, tasks, e.reason or e.source)
    console.print(table)
    console.print("datasets: " + ", ".join(f"{n} ({get_generator(n).task})" for n in dataset_names()))
    console.print("scales: " + ", ".join(f"{k}={v:,}" for k, v in config.SCALES.items()) + ", or any row count")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from oocbench import datasets

    if args.from_file:  # a user's CSV / Parquet: registered under file-<name> for later `run --dataset`
        from oocbench.datasets.bundled import FileSource

        if not args.target:
            err.print("oocbench generate: --from-file needs --target COLUMN")
            return 2
        # NAME, when given, names the dataset (file-<name>, checked); else file-<file's stem>. A name that
        # already belongs to another file is refused (exit 2) rather than mixing the two files' rows
        src = FileSource(args.from_file, args.target, args.dataset or "")
        src.remember(args.out)
        datasets.register(src)
        args.dataset = src.name
    elif not args.dataset:
        err.print("oocbench generate: give a dataset name, or --from-file PATH --target COLUMN; valid datasets: "
                  + ", ".join(datasets.dataset_names()))
        return 2
    datasets.get_generator(args.dataset)
    rows = config.parse_scale(args.scale)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task(f"generating {args.dataset}", total=rows)
        ds = datasets.generate(args.dataset, rows, args.seed, base=args.out,
                               progress=lambda n: progress.advance(task, n))
    size = sum(s.bytes for s in ds.manifest.shards)
    console.print(f"{args.dataset}: {ds.rows:,} rows, {len(ds.manifest.shards)} shard(s), {fmt_bytes(size)} "
                  f"-> {ds.root}")
    if ds.manifest.optimum:
        console.print("known optimum on the holdout: " + ", ".join(f"{k} {v:.4f}" for k, v in ds.manifest.optimum.items()))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from oocbench.datasets.catalog import catalog

    table = Table(title=f"datasets (data directory: {args.out or config.data_dir()})")
    for col in ("name", "task", "kind", "tiers", "on disk (seed: rows, bytes)", "known optimum (largest on disk)"):
        table.add_column(col)
    for row in catalog(args.out):
        disk = [d for d in row["on_disk"] if "error" not in d]
        here = ", ".join(f"{d['seed']}: {d['rows']:,} ({fmt_bytes(d['bytes'])})" for d in disk) or "-"
        here += "".join(f"\n[red]broken: {d['path']}[/]" for d in row["on_disk"] if "error" in d)
        best = disk[-1]["optimum"] if disk else {}
        table.add_row(row["name"], row["task"], row["kind"], ",".join(row["tiers"]), here,
                      ", ".join(f"{k} {v:.4f}" for k, v in best.items()) or "-")
    console.print(table)
    return 0


def _positive(kind: type, allow_zero: bool = False, maximum: float | None = None):
    """An argparse type: a finite number > 0 (>= 0 with ``allow_zero``) and at most ``maximum``, else a clear
    usage error (exit 2)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>= 0' if allow_zero else '> 0'}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, got {text!r}")
        return value

    return parse


def _hash_bits(text: str) -> int:
    from oocbench.features import check_hash_bits

    try:
        return check_hash_bits(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: passes beyond this are a typo, not a benchmark (each pass re-reads every training row)
MAX_PASSES = 100


def _whole(text: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, else a clear usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text!r}")
    return value


def _passes(text: str) -> list[int]:
    """``"3"`` or ``"1,3,10"`` -> distinct pass counts, each 1..MAX_PASSES."""
    return list(dict.fromkeys(_whole(part, 1, MAX_PASSES) for part in text.split(",")))


#: upper bounds of run options, past any sensible value: 10^6 s is 11.6 days per case, 2^20 GiB is 1 PiB of RAM
MAX_TIMEOUT_S, MAX_MEMORY_GIB, MAX_REPEAT = 1e6, float(2**20), 1000

#: seeds numpy's and scikit-learn's generators all accept (sklearn's random_state: 0 to 2^32 - 1)
MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to :data:`MAX_SEED` (``-1`` failed in the dataset generator, exit 1)."""
    return _whole(text, 0, MAX_SEED)


def _scales(text: str) -> list[int]:
    """``"1e4"`` or ``"1e4,10000,m"`` -> distinct row counts in the order given (``1e4`` and ``10000`` are one)."""
    return list(dict.fromkeys(config.parse_scale(part.strip()) for part in text.split(",")))


def _check_scales(cases) -> None:
    """Refuse a scale larger than the training rows of a dataset that has a fixed size (bundled, public, a user's
    file): the case would be recorded at a scale it never had.

    Synthetic data has every row count and is not looked at. Other data is opened (written first if needed,
    as the case would): a scale it cannot fill raises :class:`~oocbench.datasets.bundled.ScaleTooLargeError`
    (a usage error: exit 2, with the rows it has), and a dataset written just for this check is removed. Any
    other dataset error is left to the case, which reports it as a harness failure.
    """
    import contextlib

    from oocbench import datasets
    from oocbench.datasets.bundled import ScaleTooLargeError

    for name, scale, seed in dict.fromkeys((c.dataset, c.scale, c.seed) for c in cases):
        if not hasattr(datasets.get_generator(name), "build"):
            continue  # synthetic: written at any scale
        fresh = not (datasets.dataset_root(name, scale, seed) / "manifest.json").exists()
        try:
            ds = datasets.load(name, scale, seed)
        except ScaleTooLargeError:
            raise
        except datasets.DatasetError:
            continue
        if ds.rows < scale:
            if fresh:
                with contextlib.suppress(OSError):
                    ds.location.rmtree()
            raise ScaleTooLargeError(f"--scale {scale:,}: dataset {name} has only {ds.rows:,} training rows; use "
                                     f"--scale {ds.rows} or less")


class UsageError(ValueError):
    """A command line that names nothing to run (exit 2, like argparse's own errors)."""


def _names(text: str | None, flag: str) -> list[str] | None:
    """A comma-separated subset; ``None`` when not given. Given but empty (``--adapter ""``) is an error, not
    "everything"."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{flag} names nothing ({text!r}); leave it out to run every one of the suite's")
    return names


def cmd_run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from oocbench import datasets
    from oocbench.adapters.registry import get_entry
    from oocbench.harness.runner import Limits
    from oocbench.harness.suites import ResultsDirError, available_datasets, expand, get_suite, run_cases
    from oocbench.records import RECORDS_FILE, CaseSpec

    if args.suite:
        suite = get_suite(args.suite)
        adapters, names = _names(args.adapter, "--adapter"), _names(args.dataset, "--dataset")
        for a in adapters or ():
            get_entry(a)
        # --dataset / --scale narrow a suite (comma-separated), e.g. for a quick look or a test
        for d in names or ():
            datasets.get_generator(d)
        scales = _scales(args.scale) if args.scale else None
        if not names and (absent := available_datasets(suite)[1]):
            err.print(f"suite {suite.name}: dataset(s) {', '.join(absent)} not available here, left out")
        cases = expand(suite, adapters, repeat=args.repeat, datasets=names, scales=scales, passes=args.passes)
        # an option given on the command line replaces the suite's setting (it was silently dropped before)
        given = {field: value for field, value in (("hash_bits", args.hash_bits), ("batch_size", args.batch_size),
                                                   ("profile", args.profile), ("threads", args.threads),
                                                   ("seed", args.seed)) if value is not None}
        cases = list(dict.fromkeys(dataclasses.replace(c, **given) for c in cases))
    else:
        missing = [f"--{n}" for n in ("adapter", "dataset", "scale") if getattr(args, n) is None]
        if missing:
            err.print(f"oocbench run: give --suite NAME, or {' '.join(missing)}")
            return 2
        get_entry(args.adapter)
        datasets.get_generator(args.dataset)
        cases = [CaseSpec(adapter=args.adapter, dataset=args.dataset, scale=n,
                          profile=args.profile or "matched", seed=args.seed or 0, batch_size=args.batch_size or 10_000,
                          threads=args.threads or "1", repeat=r, hash_bits=args.hash_bits, passes=p)
                 for n in _scales(args.scale) for p in (args.passes or [1]) for r in range(args.repeat)]
    if args.scheduler:  # the case's child process inherits it (oocbench/adapters/dask_ml.py reads it)
        os.environ["OOCBENCH_DASK_SCHEDULER"] = args.scheduler
    if args.data:  # datasets are generated / read there, by this process and by the cases' child processes
        os.environ["OOCBENCH_DATA_DIR"] = str(args.data)
    if args.dispatch and args.scheduler:
        err.print("oocbench run: --dispatch runs each case on a cluster worker, where dask-ml adapters start their "
                  "own LocalCluster inside the case; --scheduler (dask-ml on an existing cluster) cannot be combined")
        return 2
    _check_scales(cases)
    limits = Limits(timeout_s=args.timeout, grace_s=args.grace,
                    memory_bytes=max(1, int(args.memory_limit * 2**30)) if args.memory_limit else None)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as progress:
        bar = progress.add_task("starting", total=len(cases))

        kept = 0

        def on_done(record) -> None:
            nonlocal kept
            progress.advance(bar)
            if record is None:
                kept += 1
            else:
                progress.console.print(summary_line(record), highlight=False, markup=False)

        failed: list = []  # harness failures: not results, never recorded, exit code 1
        skipped: list = []  # lines of records.jsonl that are not valid records
        if args.dispatch:  # one case per cluster worker at a time, records appended here (oocbench/dispatch.py)
            from oocbench.harness.dispatch import DispatchError, run_cases_dispatched
            from oocbench.storage import to_str

            try:
                records = run_cases_dispatched(cases, args.results, args.dispatch, to_str(config.data_dir()),
                                               limits, memray=not args.no_memray, force=args.force,
                                               on_start=lambda spec: progress.update(bar, description=spec.label()),
                                               on_done=on_done, errors=failed, skipped=skipped)
            except DispatchError as exc:
                err.print(f"oocbench run: {exc}", highlight=False, markup=False)
                return 1
        else:
            try:
                records = run_cases(cases, args.results, limits, memray=not args.no_memray, force=args.force,
                                    on_start=lambda spec: progress.update(bar, description=spec.label()),
                                    on_done=on_done, errors=failed, skipped=skipped)
            except ResultsDirError as exc:  # checked before the first case: nothing ran
                err.print(f"oocbench run: {exc}", highlight=False, markup=False, soft_wrap=True)
                return 1
    if skipped:  # never silently: their cases (if any) count as not recorded and run again
        shown = "; ".join(str(s) for s in skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        err.print(f"oocbench run: skipped {len(skipped)} line(s) of {Path(args.results) / RECORDS_FILE} that are not "
                  f"valid records (their cases count as not recorded): {shown}", highlight=False, markup=False,
                  soft_wrap=True)
    if len(records) > 1:
        console.print(summary_table(records))
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    console.print(f"{len(records)} case(s): " + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))
                  + (f" ({kept} already recorded, kept; --force reruns them)" if kept else ""))
    console.print(f"records: {Path(args.results) / RECORDS_FILE}")
    for spec, why in failed:
        err.print(f"HARNESS FAILURE (not recorded; rerun retries it): {spec.label()}: {why}",
                  highlight=False, markup=False)
    # 0: every case ran and has a record (a backend's timeout / oom / crash is a result); 1: the harness failed
    return 1 if failed else 0


def summary_table(records) -> Table:
    """Adapter x scale: median rows/s (and spread over repeats), RSS growth during fit, holdout loss, status."""
    from oocbench.analysis import summary_cells

    cells = summary_cells(records)
    scales = sorted({s for per in cells.values() for s in per})
    table = Table(title="summary (median over repeats; +-: (max-min)/median)")
    table.add_column("adapter")
    table.add_column("dataset")
    for n in scales:
        table.add_column(f"n={n:,}")
    for (adapter, dataset), per in sorted(cells.items()):
        row = []
        for n in scales:
            c = per.get(n)
            if c is None:
                row.append("")
                continue
            lines = []
            if c["rows_per_s"]["n"]:
                rate = fmt_rate(c["rows_per_s"]["median"])
                if c["rows_per_s"]["n"] > 1 and c["rows_per_s"]["spread"] is not None:
                    rate += f" +-{c['rows_per_s']['spread']:.0%}"
                loss = c["loss"]["median"]
                lines += [rate, f"RSS +{fmt_bytes(c['rss_fit_bytes']['median'])}",
                          f"{c['loss_name'].replace('_', ' ')} {loss:.4f}" if loss is not None else "-"]
            if c["status"] != "ok":
                lines.append(f"[red]{c['status']}[/]")
            row.append("\n".join(lines))
        table.add_row(adapter, dataset, *row)
    return table


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static comparison report and print the path of its index.html (alone, on stdout)."""
    from oocbench.reports import build_report, load_records
    from oocbench.reports.load import UnreadableRecordsError

    skipped: list = []
    try:
        records = load_records(args.results, skipped)
    except (FileNotFoundError, UnreadableRecordsError) as exc:
        err.print(f"oocbench report: {exc}", highlight=False, markup=False)
        return 1
    source = str(args.results)
    if skipped:  # never silently: one line here, and the count in the report's header
        shown = "; ".join(str(s) for s in skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        err.print(f"oocbench report: skipped {len(skipped)} line(s) that are not valid records: {shown}",
                  highlight=False, markup=False, soft_wrap=True)
        source += f" ({len(skipped)} line(s) skipped as not valid records: " + ", ".join(
            f"{Path(s.path).name}:{s.line}" for s in skipped[:20]) + (", ..." if len(skipped) > 20 else "") + ")"
    if not records:
        err.print(f"oocbench report: no records in {args.results}", highlight=False, markup=False)
        return 1
    results = Path(args.results)
    out = args.out if args.out is not None else (results.parent if results.is_file() else results) / "report"
    index = build_report(records, out, source=source)
    err.print(f"report of {len(records)} record(s) from {args.results}:", highlight=False, markup=False)
    print(index.resolve())  # plain print: a rich console would wrap a long path
    return 0


def build_parser() -> argparse.ArgumentParser:
    from oocbench.adapters.base import PROFILES, THREAD_MODES  # the choices the adapters define, in one place

    p = argparse.ArgumentParser(prog="oocbench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="adapters (with install status), datasets and scales").set_defaults(func=cmd_list)

    g = sub.add_parser("generate", help="write a dataset at a scale (Parquet shards + manifest)")
    g.add_argument("dataset", nargs="?", help="dataset name (see `oocbench datasets`)")
    g.add_argument("--scale", required=True, help="row count or tier (xs, s, m, l, xl, xxl)")
    g.add_argument("--from-file", type=Path, default=None, help="your own CSV (.gz) or Parquet file")
    g.add_argument("--target", default=None, help="with --from-file: the label column")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", type=_where, default=None,
                   help="data directory or URL, e.g. s3://bucket/prefix (default $OOCBENCH_DATA_DIR or ./data)")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("datasets", help="datasets: task, tiers, what is on disk (rows, bytes), known optimum")
    d.add_argument("--out", type=_where, default=None,
                   help="data directory or URL (default $OOCBENCH_DATA_DIR or ./data)")
    d.set_defaults(func=cmd_datasets)

    r = sub.add_parser("run", help="run one case, or a suite, each in a fresh process; append records")
    r.add_argument("--suite", help="smoke, quick, default or full (see oocbench/suites.py)")
    r.add_argument("--adapter", help="adapter name (with --suite: a comma-separated subset)")
    r.add_argument("--dataset", help="dataset name (with --suite: a comma-separated subset)")
    r.add_argument("--scale", help="rows or tier; comma-separated values run each (a value given twice, as 1e4 "
                                   "and 10000, once); with --suite: replaces the suite's scales")
    r.add_argument("--profile", default=None, choices=PROFILES,
                   help="hyperparameters: the same model in every library (matched, default) or each library's "
                        "documented defaults (recommended); with --suite: replaces the suite's profiles")
    r.add_argument("--threads", default=None, choices=THREAD_MODES,
                   help="threads per case: 1 (default) or all cores; with --suite: replaces the suite's setting")
    r.add_argument("--batch-size", type=_positive(int, maximum=config.MAX_ROWS), default=None,
                   help="rows per batch (default 10000); with --suite: replaces the suite's batch size")
    r.add_argument("--passes", type=_passes, default=None, metavar="N[,N...]",
                   help="passes over the training rows (default 1); comma-separated values run each; with "
                        "--suite: replaces the suite's passes axis")
    r.add_argument("--hash-bits", type=_hash_bits, default=None, metavar="BITS",
                   help="categorical columns hash into 2^BITS buckets (1-30; default 18, as VW's -b 18)")
    r.add_argument("--seed", type=_seed, default=None, help=f"dataset and model seed, 0 to {MAX_SEED} (default 0)")
    # the maxima only catch typos (1e308 GiB overflowed; --repeat 10^9 built a billion cases before running one)
    r.add_argument("--repeat", type=_positive(int, maximum=MAX_REPEAT), default=1,
                   help=f"fresh model each repeat (at most {MAX_REPEAT})")
    r.add_argument("--timeout", type=_positive(float, maximum=MAX_TIMEOUT_S), default=600.0, help="seconds per case")
    r.add_argument("--grace", type=_positive(float, allow_zero=True, maximum=MAX_TIMEOUT_S), default=5.0,
                   help="seconds between SIGINT, SIGTERM and SIGKILL on timeout")
    r.add_argument("--memory-limit", type=_positive(float, maximum=MAX_MEMORY_GIB), default=None,
                   help="GiB of process-tree RSS (default 80%% of RAM)")
    r.add_argument("--no-memray", action="store_true", help="skip the separate memray run")
    r.add_argument("--force", action="store_true", help="rerun cases already recorded")
    r.add_argument("--results", type=Path, default=None, help="results directory (default ./results)")
    r.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run dask adapters on this existing dask.distributed scheduler (sets $OOCBENCH_DASK_SCHEDULER; "
                        "its workers must see the same data directory)")
    r.add_argument("--data", type=_where, default=None, metavar="DIR|URL",
                   help="data directory or URL, e.g. s3://bucket/prefix (sets $OOCBENCH_DATA_DIR; default ./data)")
    r.add_argument("--dispatch", default=None, metavar="tcp://HOST:PORT",
                   help="spread the cases over this dask.distributed cluster: each case runs in its own process on a "
                        "worker started with --resources oocbench-case=1, one case per worker at a time; records "
                        "are appended here")
    r.set_defaults(func=cmd_run)

    rp = sub.add_parser("report", help="write the static HTML comparison report (plots, tables, raw CSV/JSON)")
    rp.add_argument("--results", type=Path, default=None,
                    help="records.jsonl, a directory holding one (or a tree of them), or a report's results.json "
                         "(default ./results)")
    rp.add_argument("--out", type=Path, default=None, help="report directory (default RESULTS/report)")
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; expected failures are one line on stderr (the traceback only with ``--debug``).

    Exit codes: 0 done; 1 a failure of data, disk, network or the harness (named in the line); 2 a usage error
    (unknown name, invalid option value).
    """
    import traceback

    from oocbench.adapters.registry import UnknownAdapterError
    from oocbench.datasets import DatasetError, UnknownDatasetError
    from oocbench.harness.suites import UnknownSuiteError

    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line (before or after the command), so it is taken out first
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    from oocbench import __version__

    parser.add_argument("--version", action="version", version=f"oocbench {__version__}")
    args = parser.parse_args(argv)
    if getattr(args, "results", "unset") is None:
        args.results = config.results_dir()

    def fail(text: str, code: int) -> int:
        if debug:
            traceback.print_exc()
        err.print(f"oocbench {args.command}: {text}", highlight=False, markup=False, soft_wrap=True)
        return code

    try:
        return args.func(args)
    except (UnknownAdapterError, UnknownDatasetError, UnknownSuiteError, ValueError) as exc:
        return fail(str(exc), 2)
    except DatasetError as exc:
        return fail(str(exc), 1)
    except OSError as exc:  # a full or read-only disk, a missing directory, an unreachable endpoint
        why = exc.strerror if exc.strerror else str(exc)
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
        return fail(f"{why}" + (f": {where}" if where and where not in why else "")
                    + ("" if debug else " (--debug shows the traceback)"), 1)
    except Exception as exc:  # a bug: still one line, with how to see more
        return fail(f"unexpected {type(exc).__name__}: {exc}" + ("" if debug else
                    " (a bug in oocbench? --debug shows the traceback)"), 1)


if __name__ == "__main__":
    sys.exit(main())
