"""What learning costs: core-seconds per 10^6 rows, and the price of learning from 10^9 rows at the throughput
and memory a record measured.

A machine is rented per core-hour and per GB-hour of memory. Learning ``rows`` rows at the record's rows/s
takes ``rows / rows_per_s`` hours of wall time, during which the adapter keeps ``fit_cpu_s / fit_s`` cores busy
(its process tree's CPU time during fit) and holds its process tree's peak RSS. The cost assumes that memory
stays at the measured peak: true for a streaming learner, not for one that holds every row (an in-memory
reference, LightGBM's binned Dataset, XGBoost's in-memory gradient index: ``adapter_info["in_memory"]``), whose
cost is left out.

>>> from oocbench.records import CaseRecord, CaseSpec, Memory, Timings
>>> r = CaseRecord(CaseSpec("a", "d", 10**6), rows=10**6, rows_per_s=1e6,
...                timings=Timings(fit_s=1.0, fit_cpu_s=1.0), memory=Memory(rss_peak_bytes=2**30))
>>> core_seconds_per_million(r)
1.0
>>> round(cost_of_rows(r, 10**9, Prices(core_hour=0.036, gb_hour=0.0036)), 4)  # 1000 s: 1000 core-s, 1000 GiB-s
0.011
"""

from __future__ import annotations

from dataclasses import dataclass

from oocbench.records import CaseRecord

GIB = 2**30


@dataclass(frozen=True)
class Prices:
    """Prices of a rented machine, per core-hour and per GB-hour (GB = 2^30 bytes, as cloud price lists use)."""

    core_hour: float = 0.031611
    gb_hour: float = 0.004237
    source: str = ("Google Cloud Compute Engine N2, us-central1, on-demand list prices per vCPU-hour and per "
                   "GB-hour of memory, as published in 2024 (not re-checked from this offline machine: pass your "
                   "own Prices to cost_of_rows)")


DEFAULT_PRICES = Prices()


def core_seconds_per_million(record: CaseRecord) -> float | None:
    """CPU seconds of the process tree during fit per 10^6 training rows (every core it kept busy counted)."""
    cpu, rows = record.timings.fit_cpu_s, record.rows
    if record.status != "ok" or cpu is None or not rows:
        return None
    return cpu / rows * 1e6


def cost_of_rows(record: CaseRecord, rows: float = 1e9, prices: Prices = DEFAULT_PRICES) -> float | None:
    """The price of learning from ``rows`` rows at ``record``'s throughput, CPU use and peak memory.

    ``None`` when not measured, and for an in-memory reference (its memory grows with the rows).
    """
    per_million = core_seconds_per_million(record)
    if per_million is None or not record.rows_per_s or record.memory.rss_peak_bytes is None:
        return None
    if record.adapter_info.get("reference") or record.adapter_info.get("in_memory"):
        return None
    hours = rows / record.rows_per_s / 3600
    core_hours = per_million * rows / 1e6 / 3600
    return core_hours * prices.core_hour + record.memory.rss_peak_bytes / GIB * hours * prices.gb_hour
