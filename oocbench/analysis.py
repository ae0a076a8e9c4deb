"""Figures derived from several records: repeat aggregation and the memory-scaling exponent."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import median
from typing import Any

from oocbench.records import CaseRecord


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


def fit_memory(record: CaseRecord) -> float | None:
    """The memory figure used for scaling: the larger of RSS growth during fit and memray's heap peak."""
    values = [v for v in (record.memory.rss_fit_bytes, record.memory.heap_peak_bytes) if v]
    return float(max(values)) if values else None


def group_repeats(records: Iterable[CaseRecord]) -> dict[tuple, list[CaseRecord]]:
    """Records grouped by case identity without the repeat number."""
    groups: dict[tuple, list[CaseRecord]] = defaultdict(list)
    for r in records:
        c = r.case
        groups[(c.adapter, c.dataset, c.scale, c.profile, c.seed, c.batch_size, c.threads, c.params)].append(r)
    return dict(groups)


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """Median, min, max and count of the non-missing values."""
    vals = sorted(v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": median(vals), "min": vals[0], "max": vals[-1], "n": len(vals)}


def scaling_by_adapter(records: Iterable[CaseRecord], memory: Callable[[CaseRecord], float | None] = fit_memory
                       ) -> dict[tuple[str, str, str, str], float | None]:
    """Memory-scaling exponent per (adapter, dataset, profile, threads) over the ok records' scales."""
    pts: dict[tuple[str, str, str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and (m := memory(r)):
            pts[(r.case.adapter, r.case.dataset, r.case.profile, r.case.threads)].append((r.case.scale, m))
    return {k: memory_scaling_exponent(v) for k, v in pts.items()}
