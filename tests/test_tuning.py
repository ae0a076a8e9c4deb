"""The report's "What is worth tuning" section, from real runs of a small grid of sklearn.sgd on synth-binary."""

from __future__ import annotations

import dataclasses
import html
from dataclasses import replace
from pathlib import Path

import pytest

from oocbench import metrics
from oocbench.fmt import fmt_seconds
from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseRecord, CaseSpec
from oocbench.reports.tuning import grids, tuning_section
from oocbench.reports.verdict import TIE_WITHIN

ROWS = 5000
ETA0 = (0.001, 1.0)
BATCHES = (500, 5000)


def _run(spec: CaseSpec, data_base: Path) -> CaseRecord:
    return run_case(spec, Limits(timeout_s=300), memray=False, data_base=data_base)


@pytest.fixture(scope="module")
def grid_records(data_base) -> list[CaseRecord]:
    """eta0 x batch_size (4 settings), and the default profile's case twice (the run-to-run noise)."""
    recs = [_run(CaseSpec("sklearn.sgd", "synth-binary", ROWS, batch_size=b, params=(("eta0", e),)), data_base)
            for e in ETA0 for b in BATCHES]
    recs += [_run(CaseSpec("sklearn.sgd", "synth-binary", ROWS, repeat=k), data_base) for k in (0, 1)]
    assert all(r.status == "ok" for r in recs), [r.reason for r in recs]
    return recs


def _loss(r: CaseRecord) -> float:
    return r.metrics["log_loss"]


def _eta0(r: CaseRecord) -> float | None:
    return dict(r.case.params).get("eta0")


def test_every_knob_gets_its_effect_against_the_noise(grid_records, tmp_path):
    page = tuning_section(grid_records, tmp_path)
    assert page.startswith('<h2 id="tuning">') and "sklearn.sgd on synth-binary, 5k rows, matched" in page
    # eta0's effect: the largest change of loss across its values with batch_size fixed, computed here apart
    swept = [r for r in grid_records if r.case.params]
    effect = max(abs(_loss(a) - _loss(b)) for a in swept for b in swept
                 if a.case.batch_size == b.case.batch_size and _eta0(a) != _eta0(b))
    default = [r for r in grid_records if not r.case.params]
    noise = abs(_loss(default[0]) - _loss(default[1]))
    floor = max(noise, TIE_WITHIN * min(_loss(r) for r in grid_records))  # repeats share the seed: noise is ~0
    line = next(li for li in page.split("<li>") if li.startswith("<b>eta0</b>"))
    assert f"moved log loss by up to {effect:.4g}" in line
    assert ("more than the run-to-run noise" if effect > floor else "within the run-to-run noise") in line
    assert ("worth tuning for log loss" in line) == (effect > floor)
    assert "<b>batch_size</b> (500, 5000, 10000)" in page  # the default case runs at the harness's 10,000
    assert "(default (0.1)" in html.unescape(page)  # the profile's eta0, read from the default's record


def test_best_setting_against_the_default_and_the_cost(grid_records, tmp_path):
    page = html.unescape(tuning_section(grid_records, tmp_path))
    best = min(grid_records, key=_loss)
    if best.case.params:
        assert f"batch_size={best.case.batch_size}, eta0={_eta0(best)} at {_loss(best):.4f}" in page
    else:
        assert "the default setting itself" in page
    cost = sum(r.timings.total_s for r in grid_records)
    assert f"The grid cost {fmt_seconds(cost)} over {len(grid_records)} run(s)" in page
    assert 'src="plots/tuning-01.png"' in page and (tmp_path / "plots/tuning-01.png").stat().st_size > 10_000


def test_no_repeats_no_noise_claim(grid_records, tmp_path):
    once = [r for r in grid_records if r.case.repeat == 0]
    page = tuning_section(once, tmp_path)
    assert "noise unknown" in page and "worth tuning for" not in page and "more than" not in page


def test_nothing_to_show_without_a_grid(grid_records, tmp_path):
    default = [r for r in grid_records if not r.case.params]  # one setting, repeated: not a grid
    assert tuning_section(default, tmp_path) == ""
    assert tuning_section([], tmp_path) == ""
    # the same settings at another scale are another grid's: never mixed into this one
    moved = [replace(r, case=replace(r.case, scale=ROWS * 2)) if r.case.params and r.case.batch_size == 500
             else r for r in grid_records]
    assert {g.key[2]: len(g.settings) for g in grids(moved)} == {ROWS: 3, 2 * ROWS: 2}


def test_a_failed_setting_is_listed_with_its_reason(data_base, grid_records, tmp_path):
    bad = _run(CaseSpec("sklearn.sgd", "synth-binary", ROWS, batch_size=500, params=(("eta0", -1.0),)), data_base)
    assert bad.status == "error"
    page = tuning_section([*grid_records, bad], tmp_path)
    page = html.unescape(page)
    assert "<b>eta0</b> (default (0.1), -1.0, 0.001, 1.0)" in page  # values in order, the default first
    row = next(tr for tr in page.split("<tr>") if tr.startswith("<td>batch_size=500, eta0=-1.0"))
    assert f"error: {bad.reason}" in row and "<td class=num>-</td>" in row


def test_the_loss_label_comes_from_the_task_table(grid_records, tmp_path, monkeypatch):
    renamed = dataclasses.replace(metrics.TASKS["binary"], loss=metrics.Metric("log_loss", "cross-entropy"))
    monkeypatch.setitem(metrics.TASKS, "binary", renamed)
    page = tuning_section(grid_records, tmp_path)
    assert "moved cross-entropy by up to" in page and "log loss" not in page


def test_a_speed_effect_must_clear_twice_the_noise_and_the_floor():
    """A x1.06 rows/s ratio against a 2% spread of two repeats is not an effect (single grid runs are noisier)."""
    from oocbench.reports.tuning import SPEED_FLOOR, _moved_speed

    assert not _moved_speed(1.06, 0.02) and not _moved_speed(1.0 + SPEED_FLOOR / 2, 0.0)
    assert _moved_speed(3.87, 0.02) and not _moved_speed(1.5, 0.3) and _moved_speed(1.7, 0.3)


def test_a_loss_change_inside_the_tie_margin_is_not_worth_tuning(grid_records, tmp_path):
    """Same-seed repeats give a loss spread of 0: without the tie margin any change at all was 'worth tuning'."""
    base = next(r for r in grid_records if not r.case.params)
    nudged = dataclasses.replace(base, case=replace(base.case, params=(("eta0", 0.1001),)),
                                 metrics={**base.metrics, "log_loss": _loss(base) * (1 + TIE_WITHIN / 2)})
    page = tuning_section([r for r in grid_records if not r.case.params] + [nudged], tmp_path)
    line = next(li for li in page.split("<li>") if li.startswith("<b>eta0</b>"))
    assert "within the run-to-run noise" in line and "worth tuning for log loss" not in line
