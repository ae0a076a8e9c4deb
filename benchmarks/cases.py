"""``track_`` benchmarks: one asv class per registered adapter, each case fitted ONCE per asv run.

``setup_cache`` runs the class's cases (dataset x rows x profile x threads of the chosen profile, see
``_common``) through :func:`oocbench.harness.runner.run_case`, the same isolated child-process runner as
``oocbench run`` (or reuses a record of the same commit and versions, see ``_run_adapter_cases``), appends
every record to ``.asv/results/oocbench-records/records.jsonl`` and returns the records; asv pickles them and
every ``track_`` method reads its number from the same record, so one fit gives throughput, both memory
figures and accuracy (asv#543: one expensive run, many metrics).

A case that failed (timeout, oom, error, crashed) makes its ``track_`` benchmarks fail with the reason in
asv's log; an adapter that is not installed, or does not support the dataset's task, shows as n/a (skipped),
and so does a metric of the other task or the heap peak without memray: each n/a prints its reason
(``asv run -e`` shows it).
"""

from __future__ import annotations

import math
import os
import sys
import types
from typing import Any

from benchmarks import _common
from oocbench.asv_results import find_reusable as _find_reusable
from oocbench.asv_results import records_dir as _records_dir
from oocbench.harness.runner import Limits as _Limits
from oocbench.harness.runner import run_case as _run_case
from oocbench.harness.suites import expand as _expand
from oocbench.metrics import TASKS as _TASKS
from oocbench.records import RECORDS_FILE as _RECORDS_FILE
from oocbench.records import CaseRecord as _CaseRecord
from oocbench.records import CaseSpec as _CaseSpec
from oocbench.records import append_record as _append_record

_Key = tuple[str, int, str, str]


def _key(spec: _CaseSpec) -> _Key:
    return (spec.dataset, spec.scale, spec.profile, spec.threads)


def _asv_run_info(suite_name: str) -> dict[str, Any]:
    """Which asv run a record belongs to, so a report can tell asv records from CLI ones. asv sets the ASV_*
    variables in the environments it builds, not in an `existing` one (there: None, and the record's
    provenance.git_commit / versions still say what ran)."""
    return {"profile": suite_name, "commit": os.environ.get("ASV_COMMIT"), "env_name": os.environ.get("ASV_ENV_NAME"),
            "env_type": os.environ.get("ASV_ENV_TYPE"), "python": sys.executable}


def _run_adapter_cases(adapter: str) -> dict[_Key, dict[str, Any]]:
    """Fit every case of ``adapter`` in the chosen profile once (or reuse its record); return the records.

    A case recorded for the same commit, versions, adapter source and machine, in asv's records file or by
    ``oocbench run`` in the CLI's results directory (``make bench``), is not fitted again
    (:func:`oocbench.asv_results.find_reusable`; ``OOCBENCH_ASV_REUSE=0`` fits every case). New records, and
    reused CLI ones, are appended to asv's records file, so a report of ``.asv/results`` has every case.
    """
    from oocbench.cli import summary_line

    suite = _common.profile()
    path = _records_dir(_common.REPO) / _RECORDS_FILE
    limits = _Limits(timeout_s=_common.case_timeout_s())
    specs = _expand(suite, [adapter])
    reusable = (_find_reusable(specs, [path, _common.cli_results_dir() / _RECORDS_FILE], limits,
                               need_heap=_common.use_memray()) if _common.reuse_records() else {})
    out: dict[_Key, dict[str, Any]] = {}
    for spec in specs:
        if spec.key() in reusable:
            record, source = reusable[spec.key()]
            if source != path:  # a CLI record: copied into asv's file, marked as reused
                record.extra["asv"] = {**_asv_run_info(suite.name), "reused_from": str(source)}
                _append_record(path, record)
            print(f"{summary_line(record)} (reused: {source})", file=sys.stderr)  # shown by `asv run -e`
        else:
            record = _run_case(spec, limits, memray=_common.use_memray(), data_base=_common.data_dir())
            record.extra["asv"] = _asv_run_info(suite.name)
            _append_record(path, record)
            print(summary_line(record), file=sys.stderr)
        out[_key(spec)] = record.to_dict()
    return out


def _not_applicable(reason: str) -> float:
    """asv's n/a (NaN), with the reason in the benchmark's output (``asv run -e``), as asv prints its own skips."""
    print(f"asv: n/a: {reason}")
    return math.nan


