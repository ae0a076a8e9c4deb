"""The report's figures, drawn with matplotlib's object API (no pyplot, no global backend switch) as PNG files.

Every figure uses the same colour and marker per adapter (:func:`adapter_styles`), draws repeats as the
median with a min-max bar, and marks failed cases with an ``x`` at the bottom of the axes at the scale where
they failed, the status written above it - a failure is never a silently missing point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from oocbench.analysis import scaling_by_adapter
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rows, fmt_seconds
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.model import CaseGroup, heap_peak, rss_growth
from oocbench.reports.verdict import pareto_front

# adapter names come from third parties: never let a "$" turn a legend into mathtext
RC = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
      "legend.fontsize": 8, "figure.dpi": 100, "savefig.dpi": 100}
# 18 distinguishable colours (tab10, then Dark2): a suite of 11+ adapters still gets one colour each
PALETTE = [matplotlib.colormaps["tab10"](i) for i in range(10)] + [matplotlib.colormaps["Dark2"](i) for i in range(8)]
MARKERS = ["o", "s", "^", "D", "v", "P", "*", "X", "<", ">"]
FAIL_MARK = dict(marker="x", markersize=9, markeredgewidth=2.2, linestyle="none")


@dataclass(frozen=True)
class Style:
    color: Any
    marker: str


@dataclass
class Plot:
    """A figure written to disk, with what the HTML says about it."""

    file: str  # relative to the report directory
    title: str
    alt: str
    caption: str = ""


#: memory-scaling exponents are shown only for records from this many rows up, over two decades or more
EXPONENT_MIN_ROWS = 100_000

def adapter_styles(names: Sequence[str]) -> dict[str, Style]:
    """A fixed colour and marker per adapter, by sorted name, identical in every figure of the report."""
    return {n: Style(PALETTE[i % len(PALETTE)], MARKERS[(i // len(PALETTE) + i) % len(MARKERS)])
            for i, n in enumerate(sorted(set(names)))}


def _rows_axis(ax: Axes, scales: Sequence[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(sorted(scales))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rows(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = min(scales), max(scales)
    ax.set_xlim(lo / 1.6, hi * 1.6)
    ax.set_xlabel("training rows (log scale)")


def _log_y(ax: Axes, fmt: Callable[[float], str], base: float = 10.0, subs: tuple[float, ...] = (1.0, 2.0, 5.0)
           ) -> None:
    """Log y axis with readable labels at 1-2-5 (or 1-4-16-... for bytes) steps and unlabelled minor ticks."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if base == 10.0 and 0 < lo < hi < lo * 10:  # less than a decade: label every 1..9 step, not one tick
        subs = tuple(float(k) for k in range(1, 10))
    ax.yaxis.set_major_locator(LogLocator(base=base, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _fail_marks(ax: Axes, failed: list[CaseGroup], styles: dict[str, Style], pad: bool = True) -> bool:
    """An ``x`` at the bottom of the axes at each failed case's scale, adapter and status beside it.

    Call it after the data and the axis scales are set: ``pad`` lowers the y limit so the marks sit in an
    empty band under the data (pass ``False`` for the second of two axes sharing y).
    """
    if not failed:
        return False
    if pad:
        _pad_bottom(ax, failed)
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction: the data keep the upper part of the axes, the marks sit in an empty band at the bottom
    by_scale: dict[int, int] = {}
    for g in failed:
        k = by_scale.get(g.scale, 0)
        by_scale[g.scale] = k + 1
        y = 0.05 + 0.08 * k  # stack several failures at one scale
        ax.plot([g.scale], [y], transform=trans, color=styles[g.adapter].color, clip_on=False, **FAIL_MARK)
        name = g.adapter if len(g.adapter) <= 22 else g.adapter[:21] + "…"  # the table has the full name
        ax.text(g.scale * 1.08, y, f"{name}: {g.status}", transform=trans, fontsize=7, va="center",
                color=styles[g.adapter].color, clip_on=True)
    return True


def _pad_bottom(ax: Axes, failed: list[CaseGroup]) -> None:
    """Lower the y limit so the data keep the upper part of the axes and the failure marks get the bottom."""
    band = min(0.12 + 0.08 * max(sum(1 for f in failed if f.scale == g.scale) for g in failed), 0.45)
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(lo / (hi / lo) ** (band / (1 - band)), hi)
    else:
        ax.set_ylim(lo - (hi - lo) * band / (1 - band), hi)


def _series(ax: Axes, groups: list[CaseGroup], name: str, styles: dict[str, Style],
            labels: dict[str, str] | None = None, positive: bool = True) -> list[CaseGroup]:
    """One line per adapter through the medians, min-max bars; returns the groups with nothing to draw."""
    undrawable = []
    for adapter in sorted({g.adapter for g in groups}):
        pts = []
        for g in sorted((g for g in groups if g.adapter == adapter and g.ok), key=lambda g: g.scale):
            s = g.stats[name]
            if s["median"] is None or (positive and s["median"] <= 0):
                undrawable.append(g)
                continue
            pts.append((g.scale, s["median"], s["min"], s["max"]))
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ref = next((g.reference for g in groups if g.adapter == adapter), "")
        label = (labels or {}).get(adapter, adapter) + (f" ({ref})" if ref else "")
        st = styles[adapter]
        ax.errorbar(xs, ys, yerr=err, color=st.color, marker=st.marker, markersize=5, capsize=3,
                    linestyle="--" if ref else "-", linewidth=2.2 if ref else 1.6, label=label)
    return undrawable


def _legend(ax: Axes, extra: list[Line2D]) -> None:
    handles, labels = ax.get_legend_handles_labels()
    handles += extra
    labels += [h.get_label() for h in extra]
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _fail_handle() -> Line2D:
    return Line2D([], [], color="0.25", label="failed case (status beside it)", **FAIL_MARK)


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    FigureCanvasAgg(fig)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    rel = f"plots/{name}.png"
    fig.savefig(out_dir / rel, bbox_inches="tight", metadata={"Software": None})
    return rel


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.35", wrap=True)


def throughput_plot(groups: list[CaseGroup], styles: dict[str, Style], out_dir: Path, stem: str,
                    title: str) -> Plot:
    """Fit throughput (rows/s) against training rows, log-log."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        _series(ax, groups, "rows_per_s", styles)
        failed = [g for g in groups if not g.ok]
        _rows_axis(ax, [g.scale for g in groups])
        _log_y(ax, fmt_rows)
        _fail_marks(ax, failed, styles)
        ax.set_ylabel("fit throughput (rows/s, log scale)")
        ax.set_title(f"Throughput: {title}")
        if not any(g.stats["rows_per_s"]["median"] for g in groups):
            _empty(ax, "no successful case to draw")
        _legend(ax, [_fail_handle()] if failed else [])
        rel = _save(fig, out_dir, f"{stem}-throughput")
    return Plot(rel, "Throughput vs rows", f"fit throughput in rows per second against training rows, {title}",
                "Median over repeats, bar = min to max. Higher is better. Fit time includes reading the stream.")


def memory_plot(groups: list[CaseGroup], records: list[CaseRecord], styles: dict[str, Style], out_dir: Path,
                stem: str, title: str) -> Plot:
    """Two panels, RSS growth during fit and memray heap peak, against rows (log-log), the machine's RAM drawn."""
    rams = sorted({r.provenance.get("machine", {}).get("ram_bytes") for r in records} - {None})
    panels: list[tuple[str, str, Callable[[CaseRecord], float | None], str]] = [
        ("rss_growth", "RSS growth during fit", rss_growth,
         "process-tree RSS high-water mark during fit minus RSS before fit (sampled every 10 ms)"),
        ("heap_peak", "memray heap peak of fit", heap_peak,
         "memray heap peak of fit, native allocations, this process only (separate, untimed run)"),
    ]
    failed = [g for g in groups if not g.ok]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(10.0, 4.0))
        axes = fig.subplots(1, 2, sharey=True)
        zeros: list[Line2D] = []
        # one legend for both panels, each adapter's two exponents in its label
        exps: dict[str, list[str]] = {}
        scales = sorted({g.scale for g in groups if g.ok}) or [1]
        # below ~10^5 rows fixed costs (imports, buffers, the model) dominate memory: a slope over 10^4..10^5
        # reads as "holds the data" for a streaming learner and as "flat" for an in-memory one
        slopes_mean_something = scales[0] >= EXPONENT_MIN_ROWS and scales[-1] >= 100 * scales[0]
        for short, (_name, _label, getter, _covers) in zip(("RSS", "heap"), panels):
            for (adapter, *_), slope in scaling_by_adapter(records, memory=getter).items():
                exps.setdefault(adapter, []).append(f"{short} {slope:.2f}" if slope is not None else f"{short} n/a")
        labels = ({a: f"{a} (exponent {', '.join(e)})" for a, e in exps.items()} if slopes_mean_something
                  else {})
        for ax, (name, label, _getter, _covers) in zip(axes, panels):
            zero = _series(ax, groups, name, styles, labels)
            zero = [g for g in zero if g.stats[name]["median"] is not None]  # measured 0: below resolution
            trans = ax.get_xaxis_transform()
            for g in zero:
                ax.plot([g.scale], [0.95], transform=trans, marker="v", color=styles[g.adapter].color,
                        linestyle="none", clip_on=False)
            for ram in rams:
                ax.axhline(ram, color="crimson", linestyle=":", linewidth=1.5, label=f"machine RAM {fmt_bytes(ram)}")
            _rows_axis(ax, [g.scale for g in groups])
            # powers of 4 of KiB/MiB/GiB: round binary sizes on the axis
            _log_y(ax, fmt_bytes, base=1024.0, subs=(1.0, 4.0, 16.0, 64.0, 256.0))
            ax.set_title(label)
            if not any(g.stats[name]["median"] for g in groups):
                _empty(ax, "not measured" + (" (runs used --no-memray)" if name == "heap_peak" else ""))
            if zero:
                zeros.append(Line2D([], [], marker="v", color="0.25", linestyle="none",
                                    label="measured 0 B (not drawable on a log axis)"))
        handles: dict[str, Any] = {}
        for ax in axes:  # an adapter drawn only on one panel still gets its entry
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        extra = ([_fail_handle()] if failed else []) + zeros[:1]
        fig.legend(list(handles.values()) + extra, list(handles) + [h.get_label() for h in extra],
                   loc="upper left", bbox_to_anchor=(1.0, 0.9))
        for i, ax in enumerate(axes):  # after both panels: they share the y axis, pad it once
            _fail_marks(ax, failed, styles, pad=i == 0)
        axes[0].set_ylabel("peak memory of fit (bytes, log scale)")
        fig.suptitle(f"Peak memory: {title}", fontsize=10)
        rel = _save(fig, out_dir, f"{stem}-memory")
    caption = ("Left: " + panels[0][3] + ". Right: " + panels[1][3] + ". " + (
        "Exponent in the legend: slope of log(memory) against log(rows) - about 0 means memory stays flat as data "
        "grows (out-of-core), about 1 means the data is held in memory." if slopes_mean_something else
        f"No memory-scaling exponent is shown: these records cover {fmt_rows(scales[0])} to {fmt_rows(scales[-1])} "
        f"rows, and a slope means something only over two decades or more from {fmt_rows(EXPONENT_MIN_ROWS)} rows "
        "(below that, fixed costs dominate memory; run a suite with larger scales).")
        + " The dotted red line is the machine's RAM.")
    return Plot(rel, "Peak memory vs rows", f"peak memory of fit against training rows, {title}", caption)


def accuracy_plot(groups: list[CaseGroup], records: list[CaseRecord], styles: dict[str, Style], out_dir: Path,
                  stem: str, title: str, task: str) -> Plot:
    """Holdout loss against rows, with the dataset's known optimum and the in-memory reference."""
    key, label = get_task(task).loss.key, get_task(task).loss.label
    failed = [g for g in groups if not g.ok]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        _series(ax, groups, "loss", styles, positive=False)
        optimum: dict[int, list[float]] = {}
        for r in records:
            if key in r.optimum:
                optimum.setdefault(r.case.scale, []).append(r.optimum[key])
        if optimum:
            xs = sorted(optimum)
            ys = [sorted(optimum[x])[len(optimum[x]) // 2] for x in xs]
            ax.plot(xs, ys, color="black", linestyle="--", linewidth=1.2,
                    label=f"known optimum ({ys[-1]:.4f})" if len(set(ys)) == 1 else "known optimum")
        _fail_marks(ax, failed, styles)
        _rows_axis(ax, [g.scale for g in groups])
        ax.set_ylabel(f"{label} on the holdout (lower is better)")
        ax.set_title(f"Accuracy: {title}")
        if not any(g.stats["loss"]["median"] is not None for g in groups):
            _empty(ax, "no successful case to draw")
        _legend(ax, [_fail_handle()] if failed else [])
        rel = _save(fig, out_dir, f"{stem}-accuracy")
    refs = sorted({g.adapter for g in groups if g.ok and g.reference})
    caption = (f"{label} of each model on the dataset's fixed holdout. Dashed black: the best achievable "
               f"{label} (the true model), " + (f"thick dashed: {', '.join(refs)}, all rows in memory."
                                               if refs else "no in-memory reference in these records."))
    return Plot(rel, "Accuracy vs rows", f"{label} on the holdout against training rows, {title}", caption)


def gap_plot(groups: list[CaseGroup], styles: dict[str, Style], out_dir: Path, stem: str, title: str,
             task: str) -> Plot | None:
    """Holdout loss minus the known optimum against rows, log-log; ``None`` when no record has an optimum."""
    if not any(g.stats.get("gap", {}).get("median") is not None for g in groups):
        return None
    label = get_task(task).loss.label
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        undrawable = _series(ax, [g for g in groups if g.ok], "gap", styles)
        _rows_axis(ax, [g.scale for g in groups])
        _log_y(ax, lambda v: f"{v:.2g}")
        ax.set_ylabel(f"{label} minus the optimum (log scale)")
        ax.set_title(f"Gap to the known optimum: {title}")
        _legend(ax, [])
        rel = _save(fig, out_dir, f"{stem}-gap")
    note = (" Not drawn (loss at or below the optimum, i.e. within noise of it): "
            + ", ".join(sorted({f"{g.adapter} at {g.scale:,}" for g in undrawable})) + "." if undrawable else "")
    caption = (f"How far each model's holdout {label} is above the best achievable (the true model's), as the "
               "training rows grow: a falling line means more data still buys accuracy; a flat one, that the "
               "model has learnt what it can (or its one pass is the limit)." + note)
    return Plot(rel, "Gap to the optimum vs rows", f"{label} gap to the optimum against training rows, {title}",
                caption)


def curve_points(curve: Any, key: str) -> list[tuple[float, float]] | None:
    """Points (rows seen, value of ``key``) of a record's ``extra["learning_curve"]``.

    The case writes ``{"points": [{"rows": n, "fit_s": s, "prequential_log_loss": v, "holdout_log_loss": w},
    ...], "loss": "log_loss", ...}``; a bare list of such points is accepted too. ``None`` when nothing usable.

    >>> curve_points({"points": [{"rows": 10, "holdout_rmse": 0.7}, {"rows": 20, "holdout_rmse": 0.6}]},
    ...              "holdout_rmse")
    [(10.0, 0.7), (20.0, 0.6)]
    """
    points = curve.get("points") if isinstance(curve, dict) else curve
    if not isinstance(points, list):
        return None
    pts = [(float(p["rows"]), float(p[key])) for p in points
           if isinstance(p, dict) and p.get("rows") and p.get(key) is not None]
    pts = [p for p in pts if math.isfinite(p[0]) and math.isfinite(p[1])]
    return pts or None


def learning_curve_plot(groups: list[CaseGroup], styles: dict[str, Style], out_dir: Path, stem: str,
                        title: str, task: str) -> Plot | None:
    """Prequential and holdout-subset loss against rows seen, per adapter, at its largest scale with a curve.

    ``None`` when no record in ``groups`` has a curve (the HTML then says "not recorded" and why).
    """
    key, label = get_task(task).loss.key, get_task(task).loss.label
    curves: dict[str, tuple[int, dict[str, Any]]] = {}
    for g in groups:
        rec = next((r for r in g.ok if curve_points(r.extra.get("learning_curve"), "holdout_" + key)), None)
        if rec is not None and (g.adapter not in curves or g.scale > curves[g.adapter][0]):
            curves[g.adapter] = (g.scale, rec.extra["learning_curve"])
    if not curves:
        return None
    holdout_rows = sorted({c.get("holdout_rows") for _, c in curves.values() if isinstance(c, dict)} - {None})
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(10.0, 4.0))
        axes = fig.subplots(1, 2, sharey=True)
        panels = [("prequential_" + key, f"prequential {label} (next batch, scored before it is learnt)"),
                  ("holdout_" + key, f"{label} on a fixed holdout subset"
                   + (f" ({', '.join(fmt_rows(n) for n in holdout_rows)} rows)" if holdout_rows else ""))]
        for ax, (name, panel_title) in zip(axes, panels):
            for adapter in sorted(curves):
                scale, curve = curves[adapter]
                pts = curve_points(curve, name)
                if not pts:
                    continue
                st = styles[adapter]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=st.color, marker=st.marker, markersize=3,
                        linewidth=1.4, label=f"{adapter} (run of {fmt_rows(scale)} rows)")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rows(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("rows learnt so far (log scale)")
            ax.set_title(panel_title)
            if not ax.get_legend_handles_labels()[0]:
                _empty(ax, "not recorded")
        handles: dict[str, Any] = {}
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.9))
        axes[0].set_ylabel(f"{label} (lower is better)")
        fig.suptitle(f"Learning curves: {title}", fontsize=10)
        rel = _save(fig, out_dir, f"{stem}-learning")
    return Plot(rel, "Prequential learning curves", f"learning curves ({label} against rows learnt), {title}",
                "Left: each batch scored just before the model learns from it (test-then-train). Right: the "
                "same checkpoints scored on a fixed subset of the holdout. Scoring time is excluded from fit "
                "time. One run per adapter, at the largest scale that recorded a curve.")


