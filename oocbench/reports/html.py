"""The report page: one self-contained ``index.html`` (inline CSS, no script, no network), PNGs beside it.

The tables are in :mod:`oocbench.reports.tables`. Every string that comes from records, adapters or datasets
goes through :func:`esc` - an adapter name or failure reason containing ``<script>`` is shown as text, never run.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from oocbench.analysis import BUSY_MIN_CORES, BUSY_SHARE, busy_reason
from oocbench.fmt import fmt_rows
from oocbench.records import CaseRecord
from oocbench.reports.draw import Absent, Plot
from oocbench.reports.model import FAILED, NOT_RUN

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
nav a{margin-right:14px}.muted{color:#666}.small{font-size:12px}
table{border-collapse:collapse;margin:6px 0 14px;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.adapters{width:100%}table.adapters td{overflow-wrap:normal}table.adapters td:nth-child(-n+2){white-space:nowrap}
table.adapters td:nth-child(3),table.adapters td:nth-child(4){min-width:9em}table.adapters td:last-child{width:60%}
table.verdict td{min-width:9em}table.verdict td:first-child,table.verdict th:first-child{min-width:0;white-space:nowrap}
table.verdict{width:100%}table.verdict td[data-not-converged]{min-width:20em}table.adapters code{overflow-wrap:anywhere}
table.verdict caption.answer{caption-side:top;text-align:left;font-size:15px;padding:4px 0 8px;color:#111}
table.adapters dl{margin:0}table.adapters dt{font-weight:600;color:#444;margin-top:3px}table.adapters dd{margin:0 0 0 14px}
.tie{color:#555;font-size:12px}.warn{color:#8a4b00;font-weight:600;font-size:12px}
th{background:#f0f0f0;font-weight:600;overflow-wrap:normal}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td .range{color:#777;font-size:11px;display:block}
td.status{font-weight:600;white-space:nowrap}.st-ok{color:#1a7f37}
.st-timeout,.st-oom,.st-crashed,.st-error,.st-suspect{color:#fff;background:#c62828}
.st-not-installed,.st-skipped{color:#5d4037;background:#ffe0b2}
td.reason{color:#333;font-size:12px;max-width:640px;min-width:18em}table.cases,table.agreement,table.insight,table.tuning{display:block;overflow-x:auto;max-width:100%}
details summary{cursor:pointer;color:#555}details.fold{margin:4px 0 12px}
details.fold>summary{color:#0b57d0;padding:4px 0}details.status p{margin:6px 0}
p.answer-line{font-size:14px;margin:4px 0 2px;color:#111}ul.answers{padding-left:20px;margin:6px 0}ul.answers li{margin:3px 0}figure.front{margin-top:4px}
nav{font-size:12px;line-height:1.7}h1+p{margin:2px 0}pre{white-space:pre-wrap;font-size:11px;margin:4px 0}
figure{margin:10px 0 18px;background:#fff;border:1px solid #e3e3e3;padding:8px;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:12px;color:#555;max-width:1100px}
.verdict td:first-child{white-space:nowrap}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 10px;margin:8px 0}
"""


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def figure(plot: Plot) -> str:
    note = f"<p class=note>{esc(plot.note)}</p>" if plot.note else ""
    details = ""
    if plot.details:
        details = (f"<div class='small muted'>{esc(plot.details_title)}<ul>"
                   + "".join(f"<li>{_named_item(d)}</li>" for d in plot.details) + "</ul></div>")
    return (f'<figure><img src="{esc(plot.file)}" alt="{esc(plot.alt)}" loading="eager">'
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)}</figcaption></figure>{note}{details}")


def folded(summary: str, body: str) -> str:
    """``body`` behind a one-line ``summary`` the reader clicks to open (``<details>``: no script)."""
    return f"<details class=fold><summary>{esc(summary)}</summary>{body}</details>"


def _named_item(text: str) -> str:
    """``"names: why"`` with the names in bold."""
    names, sep, why = text.partition(": ")
    return f"<b>{esc(names)}</b>: {esc(why)}" if sep else esc(text)


def not_recorded(title: str, why: str) -> str:
    return f'<div class="note"><b>{esc(title)}: not recorded.</b> {esc(why)}</div>'


