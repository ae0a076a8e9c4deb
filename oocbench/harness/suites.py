"""Suites: which cases a run covers, defined in one readable place, and the loop that runs them.

A suite is adapters x datasets x scales x profiles, times its grid: hyperparameters and harness knobs with
several values each (``oocbench run --param NAME=V1,V2`` adds to or replaces a suite's grid), checked against what
each adapter accepts (:func:`check_params`). Cases already recorded with the same identity and
library versions are skipped, so a killed suite resumes where it stopped; ``force`` redoes them. A ``timeout``
or ``oom`` recorded under a smaller time or memory limit than the run's is tried again; a record of an adapter
no longer installed here matches nothing (and blocks nothing).
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from oocbench.adapters.base import Adapter
from oocbench.adapters.registry import UnknownAdapterError, discover, get_entry
from oocbench.fmt import fmt_bytes
from oocbench.harness.projection import case_wall_s, grown, growth_exponent
from oocbench.harness.runner import Limits, budget_skip, run_case
from oocbench.records import (
    HARNESS_KNOBS,
    RECORDS_FILE,
    CaseRecord,
    CaseSpec,
    SkippedLine,
    append_record,
    read_records,
)


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[str, ...]
    scales: tuple[int, ...]
    profiles: tuple[str, ...] = ("matched",)
    threads: tuple[str, ...] = ("1",)
    passes: tuple[int, ...] = (1,)  # adapters that make one pass only are skipped (recorded) at passes > 1
    batch_size: int = 10_000
    description: str = ""
    adapters: tuple[str, ...] = field(default=())  # empty: every registered adapter
    #: name -> values, every combination a case: an adapter's hyperparameters (into CaseSpec.params) or a harness
    #: knob (records.HARNESS_KNOBS: replaces that axis); every adapter of the suite must accept every name
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict, hash=False)
    #: runs per case when ``--repeat`` is not given: ``"auto"`` repeats short cases (see :func:`run_cases`)
    repeats: str | int = "auto"
    #: with a grid: also run each case without overrides (the profile's setting), the baseline the report's
    #: "What is worth tuning" compares the best grid point with
    with_default: bool = False
    #: per-case time budget (s) when ``--budget`` is not given: a case projected past it from the same case at a
    #: smaller scale is recorded ``skipped`` with the projection (None: every case runs, up to ``--timeout``)
    budget_s: float | None = None
    #: rows at which the ``tuned`` profile's grids are fitted when ``--tune-scale`` is not given (None: the run's
    #: smallest scale); a suite carries the tuned view by listing ``"tuned"`` in ``profiles``
    tune_scale: int | None = None
    #: a profile's own scales (its comparison view), replacing ``scales`` for its cases (``--scale`` replaces both)
    profile_scales: Mapping[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    #: profiles whose cases run once, with no memray run: views read for their loss, whose speed is one run's and
    #: whose heap peak is not measured (what keeps three views of ``default`` in its hour)
    once_profiles: tuple[str, ...] = ()
    #: runs of a short case with ``repeats="auto"`` (its first run and the repeats after it)
    short_repeats: int = 3
    #: datasets whose cases run without the memray run (memory from RSS alone): a dataset read for its losses
    #: whose batches have the shape of another's that gets the heap figure
    rss_only_datasets: tuple[str, ...] = ()
    #: the only scales whose cases get the memray run (empty: every scale): the run repeats the fit under a
    #: tracer, doubling a case's time, and one scale gives every adapter's heap peak side by side
    memray_scales: tuple[int, ...] = ()

    def scales_of(self, profile: str) -> tuple[int, ...]:
        """The scales the cases of ``profile`` run at."""
        return tuple(self.profile_scales.get(profile, self.scales))


#: the default suite's per-case time budget (s, the timed run's projected wall time; the memray run is not in it):
#: what keeps 15 adapters x 3 datasets x 3 views under an hour on 2 cores (XGBoost on 10^7 synth-ctr rows alone
#: would take hours)
DEFAULT_BUDGET_S = 70.0

#: Every suite, in one place. Adapters are "every installed one" (but the scale-out ones: ``Adapter.scale_out``)
#: unless a suite names them; a dataset that is
#: not known to this version of oocbench is left out (and said so) rather than failing the suite.
SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("smoke", ("synth-binary",), (2_000,), repeats=1,
          description="every installed adapter on 2,000 rows: does each one run at all (seconds per case)"),
    Suite("quick", ("synth-binary", "synth-ctr"), (10_000, 100_000, 1_000_000),
          adapters=("sklearn.sgd", "sklearn.batch", "vw.linear", "river.linear", "tf.linear", "dask-ml.incremental",
                    "lightgbm.gbdt"),
          description="make bench: one streaming path per library, the in-memory reference and a boosted tree, on "
                      "dense and wide categorical (synth-ctr) data, 10^4 to 10^6 rows (three scales over two "
                      "decades: enough for a scaling exponent), short cases three times: about 10 minutes on 2 "
                      "cores. `default` has every adapter (XGBoost alone takes ~4 min per 10^6 synth-ctr rows)"),
    Suite("default", ("synth-binary", "synth-ctr", "synth-nonlinear"), (100_000, 1_000_000, 10_000_000),
          profiles=("matched", "recommended", "tuned"), budget_s=DEFAULT_BUDGET_S,
          profile_scales={"recommended": (100_000,), "tuned": (100_000,)}, once_profiles=("recommended", "tuned"),
          tune_scale=10_000, short_repeats=2, rss_only_datasets=("synth-nonlinear",), memray_scales=(1_000_000,),
          description="the published report (reports/default): every adapter on dense, wide categorical and "
                      "nonlinear data in three views. matched (the same model in every library) at 10^5, 10^6 and "
                      "10^7 rows (two decades: a scaling exponent), short cases twice, a case whose timed run is "
                      f"projected past {DEFAULT_BUDGET_S:g} s from its smaller scales recorded skipped; recommended (each "
                      "library's documented practice) and tuned (each adapter's grid fitted at 10^4 rows on a "
                      "validation tail, the points in a process per core) at 10^5 rows, each case once and without the "
                      "memray run (no heap peak). To stay under 60 min on 2 cores: 10^4 rows and more scales for "
                      "the other views are left out, short cases run twice (not three times), the memray run (heap "
                      "peak) is at 10^6 rows only (peak RSS at every scale), and synth-nonlinear (dense, "
                      "synth-binary's shape; read for its losses) has no memray run"),
    Suite("full", ("synth-binary", "synth-regression", "synth-ctr", "synth-drift", "synth-nonlinear"),
          (10_000, 100_000, 1_000_000, 10_000_000), profiles=("matched", "recommended"), threads=("1", "all"),
          description="up to 10^7 rows, concept drift too, both profiles and thread modes"),
    Suite("trees", ("synth-nonlinear", "synth-ctr", "synth-binary"), (10_000, 100_000, 1_000_000),
          description="boosted trees (in memory and out of core) against every linear learner, on data with a "
                      "nonlinear optimum, wide categorical and dense linear data"),
    Suite("cluster", ("synth-binary", "synth-ctr"), (100_000, 1_000_000), repeats=1,
          adapters=("sklearn.sgd", "sklearn.batch", "dask-ml.incremental", "xgboost.in-memory",
                    "xgboost.external-memory", "xgboost.dask", "spark.linear"),
          description="beyond one machine: the scale-out learners (XGBoost's dask interface on a LocalCluster of "
                      "worker processes or the cluster --scheduler names; Spark MLlib in local[N] or on "
                      "--spark-master) beside their single-machine controls; "
                      "--param workers=2 for two workers (on 2 cores: the overhead per worker, not a scale-out)"),
    Suite("passes", ("synth-ctr", "synth-binary"), (100_000, 1_000_000), passes=(1, 3),
          adapters=("sklearn.sgd", "vw.linear", "tf.linear", "dask-ml.incremental"),
          description="one pass against three, each library's own multi-pass mode: the loss after every pass "
                      "and the time it took"),
    Suite("tuning", ("synth-binary", "synth-ctr"), (100_000,),
          adapters=("sklearn.sgd", "vw.linear", "river.linear", "tf.linear"),
          grid={"eta0": (0.01, 0.1, 1.0), "alpha": (1e-6, 1e-4, 1e-2)}, with_default=True,
          description="what is worth tuning: each matched linear learner's step size (eta0, in its own units: "
                      "per row, tf.linear per batch) x L2 (alpha) on a 3 x 3 grid"),
)}


class UnknownSuiteError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuiteError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None


def available_datasets(suite: Suite) -> tuple[list[str], list[str]]:
    """The suite's datasets this installation knows, and those it does not (left out of the run)."""
    from oocbench.datasets import dataset_names

    known = set(dataset_names())
    return [d for d in suite.datasets if d in known], [d for d in suite.datasets if d not in known]


