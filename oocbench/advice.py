"""The answer for a user's own data at the user's own size: from a ladder of prefix scales of their file, each
adapter's fit time, peak memory, holdout loss and cost projected to the full row count, as ranges.

Every projection is two extrapolations from the measured points, and the range between them (never one number):

- **fit time**: a line through the two largest rungs (the cost per row once a fit's set-up is paid: low for a
  learner whose time grows faster than its rows) and the power law through them (exponent clamped to
  [0.5, 2]); the top of the range is at least the largest rung's seconds per row times the rows (what a fixed
  set-up makes high). Time is this machine's: more cores are not assumed to help (a learner's threads are
  often bound by reading one stream); on fewer cores than a fit kept busy here it is that much slower at most.
- **peak memory** (process-tree peak RSS, what decides whether a fit fits in RAM): see :func:`_memory_range`
  (flat streaming learners from their peak to it grown at their own small exponent; learners that hold every
  row up to their RSS growth in fit grown at its own exponent; the rest between a power law and a line).
- **holdout loss**: the largest rung's loss is the high end (more rows of the same data do not make a model
  worse; a file whose later rows differ from its first is not covered, and the caveat says so); the low end is
  the straight line in log(rows) through the first and last rungs (a power law's slope in log rows only
  flattens, so this bounds it), and with three rungs or more, the learning curve ``a + b n^-c`` (``c`` in
  [0.25, 1.5]) fitted to them where it is higher.
- **cost**: the time range at this machine's measured core use and the memory range, at
  :data:`oocbench.cost.DEFAULT_PRICES`.

>>> r = extrapolate([(10_000, 1.0), (100_000, 4.0)], 10_000_000, 0.5, 2.0)
>>> round(r.low), round(r.high)  # the power law (k = 0.6) and the line (3 s per 90k rows)
(64, 334)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median

from oocbench.analysis import loss_of
from oocbench.cost import DEFAULT_PRICES, GIB, Prices
from oocbench.fmt import fmt_bytes, fmt_num
from oocbench.records import CaseRecord

#: memory that grew less than rows^this between the two largest rungs is flat (the analysis' FLAT_EXPONENT)
FLAT = 0.15


@dataclass(frozen=True)
class Range:
    """A projected quantity: ``low`` to ``high`` (``low`` may be ``None``: only a bound is known)."""

    low: float | None
    high: float

    @staticmethod
    def of(a: float, b: float) -> Range:
        return Range(min(a, b), max(a, b))

    def contains(self, value: float, slack: float = 0.0) -> bool:
        low = -math.inf if self.low is None else self.low * (1 - slack)
        return low <= value <= self.high * (1 + slack)

    def show(self, fmt) -> str:
        if self.low is None:
            return f"<= {fmt(self.high)}"
        a, b = fmt(self.low), fmt(self.high)
        if a == b:
            return a
        (na, _, ua), (nb, _, ub) = a.rpartition(" "), b.rpartition(" ")
        return f"{na} to {nb} {ua}" if na and ua == ub else f"{a} to {b}"  # "11.6 to 11.9 min"


def extrapolate(points: Sequence[tuple[int, float]], rows: float, k_low: float, k_high: float) -> Range:
    """``rows`` from (rows, value) points: the line and the power law through the two largest (the exponent
    clamped to [k_low, k_high]); with one point, the power laws of both bounds."""
    pts = sorted(points)
    n2, v2 = pts[-1]
    if len(pts) < 2 or v2 <= 0:
        return Range.of(v2 * (rows / n2) ** k_low, v2 * (rows / n2) ** k_high)
    n1, v1 = pts[-2]
    k = math.log(v2 / v1) / math.log(n2 / n1) if v1 > 0 else k_high
    k = min(k_high, max(k_low, k))
    slope = max((v2 - v1) / (n2 - n1), 0.0)
    return Range.of(v2 * (rows / n2) ** k, max(v2 + slope * (rows - n2), 0.0))


def fmt_seconds(s: float) -> str:
    """Seconds as s / min / h / days, 2-3 significant figures.

    >>> fmt_seconds(15.0), fmt_seconds(334.0), fmt_seconds(9000.0), fmt_seconds(3e5)
    ('15 s', '5.57 min', '2.5 h', '3.47 days')
    """
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if s >= size * (2 if unit == "days" else 1):
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


@dataclass
class Projection:
    """One adapter's figures at the full size (see the module docstring for how each is made)."""

    adapter: str
    measured: list[int]  # the rungs it finished ok
    fit_s: Range
    peak_rss: Range
    memory_flat: bool
    loss: Range | None
    cost: Range | None
    ram: str  # "fits", "may exceed", "exceeds"
    stops_near: float | None  # rows where the high end of memory reaches the RAM
    cores_used: float  # cores its fit kept busy here
    in_memory: bool
    beats_constant: bool
    failed: str = ""  # the status at the rung where it stopped, if it stopped early
    notes: list[str] = field(default_factory=list)


