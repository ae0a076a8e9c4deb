"""A section of the report: one dataset, profile, thread mode and setting, everything its figures read."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from oocbench.analysis import MemoryScaling, fit_memory, heap_of, memory_scaling, with_full_memory
from oocbench.cost import DEFAULT_PRICES, Prices
from oocbench.records import CaseRecord
from oocbench.reports.model import FAILED, CaseGroup
from oocbench.reports.style import Style
from oocbench.reports.verdict import Verdict, verdicts

#: the default row count memory is projected to (``build_report(project_rows=...)``)
PROJECT_ROWS = 1e9


@dataclass
class Section:
    """What a figure of one section is built from (see :mod:`oocbench.reports.registry`)."""

    title: str
    stem: str  # file-name prefix of the section's figures ("s01")
    out_dir: Path  # the report directory
    groups: list[CaseGroup]
    styles: dict[str, Style]  # by line (CaseGroup.label())
    project_rows: float = PROJECT_ROWS
    prices: Prices = DEFAULT_PRICES  # what the cost column and the "cheapest" verdict are priced at

    @cached_property
    def records(self) -> list[CaseRecord]:
        return [r for g in self.groups for r in g.records]

    @cached_property
    def task(self) -> str:
        return next((g.task for g in self.groups if g.task), "")

    @property
    def failed(self) -> list[CaseGroup]:
        """Cases that ran and produced no result (drawn as ``x``); not-run cases are not among them."""
        return [g for g in self.groups if not g.ok and g.status in FAILED]

    @property
    def scales(self) -> list[int]:
        return sorted({g.scale for g in self.groups})

    @cached_property
    def repeats(self) -> int:
        """The most ok repeats any case here has (1: no spread anywhere)."""
        return max((len(g.ok) for g in self.groups), default=0)

    @cached_property
    def ram_bytes(self) -> list[int]:
        """The RAM of each machine the records ran on (from their provenance)."""
        return sorted({int(r.provenance["machine"]["ram_bytes"]) for r in self.records
                       if (r.provenance.get("machine") or {}).get("ram_bytes")})

    @cached_property
    def verdicts(self) -> list[Verdict]:
        return verdicts(self.groups)

    @cached_property
    def out_of_core_verdicts(self) -> list[Verdict]:
        """The verdict among the adapters that do not hold every row in RAM (the answer for data that does not
        fit); empty when no in-memory adapter ran here (the verdict above is that answer already)."""
        streaming = [g for g in self.groups if not g.in_memory]
        return verdicts(streaming) if streaming and len(streaming) < len(self.groups) else []

    @cached_property
    def scaling(self) -> dict[str, MemoryScaling]:
        """Fit-memory scaling per line (adapter with its overrides), from every ok repeat: with the heap peak
        where every scale of the line has one, else RSS growth alone (a suite whose memray run is at one scale,
        ``memray_scales``, would otherwise read heap against RSS as growth or shrinkage)."""
        out = {}
        for line in sorted({g.label() for g in self.groups if g.ok}):
            runs = [r for g in self.groups if g.label() == line for r in with_full_memory(g.ok)]
            heap_everywhere = all(any(heap_of(r) for r in runs if r.case.scale == n) for n in {r.case.scale for r in runs})
            figure = fit_memory if heap_everywhere else (lambda r: r.memory.rss_fit_bytes)
            out[line] = memory_scaling((r.case.scale, figure(r)) for r in runs)
        return out