def expand(suite: Suite, adapters: Iterable[str] | None = None, repeat: int = 1,
           datasets: Iterable[str] | None = None, scales: Iterable[int] | None = None,
           passes: Iterable[int] | None = None, grid: Mapping[str, Sequence[Any]] | None = None) -> list[CaseSpec]:
    """The suite's cases, dataset-major then scale, adapter, profile, threads, passes, the grid, repeat.

    ``adapters``, ``datasets``, ``scales`` and ``passes`` narrow or replace (for adapters: choose) what the
    suite covers; ``grid`` adds names to the suite's grid or replaces their values. A harness knob in the grid
    (:data:`~oocbench.records.HARNESS_KNOBS`) replaces that axis; every other name is a hyperparameter, whose
    values go into ``CaseSpec.params``. Names are not checked here: see :func:`check_params`.
    """
    merged = {**suite.grid, **({"passes": tuple(passes)} if passes else {}), **(grid or {})}
    knobs = {k: list(v) for k, v in merged.items() if k in HARNESS_KNOBS}
    hyper = {k: list(v) for k, v in merged.items() if k not in HARNESS_KNOBS}
    combos = [tuple(sorted(zip(hyper, values))) for values in itertools.product(*hyper.values())]
    if suite.with_default and hyper and () not in combos:  # the profile's own setting: the grid's baseline
        combos.insert(0, ())
    # a suite of "every adapter" is of one machine's: the scale-out ones run where named (the cluster suite)
    names = list(adapters or suite.adapters
                 or [n for n, e in discover().items() if not (e.cls is not None and e.cls.scale_out)])
    data = list(datasets or available_datasets(suite)[0])
    profiles = list(knobs.get("profile", suite.profiles))
    at = {p: list(scales) if scales else suite.scales_of(p) for p in profiles}  # each profile's scales
    every = list(dict.fromkeys(scales)) if scales else sorted({n for p in profiles for n in at[p]})
    cases = [CaseSpec(adapter=a, dataset=d, scale=n, profile=p, threads=t, passes=k, batch_size=b, hash_bits=h,
                      seed=s, params=c, repeat=r)
             for d in data for n in every for a in names
             for p in profiles if n in at[p] for t in knobs.get("threads", suite.threads)
             for k in knobs.get("passes", suite.passes) for b in knobs.get("batch_size", [suite.batch_size])
             for h in knobs.get("hash_bits", [None]) for s in knobs.get("seed", [0]) for c in combos
             for r in range(repeat)]
    return list(dict.fromkeys(cases))


