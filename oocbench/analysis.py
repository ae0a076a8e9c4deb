"""Figures derived from several records: repeat aggregation, memory scaling (exponent, bytes per row, projected
memory) and whether the machine was busy while a case ran.

Scaling figures are extrapolations and mean something only over a range of scales: :func:`memory_scaling`
gives them from :data:`SCALING_MIN_SCALES` scales spanning :data:`SCALING_MIN_DECADES` decades of rows, and
``n/a`` (:data:`SCALING_NA`) otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from statistics import median
from typing import Any

from oocbench.metrics import get_task, task_of_metrics
from oocbench.records import CaseRecord, CaseSpec


def memory_scaling_exponent(points: Iterable[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(peak memory) against log(rows).

    About 0 means memory does not grow with the data (out-of-core); about 1 means the data is held in memory.
    ``None`` with fewer than two distinct scales or non-positive memory.

    >>> round(memory_scaling_exponent([(10**5, 2e6), (10**6, 2e7), (10**7, 2e8)]), 3)
    1.0
    >>> round(memory_scaling_exponent([(10**5, 5e6), (10**6, 5e6)]), 3)
    0.0
    """
    pts = [(math.log(n), math.log(m)) for n, m in points if n and m and n > 0 and m > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


def heap_of(record: CaseRecord) -> int | None:
    """memray's heap peak, unless the adapter says it is not heap (``heap_note``)."""
    return None if record.adapter_info.get("heap_note") else record.memory.heap_peak_bytes


def fit_memory(record: CaseRecord) -> float | None:
    """The memory figure used for scaling: the larger of RSS growth during fit and memray's heap peak.

    The heap peak is left out where the adapter says it is not heap (``heap_note``: memray counts an
    adapter's memory-mapped cache files as allocations, tens of GB for a cache the kernel pages in and out).
    """
    values = [v for v in (record.memory.rss_fit_bytes, heap_of(record)) if v]
    return float(max(values)) if values else None


def with_full_memory(records: Iterable[CaseRecord]) -> list[CaseRecord]:
    """The repeats of one case whose :func:`fit_memory` covers the heap too.

    ``--repeat auto`` runs memray on a case's first run only: the other repeats' figure is RSS alone and would
    pull the median below what the first run measured (sklearn.batch at 3,000 rows: 71.5 MB with the heap, 7.2
    MB without). When any repeat has a heap peak, only those count; else all (a run with ``--no-memray``).
    """
    records = list(records)
    return [r for r in records if heap_of(r) is not None] or records


def group_repeats(records: Iterable[CaseRecord]) -> dict[CaseSpec, list[CaseRecord]]:
    """Records grouped by case identity without the repeat number (the key is the case with ``repeat=0``):
    cases that differ in anything else (profile, threads, seed, batch size, hash bits, passes, parameters)
    are never pooled into one median."""
    groups: dict[CaseSpec, list[CaseRecord]] = defaultdict(list)
    for r in records:
        groups[replace(r.case, repeat=0)].append(r)
    return dict(groups)


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """Median, min, max, count and relative spread ((max - min) / |median|) of the non-missing values.

    >>> summarize([3.0, 1.0, 2.0, None])
    {'median': 2.0, 'min': 1.0, 'max': 3.0, 'n': 3, 'spread': 1.0}
    """
    vals = sorted(v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0, "spread": None}
    mid = median(vals)
    return {"median": mid, "min": vals[0], "max": vals[-1], "n": len(vals),
            "spread": (vals[-1] - vals[0]) / abs(mid) if mid else None}


def loss_of(record: CaseRecord) -> tuple[str, float | None]:
    """The task's headline loss on the holdout: ``("log_loss", v)`` (binary) or ``("rmse", v)`` (regression)."""
    name = get_task(record.task or task_of_metrics(record.metrics)).loss.key
    return name, record.metrics.get(name)


def summary_cells(records: Iterable[CaseRecord]) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    """Per (adapter, dataset) and scale: statuses and, over the ok repeats, median/spread of the figures.

    Each cell has ``status`` (``"ok"`` or e.g. ``"2 ok, 1 timeout"``), ``n``, and ``summarize`` dicts under
    ``rows_per_s``, ``rss_fit_bytes``, ``memory`` (:func:`fit_memory`) and ``loss`` (with ``loss_name``);
    non-ok cells carry the first ``reason``. A case with another profile, thread mode or setting is a row of its
    own: "sklearn.sgd (recommended, all threads) [3 passes]"; only repeats are pooled.
    """
    cells: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    groups: dict[tuple[str, str, int], list[CaseRecord]] = defaultdict(list)
    for r in records:
        case, setting = r.case, r.case.setting()
        view = [p for p in (case.profile if case.profile != "matched" else "",
                            "all threads" if case.threads == "all" else "") if p]
        label = case.adapter + (f" ({', '.join(view)})" if view else "") + (f" [{setting}]" if setting else "")
        groups[(label, case.dataset, case.scale)].append(r)
    for (adapter, dataset, scale), recs in groups.items():
        counts: dict[str, int] = defaultdict(int)
        for r in recs:
            counts[r.status] += 1
        ok = [r for r in recs if r.status == "ok"]
        cell: dict[str, Any] = {
            "status": "ok" if set(counts) == {"ok"} else ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
            "n": len(recs), "rows_per_s": summarize(r.rows_per_s for r in ok),
            "rss_fit_bytes": summarize(r.memory.rss_fit_bytes for r in ok),
            "memory": summarize(fit_memory(r) for r in ok), "loss": summarize(loss_of(r)[1] for r in ok),
            "loss_name": loss_of(recs[0])[0]}
        if bad := [r for r in recs if r.status != "ok"]:
            cell["reason"] = bad[0].reason
        cells[(adapter, dataset)][scale] = cell
    return dict(cells)


#: a scaling figure needs this many distinct scales...
SCALING_MIN_SCALES = 3
#: ...spanning at least this many decades of rows (10^4..10^6): over less, fixed costs (imports, buffers, the
#: model) and noise decide the slope, and a streaming learner can read as "holds the data" or the reverse
SCALING_MIN_DECADES = 2
SCALING_NA = f"n/a (needs >= {SCALING_MIN_SCALES} scales over {SCALING_MIN_DECADES} decades)"


def scaling_applies(scales: Iterable[int]) -> bool:
    """Whether ``scales`` are enough for a scaling figure (see :data:`SCALING_NA`).

    >>> scaling_applies([10**4, 10**5]), scaling_applies([10**4, 10**5, 5 * 10**5]), scaling_applies([1e4, 1e5, 1e6])
    (False, False, True)
    """
    s = sorted({x for x in scales if x and x > 0})
    return len(s) >= SCALING_MIN_SCALES and s[-1] >= s[0] * 10**SCALING_MIN_DECADES


@dataclass(frozen=True)
class MemoryScaling:
    """How one adapter's fit memory grows with the rows, from its median memory per scale.

    ``exponent`` and ``bytes_per_row`` are ``None`` unless :func:`scaling_applies` to the scales. The bytes per
    row are the least-squares slope of memory against rows (the cost of one more row; fixed costs excluded),
    clamped at 0: memory that fell as rows grew is noise, projected flat.
    """

    points: tuple[tuple[int, float], ...]  # (rows, median bytes), by rows
    exponent: float | None
    bytes_per_row: float | None

    @property
    def scales(self) -> list[int]:
        return [n for n, _ in self.points]

    @property
    def applies(self) -> bool:
        return self.exponent is not None

    @property
    def flat(self) -> bool:
        """Whether memory stayed flat over the largest decade measured (exponent <= :data:`FLAT_EXPONENT`): a
        streaming learner whose buffers are full. Its memory is reported as the range measured, not projected:
        extrapolating the noise of a few MiB over 3 decades drew vw.linear at 19.7 GiB at 10^9 rows, where a
        run at 2.1x10^8 measured 302 MiB."""
        return self.exponent is not None and self.exponent <= FLAT_EXPONENT

    @property
    def measured_range(self) -> tuple[float, float] | None:
        """(lowest, highest) median memory measured over the scales (``None`` without points)."""
        values = [m for _, m in self.points]
        return (min(values), max(values)) if values else None

    def projected(self, rows: float) -> tuple[float, float] | None:
        """The memory at ``rows`` as a range, from the largest measured point (``None`` without the scales, or
        when the memory is :attr:`flat`: then it is the range measured, not a projection).

        Two extrapolations: the power law of :attr:`exponent` and the straight line of :attr:`bytes_per_row`.
        For memory that is a fixed cost plus a cost per row (an in-memory learner) the power law is low (the
        fixed cost pulls the exponent below its limit of 1) and the line right; for memory that levels off (a
        streaming learner whose buffers fill up) both are high, the line most. Which one a learner follows
        cannot be told from small scales: the range says how far apart they are.
        """
        if self.exponent is None or self.bytes_per_row is None or self.flat:
            return None
        n, m = self.points[-1]
        power = m * (rows / n) ** max(self.exponent, 0.0)
        line = max(m + self.bytes_per_row * (rows - n), 0.0)
        return (min(power, line), max(power, line))


#: the exponent is the slope over the scales within this factor of the largest (its top decade)
TOP_DECADE = 10
#: memory is flat when its exponent over the top decade is at most this (it grew by under 41% over 10x the rows;
#: an in-memory learner's is 0.3-1 there, a streaming learner's about 0 once its buffers are full)
FLAT_EXPONENT = 0.15


def memory_scaling(points: Iterable[tuple[int, float | None]]) -> MemoryScaling:
    """:class:`MemoryScaling` of ``(rows, bytes)`` points (repeats at one scale: their median).

    >>> s = memory_scaling([(10**4, 54e6), (10**5, 90e6), (10**6, 450e6)])
    >>> round(s.exponent, 2), round(s.bytes_per_row), [f"{v:.3g}" for v in s.projected(10**9)]
    (0.7, 400, ['5.62e+10', '4e+11'])
    >>> memory_scaling([(10**4, 5e6), (10**5, 6e6)]).projected(10**9) is None
    True
    """
    by: dict[int, list[float]] = defaultdict(list)
    for n, m in points:
        if n and n > 0 and m is not None and m > 0:
            by[int(n)].append(float(m))
    pts = tuple((n, median(by[n])) for n in sorted(by))
    if not scaling_applies(by):
        return MemoryScaling(pts, None, None)
    mx = sum(n for n, _ in pts) / len(pts)
    my = sum(m for _, m in pts) / len(pts)
    slope = sum((n - mx) * (m - my) for n, m in pts) / sum((n - mx) ** 2 for n, _ in pts)
    # the exponent over the largest decade measured: below it fixed costs (imports, buffers, the model) flatten
    # every curve, and one fit over 10^4..10^6 gave the in-memory sklearn.batch 0.19, below sklearn.sgd's 0.25
    # (over 10^5..10^6: 0.33 against 0.12)
    top = [(n, m) for n, m in pts if n * TOP_DECADE >= pts[-1][0]]
    return MemoryScaling(pts, memory_scaling_exponent(top), max(slope, 0.0))


def scaling_by_adapter(records: Iterable[CaseRecord], memory: Callable[[CaseRecord], float | None] = fit_memory
                       ) -> dict[tuple[str, str, str, str, str], MemoryScaling]:
    """:class:`MemoryScaling` per (adapter, dataset, profile, threads, setting) over the ok records' scales."""
    pts: dict[tuple[str, str, str, str, str], list[tuple[int, float | None]]] = defaultdict(list)
    for r in records:
        if r.status == "ok":
            key = (r.case.adapter, r.case.dataset, r.case.profile, r.case.threads, r.case.setting())
            pts[key].append((r.case.scale, memory(r)))
    return {k: memory_scaling(v) for k, v in pts.items()}


#: a case ran on a busy machine when other processes kept more than this share of the cores it left free busy
BUSY_SHARE = 0.5
#: ...and never less than this many cores (a case using every core is disturbed by any other work)
BUSY_MIN_CORES = 0.5


def busy_reason(record: CaseRecord) -> str:
    """Why the machine counts as busy during ``record``'s case, ``""`` when it was not (or was not measured).

    The rule: other processes (the system's busy CPU time minus the case's own process tree and its runner,
    :func:`oocbench.provenance.load_during`) kept on average more than ``max(BUSY_MIN_CORES, BUSY_SHARE x
    free cores)`` cores busy, the free cores being the logical cores minus the threads the case may use. Timings
    of such a case may be slower and noisier than on an idle machine.
    """
    load = record.provenance.get("load") or {}
    others = load.get("others_cores")
    cores = (record.provenance.get("machine") or {}).get("cores_logical")
    if not isinstance(others, (int, float)) or not cores:
        return ""
    used = 1 if record.case.threads == "1" else cores
    limit = max(BUSY_MIN_CORES, BUSY_SHARE * (cores - used))
    if others <= limit:
        return ""
    return (f"other processes kept {others:.1f} of {cores} cores busy during the case (threads={record.case.threads}; "
            f"busy above {limit:.1f})")
