"""Drawing helpers every figure shares: axes, repeat series with min-max bars, failure marks, legends, saving.

Figures use matplotlib's object API (no pyplot, no global backend switch). A line is one adapter (with its
parameter overrides: :meth:`~oocbench.reports.model.CaseGroup.label`), styled by
:func:`oocbench.reports.style.adapter_styles`. A case that failed (timeout, oom, crashed, error) is an ``x`` at
the bottom of the axes at its scale with its status beside it; a case that was not run (not installed, skipped)
is not drawn - the verdict and the tables say why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from oocbench.fmt import fmt_bytes, fmt_rows
from oocbench.reports.model import CaseGroup
from oocbench.reports.style import Style

FAIL_MARK = dict(marker="x", markersize=9, markeredgewidth=2.2, linestyle="none")


@dataclass
class Plot:
    """A figure written to disk, with what the HTML says about it."""

    file: str  # relative to the report directory
    title: str
    alt: str  # what the figure shows, legend entries included (read by screen readers and the browser test)
    caption: str = ""
    note: str = ""  # a sentence computed from the records, shown under the figure
    details_title: str = ""  # a list shown under the figure ("No learning curve recorded for:")
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Absent:
    """What the page says for a figure that does not apply: ``title: not recorded. why``, then ``items``."""

    title: str
    why: str
    items: tuple[str, ...] = ()  # "names: why" lines under ``items_title``
    items_title: str = ""


def rows_axis(ax: Axes, scales: Sequence[int]) -> None:
    """Log x axis of training rows, one tick per scale run."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(scales))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rows(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = min(scales), max(scales)
    ax.set_xlim(lo / 1.6, hi * 1.6)
    ax.set_xlabel("training rows (log scale)")


