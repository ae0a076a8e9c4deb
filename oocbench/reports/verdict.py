"""The verdict per dataset and scale, computed from the summaries (never written by hand).

Only adapters that **learned** are ranked: at that scale, a median holdout loss (the task's headline loss,
:func:`oocbench.metrics.get_task`) below the constant predictor's (``record.baseline``) and within
:data:`LEARNED_MARGIN` of the best median loss there. The others are listed as "outside the margin" with their
loss. Among those that learned:

- **fastest**: highest median rows/s in fit;
- **leanest**: lowest median fit memory (the larger of RSS growth during fit and memray's heap peak,
  :func:`oocbench.analysis.fit_memory`);
- **most accurate**: lowest median loss;
- **cheapest**: lowest median price of learning from 10^9 rows (:func:`oocbench.cost.cost_of_rows`, at the
  report's prices): "cheapest within 1% of the best loss". The adapters that hold every row in RAM have no price (their
  memory grows with the rows) and are never cheapest.

A win is a **tie** with every adapter whose min-max range over repeats overlaps the winner's, or whose median is
within :data:`TIE_WITHIN` of it (a single run's range is its value: nothing says its win would survive a rerun).

Why 1% (:data:`LEARNED_MARGIN`): the verdict answers "which library gets me the best model fastest", so a model
must be about as good as the best one here before its speed or memory counts; 1% of the loss is well above the
differences between equivalent learners fed the same rows (two L2-logistic SGDs, an in-memory L-BFGS) and well
below a model that stopped short (too few rows for its class, a diverged step size). It is also the
time-to-target tolerance of the pass-by-pass figure. The report states the margin next to the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from oocbench.reports.model import FAILED, CaseGroup

#: an adapter learned when its median loss is within this fraction of the best median loss at that scale
LEARNED_MARGIN = 0.01
#: medians closer than this fraction are a tie even without repeats: no timing or memory figure reproduces that
#: closely, and a loss difference that small does not decide between libraries
TIE_WITHIN = 0.001


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both lower-is-better).

    >>> pareto_front([(1.0, 0.6), (2.0, 0.5), (3.0, 0.55), (0.5, 0.7)])
    [0, 1, 3]
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(x2 <= x and y2 <= y and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


@dataclass
class Win:
    """One verdict cell: the winner, and the adapters whose min-max range overlaps the winner's (a tie)."""

    figure: str  # the summary it was decided on: "rows_per_s", "fit_memory" or "loss"
    winner: CaseGroup
    tied: list[CaseGroup] = field(default_factory=list)


@dataclass
class Verdict:
    """The winners at one (dataset, profile, threads, setting) and scale; ``None`` where nobody qualifies."""

    scale: int
    fastest: Win | None = None
    leanest: Win | None = None
    most_accurate: Win | None = None
    cheapest: Win | None = None
    learned: list[CaseGroup] = field(default_factory=list)  # ranked: the columns above are among these
    not_converged: list[CaseGroup] = field(default_factory=list)  # ran, but worse than the margin or constant
    failed: list[CaseGroup] = field(default_factory=list)  # timeout, oom, crashed, error
    not_run: list[CaseGroup] = field(default_factory=list)  # not installed, skipped
    best_loss: float | None = None  # the best median loss among those better than the constant predictor
    constant: float | None = None  # the constant predictor's loss on this holdout (median over records)
    #: (loss, scale, adapter) when a smaller scale reached a best loss lower than this one's by more than the
    #: margin: the adapters that got there did not run here (budget, failure), so "most accurate" here is not
    #: the best model for this much data
    better_before: tuple[float, int, str] | None = None

    @property
    def compared(self) -> int:
        """Adapters that ran here and were judged (learned or not)."""
        return len(self.learned) + len(self.not_converged)

    @property
    def threshold(self) -> float | None:
        """The largest loss that counts as learned."""
        return None if self.best_loss is None else self.best_loss + abs(self.best_loss) * LEARNED_MARGIN


def beats_constant(g: CaseGroup) -> bool:
    """Whether ``g``'s median loss is below the constant predictor's (true when either is not recorded)."""
    loss, constant = g.median("loss"), g.stats.get("constant_loss", {}).get("median")
    return loss is None or constant is None or loss < constant


def _tie(a: dict, b: dict) -> bool:
    """Whether two summaries' min-max ranges overlap or their medians are within :data:`TIE_WITHIN`."""
    close = abs(a["median"] - b["median"]) <= TIE_WITHIN * max(abs(a["median"]), abs(b["median"]))
    return close or (a["min"] <= b["max"] and b["min"] <= a["max"])


def _win(groups: list[CaseGroup], name: str, highest: bool = False) -> Win | None:
    have = [g for g in groups if g.median(name) is not None]
    if not have:
        return None
    # an exact tie of medians goes to the first adapter in name order, so the verdict is deterministic
    ordered = sorted(have, key=lambda g: g.label())
    best = (max if highest else min)(ordered, key=lambda g: g.median(name))
    tied = [g for g in ordered if g is not best and _tie(g.stats[name], best.stats[name])]
    return Win(name, best, tied)


