"""The figures against training rows: throughput, peak memory, projected memory, accuracy, gap to the optimum.

Each takes a :class:`~oocbench.reports.section.Section` and writes one PNG (see
:mod:`oocbench.reports.registry` for when each applies). Repeats are the median with a min-max bar.
"""

from __future__ import annotations

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from oocbench.analysis import SCALING_NA, memory_scaling
from oocbench.fmt import fmt_bytes, fmt_rows
from oocbench.metrics import get_task
from oocbench.reports.draw import (
    RAM_LINE,
    Plot,
    cap_losses,
    constant_line,
    described,
    empty,
    fail_handle,
    fail_marks,
    figure_legend,
    legend,
    log_y,
    ram_line,
    rows_axis,
    save,
    series,
)
from oocbench.reports.model import heap_peak, rss_growth
from oocbench.reports.section import Section
from oocbench.reports.style import RC
from oocbench.reports.verdict import data_helps


def _spread_words(s: Section) -> str:
    if s.repeats > 1:
        return f"Median over up to {s.repeats} repeats, bar = min to max."
    return ("One run per case: no spread measured (run with --repeat 3 to see how much a rerun moves each "
            "point).")


def throughput_plot(s: Section) -> Plot:
    """Fit throughput (rows/s) against training rows, log-log."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        series(ax, s.groups, "rows_per_s", s.styles)
        rows_axis(ax, s.scales)
        log_y(ax, fmt_rows, min_ratio=10.0)
        fail_marks(ax, s.failed, s.styles)
        ax.set_ylabel("fit throughput (rows/s, log scale)")
        ax.set_title(f"Throughput: {s.title}")
        if not any(g.stats["rows_per_s"]["median"] for g in s.groups):
            empty(ax, "no successful case to draw")
        labels = legend(ax, [fail_handle()] if s.failed else [])
        rel = save(fig, s.out_dir, f"{s.stem}-throughput")
    return Plot(rel, "Throughput vs rows", described(f"fit throughput in rows per second against training rows, "
                                                     f"{s.title}", labels, s.failed),
                f"{_spread_words(s)} Higher is better. Fit time includes reading the stream.")


def memory_plot(s: Section) -> Plot:
    """Two panels, RSS growth during fit and memray heap peak, against rows (log-log), the machine's RAM drawn.

    Each adapter's memory-scaling exponent per panel is in the legend where its scales allow one
    (:func:`oocbench.analysis.scaling_applies`), ``n/a`` otherwise.
    """
    panels = [("rss_growth", "RSS", "RSS growth during fit", rss_growth,
               "process-tree RSS high-water mark during fit minus RSS before fit (sampled every 10 ms)"),
              ("heap_peak", "heap", "memray heap peak of fit", heap_peak,
               "memray heap peak of fit, native allocations, this process only (separate, untimed run)")]
    if not any(g.stats["heap_peak"]["median"] for g in s.groups):  # no memray run here: no empty panel drawn
        panels = panels[:1]
    lines = sorted({g.label() for g in s.groups if g.ok})
    exps: dict[str, list[str]] = {line: [] for line in lines}
    for _name, short, _title, getter, _covers in panels:
        for line in lines:
            sc = memory_scaling((r.case.scale, getter(r)) for g in s.groups if g.label() == line for r in g.ok)
            if sc.points:
                exps[line].append(f"{short} {sc.exponent:.2f}" if sc.applies else f"{short} n/a")
    any_exponent = any(" n/a" not in e for es in exps.values() for e in es)
    labels = {line: f"{line} (exponent {', '.join(e)})" for line, e in exps.items() if e and any_exponent}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(5.0 * len(panels), 4.0))
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False).ravel()
        zeros: list[Line2D] = []
        # the panels share their y axis: the RAM is drawn or noted against the largest value of either
        largest = max((g.stats[p[0]]["max"] or 0 for g in s.groups if g.ok for p in panels), default=0)
        for ax, (name, _short, title, _getter, _covers) in zip(axes, panels):
            zero = series(ax, s.groups, name, s.styles, labels)
            zero = [g for g in zero if g.stats[name]["median"] is not None]  # measured 0: below resolution
            trans = ax.get_xaxis_transform()
            for g in zero:
                ax.plot([g.scale], [0.95], transform=trans, marker="v", color=s.styles[g.label()].color,
                        linestyle="none", clip_on=False)
            ram_line(ax, s.ram_bytes, largest)
            rows_axis(ax, s.scales)
            # powers of 4 of KiB/MiB/GiB: round binary sizes on the axis
            log_y(ax, fmt_bytes, base=1024.0, subs=(1.0, 4.0, 16.0, 64.0, 256.0), min_ratio=16.0)
            ax.set_title(title)
            if not any(g.stats[name]["median"] for g in s.groups):
                empty(ax, "not measured" + (" (runs used --no-memray)" if name == "heap_peak" else ""))
            if zero:
                zeros.append(Line2D([], [], marker="v", color="0.25", linestyle="none",
                                    label="measured 0 B (not drawable on a log axis)"))
        names = figure_legend(fig, axes, ([fail_handle()] if s.failed else []) + zeros[:1])
        for i, ax in enumerate(axes):  # after both panels: they share the y axis, pad it once
            fail_marks(ax, s.failed, s.styles, pad=i == 0)
        axes[0].set_ylabel("fit memory (bytes, log scale)")
        fig.suptitle(f"Fit memory: {s.title}", fontsize=10)
        rel = save(fig, s.out_dir, f"{s.stem}-memory")
    scales = s.scales
    caption = ((f"Left: {panels[0][4]}. Right: {panels[1][4]}. " if len(panels) == 2 else
                f"{panels[0][4][0].upper()}{panels[0][4][1:]} (no memray run here: --no-memray). ") + (
        "Exponent in the legend: slope of log(memory) against log(rows) over the adapter's largest decade of "
        "scales (below it fixed costs flatten every curve) - about 0: "
        "memory stays flat as data grows (out-of-core); about 1: it grows with the data. Fixed costs (imports, "
        "buffers, the model) pull it below 1 at small scales: the bytes per row of the scaling table separate "
        f"them. An adapter with fewer scales shows {SCALING_NA}." if any_exponent else
        f"Memory-scaling exponent: {SCALING_NA} - these records cover {fmt_rows(scales[0])} to "
        f"{fmt_rows(scales[-1])} rows at {len(scales)} scale(s); over less, fixed costs and noise decide the "
        "slope. Run a suite with more scales.") + " The dotted black line is the machine's RAM (a note on the "
        "top edge when it lies far above every figure here).")
    return Plot(rel, "Fit memory vs rows",
                described(f"fit memory against training rows, {s.title}", names, s.failed), caption)


def projection_plot(s: Section) -> Plot | None:
    """Projected fit memory at ``s.project_rows`` per adapter: the range between the power-law and the
    straight-line extrapolation (:meth:`oocbench.analysis.MemoryScaling.projected`) on a log axis, the machine's
    RAM drawn; ``None`` when no adapter has the scales for a projection."""
    proj = {line: sc.projected(s.project_rows) for line, sc in s.scaling.items()}
    have = sorted((line for line, v in proj.items() if v), key=lambda line: proj[line][1])
    if not have:
        return None
    n = fmt_rows(s.project_rows)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 1.0 + 0.34 * len(have)))
        ax = fig.add_subplot()
        for i, line in enumerate(have):
            (low, high), st = proj[line], s.styles[line]
            ax.plot([low, high], [i, i], color=st.color, linewidth=2.5, solid_capstyle="butt")
            ax.plot([low], [i], marker="|", markersize=12, color=st.color, markeredgewidth=2)
            ax.plot([high], [i], marker="o", markersize=6, color=st.color)
            text = fmt_bytes(high) if high <= low * 1.1 else f"{fmt_bytes(low)} to {fmt_bytes(high)}"
            ax.annotate(text, (high, i), xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
        for ram in s.ram_bytes:
            ax.axvline(ram, label=f"machine RAM {fmt_bytes(ram)}", **RAM_LINE)
        ax.set_yticks(range(len(have)), have)
        ax.set_ylim(-0.6, len(have) - 0.4)
        ax.set_xscale("log")
        values = [v for line in have for v in proj[line]] + list(s.ram_bytes)
        ax.set_xlim(min(values) / 3, max(values) * 12)  # room for the labels right of the dots
        ax.xaxis.set_major_locator(LogLocator(base=1024.0, subs=(1.0, 32.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"projected peak memory of fit at {n} rows (log scale)")
        ax.set_title(f"Projected memory at {n} rows: {s.title}")
        handles = [Line2D([], [], color="0.3", marker="|", markersize=10, markeredgewidth=2, linestyle="none",
                          label="power law (exponent)"),
                   Line2D([], [], color="0.3", marker="o", linestyle="none", label="straight line (bytes per row)")]
        labels = legend(ax, handles)
        rel = save(fig, s.out_dir, f"{s.stem}-projection")
    flat = sorted(line for line, sc in s.scaling.items() if sc.flat)
    missing = sorted(set(proj) - set(have) - set(flat))
    caption = (f"Fit memory (the larger of RSS growth and memray heap peak) extrapolated from the largest scale "
               f"measured to {s.project_rows:,.0f} rows in two ways: with the memory-scaling exponent (a power "
               "law; tick) and with the bytes per row (a straight line; dot). For a fixed cost plus a cost per row "
               "(data held in memory) the line is right and the power law low; for memory that levels off (a "
               "streaming learner's buffers filling up) both are high. A long bar means the scales measured "
               "cannot tell which: measure larger ones. The dotted line is the machine's RAM."
               + (f" Not projected, flat over the largest decade measured (the scaling table gives the range "
                  f"measured): {', '.join(flat)}." if flat else "")
               + (f" Not projected ({SCALING_NA}): {', '.join(missing)}." if missing else ""))
    return Plot(rel, f"Projected memory at {n} rows", described(f"projected fit memory at {n} rows, {s.title}",
                                                                [*labels, *have]), caption)


def accuracy_plot(s: Section) -> Plot:
    """Holdout loss against rows, with the dataset's known optimum, the constant predictor and the in-memory
    reference; a loss far above the constant predictor's sits on the top edge with its value."""
    key, label = get_task(s.task).loss.key, get_task(s.task).loss.label
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        series(ax, s.groups, "loss", s.styles, positive=False)
        optimum = _by_scale(s, lambda r: r.optimum.get(key))
        if optimum:
            ys = [optimum[x] for x in sorted(optimum)]
            ax.plot(sorted(optimum), ys, color="black", linestyle="--", linewidth=1.2,
                    label=f"known optimum ({ys[-1]:.4f})" if len(set(ys)) == 1 else "known optimum")
        rows_axis(ax, s.scales)  # before capping: the off-scale labels are placed by their x position
        constant = _by_scale(s, lambda r: r.baseline.get(key))
        if constant:
            ys = [constant[x] for x in sorted(constant)]
            losses = [g.median("loss") for g in s.groups if g.ok and g.median("loss") is not None]
            constant_line(ax, max(ys), [*losses, *optimum.values()], f"constant predictor ({max(ys):.4f})")
            floor = min([*optimum.values(), *(v for v in losses if v <= max(ys))], default=min(ys))
            cap_losses(ax, floor, max(ys), [(g.scale, g.median("loss"), s.styles[g.label()].color,
                                             f"{g.median('loss'):.3g}") for g in s.groups
                                            if g.ok and g.median("loss") is not None])
        fail_marks(ax, s.failed, s.styles)
        ax.set_ylabel(f"{label} on the holdout (lower is better)")
        ax.set_title(f"Accuracy: {s.title}")
        if not any(g.stats["loss"]["median"] is not None for g in s.groups):
            empty(ax, "no successful case to draw")
        labels = legend(ax, [fail_handle()] if s.failed else [])
        rel = save(fig, s.out_dir, f"{s.stem}-accuracy")
    refs = sorted({g.label() for g in s.groups if g.ok and g.reference})
    caption = (f"{label} of each model on the dataset's fixed holdout. Dashed black: the best achievable "
               f"{label} (the true model); dotted grey: the best constant predictor - a model above it learnt "
               "nothing. " + (f"Thick dashed: {', '.join(refs)}, all rows in memory."
                              if refs else "No in-memory reference in these records."))
    return Plot(rel, "Accuracy vs rows", described(f"{label} on the holdout against training rows, {s.title}",
                                                   labels, s.failed), caption)


