"""The task table (oocbench.metrics.TASKS) is the one place that says what a task's headline loss is."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

from oocbench import metrics
from oocbench.records import CaseRecord, CaseSpec, Timings


def _brier_task() -> metrics.Task:
    def scorer(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
        return {**metrics.binary_metrics(y, p), "brier": float(np.mean((np.asarray(p) - y) ** 2))}

    return dataclasses.replace(metrics.TASKS["binary"], loss=metrics.Metric("brier", "Brier score"), scorer=scorer)


def test_a_new_headline_metric_is_one_edit(monkeypatch):
    """Swap binary's headline for a new metric in the table only: every reader follows."""
    from oocbench.analysis import loss_of
    from oocbench.cli import summary_line
    from oocbench.curve import loss_name
    from oocbench.reports.model import gap, loss

    monkeypatch.setitem(metrics.TASKS, "binary", _brier_task())
    y, p = np.array([0.0, 1.0, 1.0]), np.array([0.2, 0.7, 0.9])
    scores = metrics.task_metrics("binary", y, p)
    assert scores["brier"] == pytest.approx((0.04 + 0.09 + 0.01) / 3)
    rec = CaseRecord(case=CaseSpec("sklearn.sgd", "synth-binary", 1000), status="ok", task="binary",
                     metrics=scores, optimum={"brier": 0.01}, rows=1000, rows_per_s=1e5,
                     timings=Timings(fit_s=0.01))
    assert loss_of(rec) == ("brier", scores["brier"])
    assert loss(rec) == pytest.approx(scores["brier"])
    assert gap(rec) == pytest.approx(scores["brier"] - 0.01)
    assert loss_name("binary") == "brier"
    assert "Brier score 0.0467" in summary_line(rec)


def test_asv_tracks_every_metric_of_the_table():
    from benchmarks import cases

    keys = {m.key for t in metrics.TASKS.values() for m in t.metrics}
    assert keys >= {"log_loss", "roc_auc", "rmse", "r2"}
    for k in keys:
        assert getattr(cases._CaseTracks, f"track_{k}").unit


def test_the_headline_choice_is_written_in_one_module():
    root = Path(__file__).resolve().parents[1] / "oocbench"
    out = subprocess.run(["grep", "-rlE", r"""["']log_loss["'] if|["']rmse["'] if|else ["']rmse["']""", str(root)],
                         capture_output=True, text=True).stdout.split()
    assert out == [], f"the headline loss is chosen outside oocbench/metrics.py: {out}"
