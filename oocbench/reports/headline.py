"""The published answer in Markdown: one verdict table per dataset and view (docs/results.md), or the report's
first screen as sentences (``--answer``: the README's answer), computed from published records.

Each row is one scale; its cells are the report's verdict there (:mod:`oocbench.reports.verdict`, the same
code): the fastest, the leanest, the most accurate and the cheapest per 10^9 rows among the adapters that
learned (beat the constant predictor), each with its figure, its loss and gap to the best loss (loss is shown,
not a gate) and the adapters it ties with; then the Pareto front of fit time against loss, fastest first. Where
adapters that hold every row in RAM ran, a second row per scale ("out of core") gives the same verdict among the
others only: the answer for data that does not fit in RAM. One table per dataset and view (matched, recommended,
tuned profile); only the default setting counts (one thread, no other setting; an adapter's overrides count only
when it ran with no other, as the past-RAM series' XGBoost rounds): a grid point is a different question. Under
each table: how many adapters ran, the date and machine the records name, and the command that printed it
(``oocbench headline RESULTS``), so the published figures can be checked against ``reports/*/results.json`` at
any time (``tests/test_headline.py`` does).

>>> from oocbench.records import CaseRecord, CaseSpec, Timings, Memory
>>> def rec(a, loss, rate):
...     return CaseRecord(CaseSpec(a, "d", 1000), status="ok", task="binary", rows=1000, rows_per_s=rate,
...                       metrics={"log_loss": loss}, baseline={"log_loss": 0.69},
...                       timings=Timings(fit_s=1000 / rate, fit_cpu_s=1000 / rate),
...                       memory=Memory(rss_fit_bytes=2**20, rss_peak_bytes=2**28))
>>> print(headline_markdown([rec("a", 0.50, 2e6), rec("b", 0.501, 1e6), rec("c", 0.60, 9e6)], "RESULTS"))
... # doctest: +NORMALIZE_WHITESPACE
**d**, matched profile: the same algorithm and settings for every library (implementation speed) (binary; log
loss on the holdout)
<BLANKLINE>
| rows | fastest (rows/s in fit) | leanest (fit memory) | most accurate (loss) | cheapest per 10^9 rows | Pareto front (fit time, loss) | learned of compared |
|---|---|---|---|---|---|---|
| 1k | c 9M rows/s (0.6000, +20.0%) | a 1 MiB (0.5000) (tie: b, c) | a 0.5000 | c $0.001 (0.6000, +20.0%) | c, a | 3 of 3 |
<BLANKLINE>
At 1k rows: a reaches the best log loss (0.5000) at 2M rows/s with 1 MiB of fit memory; c is 4.5x faster for
20.0% more log loss.
<BLANKLINE>
<sub>Records of unknown date on an unknown machine. `oocbench headline RESULTS`</sub>
"""

from __future__ import annotations

from collections.abc import Iterable

from oocbench.analysis import busy_reason, summarize
from oocbench.cost import DEFAULT_PRICES, Prices
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate, fmt_rows
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.load import latest_per_case
from oocbench.reports.model import NOT_RUN, CaseGroup, case_groups, sections
from oocbench.reports.tables import answer_sentences, fmt_dollars
from oocbench.reports.verdict import TIE_WITHIN, Verdict, Win, verdicts

#: what each view answers, in the table's title
VIEWS = {"matched": "matched profile: the same algorithm and settings for every library (implementation speed)",
         "recommended": "recommended profile: each library with the settings its documentation recommends",
         "tuned": "tuned: each library at its best grid point, chosen on validation rows (never the holdout)"}
COLUMNS = ("fastest (rows/s in fit)", "leanest (fit memory)", "most accurate (loss)", "cheapest per 10^9 rows",
           "Pareto front (fit time, loss)")
FORMAT = {"rows_per_s": fmt_rate, "fit_memory": fmt_bytes, "loss": fmt_num, "cost_1e9": fmt_dollars}


def _cell(win: Win | None, v: Verdict | None = None) -> str:
    """The winner and its figure; with ``v``, its loss and gap to the best loss beside it (loss is not a gate)."""
    if win is None:
        return "-"
    text = f"{win.winner.label()} {FORMAT[win.figure](win.winner.median(win.figure))}"
    if v is not None and (loss := win.winner.median("loss")) is not None:
        gap = v.loss_gap(win.winner)
        text += f" ({fmt_num(loss)}" + ("" if gap is None or gap <= TIE_WITHIN else f", +{gap:.1%}") + ")"
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
        if profile not in VIEWS or threads != "1" or setting:
            continue
        task = next((g.task for g in groups if g.task), "")
        loss = get_task(task).loss.label
        lines = [f"**{dataset}**, {VIEWS[profile]} ({task}; {loss} on the holdout)", "",
                 "| rows | " + " | ".join(COLUMNS) + " | learned of compared |", "|---" * (len(COLUMNS) + 2) + "|"]
        streaming = [g for g in groups if not g.in_memory]
        every = verdicts(groups)
        ooc = verdicts(streaming) if streaming and len(streaming) < len(groups) else []  # data that does not fit
        rows = [(fmt_rows(v.scale), v) for v in every] + [(f"{fmt_rows(v.scale)}, out of core", v) for v in ooc]
        rows.sort(key=lambda row: (row[1].scale, row[0]))
        for label, v in rows:
            accurate = _cell(v.most_accurate)
            if v.better_before:
                before, at, who = v.better_before  # not ``loss``: that names the loss in the sentences below
                accurate += f" **but {fmt_num(before)} at {fmt_rows(at)} ({who})**"
            cells = [_cell(v.fastest, v), _cell(v.leanest, v), accurate, _cell(v.cheapest, v),
                     ", ".join(g.label() for g in v.front) or "-"]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {_ran(v)} |")
        at = [r for g in groups for r in g.records]
        if answers := answer_sentences(every, ooc, loss):
            lines += ["", " ".join(answers)]
        ran = [r for r in at if r.status not in NOT_RUN]
        if busy := [r for r in ran if busy_reason(r)]:  # as the report's note: their timings may be slow and noisy
            lines += ["", f"**{len(busy)} of {len(ran)} cases that ran did so while the machine was busy** (other "
                          "processes used its cores; see the report): their timings may be slower and noisier."]
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


def answer_markdown(records: Iterable[CaseRecord], command: str, prices: Prices = DEFAULT_PRICES) -> str:
    """The report's first screen in Markdown: per dataset, the answer sentences of the view and scale that
    answer it (:mod:`oocbench.reports.answer`: the tuned view where the suite ran one, at the largest scale where
    the most adapters ran), then the busy-machine warning where there is one, the date and the command."""
    from pathlib import Path

    from oocbench.reports.answer import compared, leads
    from oocbench.reports.section import Section

    current, _ = latest_per_case(records)
    placed = [(Section(dataset, "", Path(), groups, {}, prices=prices), "")
              for (dataset, _profile, threads, setting), groups in sections(case_groups(current, prices)).items()
              if threads == "1" and not setting]
    lines = []
    for lead in leads(placed):
        v = lead.verdict
        lines.append(f"- **{lead.dataset}** ({lead.view} view, {compared(v)} compared at "
                     f"{fmt_rows(v.scale)} rows): " + " ".join(lead.sentences()))
    ran = [r for r in current if r.status not in NOT_RUN]
    if busy := [r for r in ran if busy_reason(r)]:
        lines += ["", f"**{len(busy)} of {len(ran)} cases that ran did so while the machine was busy**: their "
                      "timings may be slower and noisier."]
    return "\n".join(lines + ["", f"<sub>{_provenance(current)}. `oocbench headline {command}`</sub>"])
