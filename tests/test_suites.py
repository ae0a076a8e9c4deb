"""Suites, the learning-curve helpers, repeat summaries and the process-tree measurements (real processes)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from oocbench.analysis import summarize, summary_cells
from oocbench.curve import checkpoints, within_final
from oocbench.harness.measure import tree_cpu, tree_rss
from oocbench.harness.suites import SUITES, available_datasets, expand, get_suite
from oocbench.records import CaseRecord, CaseSpec, Memory

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass"


def test_suites_are_defined_in_one_place_and_cover_wide_categorical_data():
    quick = get_suite("quick")  # make bench: 3 scales over 2 decades (a scaling exponent), wide categorical data
    assert quick.datasets == ("synth-binary", "synth-ctr") and quick.scales == (10_000, 100_000, 1_000_000)
    assert "sklearn.batch" in quick.adapters and quick.repeats == "auto" and get_suite("smoke").repeats == 1
    assert get_suite("default").adapters == ()  # every installed adapter
    assert set(SUITES) >= {"smoke", "quick", "default", "full"}
    present, absent = available_datasets(quick)
    assert present == ["synth-binary", "synth-ctr"] and absent == []
    assert "synth-ctr" in get_suite("default").datasets
    assert {"synth-ctr", "synth-drift", "synth-nonlinear"} <= set(get_suite("full").datasets)
    assert "synth-nonlinear" in get_suite("default").datasets and get_suite("trees").adapters == ()
    passes = expand(get_suite("passes"))
    assert {c.passes for c in passes} == {1, 3} and {c.adapter for c in passes} == {
        "sklearn.sgd", "vw.linear", "tf.linear", "dask-ml.incremental"}


def test_expand_order_narrowing_and_repeats():
    cases = expand(get_suite("quick"), ["sklearn.sgd", "x.y"], repeat=2)
    assert len(cases) == 2 * 3 * 2 * 2  # adapters x scales x datasets x repeats
    assert cases[0] == CaseSpec("sklearn.sgd", "synth-binary", 10_000, repeat=0)
    assert cases[1] == CaseSpec("sklearn.sgd", "synth-binary", 10_000, repeat=1)
    assert len({c.key() for c in cases}) == len(cases)  # the repeat is part of the identity
    narrow = expand(get_suite("quick"), ["sklearn.sgd"], datasets=["synth-regression"], scales=[500])
    assert narrow == [CaseSpec("sklearn.sgd", "synth-regression", 500)]


def test_checkpoints_log_spaced_on_batch_boundaries():
    assert checkpoints(10_000_000, 10_000)[:3] == [10_000, 20_000, 40_000]
    cps = checkpoints(10_000_000, 10_000)
    assert cps[-1] == 10_000_000 and cps == sorted(set(cps)) and len(cps) == 13  # 4 per decade, 10^4..10^7
    assert all(c % 10_000 == 0 for c in cps)
    assert checkpoints(2_000, 10_000) == [2_000]


def test_within_final_uses_relative_tolerance_and_the_first_point():
    pts = [{"rows": r, "fit_s": r / 10, "h": v} for r, v in ((1, 0.9), (2, 0.70), (4, 0.695), (8, 0.7))]
    got = within_final(pts, "h")
    assert got["rows"] == 2 and got["final"] == 0.7  # |0.70 - 0.7| <= 1%, the first such checkpoint
    assert within_final([], "h") is None


def _rec(adapter: str, repeat: int, status: str = "ok", rate: float | None = None, loss: float | None = None):
    return CaseRecord(case=CaseSpec(adapter, "synth-binary", 1000, repeat=repeat), status=status, task="binary",
                      rows_per_s=rate, metrics={"log_loss": loss} if loss else {},
                      memory=Memory(rss_fit_bytes=1 << 20), reason="" if status == "ok" else "boom")


def test_summary_cells_median_and_spread_over_repeats_and_mixed_status():
    recs = [_rec("a", 0, rate=100.0, loss=0.5), _rec("a", 1, rate=300.0, loss=0.6), _rec("a", 2, rate=200.0, loss=0.7),
            _rec("b", 0, "ok", 50.0, 0.4), _rec("b", 1, "timeout")]
    cells = summary_cells(recs)
    a = cells[("a", "synth-binary")][1000]
    assert a["status"] == "ok" and a["rows_per_s"] == summarize([100.0, 300.0, 200.0])
    assert a["rows_per_s"]["median"] == 200.0 and a["rows_per_s"]["spread"] == 1.0 and a["loss"]["median"] == 0.6
    b = cells[("b", "synth-binary")][1000]
    assert b["status"] == "1 ok, 1 timeout" and b["rows_per_s"]["n"] == 1 and b["reason"] == "boom"


def test_summary_cells_keep_profiles_and_thread_modes_apart():
    """matched and recommended are different models: pooled, their spread read as noise (+-27% in a 3-view run)."""
    from dataclasses import replace

    recs = [_rec("a", 0, rate=100.0, loss=0.5), _rec("a", 0, rate=300.0, loss=0.6), _rec("a", 0, rate=50.0)]
    recs[1].case = replace(recs[1].case, profile="recommended")
    recs[2].case = replace(recs[2].case, profile="tuned", threads="all", params=(("alpha", 0.001),))
    cells = summary_cells(recs)
    assert set(cells) == {("a", "synth-binary"), ("a (recommended)", "synth-binary"),
                          ("a (tuned, all threads) [alpha=0.001]", "synth-binary")}
    assert cells[("a", "synth-binary")][1000]["rows_per_s"]["n"] == 1


def test_tree_cpu_counts_live_and_reaped_children():
    me = psutil.Process()
    before = tree_cpu(me)
    subprocess.run([sys.executable, "-c", BURN], check=True)  # reaped: only in children_user/system
    after_reaped = tree_cpu(me)
    assert after_reaped - before >= 0.5, after_reaped - before
    live = subprocess.Popen([sys.executable, "-c", BURN + "\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and psutil.Process(live.pid).cpu_times().user < 0.5:
            time.sleep(0.05)
        assert tree_cpu(me) - after_reaped >= 0.5  # live: its own cpu_times
        assert tree_rss(me) > me.memory_info().rss  # and its RSS is part of the tree's
    finally:
        live.kill()
        live.wait()


def test_resume_redoes_the_cases_of_an_edited_adapter(tmp_path):
    """The package version does not change when an adapter's code does: its module's hash decides."""
    from oocbench.adapters.sklearn import SGD
    from oocbench.harness.suites import recorded
    from oocbench.provenance import provenance
    from oocbench.records import append_record

    info = {**SGD.describe()}
    same = CaseRecord(case=CaseSpec("sklearn.sgd", "synth-binary", 1000), adapter_info=info,
                      provenance={"oocbench": provenance()["oocbench"]})
    edited = CaseRecord(case=CaseSpec("sklearn.sgd", "synth-binary", 2000),
                        adapter_info={**info, "source_sha256": "0" * 64}, provenance=same.provenance)
    for r in (same, edited):
        append_record(tmp_path / "records.jsonl", r)
    kept = recorded(tmp_path / "records.jsonl")
    assert same.case.key() in kept and edited.case.key() not in kept
    assert info["source_sha256"] and len(info["source_sha256"]) == 64


# ----- grids (issue 18): a suite's params axis, --param on top, checked against each adapter ----------------
def test_a_grid_is_the_cartesian_product_with_knobs_as_fields_and_the_rest_as_params():
    from oocbench.harness.suites import Suite

    suite = Suite("g", ("synth-ctr",), (3000,), adapters=("sklearn.sgd",), grid={"alpha": (1e-5, 1e-4)})
    cases = expand(suite, grid={"eta0": [0.01, 0.1, 1.0], "batch_size": [1000, 10_000]})  # extends the suite's
    assert len(cases) == 2 * 3 * 2 and len({c.key() for c in cases}) == 12 and len({c.setting() for c in cases}) == 12
    assert {c.batch_size for c in cases} == {1000, 10_000}
    assert {c.params for c in cases} == {(("alpha", a), ("eta0", e)) for a in (1e-5, 1e-4) for e in (0.01, 0.1, 1.0)}
    assert cases[0].setting() == "batch 1,000, alpha=1e-05, eta0=0.01"
    # --param replaces a name's values in the suite's grid; a knob in the grid replaces that axis
    again = expand(suite, grid={"alpha": [0.5], "profile": ["recommended"], "passes": [1, 2]}, repeat=2)
    assert {c.params for c in again} == {(("alpha", 0.5),)} and {c.profile for c in again} == {"recommended"}
    assert sorted(c.passes for c in again) == [1, 1, 2, 2] and len(set(again)) == len(again) == 4


def test_the_tuning_suite_declares_a_grid_every_one_of_its_adapters_accepts():
    from oocbench.harness.suites import check_params

    tuning = get_suite("tuning")
    cases = expand(tuning)
    assert len(cases) == len(tuning.datasets) * len(tuning.adapters) * (9 + 1)  # the 3 x 3 grid and the default
    assert sum(1 for c in cases if not c.params) == len(tuning.datasets) * len(tuning.adapters)
    assert check_params(cases, {"synth-binary": "binary", "synth-ctr": "binary"}.get) == cases


def test_check_params_refuses_names_values_and_knobs_that_have_no_effect():
    from dataclasses import replace

    import pytest

    from oocbench.harness.suites import UnknownParamError, check_params

    binary = {"synth-binary": "binary", "synth-ctr": "binary", "synth-regression": "regression"}.get
    one = CaseSpec("sklearn.sgd", "synth-binary", 1000, params=(("eta0", 1),))
    assert check_params([one], binary)[0].params == (("eta0", 1.0),)  # declared float: 1 and 1.0 are one case
    assert check_params([one, CaseSpec("sklearn.sgd", "synth-binary", 1000, params=(("eta0", 1.0),))], binary) == [
        CaseSpec("sklearn.sgd", "synth-binary", 1000, params=(("eta0", 1.0),))]
    with pytest.raises(UnknownParamError, match=r"unknown parameter 'nosuch' for sklearn.sgd; sklearn.sgd takes .*eta0"):
        check_params([CaseSpec("sklearn.sgd", "synth-binary", 1000, params=(("nosuch", 1),))], binary)
    # valid for one adapter of the run, not for the other: refused, naming which adapter lacks it
    mixed = [CaseSpec(a, "synth-binary", 1000, params=(("eta0", 0.1),)) for a in ("sklearn.sgd", "sklearn.batch")]
    with pytest.raises(UnknownParamError, match=r"'eta0' for sklearn.batch \(only sklearn.sgd of this run do"):
        check_params(mixed, binary)
    with pytest.raises(UnknownParamError, match="is a number"):
        check_params([CaseSpec("sklearn.sgd", "synth-binary", 1000, params=(("alpha", "big"),))], binary)
    # 'optimal' ignores eta0 (classification); the regressor runs 'optimal' as 'invscaling', where it counts
    rec = CaseSpec("sklearn.sgd", "synth-binary", 1000, profile="recommended", params=(("eta0", 0.5),))
    with pytest.raises(UnknownParamError, match="learning_rate='optimal' ignores eta0"):
        check_params([rec], binary)
    assert check_params([replace(rec, dataset="synth-regression")], binary)
    assert check_params([replace(rec, params=(("eta0", 0.5), ("learning_rate", "constant")))], binary)
    # inert for one input format only (tf.linear's power_t: its CSR profile runs Adagrad): it runs
    assert check_params([CaseSpec("tf.linear", "synth-ctr", 1000, params=(("power_t", 0.3),))], binary)


def test_the_default_suite_carries_three_views_at_their_own_scales():
    """matched at 10^5 to 10^7; recommended and tuned at 10^5 only, tuned on grids fitted at 10^4 (issue 24)."""
    from oocbench.harness.suites import DEFAULT_BUDGET_S

    suite = get_suite("default")
    assert suite.profiles == ("matched", "recommended", "tuned") and suite.tune_scale == 10_000
    assert suite.scales_of("matched") == suite.scales and suite.budget_s == DEFAULT_BUDGET_S
    assert suite.scales_of("recommended") == suite.scales_of("tuned") == (100_000,)
    assert set(suite.once_profiles) == {"recommended", "tuned"}
    # what keeps the hour: short cases twice, no memray run on the dataset read for its losses
    assert suite.short_repeats == 2 and suite.rss_only_datasets == ("synth-nonlinear",)
    cases = expand(suite, ["sklearn.sgd"], datasets=["synth-ctr"])
    assert [(c.scale, c.profile) for c in cases] == [
        (100_000, "matched"), (100_000, "recommended"), (100_000, "tuned"),
        (1_000_000, "matched"), (10_000_000, "matched")]  # scale-major: a projection's smaller scale comes first
    # --scale replaces every view's scales; --profile (a profile knob) keeps that view's own scales
    assert {(c.scale, c.profile) for c in expand(suite, ["sklearn.sgd"], datasets=["synth-ctr"],
                                                 scales=[2000])} == {(2000, p) for p in suite.profiles}
    assert [(c.scale, c.profile) for c in expand(suite, ["sklearn.sgd"], datasets=["synth-ctr"],
                                                 grid={"profile": ["recommended"]})] == [(100_000, "recommended")]


def test_a_once_profile_runs_one_time_without_memray_while_the_others_repeat(tmp_path, data_base, monkeypatch):
    from oocbench.harness.runner import Limits
    from oocbench.harness.suites import run_cases
    from oocbench.records import CaseSpec

    monkeypatch.setenv("OOCBENCH_DATA_DIR", str(data_base))
    cases = [CaseSpec("sklearn.sgd", "synth-binary", 2000, profile=p) for p in ("matched", "recommended")]
    cases.append(CaseSpec("sklearn.sgd", "synth-ctr", 2000))  # a dataset of the suite's rss_only_datasets
    records = run_cases(cases, tmp_path, Limits(timeout_s=120), memray=True, repeat_short=2, once=["recommended"],
                        rss_only=["synth-ctr"])
    got = sorted((r.case.dataset, r.case.profile, r.case.repeat, r.memory.heap_peak_bytes is not None)
                 for r in records)
    assert all(r.status == "ok" for r in records), [r.reason for r in records]
    assert got == [("synth-binary", "matched", 0, True), ("synth-binary", "matched", 1, False),
                   ("synth-binary", "recommended", 0, False),
                   ("synth-ctr", "matched", 0, False), ("synth-ctr", "matched", 1, False)]  # RSS only, repeated