def log_y(ax: Axes, fmt: Callable[[float], str], base: float = 10.0, subs: tuple[float, ...] = (1.0, 2.0, 5.0),
          min_ratio: float = 1.0) -> None:
    """Log y axis with readable labels at 1-2-5 (or 1-4-16-... for bytes) steps and unlabelled minor ticks.

    ``min_ratio``: the axis spans at least this factor (widened around the data's geometric middle), so that a
    difference of a few percent does not fill the height of the axes and read as a steep climb.
    """
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if 0 < lo < hi < lo * min_ratio:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / math.sqrt(min_ratio), mid * math.sqrt(min_ratio)
        ax.set_ylim(lo, hi)
    if base == 10.0 and 0 < lo < hi < lo * 10:  # less than a decade: label every 1..9 step, not one tick
        subs = tuple(float(k) for k in range(1, 10))
    ax.yaxis.set_major_locator(LogLocator(base=base, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def log_ticks(axis: Axis, fmt: Callable[[float], str], lo: float, hi: float) -> None:
    """Labelled log ticks that do not overlap in a narrow panel: 1-2-5 steps over a decade or less, 1-3 steps
    up to three decades, powers of ten beyond."""
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    if decades < 0.8:  # too narrow for log steps (LogLocator would fall back to a tick at every unit)
        axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
    else:
        subs = (1.0, 2.0, 5.0) if decades <= 1.2 else (1.0, 3.0) if decades <= 3 else (1.0,)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    axis.set_minor_formatter(NullFormatter())


def fail_marks(ax: Axes, failed: list[CaseGroup], styles: dict[str, Style], pad: bool = True) -> bool:
    """An ``x`` at the bottom of the axes at each failed case's scale, adapter and status beside it.

    Call it after the data and the axis scales are set: ``pad`` lowers the y limit so the marks sit in an
    empty band under the data (pass ``False`` for the second of two axes sharing y).
    """
    if not failed:
        return False
    if pad:
        _pad_bottom(ax, failed)
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction: the marks sit in the bottom band
    lo, hi = ax.get_xlim()
    by_scale: dict[int, int] = {}
    # an adapter's status is written once (the same words at 10^8 and 2x10^8 rows overprinted each other);
    # its other failed scales get the x alone
    named: set[tuple[str, str]] = set()
    for g in failed:
        k = by_scale.get(g.scale, 0)
        by_scale[g.scale] = k + 1
        y = 0.05 + 0.08 * k  # stack several failures at one scale
        color = styles[g.label()].color
        ax.plot([g.scale], [y], transform=trans, color=color, clip_on=False, **FAIL_MARK)
        if (g.label(), g.status) in named:
            continue
        named.add((g.label(), g.status))
        name = g.label() if len(g.label()) <= 22 else g.label()[:21] + "…"  # the table has the full name
        # the text runs towards the middle of the axes, so the largest scale's does not run off the edge
        left = math.log(g.scale / lo) > math.log(hi / lo) / 2 if lo > 0 and hi > lo else False
        ax.text(g.scale / 1.08 if left else g.scale * 1.08, y, f"{name}: {g.status}", transform=trans, fontsize=7,
                va="center", ha="right" if left else "left", color=color, clip_on=True)
    return True


def _pad_bottom(ax: Axes, failed: list[CaseGroup]) -> None:
    """Lower the y limit so the data keep the upper part of the axes and the failure marks get the bottom."""
    band = min(0.12 + 0.08 * max(sum(1 for f in failed if f.scale == g.scale) for g in failed), 0.45)
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(lo / (hi / lo) ** (band / (1 - band)), hi)
    else:
        ax.set_ylim(lo - (hi - lo) * band / (1 - band), hi)


def series(ax: Axes, groups: list[CaseGroup], name: str, styles: dict[str, Style],
           labels: dict[str, str] | None = None, positive: bool = True) -> list[CaseGroup]:
    """One line per adapter through the medians, min-max bars; returns the groups with nothing to draw."""
    undrawable = []
    for line in sorted({g.label() for g in groups}):
        pts = []
        for g in sorted((g for g in groups if g.label() == line and g.ok), key=lambda g: g.scale):
            s = g.stats[name]
            if s["median"] is None or (positive and s["median"] <= 0):
                undrawable.append(g)
                continue
            pts.append((g.scale, s["median"], s["min"], s["max"]))
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ref = next((g.reference for g in groups if g.label() == line), "")
        label = (labels or {}).get(line, line) + (f" ({ref})" if ref else "")
        st = styles[line]
        ax.errorbar(xs, ys, yerr=err, color=st.color, marker=st.marker, markersize=5, capsize=3,
                    linestyle="--" if ref else "-", linewidth=2.2 if ref else 1.6, label=label)
    return undrawable


CONSTANT_LINE = dict(color="0.45", linestyle=":", linewidth=1.4)
RAM_LINE = dict(color="black", linestyle=":", linewidth=1.5)
#: the machine's RAM is a line on a memory axis up to this many times the largest value drawn; above, a note
RAM_LINE_WITHIN = 256


def ram_line(ax: Axes, rams: Sequence[int], largest: float) -> None:
    """Each machine's RAM as a dotted line with its label - or, when it is more than :data:`RAM_LINE_WITHIN`
    times the largest memory drawn, as a note on the top edge, so the data keep the height of the axes."""
    far = [ram for ram in rams if largest > 0 and ram > RAM_LINE_WITHIN * largest]
    for ram in rams:
        if ram not in far:
            ax.axhline(ram, label=f"machine RAM {fmt_bytes(ram)}", **RAM_LINE)
    if far:
        ax.text(0.99, 0.98, "machine RAM " + ", ".join(f"{fmt_bytes(r)} ({r / largest:,.0f}x the largest here)"
                                                        for r in far) + ": above", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="0.2")


def constant_line(ax: Axes, constant: float, losses: Sequence[float], label: str | None = None) -> None:
    """The constant predictor's loss as a dotted line - or, when it lies far above every loss drawn, as a note
    on the top edge, so the models' own differences keep the height of the axes."""
    lo, hi = (min(losses), max(losses)) if losses else (constant, constant)
    if constant <= hi + 1.5 * max(hi - lo, 0.02 * abs(hi)):
        ax.axhline(constant, label=label, **CONSTANT_LINE)
        return
    ax.text(0.99, 0.98, f"constant predictor: {constant:.4g} (above)", transform=ax.transAxes, ha="right",
            va="top", fontsize=7, color="0.35")


def cap_losses(ax: Axes, floor: float, constant: float, points: list[tuple[float, float, str, str]]) -> None:
    """Keep a loss axis to ``floor`` (the optimum or the best loss) .. the constant predictor's loss plus a
    quarter of that span when a point lies above it: each ``(x, loss, colour, text)`` up there becomes a
    triangle on the top edge with its text, so one diverged model does not flatten everyone else's line."""
    span = max(constant - floor, 1e-3 * max(abs(constant), 1e-12))
    top = constant + 0.25 * span
    above = [p for p in points if p[1] > top]
    if not above:
        return
    ax.set_ylim(min(floor, *(p[1] for p in points)) - 0.1 * span, top)
    to_axes = ax.transAxes.inverted()
    for x, _, color, text in above:
        ax.plot([x], [top], marker="^", color=color, markersize=8, linestyle="none", clip_on=False)
        right_half = to_axes.transform(ax.transData.transform((x, top)))[0] > 0.5  # write towards the middle
        ax.annotate(text, (x, top), xytext=(-5 if right_half else 5, -3), textcoords="offset points", fontsize=7,
                    color=color, va="top", ha="right" if right_half else "left")


def legend(ax: Axes, extra: list[Line2D]) -> list[str]:
    """The axes' legend to the right of it; returns its labels."""
    handles, labels = ax.get_legend_handles_labels()
    handles += extra
    labels += [h.get_label() for h in extra]
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return labels


def figure_legend(fig: Figure, axes: Sequence[Axes], extra: list[Line2D]) -> list[str]:
    """One legend for several panels (an entry drawn on any panel counts once); returns its labels."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    for h in extra:
        handles.setdefault(h.get_label(), h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.9))
    return list(handles)


def fail_handle() -> Line2D:
    return Line2D([], [], color="0.25", label="failed case (status beside it)", **FAIL_MARK)


def save(fig: Figure, out_dir: Path, name: str) -> str:
    """Write ``fig`` as ``plots/NAME.png`` under ``out_dir``; returns the path relative to it."""
    FigureCanvasAgg(fig)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    rel = f"plots/{name}.png"
    fig.savefig(out_dir / rel, bbox_inches="tight", metadata={"Software": None})
    return rel


def empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.35", wrap=True)


def described(what: str, labels: Sequence[str], failed: Sequence[CaseGroup] = ()) -> str:
    """Alt text: what the figure shows, its legend entries and the failures marked on it."""
    return (what + (f"; legend: {'; '.join(labels)}" if labels else "")
            + (f"; marked failed: {'; '.join(f'{g.label()} at {fmt_rows(g.scale)} ({g.status})' for g in failed)}"
               if failed else ""))
