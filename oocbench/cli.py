"""The oocbench command line: list, datasets, generate, run, report, check-adapter.

Unknown adapter, dataset or suite names exit with code 2 and list the valid ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import ProgressColumn
from rich.table import Column, Table
from rich.text import Text

from oocbench import config
from oocbench.fmt import fmt_bytes, fmt_rate, fmt_rows, printable


def _console(stderr: bool = False) -> Console:
    """A rich console; into a pipe or a file it never cuts or wraps a line (rich would fit 80 columns, and
    `oocbench list | cat` printed `dask-ml.increme…`, the very name `--adapter` needs)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 100_000, soft_wrap=not stream.isatty())


console = _console()
err = _console(stderr=True)


def _where(text: str) -> Path | str:
    """A data directory argument: a local path, or a URL (``s3://bucket/prefix``) kept as text.

    Empty is refused (``Path("")`` is the current directory), as is a URL without a bucket (``s3://``: the
    dataset's name would become the bucket).
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give a directory or a URL such as s3://BUCKET/PREFIX")
    if "://" not in text:
        return Path(text)
    try:
        return config.check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def summary_line(record, width: int | None = None) -> str:
    """One case's result line. With ``width`` (the terminal's columns) the line is made to fit by dropping
    fields, least needed first (the heap peak, the optimum, the thread mode, the profile, the fit seconds), never
    by cutting one in the middle; a failure keeps its reason, which wraps.

    >>> from oocbench.records import CaseRecord, CaseSpec, Memory, Timings
    >>> r = CaseRecord(CaseSpec("sklearn.sgd", "synth-ctr", 10**6), status="ok", task="binary", rows_per_s=5.1e5,
    ...                metrics={"log_loss": 0.1425}, timings=Timings(fit_s=1.96),
    ...                memory=Memory(rss_fit_bytes=12 * 2**20, heap_peak_bytes=9 * 2**20))
    >>> summary_line(r)
    'sklearn.sgd synth-ctr n=1,000,000 matched threads=1: ok  510k rows/s  fit 1.96 s  RSS growth 12 MiB  heap peak 9 MiB  log loss 0.1425'
    >>> summary_line(r, 80)
    'sklearn.sgd synth-ctr n=1M: ok 510k rows/s RSS growth 12 MiB log loss 0.1425'
    """
    c = record.case
    setting = c.setting()  # passes, hash bits...: two cases differing only there must not print alike
    tail = (f" [{setting}]" if setting else "") + (f" #{c.repeat}" if c.repeat else "")  # must not print alike
    if record.status != "ok":
        return f"{c.adapter} {c.dataset} n={c.scale:,} {c.profile} threads={c.threads}{tail}: " \
               f"{record.status.upper()} - {record.reason}"
    # imported here: oocbench.metrics imports scikit-learn (6 s), which every command paid at its start
    from oocbench.metrics import get_task, task_of_metrics

    loss = get_task(record.task or task_of_metrics(record.metrics)).loss
    best = record.optimum.get(loss.key)
    loss_text = f"{loss.label} {record.metrics.get(loss.key, float('nan')):.4f}"
    rate, fit = fmt_rate(record.rows_per_s), f"fit {record.timings.fit_s:.2f} s"
    rss, heap = f"RSS growth {fmt_bytes(record.memory.rss_fit_bytes)}", f"heap peak {fmt_bytes(record.memory.heap_peak_bytes)}"
    optimum = f" (optimum {best:.4f})" if best is not None else ""
    full = f"{c.adapter} {c.dataset} n={c.scale:,} {c.profile} threads={c.threads}{tail}"
    short = f"{c.adapter} {c.dataset} n={fmt_rows(c.scale)}{tail}"
    # richest first; the first that fits is printed: a field is dropped whole, never cut
    candidates = [f"{full}: ok  {rate}  {fit}  {rss}  {heap}  {loss_text}{optimum}",
                  f"{full}: ok  {rate}  {fit}  {rss}  {loss_text}{optimum}",
                  f"{full}: ok  {rate}  {fit}  {rss}  {loss_text}",
                  f"{short} {c.profile}: ok  {rate}  {fit}  {rss}  {loss_text}",
                  f"{short}: ok  {rate}  {fit}  {rss}  {loss_text}",
                  f"{short}: ok {rate} {rss} {loss_text}",
                  f"{short}: ok {rate} RSS +{fmt_bytes(record.memory.rss_fit_bytes)} {loss_text}",
                  f"{short}: ok {rate} {loss_text}"]
    return next((line for line in candidates if width is None or len(line) <= width), candidates[-1])


def _print_json(obj: object) -> None:
    """One JSON document on stdout (plain print: rich would highlight or wrap it)."""
    print(json.dumps(obj, indent=2, default=str))


def _memory_kind(cls: Any) -> str | None:
    """'out of core' (streams the rows: its memory does not hold them) or 'in memory' (holds every row in RAM)."""
    if cls is None:
        return None
    return "in memory" if cls.holds_every_row() else "out of core"


def cmd_list(args: argparse.Namespace) -> int:
    from oocbench.adapters.registry import discover
    from oocbench.datasets import dataset_names, get_source

    if args.json:
        _print_json({
            "adapters": [{"name": name, "status": e.status, "installed": e.installed, "source": e.source,
                          "reason": e.reason, "version": e.cls.library_version() if e.cls else None,
                          "tasks": sorted(e.cls.tasks) if e.cls else [], "extra": e.cls.extra if e.cls else "",
                          "memory": _memory_kind(e.cls)}
                         for name, e in discover().items()],
            "datasets": [{"name": n, "task": get_source(n).task, "kind": get_source(n).kind}
                         for n in dataset_names()],
            "scales": dict(config.SCALES)})
        return 0
    table = Table(title="adapters")
    for col in ("name", "status", "library version", "tasks", "memory", "source / reason"):
        table.add_column(col)
    for name, e in discover().items():
        version = (e.cls.library_version() if e.cls else None) or "-"
        if e.cls and version != "-":
            version = f"{e.cls.library_distribution()} {version}"
        tasks = ",".join(sorted(e.cls.tasks)) if e.cls else "-"
        style = "green" if e.installed else "yellow"
        table.add_row(name, f"[{style}]{e.status}[/]", version, tasks, _memory_kind(e.cls) or "-",
                      e.reason or e.source)
    console.print(table)
    console.print("datasets: " + ", ".join(f"{n} ({get_source(n).task})" for n in dataset_names()))
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
        src = FileSource(args.from_file, args.target, args.dataset or "", given_task=args.task)
        if args.replace:  # a typo in --target, or the name wanted for another file: forget the old one first
            _forget_file(src, args.out)
        # at once, not after the file is read: a file of 10^5 columns takes minutes, which must not be silent
        console.print(f"{src.name}: reading {src.path}" + (f" ({fmt_bytes(src.path.stat().st_size)})"
                                                           if src.path.is_file() else ""), highlight=False, markup=False)
        src.remember(args.out)
        datasets.register(src)
        args.dataset = src.name
    elif args.task:
        err.print("oocbench generate: --task is for --from-file (a built-in dataset has its own task)")
        return 2
    elif not args.dataset:
        err.print("oocbench generate: give a dataset name, or --from-file PATH --target COLUMN; valid datasets: "
                  + ", ".join(datasets.dataset_names()))
        return 2
    datasets.get_source(args.dataset)
    rows = config.parse_scale(args.scale)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task(f"generating {args.dataset}", total=rows)
        ds = datasets.generate(args.dataset, rows, args.seed, base=args.out,
                               progress=lambda n: progress.advance(task, n))
    size = sum(s.bytes for s in ds.manifest.shards)
    console.print(f"{args.dataset}: {ds.rows:,} rows, {len(ds.manifest.shards)} shard(s), {fmt_bytes(size)} "
                  f"-> {ds.root}")
    detail = getattr(datasets.get_source(args.dataset), "task_detail", None)  # a user's file: how it was decided
    console.print(f"task: {ds.task} ({detail() if detail else '2 classes' if ds.task == 'binary' else 'numeric'})",
                  highlight=False, markup=False)
    if ds.manifest.optimum:
        console.print("known optimum on the holdout: " + ", ".join(f"{k} {v:.4f}" for k, v in ds.manifest.optimum.items()))
    return 0


def _forget_file(src, base) -> None:
    """``generate --replace``: delete the dataset ``src.name`` (its ``source.json`` and every scale written) when
    it belongs to another file or target than ``src``'s, and say so."""
    from oocbench.datasets.bundled import remembered_file
    from oocbench.storage import resolve

    old = remembered_file(src.name, base)
    if old is None or (str(old.path) == str(src.path.resolve()) and old.target == src.target):
        return
    where = resolve(base or config.data_dir()) / src.name
    where.rmtree()
    err.print(f"oocbench generate: replaced {src.name} (was {old.path}, target {old.target!r}; its data at {where} "
              "deleted)", highlight=False, markup=False, soft_wrap=True)


