"""The comparison report built from real records (real child-process runs) plus injected failure records."""

from __future__ import annotations

import copy
import csv
import json
import re
import shutil
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from oocbench.analysis import BUSY_MIN_CORES, BUSY_SHARE, busy_reason, memory_scaling
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rate
from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseRecord, CaseSpec, append_record
from oocbench.reports import build_report, load_records
from oocbench.reports.model import case_groups
from oocbench.reports.verdict import verdicts
from tests.conftest import oocbench_cli

EVIL = "<script>alert('x')</script>"

#: failure records the harness would write (the runner's own tests produce these for real)
FAILURES = [
    ("fault.hang", 6000, "timeout", "no result after 60 s; stopped (SIGINT, SIGTERM, SIGKILL of the process tree)"),
    ("fault.hog", 6000, "oom", "process-tree RSS 9000 MiB passed the cap 8000 MiB after 3.1 s; killed"),
    ("fault.segfault", 2000, "crashed", "killed by SIGSEGV"),
    (f"evil{EVIL}", 2000, "error", f"ValueError: {EVIL} in reason"),
    ("vw.missing", 2000, "not-installed", "library 'vowpalwabbit' is not installed (pip install 'oocbench[vw]')"),
    ("river.skip", 6000, "skipped", "task 'binary' not supported (supports regression)"),
]


