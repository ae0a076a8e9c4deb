"""What the report computes from records: repeat groups, the figures it shows, and the flat CSV rows.

Repeats are grouped with :func:`oocbench.analysis.group_repeats` and summarised with
:func:`oocbench.analysis.summarize` (median, min, max over the ``ok`` repeats only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from oocbench.adapters.base import TUNED
from oocbench.analysis import fit_memory, group_repeats, loss_of, summarize, with_full_memory
from oocbench.cost import DEFAULT_PRICES, Prices, cost_of_rows
from oocbench.metrics import get_task, task_of_metrics
from oocbench.records import CaseRecord, CaseSpec

#: statuses of a case that ran and did not produce a result (an ``x`` on the plots); ``suspect``: a loss below the
#: known optimum (see :func:`oocbench.harness.runner.run_case`), shown with its reason, never as a result
FAILED = ("timeout", "oom", "crashed", "error", "suspect")
#: statuses of a case that was not run here (not drawn; the verdict and the tables say why)
NOT_RUN = ("not-installed", "skipped")

#: In-memory references of records written before adapters declared ``reference`` themselves.
LEGACY_REFERENCES = {"sklearn.batch": "in-memory linear reference"}


def reference_of(records: Iterable[CaseRecord]) -> str:
    """What the adapter of these records is a reference for ("" for a streaming adapter): its declared
    ``reference`` (published in ``adapter_info``)."""
    for r in records:
        if "reference" in r.adapter_info:
            return str(r.adapter_info["reference"] or "")
        if r.case.adapter in LEGACY_REFERENCES:
            return LEGACY_REFERENCES[r.case.adapter]
    return ""



def task_of(record: CaseRecord) -> str:
    """The record's task; inferred from its metrics when the record does not say (failed early)."""
    if record.task:
        return record.task
    return task_of_metrics(record.metrics) or task_of_metrics(record.optimum)


def loss(record: CaseRecord) -> float | None:
    """The primary accuracy figure (log loss or RMSE; lower is better), ``None`` if not measured."""
    value = loss_of(record)[1]
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def gap(record: CaseRecord) -> float | None:
    """Holdout loss minus the dataset's known optimum (the true model's loss); ``None`` without an optimum."""
    value, key = loss(record), get_task(task_of(record)).loss.key
    best = record.optimum.get(key)
    return None if value is None or best is None else value - float(best)


def gap_rel(record: CaseRecord) -> float | None:
    """:func:`gap` as a fraction of the optimum (0.01: 1% above the best achievable loss)."""
    value, key = gap(record), get_task(task_of(record)).loss.key
    best = record.optimum.get(key)
    return None if value is None or not best else value / abs(float(best))


def constant_loss(record: CaseRecord) -> float | None:
    """The constant predictor's loss on the same holdout (``record.baseline``): the floor a model must beat."""
    value = record.baseline.get(get_task(task_of(record)).loss.key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def rss_growth(record: CaseRecord) -> float | None:
    """Process-tree RSS high-water mark during fit minus the baseline before fit."""
    v = record.memory.rss_fit_bytes
    return None if v is None else float(v)


def heap_peak(record: CaseRecord) -> float | None:
    """memray's heap peak of fit (separate run), ``None`` when not measured or not heap (the adapter's
    ``heap_note`` says why: memory-mapped cache files counted as allocations)."""
    if record.adapter_info.get("heap_note"):
        return None
    v = record.memory.heap_peak_bytes
    return None if v is None else float(v)


def secondary(record: CaseRecord) -> float | None:
    key = get_task(task_of(record)).secondary[0].key
    value = record.metrics.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


#: Figures summarised per repeat group: name -> getter.
FIGURES: dict[str, Callable[[CaseRecord], float | None]] = {
    "rows_per_s": lambda r: r.rows_per_s,
    "fit_s": lambda r: r.timings.fit_s,
    "rss_growth": rss_growth,
    "heap_peak": heap_peak,
    "fit_memory": fit_memory,
    "loss": loss,
    "constant_loss": constant_loss,
    "gap": gap,
    "gap_rel": gap_rel,
    "secondary": secondary,
    "coef_cosine": lambda r: r.extra.get("coef_cosine"),
    "cost_1e9": cost_of_rows,
}


@dataclass
class CaseGroup:
    """One case identity across its repeats."""

    adapter: str
    dataset: str
    scale: int
    profile: str
    threads: str
    params: tuple
    records: list[CaseRecord]
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what else sets this case apart from the defaults ("3 passes, 2^20 buckets"): its own section
    setting: str = ""

    @property
    def ok(self) -> list[CaseRecord]:
        return [r for r in self.records if r.status == "ok"]

    @property
    def failed(self) -> list[CaseRecord]:
        return [r for r in self.records if r.status != "ok"]

    @property
    def not_run(self) -> bool:
        """No repeat ran here (not installed, skipped): nothing to draw, nothing failed."""
        return not self.ok and self.records[0].status in NOT_RUN

    @property
    def status(self) -> str:
        """``ok`` when any repeat succeeded (failed repeats are listed beside it), else the first failure."""
        return "ok" if self.ok else self.records[0].status

    @property
    def task(self) -> str:
        return next((t for t in map(task_of, self.records) if t), "")

    @property
    def section(self) -> tuple[str, str, str, str]:
        return (self.dataset, self.profile, self.threads, self.setting)

    def median(self, name: str) -> float | None:
        return self.stats[name]["median"]

    @property
    def reference(self) -> str:
        """Non-empty for an in-memory reference (see :func:`reference_of`)."""
        return reference_of(self.records)

    @property
    def in_memory(self) -> bool:
        """Whether the adapter holds every training row in RAM (its memory grows with the rows): not out of core."""
        return any(r.adapter_info.get("in_memory") or r.adapter_info.get("reference") for r in self.records) \
            or bool(self.reference)

    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.params)
        return f"{self.adapter}{extra}"


