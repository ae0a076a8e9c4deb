"""The published reports hold what issues 17 and 24 promised: the default suite over >= 3 scales spanning >= 2
decades per dataset with every adapter in three views (matched, recommended, tuned), and a series on wide
categorical data that reaches a scale larger than RAM, where the streaming adapters finish and the in-memory ones
end oom."""

from __future__ import annotations

from collections import defaultdict

import pytest

from oocbench.adapters.registry import discover
from oocbench.reports.load import load_records
from tests.conftest import REPO

DEFAULT = REPO / "reports" / "default" / "results.json"
HUGE = REPO / "reports" / "huge" / "results.json"


@pytest.fixture(scope="module")
def default():
    return load_records(DEFAULT)


def test_the_default_report_spans_three_scales_over_two_decades_per_dataset_and_three_views(default):
    """Matched at 10^5-10^7 (what a memory-scaling exponent needs; 10^4 was left out to fit the three views in
    the hour, issue 24), recommended and tuned beside it at 10^5."""
    scales, views = defaultdict(set), defaultdict(set)
    for r in default:
        if r.status == "ok":
            views[r.case.dataset].add(r.case.profile)
            if r.case.profile == "matched":
                scales[r.case.dataset].add(r.case.scale)
    assert set(scales) == {"synth-binary", "synth-ctr", "synth-nonlinear"}
    for dataset, ok in scales.items():
        assert len(ok) >= 3 and max(ok) / min(ok) >= 100, (dataset, sorted(ok))
        assert views[dataset] == {"matched", "recommended", "tuned"}, (dataset, views[dataset])


def test_the_default_report_has_every_adapter_and_says_why_a_case_did_not_run(default):
    # every adapter of one machine (the scale-out ones, Adapter.scale_out, run in the cluster suite)
    assert {r.case.adapter for r in default} == {n for n, e in discover().items()
                                                 if not (e.cls is not None and e.cls.scale_out)}
    for r in default:
        assert r.status in ("ok", "skipped"), (r.case, r.status, r.reason)
        if r.status == "skipped":
            assert r.reason  # dense-only, or over the per-case budget with its projection
            assert "budget_skip" in r.extra or "dense" in r.reason or "categorical" in r.reason


def test_the_most_accurate_models_on_wide_data_are_in_the_default_report(default):
    """Issue 25: the per-case budget had skipped tf.mlp at 10^5 and 10^6 synth-ctr rows and lightgbm.gbdt at 10^6
    (whole wall time, memray run and TensorFlow's tracing included, scaled linearly from one scale); the budget
    now projects the timed run by the ETA's rule (tests/test_budget.py checks it against a real case)."""
    ok = {(r.case.adapter, r.case.scale) for r in default
          if r.status == "ok" and r.case.dataset == "synth-ctr" and r.case.profile == "matched"}
    for case in (("tf.mlp", 100_000), ("tf.mlp", 1_000_000), ("lightgbm.gbdt", 1_000_000)):
        assert case in ok, case
    heap = {r.case.scale for r in default if r.memory.heap_peak_bytes and r.case.profile == "matched"}
    assert heap == {1_000_000}  # the memray run at one scale (suites.py: memray_scales)


def test_the_huge_series_reaches_past_ram_on_wide_categorical_data():
    records = load_records(HUGE)
    assert {r.case.dataset for r in records} == {"synth-ctr"}
    ram = {r.provenance["machine"]["ram_bytes"] for r in records}
    assert len(ram) == 1
    sizes = {r.case.scale: r.extra["dataset"]["train_bytes"] for r in records if "dataset" in r.extra}
    past = [n for n, b in sizes.items() if b > next(iter(ram))]
    assert past, f"no scale larger than RAM: {sizes}"
    assert {10**6, 10**7, 10**8} <= set(sizes)
    at = {r.case.adapter: r for r in records if r.case.scale == max(past)}
    assert at["sklearn.sgd"].status == "ok"
    assert at["sklearn.batch"].status == "oom"
    streaming_ok = [r for r in at.values() if r.status == "ok"]
    for r in streaming_ok:  # flat memory: a streaming adapter past RAM stays under 10% of it
        assert r.memory.rss_peak_bytes < 0.10 * next(iter(ram)), (r.case.adapter, r.memory.rss_peak_bytes)


@pytest.mark.parametrize("path", [DEFAULT, HUGE], ids=["default", "huge"])
def test_no_published_winner_is_10x_behind_another_adapter_that_learned(path):
    """Issue 25: a "fastest" 523 rows/s beside linear models at 1M rows/s was the 1% loss gate at work. Every
    adapter that beats the constant predictor is ranked now; checked here from the medians of the raw records,
    not from the verdict's own choice."""
    from statistics import median

    from oocbench.reports.load import latest_per_case
    from oocbench.reports.model import case_groups, sections
    from oocbench.reports.verdict import verdicts

    current, _ = latest_per_case(load_records(path))
    checked = 0
    for groups in sections(case_groups(current)).values():
        for v in verdicts(groups) + verdicts([g for g in groups if not g.in_memory]):
            for win, figure, higher in ((v.fastest, "rows_per_s", True), (v.leanest, "fit_memory", False),
                                        (v.cheapest, "cost_1e9", False)):
                if win is None:
                    continue
                mine = median(r.rows_per_s for r in win.winner.ok) if figure == "rows_per_s" \
                    else win.winner.median(figure)
                others = [g.median(figure) for g in v.learned if g.median(figure)]
                best = max(others) if higher else min(others)
                assert (best / mine if higher else mine / best) <= 10, (path.parent.name, v.scale, figure,
                                                                        win.winner.label(), mine, best)
                checked += 1
    assert checked >= 10
