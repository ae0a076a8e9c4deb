"""The report's tables: every case, the verdict, memory scaling, the adapters, the machine.

Each returns an HTML fragment; every string from records goes through :func:`oocbench.reports.html.esc`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from statistics import median
from typing import Any

from oocbench.analysis import BUSY_MIN_CORES, BUSY_SHARE, FLAT_EXPONENT, SCALING_NA, busy_reason
from oocbench.cost import DEFAULT_PRICES, Prices
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate, fmt_rows, fmt_seconds
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.html import distinct, esc
from oocbench.reports.load import normalize_versions
from oocbench.reports.model import NOT_RUN, CaseGroup
from oocbench.reports.section import Section
from oocbench.reports.verdict import TIE_WITHIN, Verdict, Win, answer_sentence, out_of_core_differs


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


def _busy(records: Iterable[CaseRecord]) -> str:
    """The busy-machine note of the first busy record among ``records`` ('' for none)."""
    return next((why for r in records if (why := busy_reason(r))), "")


def cases_table(groups: list[CaseGroup], task: str, prices: Prices = DEFAULT_PRICES) -> str:
    """Every case of a section: values for the ok repeats, a status cell with the reason for the others."""
    loss_label = get_task(task).loss.label
    sec_label = get_task(task).secondary[0].label
    head = ["adapter", "rows", "status", "throughput", "fit time", "RSS growth in fit", "memray heap peak",
            f"{loss_label} (holdout)", sec_label, "coef. cosine", "cost of 10^9 rows", "notes"]
    out = ["<table class=cases><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for g in groups:
        busy = _busy(g.records)
        attrs = (f'data-adapter="{esc(g.adapter)}" data-dataset="{esc(g.dataset)}" data-scale="{g.scale}" '
                 f'data-status="{esc(g.status)}" data-busy="{"yes" if busy else "no"}" '
                 f'data-profile="{esc(g.profile)}" data-threads="{esc(g.threads)}"')
        cells = [f"<td>{esc(g.label())}</td>", f'<td class="num">{esc(f"{g.scale:,}")}</td>']
        busy_html = f"<div class=warn>busy machine: {esc(busy)}</div>" if busy else ""
        if g.ok:
            counts = Counter(r.status for r in g.records)
            status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if len(counts) > 1 else "ok"
            cells.append(_status_cell("ok", status))
            cells += [_cell(g.stats["rows_per_s"], fmt_rate), _cell(g.stats["fit_s"], fmt_seconds),
                      _cell(g.stats["rss_growth"], fmt_bytes), _cell(g.stats["heap_peak"], fmt_bytes),
                      _cell(g.stats["loss"], fmt_num), _cell(g.stats["secondary"], fmt_num),
                      _cell(g.stats["coef_cosine"], lambda v: fmt_num(v, 3)),
                      _cell(g.stats["cost_1e9"], fmt_dollars)]
            notes = busy_html + _reasons(g.failed)
            missing = {r.extra.get("memray_failed") for r in g.ok} - {None, ""}
            notes += "".join(f"<div>memray run failed: {esc(m)}</div>" for m in sorted(missing))
            cells.append(f'<td class="reason">{notes}</td>')
        else:
            cells.append(_status_cell(g.status))
            cells.append(f'<td class="reason" colspan="9">{_reasons(g.records)}{busy_html}</td>')
        out.append(f"<tr {attrs}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    p = prices
    out.append(f"<p class='small muted'>Cost of 10^9 rows: the fit's CPU time scaled to 10^9 rows at "
               f"${p.core_hour:g} per core-hour, plus its process tree's peak RSS held for the wall time of 10^9 rows "
               f"at the measured rows/s, at ${p.gb_hour:g} per GB-hour ({esc(p.source)}). It assumes memory stays "
               "at the measured peak, so it is left out (-) for the adapters that hold every row in RAM (the references, "
               "LightGBM, XGBoost in memory). Data preparation and "
               "disk are not counted.</p>")
    return "".join(out)


FIGURE_FORMAT: dict[str, Callable[[float], str]] = {"rows_per_s": fmt_rate, "fit_memory": fmt_bytes,
                                                    "loss": fmt_num, "cost_1e9": lambda v: fmt_dollars(v)}


def fmt_dollars(v: float) -> str:
    """A price in dollars: cents ("$0.42", "$1,234.50"), two significant digits below a cent ("$0.0031")."""
    return f"${v:,.2f}" if v >= 0.01 else f"${v:.2g}"


def _figure_text(g: CaseGroup, figure: str) -> str:
    """``value (min - max, n=3)`` of ``g``'s figure; ``value (1 run)`` without repeats."""
    fmt, st = FIGURE_FORMAT[figure], g.stats[figure]
    spread = f"{fmt(st['min'])} - {fmt(st['max'])}, n={st['n']}" if st["n"] > 1 else "1 run"
    return f"{fmt(st['median'])} ({spread})"


