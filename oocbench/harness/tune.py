"""The ``tuned`` profile: each library at its best, chosen on a validation tail of the training rows, never the holdout.

For each adapter and dataset among a run's ``tuned`` cases, every point of the adapter's ``tune_grid``
(:meth:`~oocbench.adapters.base.Adapter.tune_points`) runs as a case of its own, with no memray run, one after
another in a child process per worker (:func:`oocbench.harness.runner.run_points`: imports paid once, each point
its own adapter object; a point that kills its process runs again alone), at one scale - the *tune scale*: the smallest scale
of those cases, or the one asked for (``--tune-scale``, a suite's ``tune_scale``) - with the ``recommended``
profile plus the point's overrides. It learns from that scale's training rows minus a validation tail (the last
20%, :func:`~oocbench.harness.validation.split_rows`) and is scored on the tail
(:class:`~oocbench.harness.validation.ValidationSplit`). The point with the lowest validation loss wins
(:data:`RULE`), and the tuned cases then run at every scale as ordinary cases: profile ``tuned`` (which resolves
as ``recommended``) with the winner's overrides as their parameters, their records holding ``extra.tuning``
(:func:`tuning_facts`: the grid, each point's validation loss, the tune scale and rows, the rule, the winner,
the tuning's wall time). The dataset's holdout is read only by those cases, after the winner is chosen.

An adapter with no ``tune_grid`` (a third party's) runs its ``recommended`` settings, and its records say so
(:data:`NO_GRID`). The grid points' records go to ``tuning.jsonl`` beside ``records.jsonl`` (reports never read
it: their metrics are validation figures, under ``extra.validation``); a rerun reuses a point recorded with the
same identity, split, adapter code and library versions, as :func:`oocbench.harness.suites.recorded` does for
cases, so an unchanged grid is not fitted again and its winner - hence its tuned cases' identity - stays.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from oocbench.adapters.base import MAX_TUNE_POINTS, TUNED, TUNED_BASE
from oocbench.harness.runner import Limits, run_points
from oocbench.harness.validation import VALID_SHARE, split_rows
from oocbench.records import HARNESS_KNOBS, CaseRecord, CaseSpec, SkippedLine, append_record, read_records

#: where the grid points' records go, in the results directory
TUNING_FILE = "tuning.jsonl"
#: the most child processes that run grid points at once (each on one thread; see :func:`tune_workers`)
MAX_TUNE_WORKERS = 4
#: how the winner is chosen (``{loss}``: the task's headline loss)
RULE = ("lowest validation {loss} (the task's headline loss: log loss for binary, RMSE for regression) on the "
        "validation tail; ties go to the point listed first in the grid's declared order; a point that did not end "
        "ok or scored a non-finite loss is left out; the dataset's holdout is read only by the tuned cases, after "
        "the winner is chosen")
NO_GRID = "the adapter declares no tune_grid: run with its recommended settings"
#: the split rule's version, part of a grid point's identity: a changed rule fits the grid again
SPLIT_RULE = f"tail-{VALID_SHARE:g}"
#: harness knobs a grid may set (the others are the run's own axes: a tuned case keeps its profile, threads, seed)
GRID_KNOBS = ("passes", "batch_size", "hash_bits")


def group_of(spec: CaseSpec) -> tuple:
    """What one tuning covers: every scale and repeat of one adapter on one dataset with the same settings."""
    return (spec.adapter, spec.dataset, spec.seed, spec.threads, spec.batch_size, spec.hash_bits, spec.passes,
            spec.params)


def point_key(spec: CaseSpec, train_rows: int, valid_rows: int) -> str:
    """A grid point's identity in ``tuning.jsonl``: its case, the split and the split rule."""
    ident = [spec.key(), train_rows, valid_rows, SPLIT_RULE]
    return hashlib.sha1(json.dumps(ident).encode()).hexdigest()[:16]


