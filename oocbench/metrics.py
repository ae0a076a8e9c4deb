"""Accuracy metrics computed from streamed predictions (the holdout is scored batch by batch)."""

from __future__ import annotations

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
    return binary_metrics(y, pred) if task == "binary" else regression_metrics(y, pred)


def constant_baseline(task: str, y_train_mean: float, y: np.ndarray) -> dict[str, float]:
    """Scores of the best constant predictor (a floor any learner must beat)."""
    return task_metrics(task, y, np.full(len(y), y_train_mean, dtype=np.float64))