def cmd_datasets(args: argparse.Namespace) -> int:
    from oocbench.datasets.catalog import catalog

    if args.json:
        _print_json(catalog(args.out))
        return 0
    table = Table(title=f"datasets (data directory: {args.out or config.data_dir()})")
    for col in ("name", "task", "kind", "tiers", "on disk (seed: rows, bytes)", "known optimum (largest on disk)"):
        table.add_column(col)
    for row in catalog(args.out):
        disk = [d for d in row["on_disk"] if "error" not in d]
        here = ", ".join(f"{d['seed']}: {d['rows']:,} ({fmt_bytes(d['bytes'])})" for d in disk) or "-"
        # damaged (a shard deleted or cut, a manifest that does not read): in red, with why and what to do
        here += "".join(f"\n[red]damaged: {escape(d['error'])}[/]" for d in row["on_disk"] if "error" in d)
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
MAX_TIMEOUT_S, MAX_REPEAT = 1e6, 1000


#: runs of a short case with ``--repeat auto``
AUTO_REPEATS = 3


def _repeat(text: str) -> str | int:
    """argparse type of ``--repeat``: ``auto`` or a whole number of runs."""
    return "auto" if text == "auto" else _positive(int, maximum=MAX_REPEAT)(text)


def _repeats(args: argparse.Namespace) -> tuple[int, int]:
    """(repeats planned for every case, repeats of a short case): ``--repeat N`` is (N, 1); auto is (1, the
    suite's ``short_repeats``, or 3 without a suite).

    Without ``--repeat``: the suite's own setting (``auto`` but for ``smoke``), and 1 for a one-case run.
    """
    from oocbench.harness.suites import get_suite

    repeat = args.repeat
    if repeat is None:
        repeat = get_suite(args.suite).repeats if args.suite else 1
    short = get_suite(args.suite).short_repeats if args.suite else AUTO_REPEATS
    return (1, short) if repeat == "auto" else (int(repeat), 1)


def _prices(args: argparse.Namespace):
    """The prices of ``--core-hour`` / ``--gb-hour``, the defaults for either not given."""
    from oocbench.cost import DEFAULT_PRICES, Prices

    if args.core_hour is None and args.gb_hour is None:
        return DEFAULT_PRICES
    return Prices(core_hour=DEFAULT_PRICES.core_hour if args.core_hour is None else args.core_hour,
                  gb_hour=DEFAULT_PRICES.gb_hour if args.gb_hour is None else args.gb_hour,
                  source="set on the command line (--core-hour / --gb-hour)")