def verdicts(groups: list[CaseGroup]) -> list[Verdict]:
    """One :class:`Verdict` per scale among ``groups`` (all from one dataset / profile / thread mode)."""
    out: list[Verdict] = []
    best_so_far: tuple[float, int, str] | None = None
    for scale in sorted({g.scale for g in groups}):
        at = [g for g in groups if g.scale == scale]
        ok = [g for g in at if g.ok]
        v = Verdict(scale, failed=[g for g in at if not g.ok and g.status in FAILED],
                    not_run=[g for g in at if g.not_run])
        constants = [g.stats["constant_loss"]["median"] for g in ok
                     if g.stats.get("constant_loss", {}).get("median") is not None]
        v.constant = median(constants) if constants else None
        candidates = [g for g in ok if g.median("loss") is not None and beats_constant(g)]
        if candidates:
            v.best_loss = min(g.median("loss") for g in candidates)
            v.learned = [g for g in candidates if g.median("loss") <= v.threshold]
        v.not_converged = sorted((g for g in ok if all(g is not x for x in v.learned)),
                                 key=lambda g: (g.median("loss") is None, g.median("loss") or 0.0, g.label()))
        v.fastest = _win(v.learned, "rows_per_s", highest=True)
        v.leanest = _win(v.learned, "fit_memory")
        v.most_accurate = _win(v.learned, "loss")
        v.cheapest = _win(v.learned, "cost_1e9")
        if best_so_far is not None and (v.best_loss is None or v.best_loss > best_so_far[0] + abs(best_so_far[0]) * LEARNED_MARGIN):
            v.better_before = best_so_far
        if v.most_accurate is not None and (best_so_far is None or v.best_loss < best_so_far[0]):
            best_so_far = (v.best_loss, scale, v.most_accurate.winner.label())
        out.append(v)
    return out


#: a gap to the optimum counts as shrinking / growing when it moves by more than this fraction
GAP_CHANGE = 0.10
#: an adapter within this fraction of the optimum at its smallest scale has nothing left for more data to buy
AT_OPTIMUM = 0.01


def data_helps(groups: list[CaseGroup], task: str) -> str | None:
    """One sentence, computed from the records, on whether more rows bring the models closer to the optimum.

    Compares each successful adapter's median gap (holdout loss minus the known optimum) at its smallest and
    largest scale. An adapter already within :data:`AT_OPTIMUM` of the optimum at its smallest scale counts as
    "at the optimum" (a shrinking gap of 0.2% is not what "more data helps" means); otherwise its gap shrinks,
    stays flat or grows by more than :data:`GAP_CHANGE`. ``None`` without a known optimum or without an adapter
    measured at two scales.

    >>> from oocbench.reports.model import CaseGroup
    >>> def g(a, n, gap, rel):
    ...     x = CaseGroup(a, "d", n, "matched", "1", (), [])
    ...     x.stats = {"gap": {"median": gap}, "gap_rel": {"median": rel}}
    ...     return x
    >>> data_helps([g("a", 10, 0.04, 0.4), g("a", 100, 0.01, 0.1), g("b", 10, 0.02, .2), g("b", 100, .02, .2),
    ...             g("c", 10, 0.0005, 0.005), g("c", 100, 0.0001, 0.001)], "binary")
    'More data helps some adapters here: from 10 to 100 rows the gap to the known optimum shrinks for 1 of 3 (a 0.0400 -> 0.0100); flat for b; already within 1% of the optimum at 10 rows: c.'
    """
    from oocbench.fmt import fmt_num

    shrink, flat, grow, done = [], [], [], []
    for adapter in sorted({g.adapter for g in groups}):
        pts = sorted(((g.scale, g.stats.get("gap", {}).get("median"), g.stats.get("gap_rel", {}).get("median"))
                      for g in groups if g.adapter == adapter), key=lambda p: p[0])
        pts = [p for p in pts if p[1] is not None]
        if len(pts) < 2:
            continue
        (n0, a, rel0), (n1, b, _) = pts[0], pts[-1]
        item = (adapter, a, b, n0, n1)
        if rel0 is not None and rel0 <= AT_OPTIMUM:
            done.append(item)
        elif b < a - GAP_CHANGE * abs(a):
            shrink.append(item)
        elif b > a + GAP_CHANGE * abs(a):
            grow.append(item)
        else:
            flat.append(item)
    items = [*shrink, *flat, *grow, *done]
    if not items:
        return None
    lo, hi, total = min(i[3] for i in items), max(i[4] for i in items), len(items)

    def show(group: list) -> str:
        return ", ".join(f"{a} {fmt_num(x)} -> {fmt_num(y)}" for a, x, y, *_ in group)

    span = f"from {lo:,} to {hi:,} rows"
    if len(shrink) * 2 > total:
        text = (f"More data helps here: {span} the gap to the known optimum shrinks for {len(shrink)} of {total} "
                f"adapters ({show(shrink)})")
    elif shrink:
        text = (f"More data helps some adapters here: {span} the gap to the known optimum shrinks for "
                f"{len(shrink)} of {total} ({show(shrink)})")
    else:
        text = f"More data does not help here: {span} no adapter's gap to the known optimum shrinks materially"
    if flat:
        text += f"; flat for {', '.join(a for a, *_ in flat)}"
    if grow:
        text += f"; it grows for {show(grow)}"
    if done:
        text += f"; already within {AT_OPTIMUM:.0%} of the optimum at {lo:,} rows: {', '.join(a for a, *_ in done)}"
    return text + "."
