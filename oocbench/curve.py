"""What the model knows as it learns: the learning curve in rows, and the holdout loss after each pass or
boosting round.

Two instruments, both scoring the same fixed subset of the holdout (:data:`CURVE_HOLDOUT_ROWS` rows) and
timing their own scoring so the harness subtracts it from fit time:

- :func:`fit_with_curve` drives ``Adapter.fit``'s default loop (one ``partial_fit`` per batch) and scores at
  log-spaced row counts, prequentially (the next batch, before it is learnt) and on the holdout subset;
- :class:`Monitor` is handed to every adapter (``adapter.monitor``); an adapter with its own reader or
  training loop (VW's passes, Keras epochs, boosting rounds) calls ``self.checkpoint(**where)`` after each
  pass or round, and the record gets the loss it had reached and when.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: rows of the fixed holdout scored at each learning-curve checkpoint (the same rows every time)
CURVE_HOLDOUT_ROWS = 10_000
#: checkpoints per decade of training rows (log-spaced, snapped to batch boundaries)
CURVE_PER_DECADE = 4
WITHIN = 0.01  # "within 1% of the final holdout loss"


def checkpoints(rows: int, batch_size: int, per_decade: int = CURVE_PER_DECADE) -> list[int]:
    """Log-spaced row counts at which the curve is scored, snapped up to batch boundaries, ending at ``rows``.

    >>> checkpoints(100_000, 10_000)
    [10000, 20000, 40000, 60000, 100000]
    >>> checkpoints(5_000, 10_000)
    [5000]
    """
    bounds = list(range(batch_size, rows, batch_size)) + [rows]
    targets = [10 ** (k / per_decade) for k in range(0, math.ceil(math.log10(max(rows, 1)) * per_decade) + 1)]
    out = {next(b for b in bounds if b >= t) for t in targets if t <= rows}
    return sorted(out | {rows})


def loss_name(task: str) -> str:
    """The key of ``task``'s headline loss (:data:`oocbench.metrics.TASKS`): the curve's points are named by it."""
    from oocbench.metrics import get_task

    return get_task(task).loss.key


def _loss(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    from oocbench.metrics import task_metrics

    return task_metrics(task, y, pred)[loss_name(task)]


def fit_with_curve(adapter: Any, stream: Any, rows: int, hold: tuple[Any, np.ndarray], passes: int = 1,
                   monitor: Monitor | None = None) -> tuple[list[dict[str, Any]], float, float]:
    """``Adapter.fit``'s own loop (one ``partial_fit`` per batch, stream order) plus the learning curve.

    At each checkpoint of the first pass, before the next batch is learnt, the model is scored on that batch
    (prequential, test-then-train) and on a fixed holdout subset. Scoring is timed (wall and this process's CPU)
    so the caller subtracts it from fit; the last point is scored after the last batch on the holdout subset only.
    Passes after the first re-stream the same batches in the same order (no prequential score: the rows are
    seen); ``monitor`` scores the holdout subset after every pass. Returns ``(points, scoring wall s, scoring
    CPU s)`` of the curve (the monitor keeps its own).
    """
    task = adapter.task
    marks = checkpoints(rows, stream.batch_size)
    points: list[dict[str, Any]] = []
    seen, score_wall, score_cpu = 0, 0.0, 0.0
    start = time.perf_counter()

    def score(X: Any | None, y: np.ndarray | None) -> None:
        nonlocal score_wall, score_cpu
        t, c = time.perf_counter(), time.process_time()
        elapsed = t - start - score_wall - (monitor.scoring_wall if monitor else 0.0)
        point: dict[str, Any] = {"rows": seen, "fit_s": elapsed}
        if X is not None:
            point["prequential_" + loss_name(task)] = _loss(task, y, adapter.predict_batch(X))
            point["prequential_rows"] = len(y)
        point["holdout_" + loss_name(task)] = _loss(task, hold[1], adapter.predict_batch(hold[0]))
        points.append(point)
        score_wall += time.perf_counter() - t
        score_cpu += time.process_time() - c

    pending = list(marks)
    for X, y in stream:
        if pending and seen >= pending[0] and seen > 0:
            while pending and pending[0] <= seen:
                pending.pop(0)
            score(X, y)
        adapter.partial_fit(X, y)
        seen += len(y)
    score(None, None)
    if monitor:  # the curve's last point is the loss after pass 1: the same rows and model, not scored again
        end = points[-1]
        monitor.add(end["holdout_" + loss_name(task)], end["fit_s"], **{"pass": 1, "rows_seen": seen})
    for k in range(2, passes + 1):
        for X, y in stream:
            adapter.partial_fit(X, y)
            seen += len(y)
        if monitor:
            monitor.checkpoint(extra_scoring_s=score_wall, **{"pass": k, "rows_seen": seen})
    return points, score_wall, score_cpu


def within_final(points: list[dict[str, Any]], key: str, tol: float = WITHIN) -> dict[str, Any] | None:
    """The first checkpoint whose ``key`` loss is within ``tol`` (relative) of the last checkpoint's.

    >>> within_final([{"rows": 1, "fit_s": .1, "l": 2.0}, {"rows": 2, "fit_s": .2, "l": 1.005},
    ...               {"rows": 4, "fit_s": .4, "l": 1.0}], "l")
    {'rows': 2, 'fit_s': 0.2, 'loss': 1.005, 'final': 1.0, 'tolerance': 0.01, 'of': 'l'}
    """
    vals = [p for p in points if p.get(key) is not None and math.isfinite(p[key])]
    if not vals:
        return None
    final = vals[-1][key]
    for p in vals:
        if abs(p[key] - final) <= tol * abs(final):
            return {"rows": p["rows"], "fit_s": p["fit_s"], "loss": p[key], "final": final, "tolerance": tol,
                    "of": key}
    return None


def holdout_subset(stream: Any, n: int) -> tuple[Any, np.ndarray]:
    from oocbench.features import concat_batches, take_rows

    xs, ys, got = [], [], 0
    for X, y in stream.holdout():
        xs.append(X)
        ys.append(y)
        got += len(y)
        if got >= n:
            break
    return take_rows(concat_batches(xs), n), np.concatenate(ys)[:n]


class Monitor:
    """Scores an adapter on a fixed holdout subset whenever its fit says a pass or a round is done.

    ``fit_s`` of a point is the fit time up to the checkpoint, the monitor's own scoring excluded (and any other
    scoring the caller names). An adapter that knows when a pass ended better than "now" (VW writes a model
    file per pass; the time is that file's) passes ``fit_s`` itself.

    Examples
    --------
    >>> class Half:  # a model that predicts 0.5 for every row
    ...     task = "binary"
    ...     def predict_batch(self, X):
    ...         return np.full(len(X), 0.5)
    >>> m = Monitor(Half(), (np.zeros((4, 1)), np.array([0.0, 1.0, 1.0, 0.0])))
    >>> m.begin()
    >>> round(m.checkpoint(**{"pass": 1}), 4), m.points[0]["pass"]
    (0.6931, 1)
    """

    def __init__(self, adapter: Any, holdout: tuple[Any, np.ndarray]) -> None:
        self.adapter, (self.X, self.y) = adapter, holdout
        self.loss = loss_name(adapter.task)
        self.points: list[dict[str, Any]] = []
        self.scoring_wall = self.scoring_cpu = 0.0
        self.start = time.perf_counter()
        self.start_epoch = time.time()

    def begin(self) -> None:
        """Start the fit clock (just before fit)."""
        self.start, self.start_epoch = time.perf_counter(), time.time()

    def checkpoint(self, predict: Callable[[Any], np.ndarray] | None = None, *, fit_s: float | None = None,
                   extra_scoring_s: float = 0.0, **where: Any) -> float:
        """Score the holdout subset now; ``where`` names the point (``pass=k``, ``round=r``, ``rows_seen=n``).

        ``predict`` maps the subset (``self.X``, in the adapter's input format) to predictions; by default the
        adapter's own ``predict_batch``. Returns the loss.
        """
        t, c = time.perf_counter(), time.process_time()
        if fit_s is None:
            fit_s = t - self.start - self.scoring_wall - extra_scoring_s
        pred = np.asarray((predict or self.adapter.predict_batch)(self.X), dtype=np.float64).reshape(-1)
        loss = self.add(_loss(self.adapter.task, self.y, pred), fit_s, **where)
        self.scoring_wall += time.perf_counter() - t
        self.scoring_cpu += time.process_time() - c
        return loss

    def add(self, loss: float, fit_s: float, **where: Any) -> float:
        """Record a holdout-subset loss the caller already scored (same rows, same model): no second scoring."""
        self.points.append({**where, "fit_s": fit_s, "holdout_" + self.loss: loss})
        return loss

    def describe(self) -> dict[str, Any]:
        """What goes in the record (``extra.checkpoints``)."""
        units = sorted({k for p in self.points for k in ("pass", "round") if k in p})
        return {"points": self.points, "loss": self.loss, "by": units, "holdout_rows": len(self.y),
                "what": (f"holdout loss on the first {len(self.y):,} holdout rows after each "
                         f"{' / '.join(units) or 'checkpoint'}; fit_s is fit time up to that point, scoring "
                         "excluded")}
