"""The verdict per dataset and scale, computed from the summaries (never written by hand).

Rules (stated in the report next to the verdict):

- **fastest**: highest median rows/s in fit;
- **leanest**: lowest median fit memory (the larger of RSS growth during fit and memray's heap peak,
  :func:`oocbench.analysis.fit_memory`);
- **most accurate**: lowest median log loss (binary) or RMSE (regression) on the holdout;
- **best trade-off**: the fastest of the adapters whose median loss is within :data:`TRADE_OFF_TOLERANCE`
  (relative) of the most accurate one's - always a point of the time/loss Pareto front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from oocbench.reports.model import CaseGroup

TRADE_OFF_TOLERANCE = 0.01


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
class Verdict:
    """The winners at one (dataset, profile, threads, scale); ``None`` where no adapter has the figure."""

    scale: int
    fastest: CaseGroup | None = None
    leanest: CaseGroup | None = None
    most_accurate: CaseGroup | None = None
    trade_off: CaseGroup | None = None
    failed: list[CaseGroup] = field(default_factory=list)
    compared: int = 0


def _best(groups: list[CaseGroup], name: str, highest: bool = False) -> CaseGroup | None:
    have = [g for g in groups if g.median(name) is not None]
    if not have:
        return None
    # ties go to the first adapter in name order, so the verdict is deterministic
    ordered = sorted(have, key=lambda g: g.adapter)
    return (max if highest else min)(ordered, key=lambda g: g.median(name))


def verdicts(groups: list[CaseGroup]) -> list[Verdict]:
    """One :class:`Verdict` per scale among ``groups`` (all from one dataset / profile / thread mode)."""
    out = []
    for scale in sorted({g.scale for g in groups}):
        at = [g for g in groups if g.scale == scale]
        ok = [g for g in at if g.ok]
        v = Verdict(scale, failed=[g for g in at if not g.ok], compared=len(ok))
        v.fastest = _best(ok, "rows_per_s", highest=True)
        v.leanest = _best(ok, "fit_memory")
        v.most_accurate = _best(ok, "loss")
        if v.most_accurate is not None:
            best = v.most_accurate.median("loss")
            close = [g for g in ok if g.median("loss") is not None
                     and g.median("loss") <= best + abs(best) * TRADE_OFF_TOLERANCE]
            v.trade_off = _best(close, "rows_per_s", highest=True) or v.most_accurate
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
