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
    batch_size: int = 10_000
    description: str = ""
    adapters: tuple[str, ...] = field(default=())  # empty: every registered adapter


SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("quick", ("synth-binary",), (10_000, 100_000),
          description="every installed adapter, 10^4 and 10^5 rows: a few minutes on 2 cores"),
    Suite("default", ("synth-binary",), (10_000, 100_000, 1_000_000),
          description="adds 10^6 rows"),
    Suite("full", ("synth-binary",), (10_000, 100_000, 1_000_000, 10_000_000), profiles=("matched", "recommended"),
          threads=("1", "all"), description="up to 10^7 rows, both profiles and thread modes"),
)}


class UnknownSuiteError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuiteError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None


def expand(suite: Suite, adapters: Iterable[str] | None = None, repeat: int = 1) -> list[CaseSpec]:
    names = list(adapters or suite.adapters or discover())
    return [CaseSpec(adapter=a, dataset=d, scale=n, profile=p, threads=t, batch_size=suite.batch_size, repeat=r)
            for d in suite.datasets for n in suite.scales for a in names for p in suite.profiles
            for t in suite.threads for r in range(repeat)]


def _versions_match(record: CaseRecord) -> bool:
    from oocbench.adapters.registry import get_entry
    from oocbench.provenance import provenance

    entry = get_entry(record.case.adapter)
    lib_version = entry.cls.library_version() if entry.cls else None
    return (record.adapter_info.get("version") == lib_version
            and record.provenance.get("oocbench") == provenance()["oocbench"])


def run_cases(cases: list[CaseSpec], results: Path, limits: Limits | None = None, memray: bool = True,
              force: bool = False, on_start: Callable[[CaseSpec], None] | None = None,
              on_done: Callable[[CaseRecord | None], None] | None = None) -> list[CaseRecord]:
    """Run ``cases`` one after another, appending each record to ``results/records.jsonl`` as it finishes."""
    path = Path(results) / RECORDS_FILE
    done = {r.case.key(): r for r in read_records(path) if _versions_match(r)} if not force else {}
    out = []
    for spec in cases:
        if spec.key() in done:
            out.append(done[spec.key()])
            if on_done:
                on_done(None)
            continue
        if on_start:
            on_start(spec)
        record = run_case(spec, limits, memray=memray)
        append_record(path, record)
        out.append(record)
        if on_done:
            on_done(record)
    return out