def loss_beside(v: Verdict, g: CaseGroup, loss_label: str) -> str:
    """``g``'s median loss and its gap to the best loss at that scale ("log loss 0.1300, +3.7%"): shown beside
    every winner, so a fast or lean model that is worse says by how much."""
    loss, gap = g.median("loss"), v.loss_gap(g)
    if loss is None:
        return f"no {loss_label} recorded"
    text = f"{loss_label} {fmt_num(loss)}"
    if gap is not None:
        text += (", the best" if gap == 0 else f", within {TIE_WITHIN:.1%} of the best" if gap <= TIE_WITHIN
                 else f", +{gap:.1%} vs the best")
    return text


def _win_cell(win: Win | None, mark_busy: bool = True, v: Verdict | None = None, loss_label: str = "") -> str:
    if win is None:
        return '<td class="muted">-</td>'
    g = win.winner
    ref = f" <span class=muted>({esc(g.reference)})</span>" if g.reference else ""
    busy = " <span class=warn>busy machine</span>" if mark_busy and _busy(g.ok) else ""
    loss = ""
    if v is not None and win.figure != "loss":
        gap = v.loss_gap(g)
        loss = (f"<div class=small data-loss-gap=\"{'' if gap is None else f'{gap:.4f}'}\">"
                f"{esc(loss_beside(v, g, loss_label))}</div>")
    tied = ""
    if win.tied:
        tied = ("<div class=tie><b>tie</b> with: " + "; ".join(
            f"{esc(t.label())} {esc(_figure_text(t, win.figure))}" for t in win.tied) + "</div>")
    names = ",".join(t.label() for t in win.tied)
    return (f'<td data-winner="{esc(g.label())}" data-tied="{esc(names)}"><b>{esc(g.label())}</b>{ref} '
            f"<span class=muted>{esc(_figure_text(g, win.figure))}</span>{busy}{loss}{tied}</td>")


def _not_run_word(g: CaseGroup) -> str:
    """A failed or not-run case's status, "over time budget" for a case the per-case budget skipped."""
    return "over time budget" if any("budget_skip" in r.extra for r in g.records) else g.status


def _accurate_cell(v: Verdict, mark_busy: bool) -> str:
    """The most accurate adapter, and a warning when a smaller scale reached a clearly better loss: the
    adapters that did were not run here (over the time budget, failed), so this is not the best model."""
    cell = _win_cell(v.most_accurate, mark_busy)
    if v.better_before is None:
        return cell
    loss, scale, who = v.better_before
    warn = (f"<div class=warn data-better-before=\"{esc(who)}\">but {esc(fmt_num(loss))} at {esc(fmt_rows(scale))} "
            f"rows ({esc(who)}, not in this comparison)</div>")
    return cell[:-5] + warn + "</td>"


