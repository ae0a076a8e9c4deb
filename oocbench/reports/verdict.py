"""The verdict per dataset and scale, computed from the summaries (never written by hand).

Every adapter that **learned** is ranked: at that scale, a median holdout loss (the task's headline loss,
:func:`oocbench.metrics.get_task`) below the constant predictor's (``record.baseline``). Loss is shown beside
every winner, not used as a gate: the fastest adapter may be a worse model, and the reader sees by how much. The
others ("learned nothing") are listed with their loss. Among those that learned:

- **fastest**: highest median rows/s in fit;
- **leanest**: lowest median fit memory (the larger of RSS growth during fit and memray's heap peak,
  :func:`oocbench.analysis.fit_memory`);
- **most accurate**: lowest median loss;
- **cheapest**: lowest median price of learning from 10^9 rows (:func:`oocbench.cost.cost_of_rows`, at the
  report's prices). The adapters that hold every row in RAM have no price (their memory grows with the rows)
  and are never cheapest;
- **the Pareto front** of loss against fit time: the adapters no other one beats on both (the trade-off a
  reader chooses along; a winner of one column off the front is a fast way to a clearly worse model).

A win is a **tie** with every adapter whose min-max range over repeats overlaps the winner's, or whose median is
within :data:`TIE_WITHIN` of it (a single run's range is its value: nothing says its win would survive a rerun).

Why no accuracy gate: an earlier verdict ranked only the adapters within 1% of the best loss, and when a single
adapter qualified it won every column - "fastest: 523 rows/s" beside streaming learners at 10^6 rows/s that were
4% worse. Which loss is worth which speed is the reader's call; the verdict shows both numbers and the front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from oocbench.reports.model import FAILED, CaseGroup

#: a smaller scale's best loss counts as clearly better than this scale's when lower by more than this fraction
#: (said beside "most accurate": the adapters that reached it did not run here)
BETTER_BY = 0.01
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
    learned: list[CaseGroup] = field(default_factory=list)  # better than the constant: the columns rank these
    front: list[CaseGroup] = field(default_factory=list)  # of learned: Pareto-optimal in (fit time, loss)
    not_converged: list[CaseGroup] = field(default_factory=list)  # ran, no better than the constant predictor
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

    def loss_gap(self, g: CaseGroup) -> float | None:
        """``g``'s median loss relative to the best here (0.04: 4% worse); ``None`` where either is missing."""
        loss = g.median("loss")
        if loss is None or self.best_loss is None or self.best_loss == 0:
            return None
        return (loss - self.best_loss) / abs(self.best_loss)


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
            v.learned = candidates
            timed = [g for g in candidates if g.median("fit_s")]
            v.front = sorted((timed[i] for i in pareto_front([(g.median("fit_s"), g.median("loss")) for g in timed])),
                             key=lambda g: g.median("fit_s"))
        v.not_converged = sorted((g for g in ok if all(g is not x for x in v.learned)),
                                 key=lambda g: (g.median("loss") is None, g.median("loss") or 0.0, g.label()))
        v.fastest = _win(v.learned, "rows_per_s", highest=True)
        v.leanest = _win(v.learned, "fit_memory")
        v.most_accurate = _win(v.learned, "loss")
        v.cheapest = _win(v.learned, "cost_1e9")
        if best_so_far is not None and (v.best_loss is None or v.best_loss > best_so_far[0] + abs(best_so_far[0]) * BETTER_BY):
            v.better_before = best_so_far
        if v.most_accurate is not None and (best_so_far is None or v.best_loss < best_so_far[0]):
            best_so_far = (v.best_loss, scale, v.most_accurate.winner.label())
        out.append(v)
    return out


def _times(a: float, b: float) -> str:
    """How many times ``a`` is ``b``: "3.2x", "12x"."""
    r = a / b
    return f"{r:.1f}x" if r < 10 else f"{r:,.0f}x"