def loss_of(record: CaseRecord) -> float | None:
    """A grid point's validation loss (``None`` when it did not end ok or scored no finite loss)."""
    value = record.extra.get("validation", {}).get("value")
    return float(value) if record.status == "ok" and isinstance(value, int | float) and math.isfinite(value) else None


def choose(losses: list[float | None]) -> int | None:
    """Index of the winning point: the lowest finite loss, the first listed among equal ones (:data:`RULE`).

    >>> choose([0.3, 0.2, None, 0.2]), choose([None, float("nan")])
    (1, None)
    """
    ok = [(loss, i) for i, loss in enumerate(losses) if loss is not None and math.isfinite(loss)]
    return min(ok)[1] if ok else None


@dataclass
class Tuning:
    """One adapter on one dataset tuned: what its tuned cases run with, and what their records say."""

    adapter: str
    dataset: str
    params: dict[str, Any] = field(default_factory=dict)  # hyperparameters of the tuned cases (fixed + winner's)
    knobs: dict[str, Any] = field(default_factory=dict)  # harness knobs the winner sets (passes...)
    facts: dict[str, Any] = field(default_factory=dict)  # extra.tuning
    points: list[CaseRecord] = field(default_factory=list)  # the grid points' records, in grid order

    def apply(self, spec: CaseSpec) -> CaseSpec:
        """``spec`` with the winner's settings."""
        return replace(spec, params=tuple(sorted(self.params.items())), **self.knobs)


def _filed(path: Path, limits: Limits, skipped: list[SkippedLine] | None) -> dict[str, CaseRecord]:
    """Grid points in ``path`` a rerun keeps, by :func:`point_key` (see :func:`oocbench.harness.suites.recorded`)."""
    from oocbench.harness.suites import hit_smaller_limit, versions_match

    out = {}
    for r in read_records(path, skipped):
        key = r.extra.get("tuning_point", {}).get("key")
        if key and versions_match(r) and not hit_smaller_limit(r, limits):
            out[key] = r
    return out


def _as_point(record: CaseRecord, key: str, point: dict[str, Any], train: int, valid: int, loss: str) -> CaseRecord:
    """A grid point's record as filed: its figures, scored on the validation tail, moved under ``extra.validation``
    (``metrics`` stays empty: no reader may take them for holdout figures)."""
    record.extra["validation"] = {"loss": loss, "value": record.metrics.get(loss), "metrics": record.metrics,
                                  "baseline": record.baseline, "train_rows": train, "valid_rows": valid,
                                  "what": "scored on the validation tail of the training rows, not the holdout"}
    record.extra["tuning_point"] = {"key": key, "point": point, "split_rule": SPLIT_RULE}
    record.extra.pop("gap_to_optimum", None)
    record.metrics, record.baseline, record.optimum = {}, {}, {}
    return record


def point_line(record: CaseRecord, kept: bool = False) -> str:
    """One line per grid point, as ``oocbench run`` prints it."""
    c, v = record.case, record.extra.get("validation", {})
    head = (f"tune {c.adapter} {c.dataset} n={v.get('train_rows', 0):,}+{v.get('valid_rows', 0):,} validation "
            f"[{', '.join(f'{k}={x}' for k, x in record.extra.get('tuning_point', {}).get('point', {}).items())}]")
    if record.status != "ok":
        return f"{head}: {record.status.upper()} - {record.reason}" + (" (kept)" if kept else "")
    loss = loss_of(record)
    return (f"{head}: ok  validation {v.get('loss', 'loss').replace('_', ' ')} "
            f"{'-' if loss is None else f'{loss:.4f}'}  fit {record.timings.fit_s or 0:.2f} s  "
            f"wall {record.timings.total_s or 0:.1f} s" + ("  (kept)" if kept else ""))


