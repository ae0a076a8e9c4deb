"""The report page: one self-contained ``index.html`` (inline CSS, no script, no network), PNGs beside it.

Every string that comes from records, adapters or datasets goes through :func:`esc` - an adapter name or
failure reason containing ``<script>`` is shown as text, never run.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate, fmt_rows, fmt_seconds
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.model import CaseGroup
from oocbench.reports.plots import Plot
from oocbench.reports.verdict import TRADE_OFF_TOLERANCE, Verdict

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
nav a{margin-right:14px}.muted{color:#666}.small{font-size:12px}
table{border-collapse:collapse;margin:6px 0 14px;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.adapters{width:100%}table.adapters td:nth-child(6){max-width:420px}
th{background:#f0f0f0;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td .range{color:#777;font-size:11px;display:block}
.status{font-weight:600;white-space:nowrap}.st-ok{color:#1a7f37}
.st-timeout,.st-oom,.st-crashed,.st-error{color:#fff;background:#c62828}
.st-not-installed,.st-skipped{color:#5d4037;background:#ffe0b2}
td.reason{color:#333;font-size:12px;max-width:640px}
details summary{cursor:pointer;color:#555}pre{white-space:pre-wrap;font-size:11px;margin:4px 0}
figure{margin:10px 0 18px;background:#fff;border:1px solid #e3e3e3;padding:8px;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:12px;color:#555;max-width:1100px}
.verdict td:first-child{white-space:nowrap}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 10px;margin:8px 0}
"""


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _cell(stats: dict[str, Any], fmt) -> str:
    """Median, with min-max underneath when there were several repeats."""
    if stats["median"] is None:
        return '<td class="num">-</td>'
    rng = (f'<span class="range">{esc(fmt(stats["min"]))} - {esc(fmt(stats["max"]))}, n={stats["n"]}</span>'
           if stats["n"] > 1 else "")
    return f'<td class="num">{esc(fmt(stats["median"]))}{rng}</td>'


def _status_cell(status: str, text: str | None = None) -> str:
    return f'<td class="status st-{esc(status)}">{esc(text or status)}</td>'


def _reasons(records: Iterable[CaseRecord]) -> str:
    parts = []
    for r in records:
        tb = r.extra.get("traceback")
        detail = f"<details><summary>log tail</summary><pre>{esc(tb)}</pre></details>" if tb else ""
        parts.append(f"<div>#{r.case.repeat} <b>{esc(r.status)}</b>: {esc(r.reason) or '(no reason recorded)'}"
                     f"{detail}</div>")
    return "".join(parts)