def absent(note: Absent) -> str:
    """The note for a figure that does not apply (see :class:`oocbench.reports.registry.Absent`)."""
    items = (f"<div class='small muted'>{esc(note.items_title)}<ul>" + "".join(f"<li>{_named_item(i)}</li>" for i in note.items)
             + "</ul></div>") if note.items else ""
    return not_recorded(note.title, note.why) + items


def distinct(records: list[CaseRecord], getter) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        v = getter(r)
        if v not in (None, "", {}):
            seen[json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict) else str(v)] = None
    return list(seen)


def status_notes(records: list[CaseRecord]) -> str:
    """The notes at the top of the page: cases that failed, cases not run here, cases run on a busy machine."""
    notes = []
    failed = Counter(r.status for r in records if r.status in FAILED)
    if failed:
        notes.append(f"<b>{sum(failed.values())} case(s) failed</b> ({esc(', '.join(f'{k} {v}' for k, v in sorted(failed.items())))})"
                     " - an x on the plots at their scale, and a status cell with the reason in the tables.")
    if suspect := [r for r in records if r.status == "suspect"]:
        notes.append(f"<b>{len(suspect)} case(s) suspect</b>: a holdout loss below the dataset's known optimum by more "
                     "than noise, which no learner can reach honestly (the holdout leaked into the fit, or the optimum "
                     "is wrong); not counted as results: "
                     + esc(", ".join(f"{r.case.adapter} at {fmt_rows(r.case.scale)} ({r.case.dataset})"
                                     for r in suspect[:8])) + ".")
    not_run = Counter(r.status for r in records if r.status in NOT_RUN)
    if not_run:
        notes.append(f"<b>{sum(not_run.values())} case(s) not run here</b> ({esc(', '.join(f'{k} {v}' for k, v in sorted(not_run.items())))})"
                     " - not drawn; the verdict and the tables say why.")
    ran = [r for r in records if r.status not in NOT_RUN]  # a skipped case never ran: it cannot have been disturbed
    busy = [r for r in ran if busy_reason(r)]
    if busy:
        shown = ", ".join(f"{r.case.adapter} at {fmt_rows(r.case.scale)} ({r.case.dataset})" for r in busy[:8])
        notes.append(
            f"<b>{len(busy)} of {len(ran)} case(s) that ran did so while the machine was busy</b>: other processes kept "
            f"more than max({BUSY_MIN_CORES}, {BUSY_SHARE} x the cores the case left free) cores busy during them "
            "on average (the machine's busy CPU time minus the case's own). Their timings may be slower and "
            "noisier than on an idle machine; rerun them (--force) on a quiet one. "
            + esc(shown + (f" and {len(busy) - 8} more" if len(busy) > 8 else "")) + ".")
    if not notes:
        return ""
    # one line on the first screen (the answer comes right after it), every note a click away
    short = [f"{sum(failed.values())} failed" if failed else "", f"{len(suspect)} suspect" if suspect else "",
             f"{sum(not_run.values())} not run here" if not_run else "",
             f"{len(busy)} of {len(ran)} ran on a busy machine" if busy else ""]
    return (f"<details class=\"note status\"><summary><b>Cases: {esc(' · '.join(t for t in short if t))}</b> "
            "(what and why)</summary>" + "".join(f"<p>{n}</p>" for n in notes) + "</details>")


def memory_notes(records: list[CaseRecord]) -> str:
    """What each memory figure covers, in the words the records carry."""
    items = []
    for label, getter in (("RSS growth", lambda r: r.memory.rss_covers),
                          ("kernel high-water mark", lambda r: r.memory.rss_kernel_covers),
                          ("anonymous RSS growth", lambda r: r.memory.rss_anon_covers),
                          ("heap peak", lambda r: r.memory.heap_covers)):
        for text in distinct(records, getter):
            items.append(f"<li><b>{esc(label)}</b>: {esc(text)}</li>")
    notes = {r.case.adapter: r.adapter_info["heap_note"] for r in records if r.adapter_info.get("heap_note")}
    for adapter, note in sorted(notes.items()):
        items.append(f"<li><b>{esc(adapter)}</b>: {esc(note)}; its memory figure is the RSS growth alone</li>")
    return "<ul class=small>" + "".join(items) + "</ul>" if items else ""


def page(title: str, header: str, body: list[str]) -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            + header + "".join(body) + "</main></body></html>\n")
