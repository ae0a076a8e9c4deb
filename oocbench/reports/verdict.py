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
