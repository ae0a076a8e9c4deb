"""The page ``oocbench advise`` writes: the recommendation, the per-adapter table of projected ranges, one
figure (fit time, peak RSS and holdout loss against rows: the rungs measured, the range projected at the full
size), the caveats, and the records beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from oocbench.advice import Advice, Projection, Range, fmt_seconds
from oocbench.analysis import loss_of
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rows
from oocbench.records import CaseRecord
from oocbench.reports.draw import Plot, log_y, rows_axis, save
from oocbench.reports.html import esc, figure, page
from oocbench.reports.style import RC, label_styles
from oocbench.reports.tables import fmt_dollars

HEADERS = ("adapter", "measured up to", "cores busy here", "fit time", "peak RSS", "in RAM", "holdout {loss}", "cost")


#: the terminal's table: fewer columns (the page has them all), an in-memory learner marked with *
SHORT_HEADERS = ("adapter", "fit time", "peak RSS", "RAM", "{loss}", "cost")


def short_cells(p: Projection) -> list[str]:
    name = p.adapter + ("*" if p.in_memory else "")
    if not p.measured:
        return [name, p.failed, "", "", "", ""]
    return [name, p.fit_s.show(fmt_seconds), p.peak_rss.show(fmt_bytes) + (" flat" if p.memory_flat else ""),
            p.ram if not p.failed else f"{p.ram}; {p.failed}", p.loss.show(lambda v: f"{v:.4g}") if p.loss else "-",
            p.cost.show(fmt_dollars) if p.cost else "-"]


def cells(p: Projection) -> list[str]:
    """One table row: every figure a range at the full size, or why the adapter has none."""
    if not p.measured:
        return [p.adapter, "-", "", p.failed, "", "", "", ""]
    rss = p.peak_rss.show(fmt_bytes) + (" (flat)" if p.memory_flat else "")
    ram = p.ram + (f" (near {fmt_rows(p.stops_near)} rows)" if p.stops_near and math.isfinite(p.stops_near) else "")
    return [p.adapter + (" (in memory)" if p.in_memory else ""),
            fmt_rows(max(p.measured)) + (f"; {p.failed}" if p.failed else ""), f"{p.cores_used:.1f}",
            p.fit_s.show(fmt_seconds), rss, ram,
            (p.loss.show(fmt_num) if p.loss else "-") + ("" if p.beats_constant else " (not below the constant)"),
            p.cost.show(fmt_dollars) if p.cost else "-"]


def advice_figure(advice: Advice, records: list[CaseRecord], out: Path) -> Plot:
    """Three panels against rows (log-log): the rungs as points, the projected range at the full size as a bar."""
    panels = [("fit time", lambda r: r.timings.fit_s, lambda p: p.fit_s, fmt_seconds),
              ("peak RSS", lambda r: r.memory.rss_peak_bytes, lambda p: p.peak_rss, fmt_bytes),
              (f"holdout {advice.loss_name}", lambda r: loss_of(r)[1], lambda p: p.loss, fmt_num)]
    styles = label_styles((p.adapter, p.adapter) for p in advice.projections)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(13.0, 4.0))
        axes = fig.subplots(1, 3)
        for ax, (title, get, proj, fmt) in zip(axes, panels):
            for p in advice.projections:
                pts = sorted((r.case.scale, get(r)) for r in records
                             if r.case.adapter == p.adapter and r.status == "ok" and get(r))
                if not pts:
                    continue
                st = styles[p.adapter]
                ax.plot(*zip(*pts), marker=st.marker, color=st.color, label=p.adapter)
                rng: Range | None = proj(p)
                if rng is not None and math.isfinite(rng.high):
                    low = rng.low if rng.low is not None else rng.high
                    ax.plot([advice.rows, advice.rows], [low, rng.high], color=st.color, linewidth=4, alpha=0.6)
                    ax.plot([pts[-1][0], advice.rows], [pts[-1][1], math.sqrt(low * rng.high) if low > 0 else rng.high],
                            color=st.color, linestyle=":", linewidth=1)
            if title == "peak RSS":
                ax.axhline(advice.ram_bytes, color="0.3", linestyle="--", linewidth=1)
                ax.text(0.02, 0.97, f"RAM {fmt_bytes(advice.ram_bytes)}", transform=ax.transAxes, va="top", fontsize=8)
            ax.axvline(advice.rows, color="0.6", linewidth=0.8)
            rows_axis(ax, sorted({r.case.scale for r in records} | {advice.rows}))
            if title == "peak RSS":
                log_y(ax, fmt, base=1024.0, subs=(1.0, 4.0, 16.0, 64.0, 256.0))
            else:
                log_y(ax, fmt, subs=(1.0,) if title == "fit time" else (1.0, 2.0, 5.0))
            ax.set_title(title)
            ax.set_xlabel("training rows (bar: projected range at the full size)")
        axes[0].legend(fontsize=7, loc="upper left")
        rel = save(fig, out, "advice")
    names = ", ".join(p.adapter for p in advice.projections if p.measured)
    return Plot(rel, "Measured on the ladder, projected to the full size",
                f"fit time, peak RSS and holdout {advice.loss_name} against training rows for {names}; points "
                f"measured, bars the projected range at {advice.rows:,} rows",
                "Points: the rungs measured (prefixes of the file). Bars at the right: the range projected at "
                f"{advice.rows:,} rows; dotted: from the last rung to the middle of the range. Log axes.")


def write_page(advice: Advice, records: list[CaseRecord], out: Path, source: str, ladder_note: str) -> Path:
    """Write ``out/index.html`` (and its figure, and the records as ``records.jsonl``); returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    plot = advice_figure(advice, records, out)
    heads = "".join(f"<th>{esc(h.format(loss=advice.loss_name))}</th>" for h in HEADERS)
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells(p)) + "</tr>"
                   for p in advice.projections)
    table = f"<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"
    constant = (f" The best constant predictor's holdout {advice.loss_name}: {fmt_num(advice.constant_loss)}."
                if advice.constant_loss is not None else "")
    body = [f"<p class=answer>{esc(' '.join(advice.sentences))}</p>",
            figure(plot),
            f"<h2>Each adapter at {advice.rows:,} rows</h2>{table}<p class=note>{esc(ladder_note)}{esc(constant)} "
            "Peak RSS is the process tree's high-water mark during fit; cost is the fit's hours at the cores it "
            "kept busy and its peak RSS.</p>",
            "<h2>Caveats</h2><ul>" + "".join(f"<li>{esc(c)}</li>" for c in advice.caveats) + "</ul>",
            "<p class=note>The records of every rung: <a href='records.jsonl'>records.jsonl</a> (one JSON "
            "record per case, as <code>oocbench run</code> writes them).</p>"]
    header = (f"<h1>Plan: {esc(source)} at {advice.rows:,} rows</h1><p class=muted>oocbench advise - "
              f"{advice.cores} core(s), {esc(fmt_bytes(advice.ram_bytes))} RAM planned for</p>")
    path = out / "index.html"
    path.write_text(page(f"oocbench advise: {source}", header, body))
    (out / "records.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    return path