def case_groups(records: Iterable[CaseRecord], prices: Prices = DEFAULT_PRICES) -> list[CaseGroup]:
    """Repeat groups with their summaries, sorted by dataset, profile, threads, setting, scale, adapter.

    ``prices``: what ``cost_1e9`` (the price of learning from 10^9 rows) is computed at.
    """
    figures = {**FIGURES, "cost_1e9": lambda r: cost_of_rows(r, 1e9, prices)}
    repeats = group_repeats(records)
    # hyperparameters an adapter ran with everywhere (one set of overrides for it in this dataset, profile and
    # thread mode: "xgboost.external-memory num_boost_round=10" in the past-RAM series) are how it was run, part
    # of its label, compared with the others in one section; several sets (a --param grid) are sections apart
    overrides: dict[tuple, set] = {}
    for case in repeats:
        overrides.setdefault(_line_key(_tuned_knobs(case)[0]), set()).add(_tuned_knobs(case)[1])
    groups = []
    for case, recs in repeats.items():
        recs = sorted(recs, key=lambda r: r.case.repeat)
        line, params = _tuned_knobs(case)
        alone = len(overrides[_line_key(line)]) == 1
        g = CaseGroup(case.adapter, case.dataset, case.scale, case.profile, case.threads, params, recs,
                      setting=replace(line, params=()).setting() if alone else case.setting())
        ok = g.ok
        g.stats = {name: summarize(fn(r) for r in (with_full_memory(ok) if name == "fit_memory" else ok))
                   for name, fn in figures.items()}
        groups.append(g)
    return sorted(groups, key=lambda g: (g.dataset, g.profile, g.threads, g.setting, g.scale, g.adapter, g.params))


def _tuned_knobs(case: CaseSpec) -> tuple[CaseSpec, tuple]:
    """A tuned case's passes are its tuning's choice, as its parameters are: ``(case without them, parameters
    with them)``, so each tuned adapter keeps one line, labelled with what won, in one section. Other cases
    are returned as they are."""
    if case.profile != TUNED or case.passes == 1:
        return case, case.params
    return replace(case, passes=1), (*case.params, ("passes", case.passes))


def _line_key(case: CaseSpec) -> tuple:
    return (case.adapter, case.dataset, case.profile, case.threads, replace(case, params=()).setting())


def sections(groups: Iterable[CaseGroup]) -> dict[tuple[str, str, str, str], list[CaseGroup]]:
    """Groups by (dataset, profile, threads, setting): one set of plots and one table each."""
    out: dict[tuple[str, str, str, str], list[CaseGroup]] = {}
    for g in groups:
        out.setdefault(g.section, []).append(g)
    return out


def _flat(prefix: str, mapping: dict[str, Any] | None) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in (mapping or {}).items()}


def _load_columns(load: Any) -> dict[str, Any]:
    """How busy the machine was (``provenance["load"]``) as flat columns; none for records without it."""
    if not isinstance(load, dict):
        return {}
    out: dict[str, Any] = {"load.others_cores": load.get("others_cores")}
    for end in ("start", "end"):
        snap = load.get(end) or {}
        avg = snap.get("loadavg") or [None]
        out[f"load.{end}.loadavg_1m"] = avg[0]
        out[f"load.{end}.cpu_freq_mhz"] = snap.get("cpu_freq_mhz")
    return out


def flatten(record: CaseRecord, superseded: bool = False) -> dict[str, Any]:
    """One CSV row: every scalar of the record; nested settings as JSON text."""
    d = record.to_dict()
    info = record.adapter_info
    prov = record.provenance
    row: dict[str, Any] = {
        **{f"case.{k}": (json.dumps(v, sort_keys=True) if k == "params" else v) for k, v in d["case"].items()},
        "case_key": d["case_key"], "status": record.status, "reason": record.reason, "task": record.task,
        "rows": record.rows, "rows_per_s": record.rows_per_s,
        **_flat("timings", d["timings"]), **_flat("memory", d["memory"]),
        **_flat("metrics", record.metrics), **_flat("optimum", record.optimum), **_flat("baseline", record.baseline),
        "adapter.version": info.get("version"), "adapter.api_path": info.get("api_path"),
        "adapter.update_semantics": info.get("update_semantics"), "adapter.input_format": record.extra.get("features", {}).get("input_format"),
        "features.hash_bits": record.extra.get("features", {}).get("hash_bits"),
        "adapter.hyperparameters": json.dumps(info.get("hyperparameters", {}), sort_keys=True, default=str),
        "oocbench": prov.get("oocbench"), "git_commit": prov.get("git_commit"), "python": prov.get("python"),
        **_flat("machine", prov.get("machine")), **_load_columns(prov.get("load")),
        "versions": json.dumps(prov.get("versions", {}), sort_keys=True),
        **{f"extra.{k}": v for k, v in record.extra.items() if not isinstance(v, (dict, list))},
        "started_at": record.started_at, "finished_at": record.finished_at, "superseded": superseded,
    }
    return row