def cmd_headline(args: argparse.Namespace) -> int:
    from oocbench.reports.headline import answer_markdown, headline_markdown, series_markdown
    from oocbench.reports.load import load_records

    try:
        records = load_records(args.results)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"oocbench headline: {exc}", highlight=False, markup=False)
        return 1
    command = " ".join([str(args.results)] + [f"--{k.replace('_', '-')} {v:g}" for k, v in
                                              (("core_hour", args.core_hour), ("gb_hour", args.gb_hour)) if v is not None])
    if args.series:
        print(series_markdown(records, f"{command} --series"))
    elif args.answer:
        print(answer_markdown(records, f"{command} --answer", _prices(args)))
    else:
        print(headline_markdown(records, command, _prices(args)))
    return 0


def _budget(args: argparse.Namespace) -> float | None:
    """The per-case time budget: ``--budget`` (0: none), else the suite's own."""
    if args.budget is not None:
        return args.budget or None
    if args.suite:
        from oocbench.harness.suites import get_suite

        return get_suite(args.suite).budget_s
    return None


def _project_rows(text: str) -> float:
    """argparse type of ``report --project-rows``: a row count (``1e9``) or a tier."""
    try:
        return float(config.parse_scale(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _memory(text: str) -> int:
    """argparse type of ``--memory-limit``: :func:`oocbench.config.parse_memory` against this machine's RAM."""
    import psutil

    try:
        return config.parse_memory(text, psutil.virtual_memory().total)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

#: seeds numpy's and scikit-learn's generators all accept (sklearn's random_state: 0 to 2^32 - 1)
MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to :data:`MAX_SEED` (``-1`` failed in the dataset generator, exit 1)."""
    return _whole(text, 0, MAX_SEED)


def _scale(text: str) -> int:
    """argparse type of one row count or tier (``--tune-scale``)."""
    try:
        return config.parse_scale(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        if datasets.get_source(name).kind == "synthetic":
            continue  # drawn from a seed: written at any scale
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


def _param(text: str) -> tuple[str, list[str]]:
    """``--param NAME=V1[,V2...]`` -> ``(NAME, ["V1", "V2"])``; the values are typed once the name is known."""
    name, eq, values = text.partition("=")
    name = name.strip()
    if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
        raise argparse.ArgumentTypeError(f"not NAME=VALUE[,VALUE...]: {text!r}")
    parts = [v.strip() for v in values.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{name}: an empty value in {values!r}")
    return name, parts


def param_value(text: str) -> Any:
    """A hyperparameter's value from the command line: a whole number, else a finite float, else ``true`` /
    ``false``, else ``none`` (``None``: "unset" for several libraries), else the text itself.

    >>> [param_value(t) for t in ("3", "0.1", "1e-4", "True", "none", "invscaling")]
    [3, 0.1, 0.0001, True, None, 'invscaling']
    """
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if not math.isfinite(value):
            raise UsageError(f"--param value {text!r} is not a finite number")
        return value
    return {"true": True, "false": False, "none": None, "null": None}.get(text.lower(), text)


def _knob_value(name: str, text: str) -> Any:
    """A harness knob's value from ``--param``, checked as its own option checks it (``--batch-size``...)."""
    from oocbench.adapters.base import PROFILES, THREAD_MODES

    parse = {"batch_size": _positive(int, maximum=config.MAX_ROWS), "passes": lambda t: _whole(t, 1, MAX_PASSES),
             "hash_bits": _hash_bits, "seed": _seed, "threads": _choice(THREAD_MODES), "profile": _choice(PROFILES)}
    try:
        return parse[name](text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--param {name}={text}: {exc}") from None


def _choice(choices: tuple[str, ...]):
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(choices)}")
        return text

    return parse


def _grid(args: argparse.Namespace) -> dict[str, list]:
    """``--param`` options as a grid: name -> typed values, in the order given, each once."""
    from oocbench.records import HARNESS_KNOBS

    grid: dict[str, list] = {}
    for name, parts in args.param or ():
        if name in grid:
            raise UsageError(f"--param {name} given twice: give its values once, comma-separated")
        if name in HARNESS_KNOBS and getattr(args, name) is not None:  # each knob has its option, same name
            raise UsageError(f"--param {name} and --{name.replace('_', '-')} both given: give one")
        values = [_knob_value(name, p) if name in HARNESS_KNOBS else param_value(p) for p in parts]
        grid[name] = list({(type(v), v): v for v in values}.values())  # 1 and 1.0 and True stay apart here
    return grid


def _missing(args: argparse.Namespace) -> list[str]:
    return [f"--{n}" for n in ("adapter", "dataset", "scale") if getattr(args, n) is None]


def _cases(args: argparse.Namespace) -> list | None:
    """The cases the ``run`` options ask for (``None`` when neither ``--suite`` nor adapter, dataset and scale
    are given): a suite narrowed by the options, or one adapter on one dataset, times the ``--param`` grid;
    names and values checked (exit 2 on an unknown name, a value of the wrong type, an override with no effect).
    """
    from oocbench import datasets
    from oocbench.adapters.registry import get_entry
    from oocbench.harness.suites import Suite, available_datasets, check_params, expand, get_suite

    grid = _grid(args)
    if getattr(args, "tune", False):  # --tune is the tuned profile: --profile must agree or be left out
        if args.profile not in (None, "tuned"):
            raise UsageError(f"--tune runs the tuned profile; --profile {args.profile} asks for another: give one")
        args.profile = "tuned"
    if args.suite:
        suite = get_suite(args.suite)
        adapters, names = _names(args.adapter, "--adapter"), _names(args.dataset, "--dataset")
        for a in adapters or ():
            get_entry(a)
        # --dataset / --scale narrow a suite (comma-separated), e.g. for a quick look or a test
        for d in names or ():
            datasets.get_source(d)
        if not names and (absent := available_datasets(suite)[1]):
            err.print(f"suite {suite.name}: dataset(s) {', '.join(absent)} not available here, left out")
    elif _missing(args):
        return None
    else:
        get_entry(args.adapter)
        datasets.get_source(args.dataset)
        adapters, names = [args.adapter], [args.dataset]
        suite = Suite("command line", tuple(names), ())
    scales = _scales(args.scale) if args.scale else None
    if args.suite and args.profile and "profile" not in grid:  # its cases at that profile's own scales
        grid = {**grid, "profile": (args.profile,)}
    cases = expand(suite, adapters, repeat=_repeats(args)[0], datasets=names, scales=scales, passes=args.passes, grid=grid)
    # an option given on the command line replaces the suite's setting (it was silently dropped before)
    given = {field: value for field, value in (("hash_bits", args.hash_bits), ("batch_size", args.batch_size),
                                               ("profile", args.profile), ("threads", args.threads),
                                               ("seed", args.seed)) if value is not None}
    cases = list(dict.fromkeys(dataclasses.replace(c, **given) for c in cases))
    return check_params(cases, lambda name: datasets.get_source(name).task)


#: a run of more cases than this asks for --yes (the full suite is 1,200; a 99 x 99 --param grid is 9,801)
MAX_CASES = 2000


def _memray_scales(args: argparse.Namespace, cases: list) -> tuple[int, ...]:
    """The suite's ``memray_scales`` where the run has one of them (``--scale`` may replace the suite's scales:
    then every scale gets the memray run, as without a suite)."""
    from oocbench.harness.suites import get_suite

    scales = get_suite(args.suite).memray_scales if args.suite else ()
    return scales if set(scales) & {c.scale for c in cases} else ()


def cmd_run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn

    from oocbench.harness.eta import Eta
    from oocbench.harness.runner import Limits
    from oocbench.harness.suites import ResultsDirError, get_suite, run_cases
    from oocbench.records import RECORDS_FILE

    if args.data:  # datasets are generated / read there, by this process and by the cases' child processes;
        # set before the cases are named: a user's file (file-X) is found by its source.json there
        os.environ["OOCBENCH_DATA_DIR"] = str(args.data)
    config.data_dir()  # a bad $OOCBENCH_DATA_DIR (s3:// alone) is a usage error here, not a failure per case
    cases = _cases(args)
    if cases is None:
        err.print(f"oocbench run: give --suite NAME, or {' '.join(_missing(args))}")
        return 2
    if len(cases) > MAX_CASES and not args.yes:  # 99 x 99 --param values started 9,801 cases without a word
        err.print(f"oocbench run: these options make {len(cases):,} cases (more than {MAX_CASES:,}: hours to days, "
                  "cases already recorded are kept); add --yes to run them all, or narrow --param, --scale, "
                  "--adapter, --dataset or --repeat", highlight=False, markup=False, soft_wrap=True)
        return 2
    if args.scheduler:  # the case's child process inherits it (oocbench/adapters/dask_ml.py reads it)
        os.environ["OOCBENCH_DASK_SCHEDULER"] = args.scheduler
    if args.spark_master:  # likewise for oocbench/adapters/spark.py
        os.environ["OOCBENCH_SPARK_MASTER"] = args.spark_master
    if args.dispatch and args.scheduler:
        err.print("oocbench run: --dispatch runs each case on a cluster worker, where dask-ml adapters start their "
                  "own LocalCluster inside the case; --scheduler (dask-ml on an existing cluster) cannot be combined")
        return 2
    _check_scales(cases)
    limits = Limits(timeout_s=args.timeout, grace_s=args.grace, memory_bytes=args.memory_limit,
                    budget_s=_budget(args))
    # stdout carries only the JSON document with --json: result lines go to stderr then
    lines = err if args.json else console
    failed: list = []  # harness failures: not results, never recorded, exit code 1
    skipped: list = []  # lines of records.jsonl (or tuning.jsonl) that are not valid records
    tuned = _tune(args, cases, limits, lines, failed, skipped)
    if isinstance(tuned, int):
        return tuned
    cases = tuned.cases if tuned is not None else cases
    eta = Eta(cases)
    started: dict[str, float] = {}
    # one line in any terminal: the running case's name is what gives way (ellipsis), never the counts
    with Progress(TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
                  BarColumn(bar_width=12), _RunColumn(table_column=Column(no_wrap=True)), console=err,
                  transient=True, expand=True) as progress:
        bar = progress.add_task("starting", total=len(cases), eta=None, case_t0=None, repeats=0)
        kept = 0
        planned = {c.key() for c in cases}  # the total shown: fixed at the start; added repeats count apart
        ended: dict[str, Any] = {}  # the record of the case that just ended, for the time-left estimate
        repeats = [0]

        def on_plan(queue) -> None:
            eta.plan(queue)

        def on_start(spec) -> None:
            started[spec.key()] = time.monotonic()
            progress.update(bar, description=spec.label(), case_t0=started[spec.key()])

        def on_done(record) -> None:
            nonlocal kept
            if record is None:
                kept += 1
            else:
                ended[record.case.key()] = record
                # on a terminal the line goes through the progress display's own console, above its one line
                # (printed by another console it left a copy of the progress line behind after every case)
                out = progress.console if lines.is_terminal and err.is_terminal else lines
                out.print(summary_line(record, lines.width if lines.is_terminal else None), highlight=False, markup=False)
            if args.dispatch:  # no on_finished there
                progress.advance(bar)

        def on_finished(spec) -> None:  # every case leaves the queue here: ran, kept or a harness failure
            t0 = started.pop(spec.key(), None)
            eta.finished(spec, None if t0 is None else time.monotonic() - t0, ended.pop(spec.key(), None))
            if spec.key() in planned:
                progress.advance(bar)
            else:  # a repeat of a short case, added as the run went
                repeats[0] += 1
                progress.update(bar, repeats=repeats[0])
            progress.update(bar, eta=eta.remaining(), case_t0=None)

        if args.dispatch:  # one case per cluster worker at a time, records appended here (oocbench/dispatch.py)
            if _repeats(args)[1] > 1:  # cases run in parallel there: a repeat cannot follow its case's first run
                err.print("oocbench run: with --dispatch, --repeat auto runs each case once; give --repeat N to "
                          "repeat every case", highlight=False, markup=False)
            from oocbench.harness.dispatch import DispatchError, run_cases_dispatched
            from oocbench.storage import to_str

            try:
                records = run_cases_dispatched(cases, args.results, args.dispatch, to_str(config.data_dir()),
                                               limits, memray=not args.no_memray, force=args.force,
                                               on_start=on_start, on_done=on_done, errors=failed, skipped=skipped)
            except DispatchError as exc:
                err.print(f"oocbench run: {exc}", highlight=False, markup=False)
                return 1
        else:
            try:
                records = run_cases(cases, args.results, limits, memray=not args.no_memray, force=args.force,
                                    on_start=on_start, on_done=on_done, errors=failed, skipped=skipped,
                                    repeat_short=_repeats(args)[1], on_plan=on_plan, on_finished=on_finished,
                                    extra_of=tuned.extra_of if tuned is not None else None,
                                    once=get_suite(args.suite).once_profiles if args.suite else (),
                                    rss_only=get_suite(args.suite).rss_only_datasets if args.suite else (),
                                    memray_scales=_memray_scales(args, cases))
            except ResultsDirError as exc:  # checked before the first case: nothing ran
                err.print(f"oocbench run: {exc}", highlight=False, markup=False, soft_wrap=True)
                return 1
    if skipped:  # never silently: their cases (if any) count as not recorded and run again
        shown = "; ".join(str(s) for s in skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        err.print(f"oocbench run: skipped {len(skipped)} line(s) of {Path(args.results) / RECORDS_FILE} (or "
                  f"tuning.jsonl) that are not valid records (their cases count as not recorded): {shown}",
                  highlight=False, markup=False, soft_wrap=True)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    if args.json:
        _print_json({"records": [r.to_dict() for r in records], "statuses": statuses, "kept": kept,
                     "records_file": str(Path(args.results) / RECORDS_FILE),
                     "tuning": [{"adapter": t.adapter, "dataset": t.dataset, **t.facts}
                                for t in (tuned.tunings if tuned is not None else [])],
                     "harness_failures": [{"case": s.label(), "reason": why} for s, why in failed]})
    else:
        if len(records) > 1:
            console.print(summary_table(records, console.width if console.is_terminal else None))
        console.print(f"{len(records)} case(s): " + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))
                      + (f" ({kept} already recorded, kept; --force reruns them)" if kept else ""))
        console.print(f"records: {Path(args.results) / RECORDS_FILE}")
    for spec, why in failed:
        err.print(f"HARNESS FAILURE (not recorded; rerun retries it): {spec.label()}: {why}",
                  highlight=False, markup=False)
    # 0: every case ran and has a record (a backend's timeout / oom / crash is a result); 1: the harness failed;
    # 3 with --strict: a case did not end ok
    if failed:
        return 1
    return 3 if args.strict and any(r.status != "ok" for r in records) else 0


def _tune(args: argparse.Namespace, cases: list, limits, lines: Console, failed: list, skipped: list):
    """The tuning phase of ``run`` (:mod:`oocbench.harness.tune`) when a case has the tuned profile: every grid
    point runs (or is kept) and prints its line, then each winner its line. Returns the
    :class:`~oocbench.harness.tune.TunedRun`, ``None`` when nothing is tuned, or an exit code."""
    from oocbench.adapters.base import TUNED
    from oocbench.harness.suites import ResultsDirError, check_results_dir, get_suite
    from oocbench.harness.tune import point_line, tune, tune_workers, winner_line

    scale = args.tune_scale or (get_suite(args.suite).tune_scale if args.suite else None)
    if not any(c.profile == TUNED for c in cases):
        if args.tune_scale:
            raise UsageError("--tune-scale sets where the tuned profile's grids are fitted: give --tune too")
        return None
    if args.dispatch:
        err.print("oocbench run: the tuned profile fits its grids here, before the cases; --dispatch cannot run "
                  "them yet (run the tuned cases without --dispatch)", highlight=False, markup=False)
        return 2
    try:  # the grid points' records go there too
        check_results_dir(Path(args.results), 1)
    except ResultsDirError as exc:
        err.print(f"oocbench run: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 1
    return tune(cases, args.results, limits, scale=scale, force=args.force,
                on_point=lambda r, kept: lines.print(point_line(r, kept), highlight=False, markup=False),
                on_tuned=lambda t: lines.print(winner_line(t), highlight=False, markup=False),
                errors=failed, skipped=skipped, workers=tune_workers(cases))


class _RunColumn(ProgressColumn):
    """Cases done, the expected time left (:class:`~oocbench.harness.eta.Eta`) and how long the running case
    has run, short enough for an 80-column terminal beside the case's name."""

    def render(self, task) -> Text:
        from oocbench.fmt import fmt_seconds

        left = task.fields.get("eta")
        t0 = task.fields.get("case_t0")
        repeats = task.fields.get("repeats") or 0
        return Text(f"{task.completed:,}/{task.total:,}" + (f" +{repeats} rep" if repeats else "")
                    + (" ..." if left is None else f" ~{fmt_seconds(left)} left")
                    + ("" if t0 is None else f", case {fmt_seconds(time.monotonic() - t0)}"))


def summary_table(records, width: int | None = None) -> Table:
    """Adapter x scale: median rows/s (and spread over repeats), RSS growth during fit, holdout loss, status.

    ``width`` (the terminal's columns): where a full cell would not fit, each cell keeps rows/s and loss only
    (two lines, not five wrapped ones) and the title says where the rest is.
    """
    from oocbench.analysis import summary_cells

    cells = summary_cells(records)
    scales = sorted({s for per in cells.values() for s in per})
    compact = width is not None and width < 32 + 18 * len(scales)
    losses = " / ".join(sorted({c["loss_name"].replace("_", " ") for per in cells.values() for c in per.values()
                                if c.get("loss_name")}))
    table = Table(title=f"median rows/s, holdout {losses or 'loss'} (all figures: oocbench report)"
                  if compact else "summary (median over repeats; +-: (max-min)/median)")
    table.add_column("adapter", no_wrap=compact)
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
                loss = c["loss"]["median"]
                if compact:
                    lines += [f"{fmt_rows(c['rows_per_s']['median'])}/s", f"{loss:.4f}" if loss is not None else "-"]
                else:
                    if c["rows_per_s"]["n"] > 1 and c["rows_per_s"]["spread"] is not None:
                        rate += f" +-{c['rows_per_s']['spread']:.0%}"
                    lines += [rate, f"RSS +{fmt_bytes(c['rss_fit_bytes']['median'])}",
                              f"{c['loss_name'].replace('_', ' ')} {loss:.4f}" if loss is not None else "-"]
            if c["status"] != "ok":
                lines.append(f"[red]{c['status']}[/]")
            row.append("\n".join(lines))
        table.add_row(escape(adapter), escape(dataset), *row)  # "[batch 1,000]" is not markup
    return table


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static comparison report and print the path of its index.html (alone, on stdout)."""
    from oocbench.files import NotRegularFileError
    from oocbench.reports import build_report, load_records
    from oocbench.reports.load import UnreadableRecordsError

    skipped: list = []
    try:
        records = load_records(args.results, skipped)
    except (FileNotFoundError, UnreadableRecordsError, NotRegularFileError) as exc:
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
    default = (results if results.is_dir() else results.parent) / "report"
    out = args.out if args.out is not None else default
    if why := _unsafe_out(Path(out), results, default):
        err.print(f"oocbench report: --out {out}: {why}", highlight=False, markup=False, soft_wrap=True)
        return 2
    index = build_report(records, out, source=source, project_rows=args.project_rows, prices=_prices(args))
    err.print(f"report of {len(records)} record(s) from {args.results}:", highlight=False, markup=False)
    print(index.resolve())  # plain print: a rich console would wrap a long path
    return 0


def _unsafe_out(out: Path, results: Path, default: Path) -> str:
    """Why the report may not be written at ``out`` (``""`` when it may): the report is a folder that replaces
    whatever is at ``out``, so an existing file (``notes.txt``) was deleted and ``--out results/records.jsonl``
    turned the records into a folder. Only ``default`` (``RESULTS/report``) may be inside the results folder."""
    from oocbench.files import is_inside
    from oocbench.records import RECORDS_FILE

    if (out.exists() or out.is_symlink()) and not out.is_dir():
        what = "a records file" if out.name == RECORDS_FILE or is_inside(out, results) else "an existing file"
        return (f"is {what}, and a report is a folder that would replace it; give --out a new folder (or a "
                "previous report's), e.g. reports/NAME")
    if is_inside(results, out):
        return (f"holds the records this report reads ({results}), which the report folder would replace; give "
                "--out a folder outside it, e.g. reports/NAME")
    folder = default.parent
    if is_inside(out, folder) and out.resolve() != default.resolve():
        return (f"is inside the results folder {folder}, where records are kept; give --out a folder outside it "
                f"(e.g. reports/NAME), or leave --out out for {default}")
    return ""


def cmd_check_adapter(args: argparse.Namespace) -> int:
    from oocbench.adapters.checks import run_checks_cli

    return run_checks_cli(args.name)


class _Parser(argparse.ArgumentParser):
    """argparse, its usage errors printable: they quote the argument, which may hold control characters; with
    ``--json`` on the line, the error is also a JSON document on stdout (a script parsing stdout gets it)."""

    json_errors = False  # set by _main when --json is on the command line

    def error(self, message: str):
        message = printable(message)
        if _Parser.json_errors:
            _print_json({"error": f"{self.prog}: error: {message}", "exit": 2})
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    from oocbench.adapters.base import PROFILES, THREAD_MODES  # the choices the adapters define, in one place
    from oocbench.harness.suites import SHORT_FIT_S, SUITES

    p = _Parser(prog="oocbench", description=__doc__.splitlines()[0])  # its subparsers are _Parser too
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="adapters (with install status), datasets and scales")
    ls.add_argument("--json", action="store_true", help="one JSON document on stdout instead of tables")
    ls.set_defaults(func=cmd_list)

    g = sub.add_parser("generate", help="write a dataset at a scale (Parquet shards + manifest)")
    g.add_argument("dataset", nargs="?", help="dataset name (see `oocbench datasets`)")
    g.add_argument("--scale", required=True, help="row count or tier (xs, s, m, l, xl, xxl)")
    g.add_argument("--from-file", type=Path, default=None, help="your own CSV (.gz) or Parquet file")
    g.add_argument("--target", default=None, help="with --from-file: the label column")
    g.add_argument("--task", choices=("binary", "regression"), default=None,
                   help="with --from-file: the task, when inferring it from the target column is not what you mean "
                        "(e.g. whole-number quantities with few values, which look like class labels)")
    g.add_argument("--replace", action="store_true",
                   help="with --from-file: the dataset's name already belongs to another file or target (a typo in "
                        "--target): forget that one, delete its generated data, and make this one")
    g.add_argument("--seed", type=int, default=0)
    # --data, as `run` names it; --out, its earlier name, still works
    g.add_argument("--data", "--out", dest="out", type=_where, default=None, metavar="DIR|URL",
                   help="data directory or URL, e.g. s3://bucket/prefix (default $OOCBENCH_DATA_DIR or ./data)")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("datasets", help="datasets: task, tiers, what is on disk (rows, bytes), known optimum")
    d.add_argument("--data", "--out", dest="out", type=_where, default=None, metavar="DIR|URL",
                   help="data directory or URL (default $OOCBENCH_DATA_DIR or ./data)")
    d.add_argument("--json", action="store_true", help="one JSON document on stdout instead of a table")
    d.set_defaults(func=cmd_datasets)

    r = sub.add_parser("run", help="run one case, or a suite, each in a fresh process; append records")
    r.add_argument("--suite", help=f"a named grid of cases: {', '.join(SUITES)} (oocbench/harness/suites.py)")
    r.add_argument("--adapter", help="adapter name (with --suite: a comma-separated subset)")
    r.add_argument("--dataset", help="dataset name (with --suite: a comma-separated subset)")
    r.add_argument("--scale", help="rows or tier; comma-separated values run each (a value given twice, as 1e4 "
                                   "and 10000, once); with --suite: replaces the suite's scales")
    r.add_argument("--profile", default=None, choices=PROFILES,
                   help="hyperparameters: the same model in every library (matched, default), each library's "
                        "documented defaults (recommended), or those plus the best point of the adapter's tune_grid "
                        "(tuned, see --tune); with --suite: replaces the suite's profiles")
    r.add_argument("--tune", action="store_true",
                   help="the tuned profile (--profile tuned): per adapter and dataset, fit every point of the "
                        "adapter's tune_grid on the tune scale's training rows minus their last 20%%, keep the lowest "
                        "validation loss (never the holdout), then run it at every scale; grid points go to "
                        "RESULTS/tuning.jsonl and are reused by a rerun")
    r.add_argument("--tune-scale", type=_scale, default=None, metavar="ROWS",
                   help="rows at which the grids are fitted (default: the suite's tune_scale, else the run's "
                        "smallest scale)")
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
    r.add_argument("--param", type=_param, action="append", default=None, metavar="NAME=V[,V...]",
                   help="set an adapter hyperparameter (e.g. eta0, alpha; an unknown name lists the valid ones) or a "
                        "harness knob (batch_size, passes, hash_bits, threads, seed, profile); repeatable; comma-"
                        "separated values make a grid (every combination a case); values are read as whole "
                        "number, number, true/false, none, else text; with --suite: adds to or replaces the "
                        "suite's grid")
    # the maxima only catch typos (1e308 GiB overflowed; --repeat 10^9 built a billion cases before running one)
    r.add_argument("--repeat", type=_repeat, default=None, metavar="N|auto",
                   help=f"runs of each case, a fresh model each time (1 to {MAX_REPEAT}); auto: {AUTO_REPEATS} where "
                        f"the first run's fit took under {SHORT_FIT_S:g} s (one run of a short fit is noise; the "
                        "extra runs skip memray), else 1 (default: auto with --suite, except smoke; 1 for one case)")
    r.add_argument("--strict", action="store_true",
                   help="exit 3 when a case did not end ok (timeout, oom, error, crashed, skipped, not-installed)")
    r.add_argument("--json", action="store_true",
                   help="print the run's records as one JSON document on stdout (result lines go to stderr)")
    r.add_argument("--timeout", type=_positive(float, maximum=MAX_TIMEOUT_S), default=600.0,
                   help="seconds per case before it is stopped and recorded timeout (default %(default)g)")
    r.add_argument("--budget", type=_positive(float, allow_zero=True, maximum=MAX_TIMEOUT_S), default=None,
                   metavar="SECONDS",
                   help="per-case time budget: a case whose wall time, projected linearly in rows from the same case "
                        "at a smaller scale, is over it is recorded skipped without running, with the projection "
                        "(0: none; default: the suite's own, none for the others)")
    r.add_argument("--grace", type=_positive(float, allow_zero=True, maximum=MAX_TIMEOUT_S), default=5.0,
                   help="seconds between SIGINT, SIGTERM and SIGKILL on timeout (default %(default)g)")
    r.add_argument("--memory-limit", type=_memory, default=None, metavar="SIZE",
                   help="cap on a case's process-tree RSS: 12GiB, 500MB, 50%% (of RAM) or a plain number of GiB; "
                        "past it the case is killed and recorded oom (default 80%% of RAM)")
    r.add_argument("--no-memray", action="store_true", help="skip the separate memray run")
    r.add_argument("--force", action="store_true", help="rerun cases already recorded")
    r.add_argument("--yes", action="store_true",
                   help=f"run even when the options make more than {MAX_CASES:,} cases (a large --param grid); "
                        "without it such a run only prints the count")
    r.add_argument("--results", type=Path, default=None, help="results directory (default ./results)")
    r.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run dask adapters on this existing dask.distributed scheduler (sets $OOCBENCH_DASK_SCHEDULER; "
                        "its workers must see the same data directory)")
    r.add_argument("--spark-master", default=None, metavar="URL",
                   help="run spark.* adapters on this Spark master: spark://HOST:PORT or local-cluster[W,C,MB] "
                        "(sets $OOCBENCH_SPARK_MASTER; default local[N], N from --threads)")
    r.add_argument("--data", type=_where, default=None, metavar="DIR|URL",
                   help="data directory or URL, e.g. s3://bucket/prefix (sets $OOCBENCH_DATA_DIR; default ./data)")
    r.add_argument("--dispatch", default=None, metavar="tcp://HOST:PORT",
                   help="spread the cases over this dask.distributed cluster: each case runs in its own process on a "
                        "worker started with --resources oocbench-case=1, one case per worker at a time; records "
                        "are appended here")
    r.set_defaults(func=cmd_run)

    from oocbench.cli_advise import add_parser as add_advise

    add_advise(sub, _where, _memory, _positive)

    rp = sub.add_parser("report", help="write the static HTML comparison report (plots, tables, raw CSV/JSON)")
    rp.add_argument("--results", type=Path, default=None,
                    help="records.jsonl, a directory holding one (or a tree of them), or a report's results.json "
                         "(default ./results)")
    rp.add_argument("--out", type=Path, default=None, help="report directory (default RESULTS/report)")
    rp.add_argument("--project-rows", type=_project_rows, default=1e9, metavar="ROWS",
                    help="row count each adapter's fit memory is projected to, against this machine's RAM, where 3+ "
                         "scales over 2 decades were measured (default 1e9)")
    from oocbench.cost import DEFAULT_PRICES

    rp.add_argument("--core-hour", type=_positive(float, allow_zero=True, maximum=1e6), default=None, metavar="USD",
                    help=f"price of one core for an hour, for the cost of 10^9 rows (default {DEFAULT_PRICES.core_hour:g}:"
                         " Google Cloud N2 us-central1 on-demand, 2024)")
    rp.add_argument("--gb-hour", type=_positive(float, allow_zero=True, maximum=1e6), default=None, metavar="USD",
                    help=f"price of 1 GiB of RAM for an hour (default {DEFAULT_PRICES.gb_hour:g}: the same price list)")
    rp.set_defaults(func=cmd_report)

    hl = sub.add_parser("headline", help="the published verdict tables (docs/results.md): per dataset and scale, the fastest, leanest, "
                                         "most accurate and cheapest adapter among those that beat the constant "
                                         "predictor (each with its loss), the Pareto front, as Markdown, from a results directory or a report's results.json")
    hl.add_argument("results", type=Path, help="records: a results directory, records.jsonl or results.json")
    hl.add_argument("--core-hour", type=_positive(float, allow_zero=True, maximum=1e6), default=None, metavar="USD",
                    help="price of one core for an hour (default: as `oocbench report`)")
    hl.add_argument("--gb-hour", type=_positive(float, allow_zero=True, maximum=1e6), default=None, metavar="USD",
                    help="price of 1 GiB of RAM for an hour (default: as `oocbench report`)")
    shape = hl.add_mutually_exclusive_group()
    shape.add_argument("--series", action="store_true",
                    help="instead: one row per adapter, one column per scale (rows/s, peak RSS, loss or status)")
    shape.add_argument("--answer", action="store_true",
                    help="instead: the report's first screen, one sentence per dataset (the README's answer)")
    hl.set_defaults(func=cmd_headline)

    ca = sub.add_parser("check-adapter", help="run the adapter check suite on a registered adapter (yours too, once "
                                              "its entry point is installed): PASS / SKIP / FAIL per check; exit 1 "
                                              "if one fails")
    ca.add_argument("name", help="adapter name (see `oocbench list`)")
    ca.set_defaults(func=cmd_check_adapter)
    return p


#: what an interrupted command leaves, by command (every write is atomic or resumable)
INTERRUPTED = {
    "run": "the records of finished cases are kept; run the same command again to go on (they are not rerun)",
    "generate": "nothing incomplete reads as a dataset; run the same command again to resume (finished shards "
                "are kept)",
    "report": "the report folder holds the previous report or the new one, whole, and no temporary folder is left",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line (see :func:`_main`); Ctrl-C before a command has started (while modules load, or
    the options are read) is one line and exit 130 too."""
    import signal

    # a shell starts a background job (`make bench &`, a CI script run with &) with SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: `kill -INT` would do nothing and a run could not be interrupted
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        err.print("oocbench: interrupted (Ctrl-C); nothing was changed", highlight=False, markup=False)
        return 130


def _main(argv: list[str] | None = None) -> int:
    """Run the command line; expected failures are one line on stderr (the traceback only with ``--debug``).

    Exit codes: 0 done; 1 a failure of data, disk, network or the harness (named in the line); 2 a usage error
    (unknown name, invalid option value); 130 interrupted (Ctrl-C), in one line saying what was kept.
    """
    import traceback

    from oocbench.adapters.registry import UnknownAdapterError
    from oocbench.datasets import DatasetError, UnknownDatasetError
    from oocbench.harness.suites import UnknownSuiteError

    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line (before or after the command), so it is taken out first
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    json_out = _Parser.json_errors = "--json" in argv
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
        # printable: a message may quote a user's file (column names of a binary file: escape sequences)
        err.print(f"oocbench {args.command}: {printable(text)}", highlight=False, markup=False, soft_wrap=True)
        if json_out:  # a script reading stdout gets the failure too, not an empty document
            _print_json({"error": f"oocbench {args.command}: {printable(text)}", "exit": code})
        return code

    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, not the traceback of wherever it landed
        return fail(f"interrupted (Ctrl-C); {INTERRUPTED.get(args.command, 'nothing was changed')}", 130)
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
