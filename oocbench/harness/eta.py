"""Expected time of the cases still to run, from what the finished ones cost.

A case costs a fixed start (interpreter, imports, data open; the memray run) plus a part that grows with its
rows, at a rate that depends on the adapter. Counting cases instead (rich's default) was 2x too low: the small
cases run first. Before any case has finished there is no estimate. Where a finished case's record says which
of its seconds touched the rows (:func:`oocbench.harness.projection.case_wall_s`: fit, prepare, reading, the memray
run's fit), that split is used for the same adapter (and dataset) at larger scales, by the rule the suite's time
budget uses (:func:`oocbench.harness.projection.grown`): taking each adapter's whole
time at 10^4 rows as "rows" (its imports and memray run included) had made the estimate 8x too high a third of
the way through ``make bench``.

>>> from oocbench.records import CaseSpec
>>> cases = [CaseSpec("a", "d", n) for n in (1_000, 10_000, 100_000)]
>>> eta = Eta(cases)
>>> eta.remaining() is None
True
>>> eta.finished(cases[0], 2.0); eta.finished(cases[1], 3.0)
>>> round(eta.remaining())  # 2 s start + 100,000 rows at (3 - 2) s / 10,000 rows
12
>>> eta.plan(cases); eta.finished(cases[2], None); eta.remaining()  # kept from an earlier run: nothing left
0
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from oocbench.harness.projection import case_wall_s, grown, growth_exponent
from oocbench.records import CaseSpec


class Eta:
    """Seconds left: per case ``start + rows x rate(adapter)``, both learned from the cases done so far.

    ``start`` is the shortest case seen (a case of few rows is nearly all start); an adapter's rate is
    (seconds - start) / rows of its largest finished case (the one where rows dominate the start; the median
    over its repeats), and an adapter not seen yet takes the median rate of the others.
    """

    def __init__(self, cases: Iterable[CaseSpec]) -> None:
        self.pending: dict[str, CaseSpec] = {c.key(): c for c in cases}
        self.seen: list[tuple[CaseSpec, float]] = []
        self.done: set[str] = set()  # every finished case, timed or not (kept from an earlier run)
        self.split: list[tuple[CaseSpec, float, float]] = []  # (case, fixed seconds, total seconds) from records

    def plan(self, cases: Iterable[CaseSpec]) -> None:
        """The list of cases grew (repeats of short cases): count the new ones as pending."""
        for c in cases:
            if c.key() not in self.done:
                self.pending.setdefault(c.key(), c)

    def finished(self, spec: CaseSpec, seconds: float | None, record=None) -> None:
        """``spec`` is done; ``seconds`` of wall time, or ``None`` when it cost nothing (kept from an earlier run);
        ``record``: its record, whose timings split its time into fixed and growing with the rows."""
        self.pending.pop(spec.key(), None)
        self.done.add(spec.key())
        if seconds is not None:
            self.seen.append((spec, seconds))
            if record is not None and record.status == "ok" and (parts := case_wall_s(record)) is not None:
                self.split.append((spec, *parts))

    def _from_records(self, c: CaseSpec) -> float | None:
        """``c``'s seconds from the split of the same adapter's finished cases (same dataset first), projected
        past the largest finished scale by :func:`~oocbench.harness.projection.grown` (a line through two scales
        of the dataset, or the growth the adapter showed on another dataset: 3x too high past half of
        ``make bench`` when the growing seconds of one scale were taken as linear in rows)."""
        same = ([x for x in self.split if x[0].adapter == c.adapter and x[0].dataset == c.dataset]
                or [x for x in self.split if x[0].adapter == c.adapter])
        if not same:
            return None
        points = {x[0].scale: (x[0].scale, x[1], x[2]) for x in same}  # one per scale (the last of its repeats)
        dataset = max(same, key=lambda x: x[0].scale)[0].dataset
        others: dict[str, dict[int, float]] = {}
        for spec, fixed, total in self.split:
            if spec.adapter == c.adapter and spec.dataset != dataset:
                others.setdefault(spec.dataset, {})[spec.scale] = total - fixed
        k = growth_exponent(list(d.items()) for d in others.values()) if len(points) < 2 else None
        return grown(c.scale, list(points.values()), k)

    def _start(self) -> float:
        return min(s for _, s in self.seen)

    def _rates(self) -> dict[str, float]:
        start, largest = self._start(), {}
        for spec, _ in self.seen:
            largest[spec.adapter] = max(largest.get(spec.adapter, 0), spec.scale)
        return {a: median(max(0.0, s - start) / max(n, 1) for spec, s in self.seen
                          if spec.adapter == a and spec.scale == n) for a, n in largest.items()}

    def remaining(self) -> float | None:
        """Expected seconds of the pending cases; ``None`` before any case has finished."""
        if not self.seen:
            return None
        start, rates = self._start(), self._rates()
        fallback = median(rates.values())
        total: float = 0
        for c in self.pending.values():
            known = self._from_records(c)
            total += known if known is not None else start + c.scale * rates.get(c.adapter, fallback)
        return total