def _by_scale(s: Section, getter) -> dict[int, float]:
    """The median of ``getter`` over the records at each scale (where any has it)."""
    values: dict[int, list[float]] = {}
    for r in s.records:
        if (v := getter(r)) is not None:
            values.setdefault(r.case.scale, []).append(float(v))
    return {n: sorted(v)[len(v) // 2] for n, v in values.items()}


def gap_plot(s: Section) -> Plot | None:
    """Holdout loss minus the known optimum against rows, log-log; ``None`` when no record has an optimum."""
    if not any(g.stats.get("gap", {}).get("median") is not None for g in s.groups):
        return None
    label = get_task(s.task).loss.label
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 4.0))
        ax = fig.add_subplot()
        undrawable = series(ax, [g for g in s.groups if g.ok], "gap", s.styles)
        rows_axis(ax, s.scales)
        log_y(ax, lambda v: f"{v:.2g}")
        ax.set_ylabel(f"{label} minus the optimum (log scale)")
        ax.set_title(f"Gap to the known optimum: {s.title}")
        labels = legend(ax, [])
        rel = save(fig, s.out_dir, f"{s.stem}-gap")
    note = (" Not drawn (loss at or below the optimum, i.e. within noise of it): "
            + ", ".join(sorted({f"{g.label()} at {g.scale:,}" for g in undrawable})) + "." if undrawable else "")
    caption = (f"How far each model's holdout {label} is above the best achievable (the true model's), as the "
               "training rows grow: a falling line means more data still buys accuracy; a flat one, that the "
               "model has learnt what it can (or its one pass is the limit)." + note)
    return Plot(rel, "Gap to the optimum vs rows", described(f"{label} gap to the optimum against training rows, "
                                                             f"{s.title}", labels), caption,
                note=data_helps(s.groups, s.task) or "")