class UnknownParamError(ValueError):
    """A grid names a hyperparameter an adapter does not accept, or sets one to a value it cannot take or
    ignores (a usage error: ``oocbench run`` exits 2 with this one line)."""


def coerce_param(cls: type[Adapter], name: str, value: Any) -> Any:
    """``value`` as hyperparameter ``name`` of ``cls`` takes it, judged by the values the adapter declares.

    A whole number where every declared value is a float becomes a float (``eta0=1`` and ``eta0=1.0`` are one
    case). Raises ``ValueError`` for a value that is not a number where every declared value is one, or neither
    ``true`` / ``false`` nor a whole number (sklearn's ``average=10``) where every declared value is boolean: it
    would only fail inside the case. ``None``
    passes (a declared ``None`` means "unset" in several libraries).
    """
    tables = (cls.params, *cls.profiles.values(), *cls.sparse_profiles.values())
    declared = list(dict.fromkeys(repr(t[name]) for t in tables if t.get(name) is not None))
    values = [t[name] for t in tables if t.get(name) is not None]
    if value is None or not values:
        return value
    if all(isinstance(v, bool) for v in values) and not isinstance(value, int):  # a bool is an int
        raise ValueError(f"{name} of {cls.name} is true or false, not {value!r}")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} of {cls.name} is a number (declared: {', '.join(declared)}), not {value!r}")
        return float(value) if all(isinstance(v, float) for v in values) else value
    return value


