"""Where asv runs keep their oocbench records, and how to read asv's own results JSON.

An ``asv run`` of ``benchmarks/`` fits every case once through :func:`oocbench.harness.runner.run_case` (the same
isolated runner as ``oocbench run``) and appends the full :class:`~oocbench.records.CaseRecord` to
``<asv results_dir>/oocbench-records/records.jsonl``; asv's results JSON holds only the numbers the ``track_``
benchmarks return. So a report reads the records file (``oocbench report --results .asv/results/oocbench-records``)
and asv's JSON is needed only to check what asv itself saved (:func:`tracked_values`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oocbench.records import RECORDS_FILE, CaseRecord, read_records

#: Sub-directory of asv's ``results_dir`` holding the records. asv only reads ``*.json`` files under
#: ``results_dir``, so a ``.jsonl`` file there is ignored by ``asv publish`` / ``compare``.
RECORDS_SUBDIR = "oocbench-records"
DEFAULT_RESULTS_DIR = ".asv/results"


def records_dir(repo: Path) -> Path:
    """Directory of the records of asv runs of the suite in ``repo`` (the directory holding ``asv.conf.json``
    and ``benchmarks/``): ``$OOCBENCH_ASV_RECORDS_DIR``, else ``<repo>/.asv/results/oocbench-records`` (the
    ``results_dir`` of every ``asv*.json`` in this repository).

    The benchmarks pass their own checkout: asv runs them in a temporary working directory, and with an
    ``existing`` environment asv sets none of its ``ASV_*`` variables.
    """
    env = os.environ.get("OOCBENCH_ASV_RECORDS_DIR")
    if env:
        return Path(env).resolve()
    return Path(repo).resolve() / DEFAULT_RESULTS_DIR / RECORDS_SUBDIR


def read_asv_records(results_dir: Path) -> list[CaseRecord]:
    """The records written by asv runs whose asv ``results_dir`` is ``results_dir``."""
    return read_records(Path(results_dir) / RECORDS_SUBDIR / RECORDS_FILE)


@dataclass(frozen=True)
class TrackedValue:
    """One value asv saved: benchmark name (``cases.sklearn_sgd.track_log_loss``), its params, unit."""

    benchmark: str
    params: tuple[str, ...]  # asv's repr of each parameter value, e.g. ("'synth-binary'", "1000", ...)
    value: float | None  # None: the benchmark failed; nan: skipped (n/a)
    unit: str


def _product(lists: list[list[str]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for values in lists:
        out = [(*head, v) for head in out for v in values]
    return out


def tracked_values(results_file: Path, benchmarks_file: Path | None = None) -> list[TrackedValue]:
    """Every value in one asv results file (format version 2), one per benchmark x parameter combination.

    ``benchmarks_file`` (asv's ``benchmarks.json`` next to the machine directories) supplies the units; by
    default the one two levels up from ``results_file``.
    """
    raw = json.loads(Path(results_file).read_text())
    columns = raw["result_columns"]
    bench_meta: dict[str, Any] = {}
    bfile = benchmarks_file or Path(results_file).parent.parent / "benchmarks.json"
    if bfile.exists():
        bench_meta = json.loads(bfile.read_text())
    out = []
    for name, row in raw["results"].items():
        entry = dict(zip(columns, row))
        params = entry.get("params") or []
        values = entry.get("result")
        if values is None:
            values = [None] * max(1, len(_product(params)))
        combos = _product(params) if params else [()]
        unit = bench_meta.get(name, {}).get("unit", "")
        for combo, value in zip(combos, values):
            out.append(TrackedValue(name, combo, None if value is None else float(value), unit))
    return out


def is_sane(value: float | None) -> bool:
    """A finite number (not a failure, not n/a)."""
    return value is not None and math.isfinite(value)