def winner_line(t: Tuning) -> str:
    """The outcome of one tuning, as ``oocbench run`` prints it."""
    f = t.facts
    if not f.get("winner"):
        return f"tuned {t.adapter} {t.dataset}: recommended settings - {f.get('why', '')}"
    w = f["winner"]
    chosen = ", ".join(f"{k}={v}" for k, v in w["params"].items())
    return (f"tuned {t.adapter} {t.dataset}: {chosen} - lowest validation {f['loss'].replace('_', ' ')} "
            f"{w['validation_loss']:.4f} of {len(f['points'])} points (at {f['scale']:,} rows: {f['train_rows']:,} "
            f"train + {f['validation_rows']:,} validation; {f['wall_s']:.1f} s of tuning)")


def tuning_facts(grid: dict[str, tuple], fixed: dict[str, Any], scale: int, scale_from: str,
                 train: int, valid: int, loss: str, records: list[CaseRecord], kept: list[bool]) -> dict[str, Any]:
    """``extra.tuning`` of the tuned cases: the grid, each point with its validation loss, the split, the rule,
    the winner, and the tuning's cost (the grid points' wall time, child start to finish, kept ones included)."""
    losses = [loss_of(r) for r in records]
    best = choose(losses)
    points = [{"params": r.extra["tuning_point"]["point"], "status": r.status, "reason": r.reason,
               "validation_loss": value, "fit_s": r.timings.fit_s, "wall_s": r.timings.total_s, "kept": was_kept,
               "point_key": r.extra["tuning_point"]["key"]}
              for r, value, was_kept in zip(records, losses, kept, strict=True)]
    rows = train + valid
    facts: dict[str, Any] = {
        "grid": {k: list(v) for k, v in grid.items()}, "base_profile": TUNED_BASE, "scale": scale,
        "scale_from": scale_from, "train_rows": train, "validation_rows": valid,
        "validation": (f"training rows [{train:,}, {rows:,}) of the {rows:,} at the tune scale (the last "
                       f"{valid / rows:.0%}); each point learns from the {train:,} before them"),
        "loss": loss, "rule": RULE.format(loss=loss.replace("_", " ")), "points": points,
        "winner": ({"point": best, "params": points[best]["params"], "validation_loss": losses[best]}
                   if best is not None else None),
        "wall_s": sum(p["wall_s"] or 0.0 for p in points), "ran_now": kept.count(False), "records": TUNING_FILE}
    if fixed:
        facts["fixed"] = dict(fixed)  # --param values held fixed at every point (their names left the grid)
    if best is None:
        facts["why"] = "no grid point ended ok with a finite validation loss: run with its recommended settings"
    return facts


