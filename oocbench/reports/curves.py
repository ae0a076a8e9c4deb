"""The figures of loss against effort: prequential learning curves, the loss after each pass or boosting round
against fit time, and the accuracy-vs-time Pareto front per scale.

Each takes a :class:`~oocbench.reports.section.Section` (see :mod:`oocbench.reports.registry`).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from oocbench.fmt import fmt_num, fmt_rows, fmt_seconds
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports.draw import (
    CONSTANT_LINE,
    Plot,
    cap_losses,
    constant_line,
    described,
    empty,
    figure_legend,
    legend,
    log_ticks,
    save,
)
from oocbench.reports.model import CaseGroup
from oocbench.reports.section import Section
from oocbench.reports.style import RC
from oocbench.reports.verdict import Verdict, beats_constant


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


def has_learning_curve(s: Section) -> bool:
    key = "holdout_" + get_task(s.task).loss.key
    return any(curve_points(r.extra.get("learning_curve"), key) for g in s.groups for r in g.ok)


def missing_curves(s: Section) -> tuple[str, ...]:
    """Which adapters recorded no learning curve and why: one ``"names: why"`` per reason."""
    missing: dict[str, str] = {}  # line -> why it has no curve (first reason recorded)
    for g in s.groups:
        for r in g.ok:
            if r.extra.get("learning_curve_missing"):
                missing.setdefault(g.label(), " ".join(str(r.extra["learning_curve_missing"]).split()))
    by_reason: dict[str, list[str]] = {}
    for line, why in sorted(missing.items()):
        by_reason.setdefault(why, []).append(line)
    return tuple(f"{', '.join(names)}: {why}" for why, names in by_reason.items())


def learning_curve_plot(s: Section) -> Plot | None:
    """Prequential and holdout-subset loss against rows seen, per adapter, at its largest scale with a curve.

    ``None`` when no record in the section has a curve (the HTML then says "not recorded" and why).
    """
    key, label = get_task(s.task).loss.key, get_task(s.task).loss.label
    curves: dict[str, tuple[int, dict[str, Any]]] = {}
    for g in s.groups:
        rec = next((r for r in g.ok if curve_points(r.extra.get("learning_curve"), "holdout_" + key)), None)
        if rec is not None and (g.label() not in curves or g.scale > curves[g.label()][0]):
            curves[g.label()] = (g.scale, rec.extra["learning_curve"])
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
            for line in sorted(curves):
                scale, curve = curves[line]
                pts = curve_points(curve, name)
                if not pts:
                    continue
                st = s.styles[line]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=st.color, marker=st.marker, markersize=3,
                        linewidth=1.4, label=f"{line} (run of {fmt_rows(scale)} rows)")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rows(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("rows learnt so far (log scale)")
            ax.set_title(panel_title)
            if not ax.get_legend_handles_labels()[0]:
                empty(ax, "not recorded")
        labels = figure_legend(fig, axes, [])
        axes[0].set_ylabel(f"{label} (lower is better)")
        fig.suptitle(f"Learning curves: {s.title}", fontsize=10)
        rel = save(fig, s.out_dir, f"{s.stem}-learning")
    missing = missing_curves(s)
    return Plot(rel, "Prequential learning curves",
                described(f"learning curves ({label} against rows learnt), {s.title}", labels),
                "Left: each batch scored just before the model learns from it (test-then-train). Right: the "
                "same checkpoints scored on a fixed subset of the holdout. Scoring time is excluded from fit "
                "time. One run per adapter, at the largest scale that recorded a curve.",
                details_title="No learning curve recorded for:" if missing else "", details=missing)


def pareto_panel(ax: Any, s: Section, v: Verdict, in_memory_marks: bool = False,
                 name_front: bool = False) -> tuple[list[CaseGroup], bool]:
    """Draw one scale's fit seconds against holdout loss on ``ax``: a point per adapter (hollow: no better than
    the constant predictor), the verdict's Pareto front ringed and joined by a step line; ``in_memory_marks``
    puts a grey square behind each adapter that holds every row in RAM, ``name_front`` writes the front's
    names beside their points. Returns the groups drawn and whether any is hollow."""
    key, label = get_task(s.task).loss.key, get_task(s.task).loss.label
    pts = [g for g in s.groups if g.scale == v.scale and g.median("fit_s") and g.median("loss") is not None]
    front = {id(g): i for i, g in enumerate(v.front)}
    hollow_any = False
    for g in pts:
        st, x, y = s.styles[g.label()], g.median("fit_s"), g.median("loss")
        if in_memory_marks and g.in_memory:
            ax.plot([x], [y], marker="s", markersize=14, linestyle="none", color="0.82", zorder=1)
        hollow = not beats_constant(g)
        hollow_any |= hollow
        ax.plot([x], [y], marker=st.marker, color=st.color, markersize=7, linestyle="none", zorder=3,
                markerfacecolor="none" if hollow else st.color)
        if id(g) in front:
            ax.plot([x], [y], marker="o", markersize=15, linestyle="none", markerfacecolor="none", zorder=4,
                    markeredgecolor="black", markeredgewidth=1.2)
            if name_front:  # the adapter's name (its settings are in the sentence); above, below, in turn
                ax.annotate(g.adapter, (x, y), xytext=(9, 5 if front[id(g)] % 2 == 0 else -11),
                            textcoords="offset points", fontsize=7, color="0.1", zorder=5)
    if front:
        f = [(g.median("fit_s"), g.median("loss")) for g in v.front]
        ax.step([p[0] for p in f], [p[1] for p in f], where="post", color="black", linewidth=0.8, alpha=0.6)
    if not pts:
        empty(ax, "no successful case")
    ax.set_xscale("log")
    times = [g.median("fit_s") for g in pts] or [1.0]
    ax.set_xlim(min(times) / 1.5, max(times) * (3.0 if name_front else 1.5))  # room for the names on the right
    log_ticks(ax.xaxis, fmt_seconds, min(times) / 1.5, max(times) * 1.5)
    if v.constant is not None:
        constant_line(ax, v.constant, [g.median("loss") for g in pts] + [v.constant])
        optimum = [r.optimum[key] for g in pts for r in g.ok if key in r.optimum]
        floor = min(optimum) if optimum else v.best_loss if v.best_loss is not None else v.constant
        cap_losses(ax, floor, v.constant, [(g.median("fit_s"), g.median("loss"), s.styles[g.label()].color,
                                            f"{g.median('loss'):.3g}") for g in pts])
    if name_front:  # room below the lowest point for the name written under it
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo - 0.08 * (hi - lo), hi)
    ax.set_xlabel("fit time (log scale)")
    ax.set_ylabel(f"{label} (lower is better)")
    return pts, hollow_any


def pareto_handles(s: Section, labels: list[str], constant: bool, hollow: bool,
                   in_memory: bool = False) -> list[Line2D]:
    """The legend of :func:`pareto_panel`: one entry per adapter in ``labels``, then the marks it uses."""
    handles: list[Line2D] = [Line2D([], [], marker=s.styles[line].marker, color=s.styles[line].color,
                                    linestyle="none", label=line) for line in labels]
    handles.append(Line2D([], [], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="black",
                          linestyle="none", label="Pareto-optimal"))
    if in_memory:
        handles.append(Line2D([], [], marker="s", markersize=11, color="0.82", linestyle="none",
                              label="grey square: holds every row in RAM (in memory)"))
    if constant:
        handles.append(Line2D([], [], label="constant predictor", **CONSTANT_LINE))
    if hollow:
        handles.append(Line2D([], [], marker="o", color="0.3", markerfacecolor="none", linestyle="none",
                              label="hollow: no better than the constant predictor"))
    return handles


def pareto_plot(s: Section) -> Plot:
    """Fit seconds against holdout loss, one panel per scale; the Pareto front among the models better than the
    constant predictor (the verdict's front) is ringed and joined."""
    label = get_task(s.task).loss.label
    scales = s.scales
    verdicts = {v.scale: v for v in s.verdicts}
    with matplotlib.rc_context(RC):
        ncols = min(len(scales), 3)
        nrows = math.ceil(len(scales) / ncols)
        fig = Figure(figsize=(4.0 * ncols + 1.6, 3.4 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        notes, hollow_any = [], False
        for ax, scale in zip(axes, scales):
            pts, hollow = pareto_panel(ax, s, verdicts[scale])
            hollow_any |= hollow
            missing = [g for g in s.groups if g.scale == scale and all(g is not p for p in pts)]
            if missing:
                notes.append(f"{fmt_rows(scale)} rows: " + ", ".join(f"{g.label()} ({g.status})" for g in missing))
            ax.set_title(f"{fmt_rows(scale)} rows")
        for ax in axes[len(scales):]:
            ax.set_visible(False)
        handles = pareto_handles(s, sorted({g.label() for g in s.groups if g.ok}),
                                 any(v.constant is not None for v in verdicts.values()), hollow_any)
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.92))
        fig.suptitle(f"Accuracy vs time: {s.title}", fontsize=10)
        fig.tight_layout()
        rel = save(fig, s.out_dir, f"{s.stem}-pareto")
    caption = (f"Median fit time against median holdout {label} per adapter and scale. Ringed: Pareto-optimal "
               "among the models better than the constant predictor (no such model is both faster and more "
               f"accurate at that scale), joined by a step line: along it, each step to a lower {label} costs the fit "
               "time shown; a point above the line is a slower way to a model no better.")
    if notes:
        caption += " Not plotted (no successful repeat): " + "; ".join(notes) + "."
    return Plot(rel, "Accuracy vs time (Pareto front)",
                described(f"fit time against {label} per scale, {s.title}", [h.get_label() for h in handles]),
                caption)


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


def checkpoints_plot(s: Section) -> Plot | None:
    """Holdout loss after each pass or boosting round against fit time, at the section's largest scale with
    such checkpoints; the time each adapter took to come within :data:`TARGET_WITHIN` of the best loss reached.

    ``None`` when no adapter there recorded more than one checkpoint (nothing to draw a curve from).
    """
    key, label = get_task(s.task).loss.key, get_task(s.task).loss.label
    name = "holdout_" + key
    series: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for g in s.groups:
        rec = next((r for r in g.ok if checkpoint_points(r, name)), None)
        if rec is not None:
            series.setdefault(g.scale, {})[g.label()] = checkpoint_points(rec, name)
    drawable = [n for n, by in series.items() if any(len(p) > 1 for p in by.values())]
    if not drawable:
        return None
    scale = max(drawable)
    curves = series[scale]
    best = min(p[name] for pts in curves.values() for p in pts)
    target = best + TARGET_WITHIN * abs(best)
    optimum = sorted({r.optimum[key] for g in s.groups if g.scale == scale for r in g.ok if key in r.optimum})
    reached, missed = [], []
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.2))
        ax = fig.add_subplot()
        for line in sorted(curves):
            pts, st = curves[line], s.styles[line]
            ax.plot([p["fit_s"] for p in pts], [p[name] for p in pts], color=st.color, marker=st.marker,
                    markersize=4 if len(pts) > 12 else 6, linewidth=1.4, label=line)
            hit = time_to_target(pts, name, target)
            if hit is None:
                missed.append(f"{line} (best {fmt_num(min(p[name] for p in pts))} after {_where(pts[-1])})")
            else:
                reached.append((hit["fit_s"], f"{line} {fmt_seconds(hit['fit_s'])} ({_where(hit)})"))
                ax.plot([hit["fit_s"]], [hit[name]], marker="o", markersize=12, markerfacecolor="none",
                        markeredgecolor=st.color, markeredgewidth=1.4, linestyle="none")
        ax.axhline(target, color="0.3", linestyle=":", linewidth=1.0,
                   label=f"target: within {TARGET_WITHIN:.0%} of the best ({fmt_num(target)})")
        if optimum:
            ax.axhline(optimum[0], color="black", linestyle="--", linewidth=1.0,
                       label=f"known optimum, whole holdout ({fmt_num(optimum[0])})")
        ax.set_xscale("log")
        times = [p["fit_s"] for pts in curves.values() for p in pts]
        log_ticks(ax.xaxis, fmt_seconds, min(times), max(times))
        ax.set_xlabel("fit time so far (log scale; scoring excluded)")
        ax.set_ylabel(f"{label} on a fixed holdout subset (lower is better)")
        ax.set_title(f"Loss after each pass or round: {s.title}, {fmt_rows(scale)} rows", fontsize=9)
        labels = legend(ax, [])
        rel = save(fig, s.out_dir, f"{s.stem}-passes")
    caption = (f"Each point: the {label} on a fixed holdout subset after one more pass over the {fmt_rows(scale)} "
               "training rows (linear learners) or one more boosting round (trees), against the fit time it "
               "took to get there. Ringed: the first point within "
               f"{TARGET_WITHIN:.0%} of the best {label} any adapter reached here. Time to that target: "
               + ("; ".join(t for _, t in sorted(reached)) or "nobody") + "."
               + (f" Not reached: {'; '.join(missed)}." if missed else "")
               + (" The known optimum is the true model's loss on the whole holdout; on the subset scored here "
                  "it differs by sampling noise, so a point may sit just below it." if optimum else ""))
    return Plot(rel, "Loss against time, pass by pass",
                described(f"{label} after each pass or round against fit time, {s.title}", labels), caption)
