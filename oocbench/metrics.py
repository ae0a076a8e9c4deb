"""Accuracy metrics computed from streamed predictions, and the one table of tasks.

:data:`TASKS` says, per task, the headline loss (what "best", "gap to the optimum" and "learned" mean), its
label, the secondary metrics and the scorer. The CLI summary, the harness, analysis, the report, the asv
``track_`` benchmarks and the tests read it: adding a metric is one edit here.

>>> TASKS["binary"].loss.key, TASKS["regression"].loss.label
('log_loss', 'RMSE')
>>> headline("binary", {"log_loss": 0.3, "accuracy": 0.9})
0.3
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

EPS = 1e-15


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Log loss, ROC AUC and accuracy of probabilities ``p`` for labels ``y`` in {0, 1}."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    out = {
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))),
        "accuracy": float(np.mean((p >= 0.5) == (y >= 0.5))),
    }
    out["roc_auc"] = float(skm.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    err = pred - y
    var = float(np.var(y))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": float(1 - np.mean(err**2) / var) if var > 0 else float("nan"),
    }


def task_metrics(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Every metric of ``task`` (see :data:`TASKS`) for predictions ``pred`` of labels ``y``."""
    return TASKS[task].scorer(y, pred)


def constant_baseline(task: str, y_train_mean: float, y: np.ndarray) -> dict[str, float]:
    """Scores of the best constant predictor (a floor any learner must beat)."""
    return task_metrics(task, y, np.full(len(y), y_train_mean, dtype=np.float64))


@dataclass(frozen=True)
class Metric:
    """One figure a scorer returns: its key in ``record.metrics``, its label, and which way is better."""

    key: str
    label: str
    lower_is_better: bool = True


@dataclass(frozen=True)
class Task:
    """A learning task: its headline loss (lower is better), secondary metrics and scorer ``(y, pred) -> dict``."""

    name: str
    loss: Metric
    secondary: tuple[Metric, ...]
    scorer: Callable[[np.ndarray, np.ndarray], dict[str, float]]

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (self.loss, *self.secondary)


TASKS: dict[str, Task] = {
    "binary": Task("binary", Metric("log_loss", "log loss"),
                   (Metric("roc_auc", "ROC AUC", lower_is_better=False),
                    Metric("accuracy", "accuracy", lower_is_better=False)), binary_metrics),
    "regression": Task("regression", Metric("rmse", "RMSE"),
                       (Metric("r2", "R²", lower_is_better=False), Metric("mae", "MAE")), regression_metrics),
}


def task_of_metrics(metrics: Mapping[str, float]) -> str:
    """The task whose headline loss ``metrics`` holds (for records that do not name their task); ``""`` if none."""
    return next((name for name, t in TASKS.items() if t.loss.key in metrics), "")


def get_task(task: str) -> Task:
    """The :class:`Task` called ``task``; ``binary`` for an unknown or empty name (old or failed records)."""
    return TASKS.get(task) or TASKS["binary"]


def headline(task: str, metrics: Mapping[str, float]) -> float | None:
    """The task's headline loss in ``metrics``; ``None`` if absent or NaN."""
    value = metrics.get(get_task(task).loss.key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
