"""The report's first screen: per dataset, the answer in a sentence and one figure of what each choice trades.

A dataset is answered from one of its sections: the view that gives each library its best settings where the
suite ran it (``tuned``, then ``recommended``, then ``matched``, then any other), at the largest scale where the
most adapters of that section were compared (a larger scale that only the fastest adapters reached would crown
a winner among the few that fit the time budget). Every view and scale stays in the verdict tables below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

from oocbench.fmt import fmt_num, fmt_rows
from oocbench.metrics import get_task
from oocbench.reports import html as H
from oocbench.reports.curves import pareto_handles, pareto_panel
from oocbench.reports.draw import Plot, described, save
from oocbench.reports.section import Section
from oocbench.reports.style import RC
from oocbench.reports.verdict import Verdict, answer_sentence, out_of_core_differs

#: which view answers a dataset, first found first (a view not named here comes after these)
VIEW_ORDER = ("tuned", "recommended", "matched")


@dataclass
class Lead:
    """The section and scale that answer one dataset on the first screen."""

    dataset: str
    section: Section
    anchor: str  # the section's id on the page
    verdict: Verdict
    out_of_core: Verdict | None  # the same scale among the adapters that stream, where in-memory ones ran

    @property
    def view(self) -> str:
        return self.section.groups[0].profile

    def sentences(self) -> list[str]:
        label = get_task(self.section.task).loss.label
        out = [answer_sentence(self.verdict, label)]
        if out_of_core_differs(self.out_of_core, self.verdict):
            out.append(answer_sentence(self.out_of_core, label, out_of_core=True))
        top = max((v for v in self.section.verdicts if v.most_accurate is not None), key=lambda v: v.scale)
        if top.scale > self.verdict.scale:  # where fewer ran: said, with who ran and what a smaller scale reached
            said = answer_sentence(top, label)
            if said:
                note = f" ({compared(top)} ran there, the others over the time budget or failed"
                if top.better_before is not None:
                    loss, at, who = top.better_before
                    note += f"; {who} reached {fmt_num(loss)} at {fmt_rows(at)} rows"
                out.append(said[:-1] + note + ").")
        return [s for s in out if s]


def compared(v: Verdict) -> str:
    """``"3 adapters"``, ``"1 adapter"``: how many ran at the verdict's scale and were judged."""
    return f"{v.compared} adapter{'' if v.compared == 1 else 's'}"


def comparison_verdict(s: Section) -> Verdict | None:
    """The verdict at the largest scale where the most adapters ran and were judged; ``None`` where nothing
    learned anywhere.

    >>> from types import SimpleNamespace as NS
    >>> def v(n, compared, accurate=True):
    ...     return NS(scale=n, compared=compared, most_accurate=object() if accurate else None)
    >>> comparison_verdict(NS(verdicts=[v(10, 5), v(100, 5), v(1000, 3), v(10**4, 6, False)])).scale
    100
    """
    answered = [v for v in s.verdicts if v.most_accurate is not None]
    if not answered:
        return None
    most = max(v.compared for v in answered)
    return max((v for v in answered if v.compared == most), key=lambda v: v.scale)


def _view_rank(s: Section) -> int:
    profile = s.groups[0].profile
    return VIEW_ORDER.index(profile) if profile in VIEW_ORDER else len(VIEW_ORDER)


def leads(sections: list[tuple[Section, str]]) -> list[Lead]:
    """One :class:`Lead` per dataset, in the order the datasets first appear; ``sections``: (section, anchor)."""
    by_dataset: dict[str, list[tuple[Section, str]]] = {}
    for s, anchor in sections:
        by_dataset.setdefault(s.groups[0].dataset, []).append((s, anchor))
    out = []
    for dataset, candidates in by_dataset.items():
        for s, anchor in sorted(candidates, key=lambda c: _view_rank(c[0])):  # stable: suite order within a view
            v = comparison_verdict(s)
            if v is not None:
                ooc = next((o for o in s.out_of_core_verdicts if o.scale == v.scale), None)
                out.append(Lead(dataset, s, anchor, v, ooc))
                break
    return out


def front_plot(chosen: list[Lead], out_dir, styles) -> Plot:
    """One panel per dataset: fit time against loss at the lead's scale, the front ringed and named, the
    adapters that hold every row in RAM on a grey square."""
    with matplotlib.rc_context(RC):
        ncols = min(len(chosen), 3)
        nrows = math.ceil(len(chosen) / ncols)
        fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        labels: set[str] = set()
        hollow = constant = in_memory = False
        for ax, lead in zip(axes, chosen):
            pts, h = pareto_panel(ax, lead.section, lead.verdict, in_memory_marks=True, name_front=True)
            labels |= {g.label() for g in pts}
            hollow |= h
            constant |= lead.verdict.constant is not None
            in_memory |= any(g.in_memory for g in pts)
            ax.set_title(f"{lead.dataset}: {lead.view}, {fmt_rows(lead.verdict.scale)} rows")
            if ax is not axes[0]:
                ax.set_ylabel(get_task(lead.section.task).loss.label)
        for ax in axes[len(chosen):]:
            ax.set_visible(False)
        # the section figures name every adapter; here the names of the front are on the points, so the
        # legend keeps to the marks (one colour list for 15 adapters is what a reader cannot match by eye)
        handles = pareto_handles(chosen[0].section, [], constant, hollow, in_memory)
        fig.legend(handles=handles, loc="lower center", ncols=len(handles), bbox_to_anchor=(0.5, -0.02),
                   frameon=False)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        rel = save(fig, out_dir, "answer-front")
    caption = ("Each point an adapter: median fit time against median holdout loss, at the scale named above "
               "each panel. Ringed and named: the Pareto front (no other model there is both faster and more "
               "accurate); each step down the line buys a lower loss for the fit time shown. A grey square marks "
               "an adapter that holds every row in RAM: only the others can go past it. The points off the front are named "
               "in each section's own figure (every view and scale).")
    return Plot(rel, "What each choice trades", described(
        "fit time against holdout loss per dataset: " + "; ".join(
            f"{c.dataset} {c.view} at {fmt_rows(c.verdict.scale)} rows, front: "
            + ", ".join(g.label() for g in c.verdict.front) for c in chosen), sorted(labels)), caption)


def answer_html(chosen: list[Lead], out_dir, styles) -> str:
    """The block at the top of the page: one line per dataset with its sentences, then the front figure."""
    if not chosen:
        return ""
    items = []
    for lead in chosen:
        s, v = lead.section, lead.verdict
        shown = f"{compared(v)} compared" + ("; larger scales, where fewer ran, in its section"
                                                     if v.scale < s.scales[-1] else "")
        items.append(f'<li data-dataset="{H.esc(lead.dataset)}"><b>{H.esc(lead.dataset)}</b> '
                     f'<span class=muted>({H.esc(lead.view)} view, {H.esc(shown)}; '
                     f'<a href="#{H.esc(lead.anchor)}">every scale</a>)</span>: '
                     + " ".join(f"<span class=answer-sentence>{H.esc(t)}</span>" for t in lead.sentences())
                     + "</li>")
    return ('<section id="answer"><h2>The answer</h2><ul class=answers>' + "".join(items) + "</ul>"
            + H.figure(front_plot(chosen, out_dir, styles)).replace("<figure>", '<figure class="front">', 1)
            + "</section>")
