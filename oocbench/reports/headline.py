"""The README's opening answer: one Markdown table per dataset, computed from published records.

Each row is one scale; its cells are the report's verdict there (:mod:`oocbench.reports.verdict`, the same
code): the fastest, the leanest, the most accurate and the cheapest per 10^9 rows among the adapters that
learned (within 1% of the best loss), each with its figure and the adapters it ties with. Where adapters that
hold every row in RAM ran, a second row per scale ("out of core") gives the same verdict among the others only:
the answer for data that does not fit in RAM. Only the default
setting of each dataset counts (matched profile, one thread, no other setting; an adapter's overrides count only
when it ran with no other, as the past-RAM series' XGBoost rounds): a grid point is a different question. Under each table: how many adapters ran, the date and machine the records name, and the
command that printed it (``oocbench headline RESULTS``), so the README's figures can be checked against
``reports/*/results.json`` at any time (``tests/test_headline.py`` does).

>>> from oocbench.records import CaseRecord, CaseSpec, Timings, Memory
>>> def rec(a, loss, rate):
...     return CaseRecord(CaseSpec(a, "d", 1000), status="ok", task="binary", rows=1000, rows_per_s=rate,
...                       metrics={"log_loss": loss}, baseline={"log_loss": 0.69},
...                       timings=Timings(fit_s=1000 / rate, fit_cpu_s=1000 / rate),
...                       memory=Memory(rss_fit_bytes=2**20, rss_peak_bytes=2**28))
>>> print(headline_markdown([rec("a", 0.50, 2e6), rec("b", 0.501, 1e6), rec("c", 0.60, 9e6)], "RESULTS"))
... # doctest: +NORMALIZE_WHITESPACE
**d** (binary; log loss on the holdout)
<BLANKLINE>
| rows | fastest | leanest | most accurate | cheapest per 10^9 rows | learned of compared |
|---|---|---|---|---|---|
| 1k | a 2M rows/s | a 1 MiB (tie: b) | a 0.5000 | a $0.0045 | 2 of 3 |
<BLANKLINE>
<sub>Records of unknown date on an unknown machine. `oocbench headline RESULTS`</sub>
"""

from __future__ import annotations

from collections.abc import Iterable

from oocbench.analysis import summarize
from oocbench.cost import DEFAULT_PRICES, Prices
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate, fmt_rows
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.load import latest_per_case
from oocbench.reports.model import CaseGroup, case_groups, sections
from oocbench.reports.tables import fmt_dollars
from oocbench.reports.verdict import Win, verdicts

COLUMNS = ("fastest", "leanest", "most accurate", "cheapest per 10^9 rows")
FORMAT = {"rows_per_s": fmt_rate, "fit_memory": fmt_bytes, "loss": fmt_num, "cost_1e9": fmt_dollars}


def _cell(win: Win | None) -> str:
    if win is None:
        return "-"
    text = f"{win.winner.label()} {FORMAT[win.figure](win.winner.median(win.figure))}"
    if win.tied:
        text += f" (tie: {', '.join(t.label() for t in win.tied)})"
    return text


def _ran(v) -> str:
    """'learned of compared', and how many were not run or failed there (a verdict among few is said so)."""
    text = f"{len(v.learned)} of {v.compared}"
    skipped = [g for g in v.not_run if any("budget_skip" in r.extra for r in g.records)]
    if skipped:
        text += f"; {len(skipped)} over the time budget"
    if other := len(v.not_run) - len(skipped):
        text += f"; {other} not run"
    if v.failed:
        text += "; " + ", ".join(f"{g.label()} {g.status}" for g in v.failed)
    return text


def _in_memory(group: CaseGroup) -> bool:
    return any(r.adapter_info.get("in_memory") or r.adapter_info.get("reference") for r in group.records)