def cases_table(groups: list[CaseGroup], task: str) -> str:
    """Every case of a section: values for the ok repeats, a status cell with the reason for the others."""
    loss_label = get_task(task).loss.label
    sec_label = get_task(task).secondary[0].label
    head = ["adapter", "rows", "status", "throughput", "fit time", "RSS growth in fit", "memray heap peak",
            f"{loss_label} (holdout)", sec_label, "coef. cosine", "notes"]
    out = ["<table class=cases><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for g in groups:
        attrs = (f'data-adapter="{esc(g.adapter)}" data-dataset="{esc(g.dataset)}" data-scale="{g.scale}" '
                 f'data-status="{esc(g.status)}" '
                 f'data-profile="{esc(g.profile)}" data-threads="{esc(g.threads)}"')
        cells = [f"<td>{esc(g.label())}</td>", f'<td class="num">{esc(f"{g.scale:,}")}</td>']
        if g.ok:
            counts = Counter(r.status for r in g.records)
            status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if len(counts) > 1 else "ok"
            cells.append(_status_cell("ok", status))
            cells += [_cell(g.stats["rows_per_s"], fmt_rate), _cell(g.stats["fit_s"], fmt_seconds),
                      _cell(g.stats["rss_growth"], fmt_bytes), _cell(g.stats["heap_peak"], fmt_bytes),
                      _cell(g.stats["loss"], fmt_num), _cell(g.stats["secondary"], fmt_num),
                      _cell(g.stats["coef_cosine"], lambda v: fmt_num(v, 3))]
            notes = _reasons(g.failed)
            missing = {r.extra.get("memray_failed") for r in g.ok} - {None, ""}
            notes += "".join(f"<div>memray run failed: {esc(m)}</div>" for m in sorted(missing))
            cells.append(f'<td class="reason">{notes}</td>')
        else:
            cells.append(_status_cell(g.status))
            cells.append(f'<td class="reason" colspan="8">{_reasons(g.records)}</td>')
        out.append(f"<tr {attrs}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _winner(g: CaseGroup | None, figure: str, also: str = "") -> str:
    if g is None:
        return '<td class="muted">-</td>'
    fmts = {"rows_per_s": fmt_rate, "fit_memory": fmt_bytes, "loss": fmt_num}
    value = fmts[figure](g.median(figure)) + (f", {fmts[also](g.median(also))}" if also else "")
    ref = f" <span class=muted>({esc(g.reference)})</span>" if g.reference else ""
    return f"<td><b>{esc(g.label())}</b>{ref} <span class=muted>{esc(value)}</span></td>"


def verdict_table(verdicts: list[Verdict], task: str) -> str:
    loss_label = get_task(task).loss.label
    head = ["rows", "fastest", "leanest", "most accurate", "best trade-off", "compared", "failed / not run"]
    out = ["<table class=verdict><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for v in verdicts:
        trade = _winner(v.trade_off, "loss", also="rows_per_s")
        failed = ", ".join(f"{esc(g.adapter)} ({esc(g.status)})" for g in v.failed) or "none"
        out.append(f"<tr data-scale=\"{v.scale}\"><td>{esc(fmt_rows(v.scale))}</td>"
                   f"{_winner(v.fastest, 'rows_per_s')}{_winner(v.leanest, 'fit_memory')}"
                   f"{_winner(v.most_accurate, 'loss')}{trade}<td class=num>{v.compared}</td><td>{failed}</td></tr>")
    out.append("</tbody></table>")
    out.append(f"<p class='small muted'>Computed from the medians over repeats. Fastest: highest rows/s in fit. "
               f"Leanest: lowest fit memory (the larger of RSS growth and memray heap peak). Most accurate: lowest "
               f"{esc(loss_label)} on the holdout. Best trade-off: the fastest adapter whose {esc(loss_label)} is "
               f"within {TRADE_OFF_TOLERANCE:.0%} of the most accurate one's. With one adapter compared, it wins "
               f"every column by default.</p>")
    return "".join(out)


def figure(plot: Plot) -> str:
    return (f'<figure><img src="{esc(plot.file)}" alt="{esc(plot.alt)}" loading="eager">'
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)}</figcaption></figure>")


def not_recorded(title: str, why: str) -> str:
    return f'<div class="note"><b>{esc(title)}: not recorded.</b> {esc(why)}</div>'


def _kv(mapping: dict[str, Any]) -> str:
    return " ".join(f"<code>{esc(k)}={esc(json.dumps(v, default=str))}</code>" for k, v in sorted(mapping.items()))


def adapters_table(records: list[CaseRecord]) -> str:
    """Per adapter: version, API path, update semantics, input, hyperparameters as run, and status counts."""
    by: dict[str, list[CaseRecord]] = {}
    for r in records:
        by.setdefault(r.case.adapter, []).append(r)
    head = ["adapter", "library version", "API path", "update semantics", "input", "hyperparameters as run",
            "cases"]
    out = ["<table class=adapters><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for name in sorted(by):
        recs = by[name]
        info = next((r.adapter_info for r in recs if r.adapter_info), {})
        versions = sorted({str(r.adapter_info.get("version")) for r in recs if r.adapter_info.get("version")})
        hyper: dict[str, set[str]] = {}
        for r in recs:
            hp = r.adapter_info.get("hyperparameters")
            if hp is not None:
                hyper.setdefault(r.case.profile, set()).add(json.dumps(hp, sort_keys=True, default=str))
        hp_html = "".join(f"<div><i>{esc(p)}</i>: {_kv(json.loads(h))}</div>"
                          for p in sorted(hyper) for h in sorted(hyper[p]))
        if not hp_html and info.get("params") is not None:
            hp_html = f"<div><i>defaults</i>: {_kv(info['params'])}</div>"
        counts = Counter(r.status for r in recs)
        status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        why = sorted({r.reason for r in recs if r.status in ("not-installed", "skipped") and r.reason})
        status_html = esc(status) + "".join(f"<div class='small muted'>{esc(w)}</div>" for w in why)
        # the batch format each case actually got (dense numeric data; CSR or Arrow where columns are categorical)
        used = sorted({f"{f['input_format']} ({r.case.dataset})" for r in recs
                       if isinstance(f := r.extra.get("features"), dict) and f.get("input_format")})
        formats = "; ".join(used) or ", ".join(info.get("input_formats") or []) or "-"
        out.append(f'<tr data-adapter="{esc(name)}"><td><b>{esc(name)}</b></td>'
                   f"<td>{esc(', '.join(versions) or 'not recorded')}</td><td>{esc(info.get('api_path', '-'))}</td>"
                   f"<td>{esc(info.get('update_semantics', '-'))}</td><td>{esc(formats)}</td>"
                   f"<td class=small>{hp_html or '-'}</td><td>{status_html}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _distinct(records: list[CaseRecord], getter) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        v = getter(r)
        if v not in (None, "", {}):
            seen[json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict) else str(v)] = None
    return list(seen)


def machine_table(records: list[CaseRecord]) -> str:
    """The machine(s), software and thread settings the records ran with (every distinct value listed)."""
    rows: list[tuple[str, str]] = []
    for m in _distinct(records, lambda r: r.provenance.get("machine")):
        d = json.loads(m)
        cores = f"{d.get('cores_logical')} logical / {d.get('cores_physical')} physical"
        rows.append(("machine", f"{d.get('cpu', '?')}; {cores} cores; RAM {fmt_bytes(d.get('ram_bytes'))}; "
                                f"{d.get('os', '')}"))
    rows.append(("oocbench version", ", ".join(_distinct(records, lambda r: r.provenance.get("oocbench"))) or "-"))
    rows.append(("git commit", ", ".join(_distinct(records, lambda r: r.provenance.get("git_commit"))) or "-"))
    rows.append(("Python", ", ".join(_distinct(records, lambda r: r.provenance.get("python"))) or "-"))
    versions: dict[str, set[str]] = {}
    for r in records:
        for k, v in (r.provenance.get("versions") or {}).items():
            if v:
                versions.setdefault(k, set()).add(str(v))
    rows.append(("library versions", ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(versions.items()))))
    for mode in sorted({r.case.threads for r in records}):
        envs = _distinct([r for r in records if r.case.threads == mode], lambda r: r.provenance.get("thread_env"))
        text = "; ".join(" ".join(f"{k}={v}" for k, v in json.loads(e).items() if v) for e in envs)
        rows.append((f"thread mode {mode}", ("one core" if mode == "1" else "all cores") + (f": {text}" if text
                                                                                              else "")))
    pools = _distinct(records, lambda r: r.provenance.get("arrow_memory_pool"))
    if pools:
        rows.append(("Arrow memory pool", ", ".join(pools)))
    dates = sorted(t for t in (r.started_at for r in records) if t)
    if dates:
        rows.append(("cases run", f"{dates[0]} to {dates[-1]}"))
    return ("<table class=machine><tbody>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
            + "</tbody></table>")


def memory_notes(records: list[CaseRecord]) -> str:
    """What each memory figure covers, in the words the records carry."""
    items = []
    for label, getter in (("RSS growth", lambda r: r.memory.rss_covers),
                          ("kernel high-water mark", lambda r: r.memory.rss_kernel_covers),
                          ("anonymous RSS growth", lambda r: r.memory.rss_anon_covers),
                          ("heap peak", lambda r: r.memory.heap_covers)):
        for text in _distinct(records, getter):
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