def failure_record(adapter: str, scale: int, status: str, reason: str, dataset: str = "synth-binary") -> CaseRecord:
    # the real runs' batch size: the failures share their section (and figures)
    return CaseRecord(case=CaseSpec(adapter=adapter, dataset=dataset, scale=scale, batch_size=500), status=status,
                      reason=reason,
                      extra={"traceback": f"Traceback: {EVIL}"} if status == "error" else {},
                      started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:00:01+00:00")


@pytest.fixture(scope="module")
def results(tmp_path_factory, data_base) -> Path:
    """A results directory with real runs of tiny cases (two datasets, two scales, repeats) and failures."""
    out = tmp_path_factory.mktemp("results")
    limits = Limits(timeout_s=120)
    specs = [CaseSpec("sklearn.sgd", "synth-binary", 2000, batch_size=500, repeat=0),
             CaseSpec("sklearn.sgd", "synth-binary", 2000, batch_size=500, repeat=1),
             CaseSpec("sklearn.sgd", "synth-binary", 6000, batch_size=500),
             CaseSpec("sklearn.passive-aggressive", "synth-binary", 6000, batch_size=500),
             CaseSpec("sklearn.sgd", "synth-regression", 2000, batch_size=500)]
    for i, spec in enumerate(specs):
        # one memray run is enough to exercise the heap panel; the others stay fast
        record = run_case(spec, limits, memray=(i == 2), data_base=data_base)
        assert record.status == "ok", (spec, record.reason, record.extra.get("traceback"))
        append_record(out / "records.jsonl", record)
    for f in FAILURES:
        append_record(out / "records.jsonl", failure_record(*f))
    return out


@pytest.fixture(scope="module")
def report(results, tmp_path_factory) -> Path:
    return build_report(load_records(results), tmp_path_factory.mktemp("report") / "r", source=str(results))


class Rows(HTMLParser):
    """Rows of the report's ``cases`` tables: data attributes and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.in_cases = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.in_cases = a.get("class") == "cases"
        elif tag == "tr" and self.in_cases and "data-adapter" in a:
            self.rows.append({**a, "cells": []})
        elif tag == "td" and self.in_cases and self.rows:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.in_cases = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def case_rows(index: Path) -> list[dict]:
    parser = Rows()
    parser.feed(index.read_text())
    return parser.rows


def test_every_case_appears_with_its_value_or_status(results, report):
    records = load_records(results)
    rows = case_rows(report)
    groups = case_groups(records)
    assert len(rows) == len(groups) == len(records) - 1  # the two repeats share a row
    by_key = {(r["data-adapter"], r["data-dataset"], int(r["data-scale"]), r["data-profile"], r["data-threads"]): r
              for r in rows}
    assert len(by_key) == len(rows)
    for g in groups:
        row = by_key[(g.adapter, g.dataset, g.scale, g.profile, g.threads)]
        assert row["data-status"] == g.status
        cells = row["cells"]
        if g.status == "ok":
            assert cells[2] == "ok"
            # the median, and the min-max range when there are repeats
            assert cells[3].startswith(fmt_rate(g.stats["rows_per_s"]["median"])), cells
            assert cells[7].startswith(fmt_num(g.stats["loss"]["median"])), cells
            if len(g.records) > 1:
                assert fmt_rate(g.stats["rows_per_s"]["min"]) in cells[3] and "n=2" in cells[3]
        else:
            assert cells[2] == g.status
            assert g.records[0].reason in cells[3]  # the reason is shown (unescaped text == original)
    statuses = {r["data-status"] for r in rows}
    assert statuses == {"ok", "timeout", "oom", "crashed", "error", "not-installed", "skipped"}


def test_raw_data_published_next_to_index(results, report):
    records = load_records(results)
    keys = sorted((r.case.key(), r.status) for r in records)
    raw = json.loads((report.parent / "results.json").read_text())
    assert sorted((r["case_key"], r["status"]) for r in raw) == keys
    # the JSON round-trips through the loader (a report can be rebuilt from its own raw data)
    assert sorted((r.case.key(), r.status) for r in load_records(report.parent / "results.json")) == keys
    with open(report.parent / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["case_key"], r["status"]) for r in rows) == keys
    for r, rec in zip(sorted(rows, key=lambda r: r["case_key"]), sorted(records, key=lambda r: r.case.key())):
        if rec.status == "ok":
            assert float(r["rows_per_s"]) == pytest.approx(rec.rows_per_s)
            assert r["adapter.version"] == rec.adapter_info["version"]
        else:
            assert r["reason"] == rec.reason
    assert "case.adapter" in rows[0] and "machine.ram_bytes" in rows[0] and "git_commit" in rows[0]
    assert "load.others_cores" in rows[0] and "load.start.loadavg_1m" in rows[0]


def test_strings_from_records_are_escaped(report):
    text = report.read_text()
    assert "<script" not in text.lower()  # the page has no script of its own, and none gets in
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text


def test_plots_versions_machine_and_verdict_shown(results, report):
    text = report.read_text()
    plots = sorted(p.name for p in (report.parent / "plots").glob("*.png"))
    for kind in ("throughput", "memory", "accuracy", "pareto", "learning"):
        assert any(kind in p for p in plots), (kind, plots)
    for p in plots:
        assert f'src="plots/{p}"' in text
        assert (report.parent / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = load_records(results)
    ok = next(r for r in records if r.status == "ok")
    machine = ok.provenance["machine"]
    assert machine["cpu"] in text and f"{machine['cores_logical']} logical" in text
    assert ok.adapter_info["version"] in text and f"<td>{ok.provenance['oocbench']}</td>" in text
    assert (ok.provenance["git_commit"] or "git commit") in text  # None outside a git checkout
    assert ok.adapter_info["api_path"] in text.replace("&#x27;", "'")
    assert "thread mode 1" in text and "Verdict" in text and "learned nothing" in text
    # the verdict names, at 6,000 rows, the fastest of the adapters that beat the constant predictor
    groups = [g for g in case_groups(records) if g.dataset == "synth-binary"]
    v = next(v for v in verdicts(groups) if v.scale == 6000)
    at = [g for g in groups if g.scale == 6000 and g.ok]
    learned = [g for g in at if g.median("loss") < g.records[0].baseline["log_loss"]]  # beat the constant
    assert v.fastest.winner is max(learned, key=lambda g: g.median("rows_per_s")) and v.compared == 2
    assert {g.status for g in v.failed} == {"timeout", "oom"} and {g.status for g in v.not_run} == {"skipped"}


def test_learning_curve_says_not_recorded_when_absent(results, tmp_path):
    records = [r for r in load_records(results) if r.status != "ok"]
    records += [r for r in load_records(results) if r.status == "ok"]
    for r in records:
        r.extra.pop("learning_curve", None)
    index = build_report(records, tmp_path / "r")
    assert "Prequential learning curves: not recorded." in index.read_text()
    assert not list((tmp_path / "r" / "plots").glob("*learning*"))


def test_load_records_from_tree_and_json(results, tmp_path):
    nested = tmp_path / "asv" / "results" / "machine-a"
    nested.mkdir(parents=True)
    (nested / "records.jsonl").write_bytes((results / "records.jsonl").read_bytes())
    assert len(load_records(tmp_path / "asv")) == len(load_records(results))
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "nothing-here")


def test_cli_report_prints_index_path(results, tmp_path):
    out = oocbench_cli("report", "--results", str(results), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str((tmp_path / "rep" / "index.html").resolve())
    assert (tmp_path / "rep" / "results.csv").exists()
    missing = oocbench_cli("report", "--results", str(tmp_path / "none"), cwd=tmp_path)
    assert missing.returncode == 1 and "no results" in missing.stderr


def test_wide_data_section_shows_the_gap_to_the_optimum_and_says_whether_more_data_helps(tmp_path, data_base):
    # real runs on wide categorical data (hashed CSR): the gap to the known optimum, and the sentence about it,
    # must follow from the records themselves
    records = []
    for n in (4_000, 40_000):
        for adapter in ("sklearn.sgd", "sklearn.batch"):
            r = run_case(CaseSpec(adapter, "synth-ctr", n, batch_size=2000), Limits(timeout_s=120), memray=False,
                         data_base=data_base)
            assert r.status == "ok", (r.reason, r.extra.get("traceback"))
            assert r.extra["features"]["input_format"] == "csr"
            records.append(r)
    index = build_report(records, tmp_path / "rep")
    html = index.read_text()
    assert "Gap to the optimum vs rows" in html and (tmp_path / "rep/plots/s01-gap.png").stat().st_size > 5000
    gaps = {(r.case.adapter, r.case.scale): r.metrics["log_loss"] - r.optimum["log_loss"] for r in records}
    shrinking = [a for a in ("sklearn.batch", "sklearn.sgd") if gaps[(a, 40_000)] < 0.9 * gaps[(a, 4_000)]]
    sentence = html.split("<p class=note>")[1].split("</p>")[0]
    assert sentence.startswith("More data helps" if shrinking else "More data does not help"), (gaps, sentence)
    for a in shrinking:
        assert a in sentence


def _memory_record(scale: int, rss: float) -> CaseRecord:
    from oocbench.provenance import machine_info
    from oocbench.records import Memory

    return CaseRecord(case=CaseSpec("sklearn.batch", "synth-binary", scale), status="ok", task="binary",
                      rows=scale, rows_per_s=1e6, metrics={"log_loss": 0.52}, optimum={"log_loss": 0.5131},
                      memory=Memory(rss_fit_bytes=int(rss), rss_peak_bytes=int(rss)),
                      provenance={"machine": machine_info()},
                      started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:00:01+00:00")


@pytest.mark.parametrize(("scales", "shown"), [((10_000, 100_000), False), ((100_000, 10_000_000), False),
                                               ((10_000, 100_000, 500_000), False),
                                               ((10_000, 100_000, 1_000_000), True)])
def test_memory_exponent_only_from_three_scales_over_two_decades(tmp_path, scales, shown):
    # an in-memory learner: 50 MB of fixed costs plus 400 B per row
    records = [_memory_record(n, 50e6 + 400.0 * n) for n in scales]
    html = build_report(records, tmp_path / "rep", project_rows=2e9).read_text()
    assert ("Exponent in the legend" in html) is shown
    assert ("Memory-scaling exponent: n/a (needs &gt;= 3 scales over 2 decades)" in html) is not shown
    memory_alt = next(a for a in _alts(html) if a.startswith("fit memory against"))
    assert ("exponent" in memory_alt) is shown
    assert (tmp_path / "rep/plots/s01-projection.png").exists() is shown
    if shown:
        expected = memory_scaling([(n, 50e6 + 400.0 * n) for n in scales])
        assert f'data-exponent="{expected.exponent:.2f}"' in html and "projected at 2B rows" in html
        low, high = expected.projected(2e9)
        # a fixed cost plus a cost per row: the straight line is exact, the power law below it
        assert high == pytest.approx(50e6 + 400.0 * 2e9) and low < high
        assert f"{fmt_bytes(low)} to {fmt_bytes(high)}" in html and fmt_bytes(400.0) in html
        ram = records[0].provenance["machine"]["ram_bytes"]
        word = "fits" if high <= ram else "exceeds" if low > ram else "may exceed"
        assert f"<td>{word} {fmt_bytes(ram)} (" in html
    else:
        assert 'data-scaling="n/a"' in html and "data-exponent" not in html


def test_flat_memory_is_reported_as_measured_not_projected(tmp_path):
    """A streaming learner whose memory levels off (20 MB, +5% per decade) was projected to GiB at 10^9 rows from
    a few MiB of noise; it is flat: the range measured, no projection. An in-memory one beside it is projected."""
    flat = [_memory_record(n, 20e6 * 1.05 ** i) for i, n in enumerate((10_000, 100_000, 1_000_000))]
    for r in flat:
        r.case = CaseSpec("sklearn.sgd", "synth-binary", r.case.scale)
    growing = [_memory_record(n, 50e6 + 400.0 * n) for n in (10_000, 100_000, 1_000_000)]
    html = build_report(flat + growing, tmp_path / "rep", project_rows=1e9).read_text()
    sgd = re.search(r'<tr data-line="sklearn.sgd"[^>]*data-flat="true">(.*?)</tr>', html, re.S)
    assert sgd, "sklearn.sgd not reported flat"
    assert f"flat: {fmt_bytes(20e6)} to {fmt_bytes(20e6 * 1.05**2)} measured (10k to 1M rows)" in sgd.group(1)
    assert "fits" in sgd.group(1) and "as measured" in sgd.group(1)
    assert re.search(r'<tr data-line="sklearn.batch"[^>]*data-flat="false">', html)
    assert memory_scaling([(r.case.scale, r.memory.rss_fit_bytes) for r in flat]).projected(1e9) is None
    caption = html.split("Not projected, flat over the largest decade measured")[1][:200]
    assert "sklearn.sgd" in caption and "sklearn.batch" not in caption


def test_project_rows_must_be_a_row_count(tmp_path):
    with pytest.raises(ValueError, match="project_rows"):
        build_report([_memory_record(1000, 1e6)], tmp_path / "rep", project_rows=0)


def _alts(html: str) -> list[str]:
    return [unescape(a) for a in re.findall(r'alt="([^"]*)"', html)]


def test_not_run_cases_are_not_drawn_as_failures(report):
    html = report.read_text()
    throughput = next(a for a in _alts(html) if a.startswith("fit throughput") and "synth-binary" in a)
    assert "fault.hang at 6k (timeout)" in throughput and "fault.hog at 6k (oom)" in throughput
    assert "vw.missing" not in throughput and "river.skip" not in throughput
    assert "case(s) not run here</b> (not-installed 1, skipped 1)" in html
    assert "case(s) failed</b> (crashed 1, error 1, oom 1, timeout 1)" in html


def test_throughput_caption_mentions_spread_only_with_repeats(report):
    html = report.read_text()
    captions = dict(re.findall(r'alt="fit throughput[^"]*? training rows, ([^;"]*)[^"]*"[^>]*><figcaption><b>'
                               r"Throughput vs rows\.</b> ([^<]*)<", html))
    # sklearn.sgd ran twice at 2,000 rows on synth-binary, once on synth-regression
    binary = captions["synth-binary, matched profile, threads=1, batch 500"]
    regression = captions["synth-regression, matched profile, threads=1, batch 500"]
    assert "min to max" in binary and "min to max" not in regression and "One run per case" in regression


def test_load_and_cpu_frequency_recorded_per_case(results):
    for r in load_records(results):
        if r.status != "ok":
            continue
        load = r.provenance["load"]
        assert len(load["start"]["loadavg"]) == 3 and len(load["end"]["loadavg"]) == 3
        assert load["wall_s"] > 0 and load["others_cores"] >= 0
        assert "cpu_freq_mhz" in load["start"] and "cpu_freq_max_mhz" in load["end"]


def test_busy_machine_rule_and_warning(results, tmp_path):
    ok = [r for r in load_records(results) if r.status == "ok" and r.case.dataset == "synth-binary"]
    cores = ok[0].provenance["machine"]["cores_logical"]
    limit = max(BUSY_MIN_CORES, BUSY_SHARE * (cores - 1))  # threads=1: the case leaves cores - 1 free
    quiet, busy = copy.deepcopy(ok[0]), copy.deepcopy(ok[-1])
    quiet.provenance["load"]["others_cores"] = limit * 0.9
    busy.provenance["load"]["others_cores"] = limit + 0.1
    assert busy_reason(quiet) == "" and "busy" in busy_reason(busy)
    every_core = copy.deepcopy(quiet)
    every_core.case = replace(every_core.case, threads="all")
    every_core.provenance["load"]["others_cores"] = BUSY_MIN_CORES + 0.01  # a case on every core: any other work
    assert busy_reason(every_core)
    html = build_report([quiet], tmp_path / "q").read_text()
    assert "while the machine was busy" not in html and 'data-busy="no"' in html
    # a case skipped over the budget never ran: it is not counted among those the banner counts
    skipped = CaseRecord(case=replace(quiet.case, scale=quiet.case.scale * 10), status="skipped", reason="budget")
    html = build_report([quiet, busy, skipped], tmp_path / "b").read_text()
    assert "1 of 2 case(s) that ran did so while the machine was busy" in html and 'data-busy="yes"' in html
    assert "1-minute load average at case start" in html
    # the README's headline says so too (it dropped the warning the HTML shows)
    from oocbench.reports.headline import headline_markdown

    plain = [copy.deepcopy(r) for r in (quiet, busy, skipped)]  # the headline's setting: no batch size of its own
    for r in plain:
        r.case = CaseSpec(r.case.adapter, r.case.dataset, r.case.scale, repeat=r.case.repeat)
    table = headline_markdown(plain, "R")
    assert "**1 of 2 cases that ran did so while the machine was busy**" in table, table
    assert "synth-binary" in headline_markdown(plain[:1], "R") and "busy" not in headline_markdown(plain[:1], "R")


def test_library_versions_keyed_by_name_even_in_old_records(results, tmp_path):
    old = copy.deepcopy(next(r for r in load_records(results) if r.status == "ok"))
    old.provenance["versions"] = {"river>=0.21": "0.26.1", "numpy": "2.0"}
    text = build_report([old], tmp_path / "r").read_text()
    assert "river 0.26.1" in text and "river&gt;=0.21" not in text
    path = tmp_path / "old.jsonl"
    append_record(path, old)
    assert load_records(path)[0].provenance["versions"] == {"numpy": "2.0", "river": "0.26.1"}


def test_adapters_table_one_row_per_adapter_readable_hyperparameters(results, report):
    html = report.read_text()
    table = html.split("<table class=adapters>")[1].split("</table>")[0]
    rows = re.findall(r'<tr data-adapter="([^"]*)"', table)
    records = load_records(results)
    assert len(rows) == len(set(rows)) == len({r.case.adapter for r in records})
    assert "&lt;class" not in table and "matched</i>:" not in table
    for adapter in ("sklearn.sgd", "sklearn.passive-aggressive"):
        row = table.split(f'data-adapter="{adapter}"')[1].split("</tr>")[0]
        runs = [r.adapter_info["hyperparameters"] for r in records if r.case.adapter == adapter and r.status == "ok"]
        values = {k: {json.dumps(hp.get(k, "(not set)"), sort_keys=True) for hp in runs} for hp in runs for k in hp}
        # each hyperparameter once: a shared value once, a varying one once per value (with where it applied)
        assert row.count("<code") == sum(len(v) for v in values.values()), row
        for k, vs in values.items():
            assert row.count(f">{k}=") + row.count(f"<div>{k}: ") == 1, (k, row)
            assert (f"<div>{k}: " in row) is (len(vs) > 1)


def test_plots_come_from_the_registry(results, tmp_path, monkeypatch):
    from oocbench.reports import registry
    from oocbench.reports.draw import Plot

    def count_plot(s):
        shutil.copy(s.out_dir / "plots" / f"{s.stem}-throughput.png", s.out_dir / "plots" / f"{s.stem}-count.png")
        return Plot(f"plots/{s.stem}-count.png", f"{len(s.groups)} cases", "a test figure")

    entries = [*registry.PLOTS, registry.PlotEntry("count", count_plot, lambda s: s.task == "regression")]
    monkeypatch.setattr("oocbench.reports.build.PLOTS", entries)
    html = build_report(load_records(results), tmp_path / "r").read_text()
    assert html.count("-count.png") == 1 and "<b>1 cases.</b>" in html  # only the regression section


def test_memory_scaling_reads_one_kind_of_memory_when_the_heap_peak_is_at_one_scale_only():
    """The default suite runs memray at 10^6 rows only: a heap peak (here 10x the RSS growth) at the middle
    scale read beside RSS growth at the others would draw memory that rises then falls. Where a line's heap
    peak is not at every scale, its scaling is RSS growth alone."""
    from oocbench.reports.section import Section

    records = [_memory_record(n, 50e6 + 400.0 * n) for n in (10_000, 100_000, 1_000_000)]
    records[1].memory.heap_peak_bytes = int(records[1].memory.rss_fit_bytes * 10)
    section = Section("t", "", Path(), case_groups(records), {})
    expected = memory_scaling([(r.case.scale, r.memory.rss_fit_bytes) for r in records])
    assert section.scaling["sklearn.batch"].exponent == pytest.approx(expected.exponent)
    for r in records:
        r.memory.heap_peak_bytes = int(r.memory.rss_fit_bytes * 2)  # at every scale: the heap counts
    both = Section("t", "", Path(), case_groups(records), {})
    assert both.scaling["sklearn.batch"].exponent == pytest.approx(
        memory_scaling([(r.case.scale, 2 * r.memory.rss_fit_bytes) for r in records]).exponent)