def _provenance(records: list[CaseRecord]) -> str:
    days = sorted({r.started_at[:10] for r in records if r.started_at})
    machines = {(m.get("cores_logical"), m.get("ram_bytes"), m.get("cpu")) for r in records
                if (m := r.provenance.get("machine"))}
    when = f"Records of {days[0]}" + (f" to {days[-1]}" if days[-1] != days[0] else "") if days else \
        "Records of unknown date"
    if len(machines) != 1:
        return f"{when} on {len(machines)} machines" if machines else f"{when} on an unknown machine"
    cores, ram, cpu = next(iter(machines))
    return f"{when} on {cores} cores, {fmt_bytes(ram)} RAM ({cpu})"


def headline_markdown(records: Iterable[CaseRecord], command: str, prices: Prices = DEFAULT_PRICES) -> str:
    """The tables, one per dataset, for ``records`` (the latest record of each case counts)."""
    current, _ = latest_per_case(records)
    blocks = []
    for (dataset, profile, threads, setting), groups in sections(case_groups(current, prices)).items():
        if profile != "matched" or threads != "1" or setting:
            continue
        task = next((g.task for g in groups if g.task), "")
        loss = get_task(task).loss.label
        lines = [f"**{dataset}** ({task}; {loss} on the holdout)", "",
                 "| rows | " + " | ".join(COLUMNS) + " | learned of compared |", "|---" * (len(COLUMNS) + 2) + "|"]
        streaming = [g for g in groups if not _in_memory(g)]
        rows = [(fmt_rows(v.scale), v) for v in verdicts(groups)]
        if len(streaming) < len(groups):  # what to use when the data does not fit in RAM
            rows += [(f"{fmt_rows(v.scale)}, out of core", v) for v in verdicts(streaming)]
            rows.sort(key=lambda row: (row[1].scale, row[0]))
        for label, v in rows:
            accurate = _cell(v.most_accurate)
            if v.better_before:
                loss, at, who = v.better_before
                accurate += f" **but {fmt_num(loss)} at {fmt_rows(at)} ({who})**"
            cells = [_cell(v.fastest), _cell(v.leanest), accurate, _cell(v.cheapest)]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {_ran(v)} |")
        at = [r for g in groups for r in g.records]
        lines += ["", f"<sub>{_provenance(at)}. `oocbench headline {command}`</sub>"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def series_markdown(records: Iterable[CaseRecord], command: str) -> str:
    """Per dataset, one row per adapter and one column per scale: rows/s, peak RSS of the case's process tree
    and holdout loss where it ran (medians over repeats), else its status ("oom", "skipped: over budget")."""
    current, _ = latest_per_case(records)
    blocks = []
    for (dataset, profile, threads, setting), groups in sections(case_groups(current)).items():
        if profile != "matched" or threads != "1" or setting:
            continue
        scales = sorted({g.scale for g in groups})
        loss = get_task(next((g.task for g in groups if g.task), "")).loss
        optimum = sorted({r.optimum[loss.key] for g in groups for r in g.records if loss.key in r.optimum})
        known = f" (known optimum {', '.join(fmt_num(v) for v in optimum)})" if optimum else ""
        lines = [f"**{dataset}**: rows/s, peak RSS of the process tree, {loss.label}{known} per scale", "",
                 "| adapter | " + " | ".join(f"{fmt_rows(n)} rows" for n in scales) + " |",
                 "|---" * (len(scales) + 1) + "|"]
        for label in sorted({g.label() for g in groups}):
            at = {g.scale: g for g in groups if g.label() == label}
            lines.append(f"| {label} | " + " | ".join(_series_cell(at.get(n)) for n in scales) + " |")
        lines += ["", f"<sub>{_provenance([r for g in groups for r in g.records])}. "
                      f"`oocbench headline {command}`</sub>"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _series_cell(g: CaseGroup | None) -> str:
    if g is None:
        return "-"
    if not g.ok:
        return "over budget" if any("budget_skip" in r.extra for r in g.records) else f"**{g.status}**"
    peak = summarize(r.memory.rss_peak_bytes for r in g.ok)["median"]
    return f"{fmt_rate(g.median('rows_per_s'))}, {fmt_bytes(peak)}, {fmt_num(g.median('loss'))}"