def _adapter_class(name: str) -> type[Adapter] | None:
    try:
        return get_entry(name).cls  # None when its module cannot be imported: its cases record not-installed
    except UnknownAdapterError:
        return None


def check_params(cases: Iterable[CaseSpec], task_of: Callable[[str], str]) -> list[CaseSpec]:
    """``cases`` with their ``params`` checked against each adapter, values coerced (:func:`coerce_param`).

    A name an adapter does not accept (:meth:`~oocbench.adapters.base.Adapter.accepted_params`) is refused,
    also when other adapters of the run accept it: a grid applies to every adapter it runs, and silently
    dropping a name would record cases that differ from what was asked. So is an override that has no
    effect on the model (:meth:`~oocbench.adapters.base.Adapter.inert_params`) for every input format the
    adapter takes, for the dataset's task (``task_of(dataset)``); inert under some formats only, it runs and its
    record says so (``no_effect``). An adapter that cannot be imported is not checked.

    Raises
    ------
    UnknownParamError
        One line: the name, the adapters that lack it with their valid names, or why the value is refused.
    """
    cases = list(cases)
    named: dict[str, set[str]] = {}
    for c in cases:
        named.setdefault(c.adapter, set()).update(name for name, _ in c.params)
    classes = {a: cls for a in named if (cls := _adapter_class(a)) is not None}
    for name in sorted(set().union(*named.values())):
        lacking = [a for a, cls in classes.items() if name not in cls.accepted_params()]
        if lacking:
            valid = "; ".join(f"{a} takes {', '.join(classes[a].accepted_params())}" for a in lacking)
            having = [a for a in named if a not in lacking and name in named[a]]
            also = f" (only {', '.join(having)} of this run do: narrow --adapter to them)" if having else ""
            raise UnknownParamError(f"unknown parameter {name!r} for {', '.join(lacking)}{also}; {valid}")
    out = []
    for c in cases:
        if (cls := classes.get(c.adapter)) is None or not c.params:
            out.append(c)
            continue
        try:
            params = tuple((n, coerce_param(cls, n, v)) for n, v in c.params)
        except ValueError as exc:
            raise UnknownParamError(str(exc)) from None
        out.append(dataclasses.replace(c, params=params))
        if (task := task_of(c.dataset)) in cls.tasks:
            _refuse_inert(cls, task, c.profile, dict(params))
    return list(dict.fromkeys(out))


def _refuse_inert(cls: type[Adapter], task: str, profile: str, overrides: dict[str, Any]) -> None:
    """Raise when an override has no effect under every input format ``cls`` takes."""
    inert: dict[str, str] | None = None
    for fmt in cls.input_formats:
        found = cls.inert_params(task, cls.resolve(profile, fmt, overrides), fmt)
        inert = found if inert is None else {k: v for k, v in inert.items() if k in found}
    if dead := [n for n in overrides if n in (inert or {})]:
        name = dead[0]
        raise UnknownParamError(f"{name}={overrides[name]!r} has no effect on {cls.name} ({profile} profile, "
                                f"{task}): {inert[name]}")


