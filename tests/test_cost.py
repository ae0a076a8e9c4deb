"""Cost per 10^9 rows from a real record: the formula, and no figure for an in-memory reference."""

from __future__ import annotations

import pytest

from oocbench.cost import GIB, Prices, core_seconds_per_million, cost_of_rows
from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseSpec


@pytest.fixture(scope="module")
def records(data_base):
    return {a: run_case(CaseSpec(a, "synth-binary", 20_000), Limits(timeout_s=120), memray=False,
                        data_base=data_base) for a in ("sklearn.sgd", "sklearn.batch")}


def test_cost_follows_cpu_time_wall_time_and_peak_memory(records):
    r = records["sklearn.sgd"]
    assert r.status == "ok"
    per_million = core_seconds_per_million(r)
    assert per_million == pytest.approx(r.timings.fit_cpu_s / r.rows * 1e6)
    prices = Prices(core_hour=3.6, gb_hour=0.0)  # $0.001 per core-second: CPU alone
    assert cost_of_rows(r, 1e9, prices) == pytest.approx(per_million * 1e3 * 0.001)
    memory_only = cost_of_rows(r, 1e9, Prices(core_hour=0.0, gb_hour=3.6))  # $0.001 per GiB-second
    assert memory_only == pytest.approx(r.memory.rss_peak_bytes / GIB * 1e9 / r.rows_per_s * 0.001)
    assert cost_of_rows(r, 2e9) == pytest.approx(2 * cost_of_rows(r, 1e9))  # linear in rows


def test_no_cost_for_an_in_memory_reference(records):
    batch = records["sklearn.batch"]
    assert batch.status == "ok" and batch.adapter_info.get("reference")
    assert core_seconds_per_million(batch) is not None and cost_of_rows(batch) is None


@pytest.mark.parametrize("dataset", ["synth-binary", "synth-ctr"])
def test_the_verdict_names_the_cheapest_learner_at_the_prices_given_on_the_command_line(tmp_path, data_base, dataset):
    import re

    from oocbench.records import append_record
    from tests.conftest import oocbench_cli

    runs = [run_case(CaseSpec(a, dataset, 20_000), Limits(timeout_s=120), memray=False, data_base=data_base)
            for a in ("sklearn.sgd", "river.linear-many", "sklearn.batch")]
    for r in runs:
        assert r.status == "ok", r.reason
        append_record(tmp_path / "results" / "records.jsonl", r)
    learned = [r for r in runs if r.metrics["log_loss"] < r.baseline["log_loss"]  # beat the constant predictor
               and not r.adapter_info.get("reference")]
    if dataset == "synth-binary":  # both streaming learners beat the constant predictor there
        assert len(learned) == 2
    for core_hour, gb_hour in ((1.0, 0.0), (0.0, 1.0)):
        prices = Prices(core_hour=core_hour, gb_hour=gb_hour)
        out = oocbench_cli("report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "report"),
                           "--core-hour", str(core_hour), "--gb-hour", str(gb_hour), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        html = (tmp_path / "report" / "index.html").read_text()
        row = re.search(r"<table class=verdict[^>]*>.*?<tr data-scale=\"20000\" data-view=\"all\"[^>]*>(.*?)</tr>", html, re.S).group(1)
        cells = re.findall(r"<td[^>]*>", row)
        cheapest = re.search(r'data-winner="([^"]+)"', cells[4])
        if not learned:  # only the in-memory reference learned: it has no price, nobody is cheapest
            assert cheapest is None
            continue
        expected = min(learned, key=lambda r: cost_of_rows(r, 1e9, prices))
        assert cheapest and cheapest.group(1) == expected.case.adapter
        assert "set on the command line" in html and f"${core_hour:g} per core-hour" in html