class _CaseTracks:
    """The track_ benchmarks shared by every generated adapter class (``adapter`` set by :func:`_make`)."""

    adapter: str = ""
    param_names = ["dataset", "rows", "profile", "threads"]

    def setup(self, records: dict[_Key, dict[str, Any]], dataset: str, rows: int, profile: str,
              threads: str) -> None:
        self.record = _CaseRecord.from_dict(records[(dataset, rows, profile, threads)])
        if self.record.status in ("not-installed", "skipped"):
            raise NotImplementedError(self.record.reason)  # asv: n/a

    def _ok(self) -> _CaseRecord:
        if self.record.status != "ok":
            raise RuntimeError(f"{self.record.case.label()}: {self.record.status}: {self.record.reason}")
        return self.record

    def _metric(self, name: str) -> float:
        record = self._ok()
        if name in record.metrics:
            return float(record.metrics[name])
        # a metric of the other task (RMSE of a classifier) is n/a, not a failure
        tasks = [t for t, spec in _TASKS.items() if name in {m.key for m in spec.metrics}]
        if record.task not in tasks:
            return _not_applicable(f"{name} is a metric of {' / '.join(tasks)} tasks, not of {record.task}")
        return _not_applicable(f"the record has no {name} (metrics: {', '.join(record.metrics) or 'none'})")

    def track_rows_per_s(self, *_: Any) -> float:
        """Training rows / fit wall seconds, in the isolated runner's timed (non-memray) child."""
        return float(self._ok().rows_per_s)

    track_rows_per_s.unit = "rows/s"

    def track_fit_s(self, *_: Any) -> float:
        """Wall seconds of fit over the whole stream (reading included)."""
        return float(self._ok().timings.fit_s)

    track_fit_s.unit = "seconds"

    def track_rss_fit_bytes(self, *_: Any) -> float:
        """Process-tree RSS high-water mark during fit minus the RSS just before fit (sampled every 10 ms)."""
        return float(self._ok().memory.rss_fit_bytes)

    track_rss_fit_bytes.unit = "bytes"

    def track_rss_peak_bytes(self, *_: Any) -> float:
        """Process-tree RSS high-water mark during fit, imports and data reader included."""
        return float(self._ok().memory.rss_peak_bytes)

    track_rss_peak_bytes.unit = "bytes"

    def track_heap_peak_bytes(self, *_: Any) -> float:
        """memray heap peak of fit with native traces (separate run); n/a when memray is off."""
        record = self._ok()
        if record.memory.heap_peak_bytes is not None:
            return float(record.memory.heap_peak_bytes)
        if not _common.use_memray():
            return _not_applicable(f"memray is off in this run (OOCBENCH_ASV_MEMRAY=0, or the "
                                   f"{_common.profile_name()!r} profile's default)")
        return _not_applicable(f"the record has no memray heap peak ({record.memory.heap_covers or 'no reason given'})")

    track_heap_peak_bytes.unit = "bytes"

    def track_rss_fit_bytes_per_row(self, *_: Any) -> float:
        """Memory-scaling input: RSS growth during fit per training row (flat = streaming, growing = not)."""
        record = self._ok()
        return float(record.memory.rss_fit_bytes) / max(1, record.rows or 0)

    track_rss_fit_bytes_per_row.unit = "bytes/row"

    def track_rows(self, *_: Any) -> float:
        """Memory-scaling input: training rows the adapter actually saw."""
        return float(self._ok().rows)

    track_rows.unit = "rows"


def _track_metric(key: str, label: str) -> Any:
    def track(self: _CaseTracks, *_: Any) -> float:
        return self._metric(key)

    track.__name__ = f"track_{key}"
    track.__doc__ = f"{label} on the holdout (n/a for the other task)."
    track.unit = label
    return track


# one track_ per metric of the task table (oocbench.metrics.TASKS): a metric added there is tracked here too
for _metric in {m.key: m for task in _TASKS.values() for m in task.metrics}.values():
    setattr(_CaseTracks, f"track_{_metric.key}", _track_metric(_metric.key, _metric.label))


def _make(adapter: str) -> type:
    name = _common.class_name(adapter)
    suite = _common.profile()

    def setup_cache(self: _CaseTracks) -> dict[_Key, dict[str, Any]]:
        return _run_adapter_cases(adapter)

    # asv keys setup_cache by "<module>:<first line>": one shared function would make every class share
    # the first class's cache. A module name of its own per class gives each adapter its own setup_cache
    # (so `asv run -b sklearn_sgd` fits only that adapter's cases).
    alias = f"{__name__}.{name}"
    sys.modules.setdefault(alias, types.ModuleType(alias))
    setup_cache.__module__ = alias
    # the whole class's cases run inside setup_cache: give it the sum of the per-case limits
    n_cases = len(_expand(suite, [adapter]))
    setup_cache.timeout = 60 + n_cases * _common.case_timeout_s() * (2 if _common.use_memray() else 1)
    return type(name, (_CaseTracks,), {
        "adapter": adapter,
        "setup_cache": setup_cache,
        "params": [list(suite.datasets), list(suite.scales), list(suite.profiles), list(suite.threads)],
        "timeout": setup_cache.timeout,
        "__doc__": f"{adapter}: one isolated fit per case of the {suite.name!r} profile, read by every track_.",
        "__module__": __name__,
    })


for _adapter in _common.adapters():
    globals()[_common.class_name(_adapter)] = _make(_adapter)
