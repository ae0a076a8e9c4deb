"""Figures derived from several records: repeat aggregation and the memory-scaling exponent."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
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


def fit_memory(record: CaseRecord) -> float | None:
    """The memory figure used for scaling: the larger of RSS growth during fit and memray's heap peak.

    The heap peak is left out where the adapter says it is not heap (``heap_note``: memray counts an
    adapter's memory-mapped cache files as allocations, tens of GB for a cache the kernel pages in and out).
    """
    heap = None if record.adapter_info.get("heap_note") else record.memory.heap_peak_bytes
    values = [v for v in (record.memory.rss_fit_bytes, heap) if v]
    return float(max(values)) if values else None


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
    non-ok cells carry the first ``reason``. Profiles / thread modes / seeds are pooled only if a caller mixes
    them: group first with :func:`group_repeats` for anything finer.
    """
    cells: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    groups: dict[tuple[str, str, int], list[CaseRecord]] = defaultdict(list)
    for r in records:  # a case with other settings (passes, hash bits...) is its own row: "sklearn.sgd [3 passes]"
        setting = r.case.setting()
        groups[(r.case.adapter + (f" [{setting}]" if setting else ""), r.case.dataset, r.case.scale)].append(r)
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


def scaling_by_adapter(records: Iterable[CaseRecord], memory: Callable[[CaseRecord], float | None] = fit_memory
                       ) -> dict[tuple[str, str, str, str], float | None]:
    """Memory-scaling exponent per (adapter, dataset, profile, threads) over the ok records' scales."""
    pts: dict[tuple[str, str, str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and (m := memory(r)):
            pts[(r.case.adapter, r.case.dataset, r.case.profile, r.case.threads)].append((r.case.scale, m))
    return {k: memory_scaling_exponent(v) for k, v in pts.items()}
