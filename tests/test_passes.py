"""More than one pass: the case identity, the command line, the harness's re-streaming and its records.

Real cases in real child processes on tiny data; the adapters' own multi-pass modes (VW's cache, Keras epochs,
dask-ml) are tested with each adapter.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from oocbench.curve import Monitor, fit_with_curve, holdout_subset
from oocbench.features import BatchStream
from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseSpec
from oocbench.reports.model import case_groups
from tests.conftest import oocbench_cli


def test_passes_is_part_of_the_identity_and_old_keys_stay_valid():
    # keys written before `passes` existed (computed with the previous CaseSpec): records made then still match
    assert CaseSpec("sklearn.sgd", "synth-binary", 10_000).key() == "cb0a5ecec5b14c41"
    assert CaseSpec("vw.linear", "synth-ctr", 100_000, hash_bits=20, repeat=2).key() == "405f122f76d0f9b4"
    one, three = CaseSpec("sklearn.sgd", "synth-binary", 10_000), CaseSpec("sklearn.sgd", "synth-binary", 10_000,
                                                                           passes=3)
    assert one.key() != three.key() and "passes=3" in three.label() and "passes" not in one.label()
    assert three.setting() == "3 passes" and one.setting() == ""


def test_harness_re_streams_and_scores_after_every_pass(tiny):
    """The default fit loop, three passes: the monitor's points, the learning curve of pass 1, the time."""
    from oocbench.adapters.sklearn import SGD

    data = tiny("synth-binary", 4000)
    stream = BatchStream(data, 4000, 1000)
    adapter = SGD("binary", stream.n_features, passes=3)
    hold = holdout_subset(stream, 1000)
    monitor = adapter.monitor = Monitor(adapter, hold)
    monitor.begin()
    points, _, _ = fit_with_curve(adapter, stream, 4000, hold, passes=3, monitor=monitor)
    got = monitor.points
    assert [p["pass"] for p in got] == [1, 2, 3] and [p["rows_seen"] for p in got] == [4000, 8000, 12000]
    assert all(a["fit_s"] < b["fit_s"] for a, b in zip(got, got[1:]))
    assert points[-1]["rows"] == 4000  # the prequential curve covers the first pass only
    # sklearn counts every row it learnt from: three passes really happened
    assert adapter.model.t_ == pytest.approx(12_000 + 1)
    adapter.close()


def test_one_pass_adapter_is_skipped_at_more_passes_with_its_reason(tiny, data_base):
    tiny("synth-binary", 2000)
    rec = run_case(CaseSpec("sklearn.batch", "synth-binary", 2000, passes=2), Limits(timeout_s=120), memray=False,
                   data_base=data_base)
    assert rec.status == "skipped" and "one pass only" in rec.reason


@pytest.mark.slow
def test_passes_end_to_end_records_and_reports_them_apart(tmp_path):
    """`oocbench run --passes 1,3`: two records, the loss after each pass, never pooled into one median."""
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "6000",
                       "--batch-size", "2000", "--passes", "1,3", "--no-memray", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    from oocbench.records import read_records

    recs = read_records(tmp_path / "results" / "records.jsonl")
    assert sorted(r.case.passes for r in recs) == [1, 3] and all(r.status == "ok" for r in recs)
    three = next(r for r in recs if r.case.passes == 3)
    pts = three.extra["checkpoints"]["points"]
    assert [p["pass"] for p in pts] == [1, 2, 3] and three.extra["checkpoints"]["by"] == ["pass"]
    assert pts[-1]["fit_s"] <= three.timings.fit_s  # the last pass ends inside the fit it is part of
    assert pts[-1]["holdout_log_loss"] <= pts[0]["holdout_log_loss"] + 1e-3
    assert three.extra["passes"]["how"].startswith("the harness re-streams")
    assert three.memory.rss_anon_fit_bytes is not None and three.memory.rss_anon_covers
    groups = case_groups(recs)
    assert len(groups) == 2 and {g.setting for g in groups} == {"batch 2,000", "3 passes, batch 2,000"}
    # the rerun keeps both
    again = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "6000",
                         "--batch-size", "2000", "--passes", "1,3", "--no-memray", cwd=tmp_path)
    assert again.returncode == 0 and "2 already recorded" in again.stdout


@pytest.mark.parametrize("bad", ["0", "-1", "101", "x", "2.5", "1,,0"])
def test_passes_out_of_range_exit_2(tmp_path, bad):
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
                       f"--passes={bad}", cwd=tmp_path)
    assert out.returncode == 2 and "passes" in out.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_suite_takes_the_command_lines_settings(tmp_path):
    """--batch-size, --seed, --passes with --suite replace the suite's settings (they were dropped silently)."""
    out = oocbench_cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd", "--scale", "1500", "--batch-size",
                       "500", "--seed", "3", "--passes", "2", "--no-memray", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "results" / "records.jsonl").read_text().splitlines()[0])
    assert (rec["case"]["batch_size"], rec["case"]["seed"], rec["case"]["passes"]) == (500, 3, 2)
    assert len(rec["extra"]["checkpoints"]["points"]) == 2
    empty = oocbench_cli("run", "--suite", "smoke", "--adapter", "", cwd=tmp_path)
    assert empty.returncode == 2 and "names nothing" in empty.stderr


def test_monitor_excludes_its_own_scoring_time():
    class Slow:
        task = "binary"

        def predict_batch(self, X):
            import time

            time.sleep(0.05)
            return np.full(len(X), 0.5)

    m = Monitor(Slow(), (np.zeros((10, 1)), np.ones(10)))
    m.begin()
    for k in range(1, 4):
        m.checkpoint(**{"pass": k})
    assert m.scoring_wall >= 0.15
    assert m.points[-1]["fit_s"] < 0.05  # three 50 ms scorings happened before it, none of them counted


def test_report_draws_loss_after_each_pass_and_time_to_target(tmp_path, tiny, data_base):
    """Real 3-pass records of two adapters: their own section, the pass-by-pass figure, who reached the target."""
    from oocbench.reports import build_report

    tiny("synth-binary", 4000)
    recs = [run_case(CaseSpec(a, "synth-binary", 4000, batch_size=1000, passes=3), Limits(timeout_s=120),
                     memray=False, data_base=data_base) for a in ("sklearn.sgd", "sklearn.passive-aggressive")]
    recs.append(run_case(CaseSpec("sklearn.sgd", "synth-binary", 4000, batch_size=1000), Limits(timeout_s=120),
                         memray=False, data_base=data_base))
    assert all(r.status == "ok" for r in recs), [r.reason for r in recs]
    index = build_report(recs, tmp_path / "report")
    html = index.read_text()
    assert "threads=1, 3 passes, batch 1,000" in html  # the 3-pass cases are a section of their own
    assert html.count("Loss against time, pass by pass") == 1  # one pass per case elsewhere: nothing to draw
    passes_png = list((tmp_path / "report" / "plots").glob("*-passes.png"))
    assert len(passes_png) == 1 and passes_png[0].stat().st_size > 10_000
    caption = html[html.index("Time to that target"):][:600]
    assert "sklearn.sgd" in caption and "(pass " in caption
