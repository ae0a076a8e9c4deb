"""Every figure of a report section, in the order shown: adding a plot is one entry in :data:`PLOTS`.

An entry names the function that builds the figure from a :class:`~oocbench.reports.section.Section` (its
groups and records), when it applies, what the page says where it does not (``absent``: the figure's
"not recorded" note and why; ``None``: say nothing), and what follows it in any case (``after``: the table of
the numbers behind it). A build function may still return ``None`` (nothing
to draw after all); the page then shows the ``absent`` note too.

Usage (what :func:`oocbench.reports.build.build_report` does per section)::

    for entry in PLOTS:
        plot = entry.build(section) if entry.applies(section) else None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from oocbench.analysis import scaling_applies
from oocbench.reports import curves, plots
from oocbench.reports.draw import Absent, Plot
from oocbench.reports.section import Section
from oocbench.reports.tables import scaling_table


def always(section: Section) -> bool:
    return True


@dataclass(frozen=True)
class PlotEntry:
    name: str
    build: Callable[[Section], Plot | None]
    applies: Callable[[Section], bool] = always
    absent: Callable[[Section], Absent] | None = None
    after: Callable[[Section], str] | None = None  # HTML shown after it, whether it applies or not (a table)


def _has_optimum(s: Section) -> bool:
    return any(g.stats.get("gap", {}).get("median") is not None for g in s.groups)


def _can_project(s: Section) -> bool:
    return any(scaling_applies(sc.scales) for sc in s.scaling.values())


def _no_curve(s: Section) -> Absent:
    items = curves.missing_curves(s)
    return Absent("Prequential learning curves", "" if items else "no record here has extra['learning_curve'].",
                  items, "No learning curve recorded for:")


PLOTS: list[PlotEntry] = [
    PlotEntry("throughput", plots.throughput_plot),
    PlotEntry("memory", plots.memory_plot),
    PlotEntry("projection", plots.projection_plot, _can_project, after=scaling_table),
    PlotEntry("accuracy", plots.accuracy_plot),
    PlotEntry("gap", plots.gap_plot, _has_optimum),
    PlotEntry("learning", curves.learning_curve_plot, curves.has_learning_curve, _no_curve),
    PlotEntry("passes", curves.checkpoints_plot),
    PlotEntry("pareto", curves.pareto_plot),
]
