"""A ladder of prefix scales of one dataset, run within a time budget: what ``oocbench advise`` measures.

Each rung runs every candidate adapter that finished the rung below ok, one isolated case each (the harness's
own :func:`~oocbench.harness.suites.run_cases`: records appended as they finish, a crash or an oom a record).
Before a rung, its time is projected from the rungs done (:func:`oocbench.harness.projection.grown`, the rule
of the suite's time budget); a rung projected past the time left is not started, and the ladder says how far
it got. A case is never given more than the time left (its timeout), so the budget holds within one case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from oocbench.harness.projection import case_wall_s, grown
from oocbench.harness.runner import Limits
from oocbench.harness.suites import run_cases
from oocbench.records import CaseRecord, CaseSpec

#: the rungs when none are given: three scales over two decades (enough for a memory-scaling exponent)
DEFAULT_RUNGS = (10_000, 100_000, 1_000_000)


class LadderError(RuntimeError):
    """Nothing to project from: not one case of the first rung finished within the budget."""


@dataclass
class Ladder:
    records: list[CaseRecord] = field(default_factory=list)
    rungs: list[int] = field(default_factory=list)  # the rungs that ran (every candidate tried)
    stopped: str = ""  # why the ladder ended before its last rung, one line ("" when it ran them all)
    kept: int = 0  # cases recorded by an earlier run of the same ladder, not run again
    seconds: float = 0.0


def rung_seconds(scale: int, adapters: Sequence[str], records: Sequence[CaseRecord]) -> float | None:
    """The projected wall seconds of one rung: each adapter's case from its ok cases at smaller rungs
    (``None`` when one has none)."""
    total = 0.0
    for a in adapters:
        pts = [(r.case.scale, *parts) for r in records
               if r.case.adapter == a and r.status == "ok" and r.case.scale < scale and (parts := case_wall_s(r, memray=False))]
        if not pts:
            return None
        total += grown(scale, pts)
    return total


def run_ladder(adapters: Sequence[str], dataset: str, rungs: Sequence[int], results: Path, budget_s: float,
               limits: Limits, profile: str = "recommended", seed: int = 0,
               on_done: Callable[[CaseRecord | None], None] | None = None,
               clock: Callable[[], float] = time.monotonic) -> Ladder:
    """Run ``adapters`` on ``dataset`` at each of ``rungs`` (ascending) within ``budget_s`` seconds.

    Raises
    ------
    LadderError
        When no case of the first rung ended ok within the budget (in one line: what ran, how long it took).
    """
    t0, out = clock(), Ladder()
    alive = list(adapters)
    for i, n in enumerate(rungs):
        left = budget_s - (clock() - t0)
        if i and (need := rung_seconds(n, alive, out.records)) is not None and need > left:
            out.stopped = (f"stopped after {rungs[i - 1]:,} rows: the next rung ({n:,} rows, {len(alive)} "
                           f"adapter(s)) is projected at {need:.0f} s, over the {max(left, 0):.0f} s left")
            break
        ran_all = True
        for a in alive:
            left = budget_s - (clock() - t0)
            if left <= 1:
                ran_all = False
                break
            spec = CaseSpec(a, dataset, n, profile=profile, seed=seed)
            case_limits = replace(limits, timeout_s=min(limits.timeout_s, left), budget_s=None)
            def done(record: CaseRecord | None) -> None:
                out.kept += record is None
                if on_done:
                    on_done(record)

            out.records += run_cases([spec], results, case_limits, memray=False, on_done=done)
        if not ran_all:
            done = sum(1 for r in out.records if r.case.scale == n)
            out.stopped = (f"stopped at {n:,} rows: the time was up after {done} of {len(alive)} adapter(s) "
                           f"({clock() - t0:.0f} s of {budget_s:.0f} s)")
            if i:
                break
        else:
            out.rungs.append(n)
        if i == 0 and not any(r.status == "ok" and r.case.scale == n for r in out.records):
            out.seconds = clock() - t0
            why = "; ".join(f"{r.case.adapter} {r.status}" for r in out.records if r.case.scale == n) or "none ran"
            raise LadderError(f"no adapter finished the first rung ({n:,} rows) within {budget_s:.0f} s ({why}); "
                              "give more time (--hours) or a smaller first rung (--ladder)")
        if not ran_all:
            break
        alive = [a for a in alive if any(r.case.adapter == a and r.case.scale == n and r.status == "ok"
                                         for r in out.records)]
        if not alive:
            out.stopped = f"stopped after {n:,} rows: no adapter ended ok there"
            break
    out.seconds = clock() - t0
    return out