def versions_match(record: CaseRecord) -> bool:
    """Whether ``record`` was made by the library and oocbench versions and the adapter code installed here.

    A record of an adapter this installation does not know (a third-party adapter since uninstalled, a name
    from another machine) matches nothing: it must never stop a run into the same results directory.
    """
    from oocbench.adapters.registry import get_entry
    from oocbench.provenance import provenance

    try:
        entry = get_entry(record.case.adapter)
        lib_version = entry.cls.library_version() if entry.cls else None
        source = entry.cls.source_sha256() if entry.cls else None
    except UnknownAdapterError:
        return False
    # the adapter's own code too: an edited adapter's old results are not reused (nor those of a record made
    # before records carried the hash)
    return (record.adapter_info.get("version") == lib_version
            and record.adapter_info.get("source_sha256") == source
            and record.provenance.get("oocbench") == provenance()["oocbench"])


def record_limits(record: CaseRecord) -> tuple[float | None, int | None]:
    """The time limit (s) and memory cap (bytes) ``record`` ran under; ``None`` where not known.

    Records carry them in ``provenance["limits"]``; older ones only in the reason of a timeout or oom, whose
    wording :func:`oocbench.harness.runner.run_child` has kept ("no result after 5 s", "passed the cap 512 MiB").
    """
    limits = record.provenance.get("limits")
    if isinstance(limits, dict):
        timeout, memory = limits.get("timeout_s"), limits.get("memory_bytes")
        return (float(timeout) if isinstance(timeout, (int, float)) else None,
                int(memory) if isinstance(memory, (int, float)) else None)
    timeout = re.search(r"no result after ([0-9.e+]+) s", record.reason)
    memory = re.search(r"passed the cap (\d+) MiB", record.reason)
    return (float(timeout.group(1)) if timeout else None, int(memory.group(1)) * 2**20 if memory else None)


def hit_smaller_limit(record: CaseRecord, limits: Limits) -> bool:
    """Whether ``record`` is a ``timeout`` or ``oom`` under a smaller limit than ``limits``: not done, since a
    rerun with a larger limit is how a user asks for those cases to be tried again."""
    timeout, memory = record_limits(record)
    if record.status == "skipped" and "budget_skip" in record.extra:  # retried under a larger (or no) budget
        budget = record.extra["budget_skip"].get("budget_s")
        return limits.budget_s is None or (budget is not None and budget < limits.budget_s)
    if record.status == "timeout":
        return timeout is not None and timeout < limits.timeout_s
    if record.status == "oom":
        return memory is not None and memory < limits.memory_cap()
    return False


def recorded(path: Path, force: bool = False, limits: Limits | None = None,
             skipped: list[SkippedLine] | None = None) -> dict[str, CaseRecord]:
    """Records in ``path`` by case key that a rerun keeps instead of running the case again.

    Parameters
    ----------
    path : Path
        The ``records.jsonl``.
    force : bool
        Keep nothing (the file is still read when ``skipped`` is given, to report its bad lines).
    limits : Limits, optional
        The run's limits: a ``timeout`` / ``oom`` record made under smaller ones is not kept. ``None``: kept.
    skipped : list of SkippedLine, optional
        Where the lines of ``path`` that are not valid records are appended (see :func:`read_records`).

    Returns
    -------
    dict
        The last record of each case key whose library and oocbench versions match this installation, except
        ``suspect`` ones (run again).
    """
    if force and skipped is None:
        return {}
    records = read_records(path, skipped)
    if force:
        return {}
    # a `suspect` record is no result to keep: a rerun (after the data or the adapter is fixed) runs it again
    return {r.case.key(): r for r in records if versions_match(r) and r.status != "suspect"
            and not (limits is not None and hit_smaller_limit(r, limits))}