@dataclass
class Advice:
    rows: int
    ram_bytes: int
    cores: int
    this_cores: int
    loss_name: str
    constant_loss: float | None
    projections: list[Projection]
    largest_measured: int
    sentences: list[str]
    caveats: list[str]


def _median_by_scale(records: Iterable[CaseRecord], get) -> list[tuple[int, float]]:
    by: dict[int, list[float]] = defaultdict(list)
    for r in records:
        if (v := get(r)) is not None and v > 0:
            by[r.case.scale].append(float(v))
    return sorted((n, median(v)) for n, v in by.items())


def _loss_range(points: list[tuple[int, float]], rows: float) -> Range | None:
    """The learning curve ``a + b n^-c`` through the rungs' losses at ``rows`` (low end) and the largest rung's
    loss (high end).

    The curve's low end is held above the straight line in log(rows) through the first and last rungs: a power
    law's slope in log(rows) only flattens, so the slope averaged over the ladder bounds what lies beyond (a free
    fit on three rungs projected an rmse of 0.0 for a model at 1.99).
    """
    if not points:
        return None
    last = points[-1][1]
    if len(points) < 2:
        return Range(None, last)
    (n0, v0), (n1, v1) = points[0], points[-1]
    per_decade = max(v0 - v1, 0.0) / math.log10(n1 / n0)
    floor = v1 - per_decade * math.log10(max(rows, n1) / n1)
    if len(points) < 3:  # two rungs fix no curve: the bound alone (vw.linear beat a c = 0.5 curve at 10^7 rows)
        return Range(min(max(0.0, floor), last), last)
    fits = []
    for c in [k / 20 for k in range(5, 31)]:  # c in 0.25..1.5
        xs, ys = [n ** -c for n, _ in points], [v for _, v in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        b = max(0.0, sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx) if sxx else 0.0
        a = my - b * mx
        fits.append((sum((a + b * x - y) ** 2 for x, y in zip(xs, ys)), a, b, c))
    _, a, b, c = min(fits)
    return Range(min(max(0.0, floor, a + b * rows ** -c), last), last)


def _memory_range(points: list[tuple[int, float]], growth: list[tuple[int, float]], baseline: float, rows: float,
                  in_memory: bool) -> tuple[bool, Range]:
    """(flat, peak RSS at ``rows``) from the rungs' peaks, RSS growths in fit and the largest rung's baseline.

    A streaming learner whose peak grew less than rows^:data:`FLAT` over at least a decade of rungs is flat: from
    its largest rung's peak to that peak grown at its own measured exponent (streaming learners' peaks crept up
    5-10% over the two decades past a 10^4..10^5 ladder). A learner that holds every row never is: from the power
    law through its peaks (its imports hide its rows at small rungs) to the larger of the line through them and
    the baseline plus its RSS growth in fit at the growth's own exponent (LightGBM's grew 13x over 100x the
    rows). Any other: between the power law (exponent in [0, 1]) and the line through the two largest rungs.
    """
    if not points:
        return False, Range(None, math.inf)
    n2, m2 = points[-1]
    below = [(n, m) for n, m in points if n * 10 <= n2]
    if not in_memory and below:
        n0, m0 = below[-1]
        k = math.log(m2 / m0) / math.log(n2 / n0)
        if k <= FLAT:
            return True, Range(m2, m2 * (rows / n2) ** max(k, 0.0))
    trend = extrapolate(points, rows, 0.0, 1.0)
    if in_memory and len(points) >= 2 and growth:
        grown = baseline + extrapolate(growth, rows, 0.0, 1.0).low  # the growth's power law (or line if lower)
        return False, Range(trend.low, max(trend.high, grown))
    return False, trend


def _stops_near(points: list[tuple[int, float]], ram_bytes: int) -> float | None:
    """Rows at which peak memory reaches ``ram_bytes``, along the power law through the two largest rungs (the
    sooner of it and the line); ``None`` with one rung."""
    if len(points) < 2:
        return None
    (n1, m1), (n2, m2) = points[-2:]
    if ram_bytes <= m2:
        return float(n2)
    k = math.log(m2 / m1) / math.log(n2 / n1) if m2 > m1 else 0.0
    slope = (m2 - m1) / (n2 - n1)
    at = [n2 * (ram_bytes / m2) ** (1 / k)] if k > 0 else []
    at += [n2 + (ram_bytes - m2) / slope] if slope > 0 else []
    return min(at) if at else None


def project(records: Iterable[CaseRecord], rows: int, ram_bytes: int, cores: int, this_cores: int,
            prices: Prices = DEFAULT_PRICES, candidates: Sequence[str] = ()) -> list[Projection]:
    """Each adapter's :class:`Projection` to ``rows`` rows from its ladder records (a candidate without any:
    a row that says it did not run)."""
    by: dict[str, list[CaseRecord]] = defaultdict(list)
    for r in records:
        by[r.case.adapter].append(r)
    out = []
    for adapter in sorted(set(by) | set(candidates)):
        recs = by.get(adapter, [])
        ok = [r for r in recs if r.status == "ok" and r.timings.fit_s]
        if not ok:
            worst = max(recs, key=lambda r: r.case.scale) if recs else None
            why = (f"{worst.status} at {worst.case.scale:,} rows: {worst.reason[:120]}" if worst
                   else "not run: the ladder's time was up")
            out.append(Projection(adapter, [], Range(None, math.inf), Range(None, math.inf), False, None, None,
                                  "unknown", None, 0.0, False, False, failed=why))
            continue
        measured = sorted({r.case.scale for r in ok})
        top = max(ok, key=lambda r: r.case.scale)
        time_pts = _median_by_scale(ok, lambda r: r.timings.fit_s)
        fit = extrapolate(time_pts, rows, 0.5, 2.0)
        n2, t2 = time_pts[-1]
        fit = Range(fit.low, max(fit.high, t2 * rows / n2))
        here = fit  # on this machine's cores: the core-hours of the cost
        used = median((r.timings.fit_cpu_s or r.timings.fit_s) / r.timings.fit_s for r in ok if r.case.scale == n2)
        # more cores are not assumed to help (a learner's threads are often bound by reading one stream: VW's
        # parser, TensorFlow's input pipeline); the table says how many cores each kept busy here
        if cores < used:  # fewer cores than it kept busy here: that much slower at most
            fit = Range(fit.low, fit.high * used / cores)
        failed = [r for r in recs if r.status != "ok" and r.case.scale > n2]
        if failed and failed[0].status == "timeout" and failed[0].case.scale <= rows:  # it took longer than that
            floor = max(fit.low or 0.0, failed[0].provenance.get("limits", {}).get("timeout_s") or 0.0)
            fit = Range(floor, max(fit.high, floor))
        in_memory = bool(top.adapter_info.get("in_memory") or top.adapter_info.get("reference"))
        mem_pts = _median_by_scale(ok, lambda r: r.memory.rss_peak_bytes)
        flat, mem = _memory_range(mem_pts, _median_by_scale(ok, lambda r: r.memory.rss_fit_bytes),
                                  top.memory.rss_baseline_bytes or 0.0, rows, in_memory)
        ram = ("fits" if mem.high <= ram_bytes else "exceeds" if mem.low is not None and mem.low > ram_bytes
               else "may exceed")
        stops = _stops_near(mem_pts, ram_bytes) if ram != "fits" else None
        if failed and failed[0].status == "oom" and failed[0].case.scale <= rows:  # it ran out of memory already
            ram, stops = "exceeds", float(min(stops or math.inf, failed[0].case.scale))
        loss_pts = _median_by_scale(ok, lambda r: loss_of(r)[1])
        loss = _loss_range(loss_pts, rows)
        constant = top.baseline.get(loss_of(top)[0])
        beats = bool(loss_pts and constant is not None and loss_pts[-1][1] < constant)
        cost = None
        if math.isfinite(mem.high):  # dollars: core-hours as here (cores busy x its time here) + GiB-hours
            cost = Range.of(*(used * t_here / 3600 * prices.core_hour + m / GIB * t / 3600 * prices.gb_hour
                              for t_here, t, m in ((here.low or here.high, fit.low or fit.high, mem.low or mem.high),
                                                   (here.high, fit.high, mem.high))))
        p = Projection(adapter, measured, fit, mem, flat, loss, cost, ram, stops, used, in_memory, beats)
        if failed:
            p.failed = f"{failed[0].status} at {failed[0].case.scale:,} rows"
        out.append(p)
    return out


def advise(records: list[CaseRecord], rows: int, ram_bytes: int, cores: int, this_cores: int,
           prices: Prices = DEFAULT_PRICES, candidates: Sequence[str] = ()) -> Advice:
    """The projections and the recommendation, in one or two sentences with the trade-off, and the caveats."""
    projections = project(records, rows, ram_bytes, cores, this_cores, prices, candidates)
    ok = [r for r in records if r.status == "ok"]
    name = loss_of(ok[0])[0] if ok else "loss"
    largest = max((r.case.scale for r in ok), default=0)
    constant = next((r.baseline.get(name) for r in sorted(ok, key=lambda r: -r.case.scale)
                     if r.baseline.get(name) is not None), None)
    where = f"{rows:,} rows on {cores} core(s) with {fmt_bytes(ram_bytes)} of RAM"
    sentences: list[str] = []
    # an adapter that failed a rung (timeout, oom, crash) is no recommendation: its table row says what happened
    usable = [p for p in projections if p.measured and p.beats_constant and p.ram != "exceeds" and p.loss
              and not p.failed]
    if not usable:
        sentences.append(f"No adapter both beat the constant predictor and is projected to fit {where}: "
                         "see the table for why each one is out.")
    else:
        best = min(usable, key=lambda p: (p.loss.high, p.fit_s.high))
        fast = min(usable, key=lambda p: p.fit_s.high)
        sentences.append(f"For {where}: {best.adapter} projects the lowest {name} ({best.loss.show(fmt_num)}) in "
                         f"{best.fit_s.show(fmt_seconds)}, peak RSS {best.peak_rss.show(fmt_bytes)}"
                         + (" (may exceed the RAM)" if best.ram == "may exceed" else "") + ".")
        if fast is not best and fast.fit_s.high < best.fit_s.high:
            gap = (fast.loss.high / best.loss.high - 1) * 100
            sentences.append(f"The trade-off: {fast.adapter} is {best.fit_s.high / fast.fit_s.high:.2g}x faster "
                             f"({fast.fit_s.show(fmt_seconds)}) at a {gap:.1f}% higher {name} "
                             f"({fast.loss.show(fmt_num)}).")
    out = [p for p in projections if p.measured and p.ram == "exceeds"]
    if out:
        sentences.append("Projected not to fit in RAM: " + ", ".join(
            f"{p.adapter} ({p.peak_rss.show(fmt_bytes)}" + (f"; stops near {p.stops_near:,.0f} rows"
                                                           if p.stops_near and math.isfinite(p.stops_near) else "")
            + ")" for p in out) + ".")
    decades = math.log10(rows / largest) if largest else 0
    caveats = [f"Measured on prefixes of the file up to {largest:,} rows; the ranges reach {decades:.1f} "
               "decade(s) beyond and widen with that distance.",
               "The prefixes stand for the whole file: a file sorted by time, user or label has later rows unlike "
               "its first, which no projection from prefixes covers (shuffle it first, or check a later slice).",
               f"Fit time is this machine's ({this_cores} core(s)): more cores are not assumed to make a fit faster "
               "(the table says how many each kept busy here: one that kept all busy may gain on a larger "
               "machine); fewer cores than it used make it slower by that ratio at most.",
               f"Cost at {prices.source.split(',')[0]} prices (core-hour ${prices.core_hour}, GB-hour "
               f"${prices.gb_hour}), at the cores each fit kept busy here and its peak RSS held for the whole fit "
               "(high for a learner that holds every row, whose memory reaches its peak at the end)."]
    return Advice(rows, ram_bytes, cores, this_cores, name, constant, projections, largest, sentences, caveats)
