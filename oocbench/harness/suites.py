"""Suites: which cases a run covers, defined in one readable place, and the loop that runs them.

A suite is adapters x datasets x scales x profiles. Cases already recorded with the same identity and
library versions are skipped, so a killed suite resumes where it stopped; ``force`` redoes them. A ``timeout``
or ``oom`` recorded under a smaller time or memory limit than the run's is tried again; a record of an adapter
no longer installed here matches nothing (and blocks nothing).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from oocbench.adapters.registry import UnknownAdapterError, discover
from oocbench.fmt import fmt_bytes
from oocbench.harness.runner import Limits, run_case
from oocbench.records import RECORDS_FILE, CaseRecord, CaseSpec, SkippedLine, append_record, read_records


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


#: Every suite, in one place. Adapters are "every installed one" unless a suite names them; a dataset that is
#: not known to this version of oocbench is left out (and said so) rather than failing the suite.
SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("smoke", ("synth-binary",), (2_000,),
          description="every installed adapter on 2,000 rows: does each one run at all (seconds per case)"),
    Suite("quick", ("synth-binary", "synth-regression", "synth-ctr"), (10_000, 100_000),
          description="every installed adapter x dense binary, dense regression and wide categorical (synth-ctr) "
                      "data x 10^4 and 10^5 rows: minutes on 2 cores"),
    Suite("default", ("synth-binary", "synth-regression", "synth-ctr", "synth-nonlinear"),
          (10_000, 100_000, 1_000_000),
          description="adds 10^6 rows and data whose optimum needs a nonlinear model (synth-nonlinear)"),
    Suite("full", ("synth-binary", "synth-regression", "synth-ctr", "synth-drift", "synth-nonlinear"),
          (10_000, 100_000, 1_000_000, 10_000_000), profiles=("matched", "recommended"), threads=("1", "all"),
          description="up to 10^7 rows, concept drift too, both profiles and thread modes"),
    Suite("trees", ("synth-nonlinear", "synth-ctr", "synth-binary"), (10_000, 100_000, 1_000_000),
          description="boosted trees (in memory and out of core) against every linear learner, on data with a "
                      "nonlinear optimum, wide categorical and dense linear data"),
    Suite("passes", ("synth-ctr", "synth-binary"), (100_000, 1_000_000), passes=(1, 3),
          adapters=("sklearn.sgd", "vw.linear", "tf.linear", "dask-ml.incremental"),
          description="one pass against three, each library's own multi-pass mode: the loss after every pass "
                      "and the time it took"),
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
           passes: Iterable[int] | None = None) -> list[CaseSpec]:
    """The suite's cases, dataset-major then scale, adapter, profile, threads, passes, repeat.

    ``adapters``, ``datasets``, ``scales`` and ``passes`` narrow or replace (for adapters: choose) what the
    suite covers.
    """
    names = list(adapters or suite.adapters or discover())
    data = list(datasets or available_datasets(suite)[0])
    return [CaseSpec(adapter=a, dataset=d, scale=n, profile=p, threads=t, batch_size=suite.batch_size, repeat=r,
                     passes=k)
            for d in data for n in (scales or suite.scales) for a in names for p in suite.profiles
            for t in suite.threads for k in (passes or suite.passes) for r in range(repeat)]


def _versions_match(record: CaseRecord) -> bool:
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
        The last record of each case key whose library and oocbench versions match this installation.
    """
    if force and skipped is None:
        return {}
    records = read_records(path, skipped)
    if force:
        return {}
    return {r.case.key(): r for r in records
            if _versions_match(r) and not (limits is not None and hit_smaller_limit(r, limits))}


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
              skipped: list[SkippedLine] | None = None) -> list[CaseRecord]:
    """Run ``cases`` one after another, appending each record to ``results/records.jsonl`` as it finishes.

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
    out = []
    for spec in cases:
        if spec.key() in done:
            out.append(done[spec.key()])
            if on_done:
                on_done(None)
            continue
        if on_start:
            on_start(spec)
        try:
            record = run_case(spec, limits, memray=memray)
            keep_record(path, record, out, on_done)  # a record that cannot be saved whole is a harness failure
        except Exception as exc:
            if errors is None:
                raise
            errors.append((spec, f"{type(exc).__name__}: {exc}"))
            continue
    return out