#: a fit shorter than this is "short": with ``repeat_short`` its case is repeated (seconds of fit, repeat 0)
SHORT_FIT_S = 2.0
#: room asked per case still to run: a record is ~5 KB (learning curve, checkpoints, a traceback: tens of KB)
RECORD_ROOM = 64 * 1024
#: and at least this much free: a disk this full fails the next writer, whoever it is
MIN_FREE = 1 << 20


class ResultsDirError(OSError):
    """The results directory cannot take records (not writable, not a directory, too little free space)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def check_results_dir(results: Path, cases: int) -> None:
    """Before the first case: ``results`` exists (it is created), takes a write of :data:`RECORD_ROOM` bytes,
    and has :data:`MIN_FREE` plus :data:`RECORD_ROOM` per case free.

    Raises
    ------
    ResultsDirError
        Naming the directory and what is wrong, in one line: cases that run for hours and then cannot be
        recorded would be lost.
    """
    results = Path(results)
    probe = results / f".oocbench-probe-{os.getpid()}"
    try:
        results.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            written = os.write(fd, bytes(RECORD_ROOM))
            if written != RECORD_ROOM:
                raise OSError(errno.ENOSPC, f"only {written} of {RECORD_ROOM} bytes written")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(results).free
    except OSError as exc:
        raise ResultsDirError(exc.errno or errno.EIO, f"{results}: cannot write records there "
                              f"({exc.strerror or exc}); fix it or give --results a writable directory") from None
    need = MIN_FREE + RECORD_ROOM * cases
    if free < need:
        raise ResultsDirError(errno.ENOSPC, f"{results}: only {fmt_bytes(free)} free, the records of {cases} "
                              f"case(s) need about {fmt_bytes(need)}; free space or give --results another disk")


def projected_peak(spec: CaseSpec, smaller: list[CaseRecord]) -> float | None:
    """The process tree's peak RSS ``spec`` is projected to reach, from the same case's ok runs one and two
    scales down: the power law through the two (its exponent kept within 0..1: LightGBM's binned data grew
    2.5x from 10^6 to 10^7 synth-ctr rows, not 10x), or with one scale, its RSS growth in fit linear in rows."""
    ok = sorted((r for r in smaller if r.status == "ok" and r.memory.rss_peak_bytes), key=lambda r: r.case.scale)
    if not ok:
        return None
    top = ok[-1]
    below = [r for r in ok if r.case.scale < top.case.scale]
    if below:
        low = below[-1]
        slope = math.log(top.memory.rss_peak_bytes / low.memory.rss_peak_bytes) / math.log(top.case.scale / low.case.scale)
        return top.memory.rss_peak_bytes * (spec.scale / top.case.scale) ** min(1.0, max(0.0, slope))
    growth = top.memory.rss_fit_bytes
    if growth is None:
        return None
    return (top.memory.rss_baseline_bytes or 0) + growth * spec.scale / top.case.scale


def over_budget(spec: CaseSpec, known: Iterable[CaseRecord], budget_s: float | None,
                memory_cap: int | None = None) -> tuple[str, dict] | None:
    """Why ``spec`` is not worth running under a per-case time budget, or ``None`` to run it.

    The budget is on the timed run (the memray run, where a case has one, comes on top and meets the timeout on
    its own). Its projection (:func:`oocbench.harness.projection.grown`) comes from the same case (adapter,
    dataset, profile, parameters...) at the smaller scales recorded: its fixed costs (:func:`case_wall_s`:
    process start, imports, scoring a fixed-size holdout) as they were at the largest, the time that touches the
    rows (fit, prepare, reading) along a line through two scales, or with one, as the same case grew on another
    dataset, or linearly. Time growing faster than that (in-memory learners) still meets the timeout. A smaller scale that timed out, or was itself over budget, rules the case
    out too. An ``oom`` does not, and neither does a case whose peak memory (:func:`projected_peak`) passes
    ``memory_cap``: an adapter that holds every row is run to show where it ends ``oom``, which it reaches
    before its projected time.
    """
    if budget_s is None or spec.repeat:
        return None
    known = [r for r in known if r.case.repeat == 0]
    same = [r for r in known if r.case.scale < spec.scale and replace(r.case, scale=spec.scale).key() == spec.key()]
    if not same:
        return None
    prev = max(same, key=lambda r: r.case.scale)
    m, n = prev.case.scale, spec.scale
    facts: dict[str, Any] = {"budget_s": budget_s, "from_scale": m}
    if prev.status == "timeout" or "budget_skip" in prev.extra:
        return (f"over the per-case time budget of {budget_s:.0f} s: at {m:,} rows it already "
                f"{'timed out' if prev.status == 'timeout' else 'was over it'}", facts)
    if prev.status != "ok" or (wall := case_wall_s(prev, memray=False)) is None:
        return None
    points = [(r.case.scale, *parts) for r in same if r.status == "ok" and (parts := case_wall_s(r, memray=False))]
    others: dict[str, list[tuple[int, float]]] = {}
    for r in known:  # the same case on other datasets: how its growing part grew there
        if (r.status == "ok" and r.case.dataset != spec.dataset and (parts := case_wall_s(r, memray=False))
                and replace(r.case, scale=spec.scale, dataset=spec.dataset).key() == spec.key()):
            others.setdefault(r.case.dataset, []).append((r.case.scale, parts[1] - parts[0]))
    k = growth_exponent(others.values()) if len(points) < 2 else None
    projected = grown(n, points, k)
    if projected <= budget_s:
        return None
    memory = projected_peak(spec, same)
    if memory_cap is not None and memory is not None and memory > memory_cap:
        return None  # projected past the memory cap: it is run to show where it ends oom
    fixed, total = wall
    how = ("a line through " + " and ".join(f"{p[0]:,}" for p in sorted(points)[-2:]) + " rows" if len(points) >= 2
           else f"as rows^{k:.2f}, its growth on another dataset" if k is not None else "linear in rows")
    facts.update(projected_s=projected, from_wall_s=total, from_growing_s=total - fixed, projected_peak_bytes=memory,
                 rule=how)
    return (f"over the per-case time budget of {budget_s:.0f} s: projected {projected:.0f} s at {n:,} rows "
            f"from {total:.0f} s at {m:,} (the timed run; {total - fixed:.0f} s of it fit and reading, {how}; "
            "--budget 0 runs it)", facts)


def keep_record(path: Path, record: CaseRecord, out: list[CaseRecord],
                on_done: Callable[[CaseRecord | None], None] | None) -> None:
    """Append a finished case's record (atomically), collect it, and tell the caller."""
    append_record(path, record)
    out.append(record)
    if on_done:
        on_done(record)