def _front_cell(v: Verdict, loss_label: str) -> str:
    """The Pareto front of loss against fit time, fastest first: what each step towards the best loss costs."""
    if not v.front:
        return '<td class="muted">-</td>'
    items = [f"<b>{esc(g.label())}</b> {esc(fmt_seconds(g.median('fit_s')))}, {esc(loss_beside(v, g, loss_label))}"
             for g in v.front]
    names = ",".join(g.label() for g in v.front)
    return f'<td class=small data-front="{esc(names)}">' + "<br>".join(items) + "</td>"


def answer_sentences(verdicts: list[Verdict], out_of_core: list[Verdict], loss_label: str) -> list[str]:
    """The answer at the largest scale, in sentences (:func:`.verdict.answer_sentence`): among every adapter,
    then among the out-of-core ones when their winners differ."""
    out = []
    top = max((v for v in verdicts if v.most_accurate), key=lambda v: v.scale, default=None)
    if top is not None:
        out.append(answer_sentence(top, loss_label))
    ooc = max((v for v in out_of_core if v.most_accurate), key=lambda v: v.scale, default=None)
    if out_of_core_differs(ooc, top):
        out.append(answer_sentence(ooc, loss_label, out_of_core=True))
    return [a for a in out if a]


def verdict_table(verdicts: list[Verdict], task: str, out_of_core: list[Verdict] | None = None,
                  caption: bool = True, section: str = "") -> str:
    """The verdict of one section, one row per scale (and, where in-memory adapters ran, a second row per scale
    among the out-of-core ones only), and the notes it needs (see :mod:`.verdict`); ``caption``: the answer
    sentences above the rows (the page shows them outside its fold instead); ``section``: its title, kept as the
    table's ``data-section``."""
    loss_label = get_task(task).loss.label
    head = ["rows", "fastest (rows/s in fit)", "leanest (fit memory)", "most accurate", "cheapest per 10^9 rows",
            f"Pareto front: fit time, {loss_label}", f"learned nothing ({loss_label})", "failed / not run"]
    answers = answer_sentences(verdicts, out_of_core or [], loss_label) if caption else []  # else shown outside
    said = f"<caption class=answer>{' '.join(esc(a) for a in answers)}</caption>" if answers else ""
    out = [f"<table class=verdict data-section=\"{esc(section)}\">{said}<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    judged = [g for v in verdicts for g in v.learned + v.not_converged]
    all_busy = bool(judged) and all(_busy(g.ok) for g in judged)  # said once below, not in every cell
    rows = sorted([(v, False) for v in verdicts] + [(v, True) for v in out_of_core or []],
                  key=lambda row: (row[0].scale, row[1]))
    for v, ooc in rows:
        bad = "; ".join(f"{esc(g.label())} {esc(fmt_num(g.median('loss')) if g.median('loss') is not None else 'no loss recorded')}"
                        for g in v.not_converged) or "none"
        if v.constant is not None and v.not_converged:
            bad += f" <span class=muted>(constant predictor {esc(fmt_num(v.constant))})</span>"
        failed = ", ".join(f"{esc(g.label())} ({esc(_not_run_word(g))})" for g in v.failed + v.not_run) or "none"
        label = (esc(fmt_rows(v.scale)) + ("<br><b>out of core</b>" if ooc else "")
                 + f"<div class='small muted'>{len(v.learned)} of {v.compared} learned</div>")
        cells = "".join(_win_cell(w, not all_busy, v, loss_label) for w in (v.fastest, v.leanest))
        cells += _accurate_cell(v, not all_busy) + _win_cell(v.cheapest, not all_busy, v, loss_label)
        out.append(f"<tr data-scale=\"{v.scale}\" data-view=\"{'out of core' if ooc else 'all'}\""
                   f" data-learned=\"{len(v.learned)} of {v.compared}\"><td>{label}</td>{cells}"
                   f"{_front_cell(v, loss_label)}<td class=small data-not-converged=\""
                   f"{esc(','.join(g.label() for g in v.not_converged))}\">{bad}</td><td>{failed}</td></tr>")
    out.append("</tbody></table>")
    wins = [w for v in verdicts for w in (v.fastest, v.leanest, v.most_accurate, v.cheapest) if w is not None]
    single = bool(wins) and all(w.winner.stats[w.figure]["n"] <= 1 for w in wins)
    alone = [fmt_rows(v.scale) for v in verdicts if len(v.learned) == 1]
    notes = (["Every winner here ran once: no win is tested against run-to-run noise (rerun with --repeat 3)."]
             if single else [])
    if alone:
        notes.append(f"At {esc(', '.join(alone))} rows only one adapter beat the constant predictor: it wins "
                     "every column by default.")
    if out_of_core:
        notes.append("<b>out of core</b> rows: the same verdict among the adapters that stream (their memory does "
                     "not grow with the rows), without those that hold every row in RAM - the answer when the "
                     "data does not fit.")
    if all_busy:
        notes.append("<span class=warn>Every case here ran on a busy machine</span> (see the note at the top).")
    if notes:
        out.append(f"<p class='small muted'>{' '.join(notes)}</p>")
    return "".join(out)


def verdict_rules(tasks: Iterable[str]) -> str:
    """How every verdict table is computed (once, above them)."""
    losses = " or ".join(sorted({get_task(t).loss.label for t in tasks})) or get_task("").loss.label
    return (f"<p class='small muted'>Computed from the medians over repeats. Ranked: every adapter that learned - "
            f"median {esc(losses)} on the holdout below the constant predictor's; the others are listed under "
            "'learned nothing'. Loss is shown beside each winner, with its gap to the best at that scale, and is "
            "not a gate: the fastest may be a worse model, and says by how much. Fastest: highest rows/s in fit. "
            "Leanest: lowest fit memory (the larger of RSS growth in fit and memray heap peak). Most accurate: "
            "lowest loss. Cheapest: lowest price of learning from 10^9 rows at the measured throughput, CPU use and "
            "peak RSS (the cases table's prices; none for the adapters that hold every row in RAM, whose memory "
            "grows with the rows). Pareto front: the adapters that no other one beats on both fit time and loss, "
            "fastest first - the trade-off to choose along. A win is a tie with every adapter whose min-max range "
            f"over repeats overlaps the winner's, or whose median is within {TIE_WITHIN:.1%} of it.</p>")


def scaling_table(section: Section) -> str:
    """Per adapter: the scales measured, the memory-scaling exponent, bytes per row, projected memory vs RAM
    (one note instead where no adapter has the scales for them)."""
    n = section.project_rows
    head = ["adapter", "scales measured", "memory-scaling exponent", "bytes of fit memory per row",
            f"fit memory projected at {fmt_rows(n)} rows", "vs machine RAM"]
    rams = section.ram_bytes
    if not any(sc.applies for sc in section.scaling.values()):
        return (f"<h3>Memory scaling</h3><p class=note data-scaling=\"n/a\">Memory-scaling exponent, bytes per row and projected memory at "
                f"{esc(fmt_rows(n))} rows: {esc(SCALING_NA)} for every adapter here - these records cover "
                f"{esc(', '.join(fmt_rows(x) for x in section.scales))} rows. Over fewer scales, fixed costs "
                "(imports, buffers, the model) and noise decide them; run a suite with more scales.</p>")
    out = ["<h3>Memory scaling</h3><table class=scaling>" + "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for line, sc in section.scaling.items():
        scales = ", ".join(fmt_rows(x) for x in sc.scales) or "-"
        proj = sc.projected(n)
        exponent = "n/a" if sc.exponent is None else f"{sc.exponent:.2f}"
        if sc.flat:  # the range measured, not an extrapolation of its noise
            low, high = sc.measured_range
            shown = f"flat: {_span(low, high)} measured ({fmt_rows(sc.scales[0])} to {fmt_rows(sc.scales[-1])} rows)"
            ram = "-" if not rams else "; ".join(
                f"{'fits' if high <= r else 'exceeds'} {fmt_bytes(r)} as measured ({_pct(high / r)})" for r in rams)
        else:
            shown = "n/a" if proj is None else _span(*proj)
            ram = "-" if proj is None else _against_ram(proj, rams)
        out.append(f'<tr data-line="{esc(line)}" data-exponent="{exponent}" data-flat="{str(sc.flat).lower()}">'
                   f"<td>{esc(line)}</td><td>{esc(scales)}</td>"
                   f"<td>{esc(SCALING_NA if sc.exponent is None else exponent)}</td>"
                   f"<td class=num>{esc('n/a' if sc.bytes_per_row is None else fmt_bytes(sc.bytes_per_row))}</td>"
                   f"<td class=num>{esc(shown)}</td><td>{esc(ram)}</td></tr>")
    out.append("</tbody></table>")
    out.append(
        "<p class='small muted'>From each adapter's median fit memory (the larger of RSS growth and memray heap "
        "peak) per scale. Exponent: slope of log(memory) against log(rows) over the largest decade measured (below "
        "it, fixed costs flatten every curve), about 0 when memory stays flat "
        "(out-of-core), about 1 when it grows with the data; fixed costs (imports, buffers, the model) pull it "
        "below 1 at small scales. Bytes per row: least-squares slope of memory against rows (at least 0), the cost "
        "of one more row with the fixed costs left out. Projected: from the largest measured point, with the "
        "exponent (a power law) and with the bytes per row (a straight line); the line is right for data held in "
        "memory, and both overstate memory that levels off, so 'fits' is said when even the line fits, 'exceeds' "
        f"when even the power law exceeds. Flat: an exponent of at most {FLAT_EXPONENT} over the largest decade "
        "(memory grew by under 41% over 10x the rows, a streaming learner with its buffers full) is shown as the "
        "range measured, not projected: extrapolating a few MiB of noise over decades overstates it. All three need at least 3 scales over 2 decades of rows: over fewer, "
        "fixed costs and noise decide them.</p>")
    return "".join(out)


def _pct(x: float) -> str:
    """A share of RAM: two significant digits below 10%, whole percent above.

    >>> _pct(0.002), _pct(0.042), _pct(1.04)
    ('0.2%', '4.2%', '104%')
    """
    return f"{x * 100:.2g}%" if x < 0.1 else f"{x:.0%}"


def _span(low: float, high: float) -> str:
    return fmt_bytes(high) if high <= low * 1.1 else f"{fmt_bytes(low)} to {fmt_bytes(high)}"


def _against_ram(projected: tuple[float, float], rams: list[int]) -> str:
    """Whether a projected range fits each machine's RAM: fits, exceeds, or cannot tell."""
    low, high = projected
    out = []
    for ram in rams:
        if high <= ram:
            out.append(f"fits {fmt_bytes(ram)} (at most {_pct(high / ram)})")
        elif low > ram:
            out.append(f"exceeds {fmt_bytes(ram)} (at least {low / ram:.1f}x)")
        else:
            out.append(f"may exceed {fmt_bytes(ram)} ({_pct(low / ram)} to {_pct(high / ram)}): measure larger "
                       "scales")
    return "; ".join(out) or "-"


def readable(value: Any, limit: int = 80) -> str:
    """A hyperparameter's value as a reader wants it: no JSON quotes, class reprs as their class name, cut at
    ``limit`` characters.

    >>> readable("(<class 'river.linear_model.lin_reg.LinearRegression'>, {'l2': 0.0})")
    "(LinearRegression, {'l2': 0.0})"
    >>> readable(None), readable(True), readable(1e-4), readable([1, 2])
    ('None', 'True', '0.0001', '[1, 2]')
    """
    text = value if isinstance(value, str) else (repr(value) if isinstance(value, (bool, int, float)) or value is None
                                                else json.dumps(value, default=str))
    text = re.sub(r"<class '(?:[\w.]*\.)?(\w+)'>", r"\1", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hyperparameters(records: list[CaseRecord]) -> str:
    """The hyperparameters as run: the ones every case shared once, then each that varied, with where."""
    runs = [(r, hp) for r in records if isinstance(hp := r.adapter_info.get("hyperparameters"), dict)]
    if not runs:
        return ""
    profiles = len({r.case.profile for r, _ in runs}) > 1
    every: dict[str, set[int]] = {}  # context -> the scales run there
    for r, _ in runs:
        every.setdefault(_context(r, profiles), set()).add(r.case.scale)
    common, varied = [], []
    for k in sorted({k for _, hp in runs for k in hp}):
        where: dict[str, dict[str, set[int]]] = {}  # value -> context -> scales
        for r, hp in runs:
            value = json.dumps(hp.get(k, "(not set)"), sort_keys=True, default=str)
            where.setdefault(value, {}).setdefault(_context(r, profiles), set()).add(r.case.scale)
        if len(where) == 1:
            common.append(_kv_html(k, json.loads(next(iter(where)))))
            continue
        parts = []
        for value, ctx in where.items():
            at = "; ".join(c if scales == every[c] else f"{c} at {', '.join(fmt_rows(n) for n in sorted(scales))}"
                           for c, scales in sorted(ctx.items()))
            parts.append(f"<code title=\"{esc(readable(json.loads(value), 10_000))}\">"
                         f"{esc(readable(json.loads(value)))}</code> <span class=muted>({esc(at)})</span>")
        varied.append(f"<div>{esc(k)}: " + "; ".join(parts) + "</div>")
    return " ".join(common) + ("<div class=muted>differs by case:</div>" + "".join(varied) if varied else "")


def _context(record: CaseRecord, profiles: bool) -> str:
    return record.case.dataset + (f" ({record.case.profile} profile)" if profiles else "")


def _kv_html(key: str, value: Any) -> str:
    return f"<code title=\"{esc(readable(value, 10_000))}\">{esc(key)}={esc(readable(value))}</code>"


def adapters_table(records: list[CaseRecord]) -> str:
    """One row per adapter: version, input, cases; API path, update semantics and hyperparameters as run."""
    by: dict[str, list[CaseRecord]] = {}
    for r in records:
        by.setdefault(r.case.adapter, []).append(r)
    head = ["adapter", "library version", "input", "cases", "how it is run"]
    out = ["<table class=adapters><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for name in sorted(by):
        recs = by[name]
        info = next((r.adapter_info for r in recs if r.adapter_info), {})
        versions = sorted({str(r.adapter_info.get("version")) for r in recs if r.adapter_info.get("version")})
        hp_html = _hyperparameters(recs)
        if not hp_html and info.get("params") is not None:
            hp_html = "<span class=muted>defaults:</span> " + " ".join(_kv_html(k, v) for k, v in
                                                                      sorted(info["params"].items()))
        counts = Counter(r.status for r in recs)
        status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        why = sorted({r.reason for r in recs if r.status in NOT_RUN and r.reason})
        status_html = esc(status) + "".join(f"<div class='small muted'>{esc(w)}</div>" for w in why)
        # the batch format each case actually got (dense numeric data; CSR or Arrow where columns are categorical)
        used: dict[str, set[str]] = {}
        for r in recs:
            if isinstance(f := r.extra.get("features"), dict) and f.get("input_format"):
                used.setdefault(f["input_format"], set()).add(r.case.dataset)
        formats = ("; ".join(f"{k} ({', '.join(sorted(v))})" for k, v in sorted(used.items()))
                   or ", ".join(info.get("input_formats") or []) or "-")
        how = "".join(f"<dt>{esc(t)}</dt><dd>{v}</dd>" for t, v in (
            ("API", esc(info.get("api_path", "-"))), ("updates", esc(info.get("update_semantics", "-"))),
            ("hyperparameters as run", hp_html or "-")))
        out.append(f'<tr data-adapter="{esc(name)}"><td><b>{esc(name)}</b></td>'
                   f"<td>{esc(', '.join(versions) or 'not recorded')}</td><td class=small>{esc(formats)}</td>"
                   f"<td class=small>{status_html}</td><td class=small><dl>{how}</dl></td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _range(values: list[float], fmt: Callable[[float], str]) -> str:
    return "-" if not values else fmt(values[0]) if min(values) == max(values) else f"{fmt(min(values))} to {fmt(max(values))}"


def _load_rows(records: list[CaseRecord]) -> list[tuple[str, str]]:
    """How busy the machine was while the cases ran (records from before load was recorded: nothing)."""
    loads = [(r, r.provenance["load"]) for r in records if isinstance(r.provenance.get("load"), dict)]
    if not loads:
        return [("machine load", "not recorded (records from before oocbench recorded it)")]
    start = sorted(ld["start"]["loadavg"][0] for _, ld in loads if (ld.get("start") or {}).get("loadavg"))
    others = sorted(ld["others_cores"] for _, ld in loads if isinstance(ld.get("others_cores"), (int, float)))
    busy = [r for r, _ in loads if busy_reason(r)]
    text = (f"1-minute load average at case start: {_range(start, lambda v: f'{v:.2f}')}; cores other processes "
            f"kept busy during a case: " + (f"median {median(others):.2f}, max {others[-1]:.2f}" if others else "-")
            + f"; {len(busy)} of {len(loads)} case(s) on a busy machine (other processes above max("
            f"{BUSY_MIN_CORES}, {BUSY_SHARE} x the cores a case leaves free))")
    freqs = sorted({f for _, ld in loads for end in ("start", "end")
                    if (f := (ld.get(end) or {}).get("cpu_freq_mhz"))})
    tops = sorted({f for _, ld in loads for end in ("start", "end") if (f := (ld.get(end) or {}).get("cpu_freq_max_mhz"))})
    freq = (_range(freqs, lambda v: f"{v:.0f} MHz") + " at case start and end"
            + (f" (max {', '.join(f'{t:.0f}' for t in tops)} MHz)" if tops else " (max not reported)")) if freqs else "not reported"
    return [("machine load", text), ("CPU frequency", freq)]


def machine_table(records: list[CaseRecord]) -> str:
    """The machine(s), software and thread settings the records ran with (every distinct value listed)."""
    rows: list[tuple[str, str]] = []
    for m in distinct(records, lambda r: r.provenance.get("machine")):
        d = json.loads(m)
        cores = f"{d.get('cores_logical')} logical / {d.get('cores_physical')} physical"
        rows.append(("machine", f"{d.get('cpu', '?')}; {cores} cores; RAM {fmt_bytes(d.get('ram_bytes'))}; "
                                f"{d.get('os', '')}"))
    rows += _load_rows(records)
    rows.append(("oocbench version", ", ".join(distinct(records, lambda r: r.provenance.get("oocbench"))) or "-"))
    rows.append(("git commit", ", ".join(distinct(records, lambda r: r.provenance.get("git_commit"))) or "-"))
    rows.append(("Python", ", ".join(distinct(records, lambda r: r.provenance.get("python"))) or "-"))
    versions: dict[str, set[str]] = {}
    for r in records:
        for k, v in normalize_versions(r.provenance.get("versions") or {}).items():
            if v:
                versions.setdefault(k, set()).add(str(v))
    rows.append(("library versions", ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(versions.items()))))
    for mode in sorted({r.case.threads for r in records}):
        envs = distinct([r for r in records if r.case.threads == mode], lambda r: r.provenance.get("thread_env"))
        text = "; ".join(" ".join(f"{k}={v}" for k, v in json.loads(e).items() if v) for e in envs)
        rows.append((f"thread mode {mode}", ("one core" if mode == "1" else "all cores") + (f": {text}" if text
                                                                                              else "")))
    pools = distinct(records, lambda r: r.provenance.get("arrow_memory_pool"))
    if pools:
        rows.append(("Arrow memory pool", ", ".join(pools)))
    dates = sorted(t for t in (r.started_at for r in records) if t)
    if dates:
        rows.append(("cases run", f"{dates[0]} to {dates[-1]}"))
    return ("<table class=machine><tbody>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
            + "</tbody></table>")

