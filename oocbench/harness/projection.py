"""How long a case will take at more rows, from what the same case cost at fewer: one rule for the suite's time
budget (:func:`oocbench.harness.suites.over_budget`) and the progress line's ETA (:mod:`oocbench.harness.eta`).

A case's wall time splits into a part that is fixed (the child process's start and imports, scoring the
fixed-size holdout and the learning curve's subset, the memray run's own start) and a part that touches the
rows (fit, prepare, reading; the memray run's fit). The part that touches the rows is itself partly fixed at
the scales a suite runs (a fit's set-up, TensorFlow's first-batch tracing: tf.mlp's fit took 1.2, 3.6 and
23.6 s at 10^5, 10^6 and 10^7 synth-nonlinear rows), so scaling it linearly from one scale projected tf.mlp at
10^6 synth-ctr rows to 153 s, 3x its real time, and skipped the most accurate model there (issue 25). Past the
largest measured scale, the growing part follows

- a line through the two largest scales measured, where there are two (its slope is the cost per row once the
  set-up is paid);
- with one scale, the growth ``rows^k`` the same case showed between two scales of another dataset, ``k``
  clamped to [0.5, 1] (no case got cheaper per row, none grew slower than a square root here);
- with nothing else, linear in rows (the old rule: too high, never too low, for a streaming learner).

>>> round(grown(1_000_000, [(100_000, 10.0, 14.0)]))  # one scale: linear, 10 + 4 x 10
50
>>> round(grown(1_000_000, [(10_000, 10.0, 11.0), (100_000, 10.0, 14.0)]))  # a line: 3 s per 90k rows
44
>>> round(grown(1_000_000, [(100_000, 10.0, 14.0)], exponent=0.5))  # 4 s x 10^0.5
23
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from oocbench.records import CaseRecord

#: the bounds of a growth exponent taken from another dataset
EXPONENT_RANGE = (0.5, 1.0)


def case_wall_s(record: CaseRecord, memray: bool | None = None) -> tuple[float, float] | None:
    """(fixed, total) wall seconds of a finished case, all its runs (timed, then memray); ``None`` when not known.

    What grows with the rows is what touches them: fit, prepare and the features pass of the timed run, and the
    memray run's fit. The rest is taken as fixed: the child processes' start and imports, scoring on the
    fixed-size holdout, the learning curve's scoring (on a fixed-size subset), and the memray run's own start.
    (Projecting the whole wall time skipped tf.mlp at 10^5 synth-ctr rows, "108 s from 17 s at 10k", when its fit
    took 1.0 s of those 17.) ``memray=False`` counts the timed run alone: what a case that will run without the
    memray run (a suite's ``memray_scales``) costs.
    """
    t = record.timings
    if t.total_s is None:
        return None
    with_memray = t.memray_total_s is not None and memray is not False
    total = t.total_s + (t.child_start_s or 0.0) + ((t.memray_total_s or 0.0) + (t.child_start_s or 0.0)
                                                     if with_memray else 0.0)
    grows = sum(v or 0.0 for v in (t.fit_s, t.prepare_s, t.features_s, t.memray_fit_s if with_memray else None))
    return max(0.0, total - grows), total


def grown(scale: int, points: Sequence[tuple[int, float, float]], exponent: float | None = None) -> float:
    """Seconds at ``scale`` rows from ``points`` = (rows, fixed s, total s) of the same case at other scales.

    At or below the largest measured scale: its fixed seconds plus its growing seconds per row. Past it: a line
    through the growing seconds of the two largest scales (where its slope is positive), else
    ``growing x (scale / largest) ** exponent`` (``exponent``: from another dataset, :func:`growth_exponent`),
    else linear in rows. The fixed seconds are the largest scale's.
    """
    pts = sorted(points)
    n2, fixed, total = pts[-1]
    g2 = total - fixed
    if scale <= n2:
        return fixed + g2 * scale / max(n2, 1)
    if len(pts) >= 2:
        n1, f1, t1 = pts[-2]
        if n1 < n2 and (slope := (g2 - (t1 - f1)) / (n2 - n1)) > 0:
            return fixed + g2 + slope * (scale - n2)
    if exponent is not None:
        return fixed + g2 * (scale / n2) ** exponent
    return fixed + g2 * scale / max(n2, 1)


def growth_exponent(series: Iterable[Sequence[tuple[int, float]]]) -> float | None:
    """``k`` in growing seconds ~ rows^k from the first series (rows, growing s) with two scales: the two largest,
    clamped to :data:`EXPONENT_RANGE`; ``None`` where no series has two."""
    lo, hi = EXPONENT_RANGE
    for s in series:
        by = dict(s)
        if len(by) >= 2:
            (n1, g1), (n2, g2) = sorted(by.items())[-2:]
            if g1 > 0 and g2 > 0:
                return min(hi, max(lo, math.log(g2 / g1) / math.log(n2 / n1)))
    return None