def run_cases(cases: list[CaseSpec], results: Path, limits: Limits | None = None, memray: bool = True,
              force: bool = False, on_start: Callable[[CaseSpec], None] | None = None,
              on_done: Callable[[CaseRecord | None], None] | None = None,
              errors: list[tuple[CaseSpec, str]] | None = None,
              skipped: list[SkippedLine] | None = None, repeat_short: int = 1,
              on_plan: Callable[[list[CaseSpec]], None] | None = None,
              on_finished: Callable[[CaseSpec], None] | None = None,
              extra_of: Callable[[CaseSpec], dict[str, Any]] | None = None,
              once: Iterable[str] = (), rss_only: Iterable[str] = (),
              memray_scales: Iterable[int] = ()) -> list[CaseRecord]:
    """Run ``cases`` one after another, appending each record to ``results/records.jsonl`` as it finishes.

    ``repeat_short`` > 1 repeats short cases: when a case's first run (repeat 0, new or kept) ended ok with a
    fit under :data:`SHORT_FIT_S` seconds, its repeats 1 .. ``repeat_short`` - 1 run right after it, without
    memray (the heap figure comes from repeat 0): one run of a sub-second fit is noise (sklearn.sgd at 10^4
    rows measured 337k, 799k and 516k rows/s in three runs). ``on_plan`` hears the grown list of cases;
    ``on_finished`` hears every case once it leaves the queue: it ran, was kept, or failed in the harness.
    ``extra_of`` gives what the record of a case run now adds to its ``extra`` (a tuned case's ``tuning``, see
    :meth:`oocbench.harness.tune.TunedRun.extra_of`). Cases whose profile is in ``once`` (a suite's
    ``once_profiles``) are not repeated and run without memray; cases of a dataset in ``rss_only`` (a suite's
    ``rss_only_datasets``) run without memray, and so do cases at a scale not in ``memray_scales`` (a suite's
    ``memray_scales``; empty: every scale).

    With ``limits.budget_s``, a case projected past it (:func:`over_budget`) is recorded ``skipped`` unrun.
    A backend's failure (timeout, oom, crash, error) is a record like any other. A failure of the harness
    itself (``run_case`` raising: the runner, dataset generation, an adapter's metadata in this process) is
    not a result of the backend and is never recorded, so a rerun tries the case again: with ``errors`` given,
    ``(spec, "Type: message")`` is appended there and the suite goes on; without it, the exception propagates.
    Records are only appended whole (see :func:`oocbench.records.append_record`), so a runner killed at any
    point leaves complete records, and the next run skips exactly those (see :func:`recorded`; lines that are
    not valid records go to ``skipped``). Before the first case to run, the results directory is checked
    (:func:`check_results_dir`: raises :class:`ResultsDirError`, nothing runs).
    """
    limits = limits or Limits()
    path = Path(results) / RECORDS_FILE
    done = recorded(path, force, limits, skipped)
    if todo := sum(1 for spec in cases if spec.key() not in done):
        check_results_dir(Path(results), todo)
    out: list[CaseRecord] = []
    queue, planned = list(cases), {c.key() for c in cases}
    once, rss_only, memray_scales = frozenset(once), frozenset(rss_only), frozenset(memray_scales)

    def with_memray(spec: CaseSpec) -> bool:
        return (memray and spec.profile not in once and spec.dataset not in rss_only
                and (not memray_scales or spec.scale in memray_scales) and not (repeat_short > 1 and spec.repeat > 0))

    def more_repeats(i: int, record: CaseRecord) -> None:
        spec = record.case
        if (repeat_short < 2 or spec.repeat != 0 or record.status != "ok" or spec.profile in once
                or (record.timings.fit_s or 0) > SHORT_FIT_S):
            return
        extra = [s for s in (replace(spec, repeat=r) for r in range(1, repeat_short)) if s.key() not in planned]
        queue[i + 1:i + 1] = extra
        planned.update(s.key() for s in extra)
        if extra and on_plan:
            on_plan(queue)

    i = 0
    while i < len(queue):
        spec = queue[i]
        if spec.key() in done:
            out.append(done[spec.key()])
            if on_done:
                on_done(None)
            more_repeats(i, done[spec.key()])
            if on_finished:
                on_finished(spec)
            i += 1
            continue
        if skip := over_budget(spec, [*done.values(), *out], limits.budget_s, limits.memory_cap()):
            record = budget_skip(spec, limits, *skip)
            record.extra.update(extra_of(spec) if extra_of else {})
            keep_record(path, record, out, on_done)
            if on_finished:
                on_finished(spec)
            i += 1
            continue
        if on_start:
            on_start(spec)
        try:
            record = run_case(spec, limits, memray=with_memray(spec))
            record.extra.update(extra_of(spec) if extra_of else {})
            keep_record(path, record, out, on_done)  # a record that cannot be saved whole is a harness failure
            more_repeats(i, record)
        except Exception as exc:
            if errors is None:
                raise
            errors.append((spec, f"{type(exc).__name__}: {exc}"))
        if on_finished:
            on_finished(spec)
        i += 1
    return out