#: an advantage smaller than this (1.2x faster, 1.2x less memory) is not offered as a trade in the answer
#: sentence: "1.0x faster for 8.8% more loss" is no trade, and medians of two repeats move by ~10%
TRADE_AT_LEAST = 1.2


def out_of_core_differs(ooc: Verdict | None, every: Verdict | None) -> bool:
    """Whether the out-of-core verdict ``ooc`` says something ``every`` (all adapters) does not: it names a winner
    where ``every`` has none, or another most accurate, fastest or leanest adapter. The one rule for adding the
    out-of-core sentence, on the first screen and in every section."""
    if ooc is None or ooc.most_accurate is None:
        return False
    if every is None or every.most_accurate is None or ooc.scale != every.scale:
        return True

    def winners(v: Verdict) -> tuple:
        return tuple(w.winner.label() if w else None for w in (v.most_accurate, v.fastest, v.leanest))

    return winners(ooc) != winners(every)


def answer_sentence(v: Verdict, loss_label: str, out_of_core: bool = False) -> str | None:
    """One sentence a reader can act on, every number from ``v``: the most accurate adapter with its loss, speed
    and fit memory, then what the fastest and the leanest (when others) trade for it. ``None`` when nothing
    learned.

    >>> from oocbench.reports.model import CaseGroup
    >>> def g(a, loss, rate, mem):
    ...     x = CaseGroup(a, "d", 10**6, "matched", "1", (), [])
    ...     x.stats = {k: {"median": m, "min": m, "max": m, "n": 1} for k, m in
    ...                (("loss", loss), ("rows_per_s", rate), ("fit_memory", mem), ("fit_s", 1e6 / rate))}
    ...     return x
    >>> v = Verdict(10**6, best_loss=0.125)
    >>> vw = g("vw", 0.130, 6e5, 2**23)
    >>> v.most_accurate = Win("loss", g("xgb", 0.125, 2e4, 2**28))
    >>> v.fastest, v.leanest = Win("rows_per_s", vw), Win("fit_memory", vw)
    >>> answer_sentence(v, "log loss", out_of_core=True)
    'At 1M rows, out of core: xgb reaches the best log loss (0.1250) at 20k rows/s with 256 MiB of fit memory; vw is 30x faster and needs 32x less fit memory for 4.0% more log loss.'
    """
    from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate, fmt_rows

    if v.most_accurate is None:
        return None
    best = v.most_accurate.winner
    rate, mem = best.median("rows_per_s"), best.median("fit_memory")
    where = f"At {fmt_rows(v.scale)} rows" + (", out of core" if out_of_core else "")
    text = f"{where}: {best.label()} reaches the best {loss_label} ({fmt_num(best.median('loss'))})"
    if rate:
        text += f" at {fmt_rate(rate)}"
    if mem:
        text += f" with {fmt_bytes(mem)} of fit memory"
    trades = []
    fast = v.fastest.winner if v.fastest else None
    lean = v.leanest.winner if v.leanest else None
    others = [x for x in (fast, lean) if x is not None and x is not best]
    for other in [x for i, x in enumerate(others) if all(x is not y for y in others[:i])]:  # fast may be lean
        gap = v.loss_gap(other)
        what = []
        if other is fast and rate and other.median("rows_per_s") and other.median("rows_per_s") >= TRADE_AT_LEAST * rate:
            what.append(f"is {_times(other.median('rows_per_s'), rate)} faster")
        if other is lean and mem and other.median("fit_memory") and mem >= TRADE_AT_LEAST * other.median("fit_memory"):
            what.append(f"needs {_times(mem, other.median('fit_memory'))} less fit memory")
        if what and gap is not None:
            cost = (f"for the same {loss_label} (within {TIE_WITHIN:.1%})" if gap <= TIE_WITHIN
                    else f"for {gap:.1%} more {loss_label}")
            trades.append(f"{other.label()} {' and '.join(what)} {cost}")
    return text + ("; " + "; ".join(trades) if trades else "") + "."


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