def _split_point(point: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A grid point's (hyperparameters, harness knobs)."""
    return ({k: v for k, v in point.items() if k not in HARNESS_KNOBS},
            {k: v for k, v in point.items() if k in HARNESS_KNOBS})


def tune_workers(cases: Iterable[CaseSpec]) -> int:
    """How many grid points run at once: one per core (at most :data:`MAX_TUNE_WORKERS`) when every tuned case
    runs on one thread, else one. Only a point's validation loss is used, never its time or memory, so points
    may share the machine; a case's own measurements never overlap anything."""
    import os

    if any(c.threads != "1" for c in cases if c.profile == TUNED):
        return 1
    return max(1, min(MAX_TUNE_WORKERS, os.cpu_count() or 1))


def tune_group(specs: list[CaseSpec], results: Path, limits: Limits, scale: int, scale_from: str,
               force: bool = False, data_base: Path | str | None = None,
               on_point: Callable[[CaseRecord, bool], None] | None = None,
               skipped: list[SkippedLine] | None = None, workers: int = 1) -> Tuning:
    """Tune one group of tuned cases (:func:`group_of`): run or reuse every grid point, choose the winner.

    ``workers`` > 1 runs that many child processes at once, each taking every ``workers``-th point, one after
    another (:func:`~oocbench.harness.runner.run_points`); records are kept and reported in grid order.

    Raises whatever :func:`~oocbench.harness.runner.run_case` raises for a failure of the harness (a damaged
    dataset): the caller does not run the group's cases then (their tuning is incomplete), and a rerun retries.
    """
    from oocbench import datasets
    from oocbench.adapters.registry import get_entry
    from oocbench.curve import loss_name
    from oocbench.harness.suites import UnknownParamError, check_params

    first = specs[0]
    fixed = dict(first.params)
    t = Tuning(first.adapter, first.dataset, params=dict(fixed))
    entry = get_entry(first.adapter)
    cls = entry.cls
    if cls is None or not entry.installed:  # its cases record not-installed themselves
        t.facts = {"grid": {}, "why": f"not tuned: the adapter is not installed ({entry.reason})"}
        return t
    if not cls.tune_grid:
        t.facts = {"grid": {}, "why": NO_GRID}
        return t
    grid = {k: tuple(v) for k, v in cls.tune_grid.items() if k not in fixed}
    if not grid:
        t.facts = {"grid": {k: list(v) for k, v in cls.tune_grid.items()}, "fixed": fixed,
                   "why": "every name of the adapter's tune_grid is fixed by --param: run with those values"}
        return t
    task = datasets.get_source(first.dataset).task
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    base = replace(first, scale=scale, profile=TUNED_BASE, repeat=0)
    try:  # the adapter's own grid, checked as --param values are: a name it lacks, a value it ignores
        if knobs := [k for k in grid if k in HARNESS_KNOBS and k not in GRID_KNOBS]:
            raise UnknownParamError(f"{', '.join(knobs)}: a run's own axis, not a knob to tune")
        if len(points) > MAX_TUNE_POINTS:
            raise UnknownParamError(f"{len(points)} points, more than the {MAX_TUNE_POINTS} an adapter may declare")
        specs_of = check_params([replace(base, params=tuple(sorted({**fixed, **_split_point(p)[0]}.items())),
                                         **_split_point(p)[1]) for p in points], lambda _: task)
    except UnknownParamError as exc:
        t.facts = {"grid": {k: list(v) for k, v in grid.items()},
                   "why": f"the adapter's tune_grid is refused ({exc}): run with its recommended settings"}
        return t
    if len(specs_of) != len(points):  # two points that are one case (1 and 1.0): a grid must not repeat itself
        raise ValueError(f"{cls.name}: tune_grid has duplicate points: {cls.tune_grid}")
    rows = min(scale, datasets.load(first.dataset, scale, first.seed, base=data_base).rows)
    train, valid = split_rows(rows)
    path = Path(results) / TUNING_FILE
    kept_records = {} if force else _filed(path, limits, skipped)
    records, kept = [], []
    loss = loss_name(task)

    def fit_points(chunk: list[CaseSpec]) -> list[CaseRecord]:
        return run_points(chunk, limits, data_base=data_base, validation={"train_rows": train, "valid_rows": valid})

    fresh = [i for i, s in enumerate(specs_of) if point_key(s, train, valid) not in kept_records]
    pool: ThreadPoolExecutor | None = None
    pending: dict[int, tuple[Future, int]] = {}  # a point to run: its process's future, its place in it
    if fresh:  # a child process per worker, each taking every n-th point; a skipped adapter starts none
        n = max(1, min(workers, len(fresh)))
        pool = ThreadPoolExecutor(n)
        for c in range(n):
            chunk = fresh[c::n]
            future = pool.submit(fit_points, [specs_of[j] for j in chunk])
            pending.update({j: (future, at) for at, j in enumerate(chunk)})
    try:
        for i, (point, spec) in enumerate(zip(points, specs_of, strict=True)):
            key = point_key(spec, train, valid)
            if key in kept_records:
                record, was_kept = kept_records[key], True
            else:
                future, at = pending.pop(i)
                record = future.result()[at]
                if not records and record.status in ("not-installed", "skipped"):  # its cases say why themselves
                    t.facts = {"grid": {k: list(v) for k, v in grid.items()},
                               "why": f"not tuned: its grid point was {record.status} ({record.reason})"}
                    return t
                record, was_kept = _as_point(record, key, point, train, valid, loss), False
                append_record(path, record)
            records.append(record)
            kept.append(was_kept)
            if on_point:
                on_point(record, was_kept)
    finally:
        if pool is not None:  # an early return or Ctrl-C: no new process starts; running ones end with their points
            pool.shutdown(wait=True, cancel_futures=True)
    t.points = records
    t.facts = tuning_facts(grid, fixed, scale, scale_from, train, valid, loss, records, kept)
    if (w := t.facts["winner"]) is not None:
        hyper, knobs = _split_point(w["params"])
        t.params, t.knobs = {**fixed, **hyper}, knobs
    return t


@dataclass
class TunedRun:
    """A run's cases after tuning: the tuned ones with their winners' settings, and what their records say."""

    cases: list[CaseSpec]
    tunings: list[Tuning]
    #: ``extra`` of each tuned case's record, by the key of its repeat 0 (see :meth:`extra_of`)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)

    def extra_of(self, spec: CaseSpec) -> dict[str, Any]:
        """What the record of ``spec`` adds to ``extra`` (``{"tuning": ...}`` for a tuned case; else nothing)."""
        return self.extras.get(replace(spec, repeat=0).key(), {})


def tune(cases: Iterable[CaseSpec], results: Path, limits: Limits | None = None, scale: int | None = None,
         force: bool = False, data_base: Path | str | None = None,
         on_point: Callable[[CaseRecord, bool], None] | None = None,
         on_tuned: Callable[[Tuning], None] | None = None,
         errors: list[tuple[CaseSpec, str]] | None = None,
         skipped: list[SkippedLine] | None = None, workers: int = 1) -> TunedRun:
    """Tune the ``tuned`` cases among ``cases`` (the others pass through) and return what to run.

    Parameters
    ----------
    cases : iterable of CaseSpec
        The run's cases, in order; a ``tuned`` case's ``params`` are held fixed at every grid point.
    results : Path
        The results directory: grid points go to its ``tuning.jsonl``.
    limits : Limits, optional
        Each grid point's limits (its timeout, memory cap), as for a case.
    scale : int, optional
        The tune scale; default the smallest scale of each adapter's tuned cases on the dataset.
    force : bool
        Fit every grid point again, even those recorded.
    on_point, on_tuned : callable, optional
        Hear each grid point's record (and whether it was kept) and each finished tuning.
    errors : list, optional
        Where a failure of the harness during a tuning goes, ``(case, "tuning: Type: message")`` per case of the
        group, which then does not run (a rerun retries it); without it, the exception propagates.
    skipped : list of SkippedLine, optional
        Lines of ``tuning.jsonl`` that are not valid records.
    workers : int
        Grid points run at once (:func:`tune_workers` gives the machine's); records stay in grid order.
    """
    limits = limits or Limits()
    cases = list(cases)
    groups: dict[tuple, list[CaseSpec]] = {}
    for c in cases:
        if c.profile == TUNED:
            groups.setdefault(group_of(c), []).append(c)
    out, done = TunedRun([], []), {}
    for key, specs in groups.items():
        at, why = (scale, "asked for (--tune-scale or the suite's tune_scale)") if scale else (
            min(c.scale for c in specs), "the smallest scale of the run")
        try:
            t = tune_group(specs, results, limits, at, f"{why}: {at:,} rows", force, data_base, on_point, skipped,
                           workers=workers)
        except Exception as exc:
            if errors is None:
                raise
            errors.extend((c, f"tuning: {type(exc).__name__}: {exc}") for c in specs)
            continue
        out.tunings.append(t)
        done[key] = t
        if on_tuned:
            on_tuned(t)
    for c in cases:
        if c.profile != TUNED:
            out.cases.append(c)
        elif (t := done.get(group_of(c))) is not None:
            spec = t.apply(c)
            out.cases.append(spec)
            out.extras[replace(spec, repeat=0).key()] = {"tuning": t.facts}
    out.cases = list(dict.fromkeys(out.cases))
    return out