def pareto_plot(groups: list[CaseGroup], styles: dict[str, Style], out_dir: Path, stem: str, title: str,
                task: str) -> Plot:
    """Fit seconds against holdout loss, one panel per scale, the Pareto-optimal adapters ringed."""
    label = get_task(task).loss.label
    scales = sorted({g.scale for g in groups})
    with matplotlib.rc_context(RC):
        ncols = min(len(scales), 4)
        nrows = math.ceil(len(scales) / ncols)
        fig = Figure(figsize=(3.6 * ncols + 1.6, 3.3 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        notes = []
        for ax, scale in zip(axes, scales):
            pts = [g for g in groups if g.scale == scale and g.median("fit_s") and g.median("loss") is not None]
            front = set(pareto_front([(g.median("fit_s"), g.median("loss")) for g in pts]))
            for i, g in enumerate(pts):
                st = styles[g.adapter]
                ax.plot([g.median("fit_s")], [g.median("loss")], marker=st.marker, color=st.color, markersize=7,
                        linestyle="none", label=g.adapter)
                if i in front:
                    ax.plot([g.median("fit_s")], [g.median("loss")], marker="o", markersize=15, linestyle="none",
                            markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.2)
            if front:
                f = sorted((pts[i].median("fit_s"), pts[i].median("loss")) for i in front)
                ax.step([p[0] for p in f], [p[1] for p in f], where="post", color="black", linewidth=0.8,
                        alpha=0.6)
            missing = [g for g in groups if g.scale == scale and all(g is not p for p in pts)]
            if missing:
                notes.append(f"{fmt_rows(scale)} rows: " + ", ".join(f"{g.adapter} ({g.status})" for g in missing))
            if not pts:
                _empty(ax, "no successful case")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_seconds(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{fmt_rows(scale)} rows")
            ax.set_xlabel("fit time (log scale)")
            ax.set_ylabel(f"{label} (lower is better)")
        for ax in axes[len(scales):]:
            ax.set_visible(False)
        handles = [Line2D([], [], marker=styles[a].marker, color=styles[a].color, linestyle="none", label=a)
                   for a in sorted({g.adapter for g in groups if g.ok})]
        handles.append(Line2D([], [], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="black",
                              linestyle="none", label="Pareto-optimal"))
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.92))
        fig.suptitle(f"Accuracy vs time: {title}", fontsize=10)
        fig.tight_layout()
        rel = _save(fig, out_dir, f"{stem}-pareto")
    caption = ("Median fit time against median holdout " + label + " per adapter and scale; ringed points are "
               "Pareto-optimal (no other adapter is both faster and more accurate at that scale).")
    if notes:
        caption += " Not plotted (no successful repeat): " + "; ".join(notes) + "."
    return Plot(rel, "Accuracy vs time (Pareto front)", f"fit time against {label} per scale, {title}", caption)


#: "time to target": the first checkpoint within this fraction of the best holdout loss any adapter reached
TARGET_WITHIN = 0.01


def checkpoint_points(record: CaseRecord, key: str) -> list[dict[str, Any]]:
    """The record's holdout-loss checkpoints after each pass or round (``extra["checkpoints"]``), usable ones only.

    >>> from oocbench.records import CaseSpec
    >>> r = CaseRecord(case=CaseSpec("a", "d", 10), extra={"checkpoints": {"points": [
    ...     {"pass": 1, "fit_s": 0.5, "holdout_log_loss": 0.6}, {"pass": 2, "fit_s": None}]}})
    >>> checkpoint_points(r, "holdout_log_loss")
    [{'pass': 1, 'fit_s': 0.5, 'holdout_log_loss': 0.6}]
    """
    block = record.extra.get("checkpoints")
    points = block.get("points") if isinstance(block, dict) else None
    if not isinstance(points, list):
        return []
    return [p for p in points if isinstance(p, dict) and isinstance(p.get("fit_s"), (int, float))
            and isinstance(p.get(key), (int, float)) and p["fit_s"] > 0 and math.isfinite(p[key])]


def time_to_target(points: list[dict[str, Any]], key: str, target: float) -> dict[str, Any] | None:
    """The first checkpoint at or below ``target`` (``None``: never reached)."""
    return next((p for p in points if p[key] <= target), None)


def _where(point: dict[str, Any]) -> str:
    return next((f"{k} {point[k]}" for k in ("pass", "round") if k in point), "end")


def checkpoints_plot(groups: list[CaseGroup], styles: dict[str, Style], out_dir: Path, stem: str, title: str,
                     task: str) -> Plot | None:
    """Holdout loss after each pass or boosting round against fit time, at the section's largest scale with
    such checkpoints; the time each adapter took to come within :data:`TARGET_WITHIN` of the best loss reached.

    ``None`` when no adapter there recorded more than one checkpoint (nothing to draw a curve from).
    """
    key, label = get_task(task).loss.key, get_task(task).loss.label
    name = "holdout_" + key
    series: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for g in groups:
        rec = next((r for r in g.ok if checkpoint_points(r, name)), None)
        if rec is not None:
            series.setdefault(g.scale, {})[g.adapter] = checkpoint_points(rec, name)
    drawable = [s for s, by in series.items() if any(len(p) > 1 for p in by.values())]
    if not drawable:
        return None
    scale = max(drawable)
    curves = series[scale]
    best = min(p[name] for pts in curves.values() for p in pts)
    target = best + TARGET_WITHIN * abs(best)
    optimum = sorted({r.optimum[key] for g in groups if g.scale == scale for r in g.ok if key in r.optimum})
    reached, missed = [], []
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.2))
        ax = fig.add_subplot()
        for adapter in sorted(curves):
            pts, st = curves[adapter], styles[adapter]
            ax.plot([p["fit_s"] for p in pts], [p[name] for p in pts], color=st.color, marker=st.marker,
                    markersize=4 if len(pts) > 12 else 6, linewidth=1.4, label=adapter)
            hit = time_to_target(pts, name, target)
            if hit is None:
                missed.append(f"{adapter} (best {fmt_num(min(p[name] for p in pts))} after {_where(pts[-1])})")
            else:
                reached.append((hit["fit_s"], f"{adapter} {fmt_seconds(hit['fit_s'])} ({_where(hit)})"))
                ax.plot([hit["fit_s"]], [hit[name]], marker="o", markersize=12, markerfacecolor="none",
                        markeredgecolor=st.color, markeredgewidth=1.4, linestyle="none")
        ax.axhline(target, color="0.3", linestyle=":", linewidth=1.0,
                   label=f"target: within {TARGET_WITHIN:.0%} of the best ({fmt_num(target)})")
        if optimum:
            ax.axhline(optimum[0], color="black", linestyle="--", linewidth=1.0,
                       label=f"known optimum, whole holdout ({fmt_num(optimum[0])})")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_seconds(v)))
        ax.set_xlabel("fit time so far (log scale; scoring excluded)")
        ax.set_ylabel(f"{label} on a fixed holdout subset (lower is better)")
        ax.set_title(f"Loss after each pass or round: {title}, {fmt_rows(scale)} rows", fontsize=9)
        _legend(ax, [])
        rel = _save(fig, out_dir, f"{stem}-passes")
    caption = (f"Each point: the {label} on a fixed holdout subset after one more pass over the {fmt_rows(scale)} "
               "training rows (linear learners) or one more boosting round (trees), against the fit time it "
               "took to get there. Ringed: the first point within "
               f"{TARGET_WITHIN:.0%} of the best {label} any adapter reached here. Time to that target: "
               + ("; ".join(t for _, t in sorted(reached)) or "nobody") + "."
               + (f" Not reached: {'; '.join(missed)}." if missed else "")
               + (" The known optimum is the true model's loss on the whole holdout; on the subset scored here "
                  "it differs by sampling noise, so a point may sit just below it." if optimum else ""))
    return Plot(rel, "Loss against time, pass by pass", f"{label} after each pass or round against fit time, "
                f"{title}", caption)
