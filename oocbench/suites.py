"""Suites: which cases a run covers, defined in one readable place, and the loop that runs them.

A suite is adapters x datasets x scales x profiles. Cases already recorded with the same identity and
library versions are skipped, so a killed suite resumes where it stopped; ``force`` redoes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from oocbench.adapters.registry import discover
from oocbench.records import RECORDS_FILE, CaseRecord, CaseSpec, append_record, read_records
from oocbench.runner import Limits, run_case


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
    from oocbench.adapters.registry import get_entry
    from oocbench.provenance import provenance

    entry = get_entry(record.case.adapter)
    lib_version = entry.cls.library_version() if entry.cls else None
    return (record.adapter_info.get("version") == lib_version
            and record.provenance.get("oocbench") == provenance()["oocbench"])


def recorded(path: Path, force: bool = False) -> dict[str, CaseRecord]:
    """Records in ``path`` by case key whose library and oocbench versions match this installation: the cases a
    rerun skips (none with ``force``)."""
    return {} if force else {r.case.key(): r for r in read_records(path) if _versions_match(r)}


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
              errors: list[tuple[CaseSpec, str]] | None = None) -> list[CaseRecord]:
    """Run ``cases`` one after another, appending each record to ``results/records.jsonl`` as it finishes.

    A backend's failure (timeout, oom, crash, error) is a record like any other. A failure of the harness
    itself (``run_case`` raising: the runner, dataset generation, an adapter's metadata in this process) is
    not a result of the backend and is never recorded, so a rerun tries the case again: with ``errors`` given,
    ``(spec, "Type: message")`` is appended there and the suite goes on; without it, the exception propagates.
    Records are only appended whole (see :func:`oocbench.records.append_record`), so a runner killed at any
    point leaves complete records, and the next run skips exactly those.
    """
    path = Path(results) / RECORDS_FILE
    done = recorded(path, force)
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
