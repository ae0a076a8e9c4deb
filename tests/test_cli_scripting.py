"""The CLI in scripts: --json documents, --strict exit codes, repeats of short cases, memory units, full names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from oocbench import config
from oocbench.adapters.registry import discover
from oocbench.datasets import dataset_names
from tests.conftest import oocbench_cli


def _piped(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # a pipe: no terminal width at all
    return subprocess.run([sys.executable, "-m", "oocbench", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_list_and_datasets_piped_print_every_name_in_full_and_json_parses(tmp_path):
    out = _piped("datasets", cwd=tmp_path)
    assert out.returncode == 0 and "…" not in out.stdout
    assert all(name in out.stdout for name in dataset_names())
    listed = json.loads(_piped("list", "--json", cwd=tmp_path).stdout)
    assert {a["name"] for a in listed["adapters"]} == set(discover())
    assert {d["name"] for d in listed["datasets"]} == set(dataset_names()) and listed["scales"]["m"] == 100_000
    catalog = json.loads(_piped("datasets", "--json", cwd=tmp_path).stdout)
    assert {d["name"] for d in catalog} == set(dataset_names()) and all("task" in d for d in catalog)


@pytest.mark.parametrize("args", [
    ("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "lots", "--json"),  # our check
    ("run", "--adapter", "sklearn.sgd", "--json", "--repeat", "many"),  # argparse's own
    ("list", "--json", "--no-such-option"),
])
def test_a_usage_error_with_json_is_a_json_document_on_stdout_too(args, tmp_path):
    """A script that parses stdout got an empty document on a usage error; the one line stays on stderr."""
    out = _piped(*args, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip()
    doc = json.loads(out.stdout)
    assert doc["exit"] == 2 and doc["error"].startswith("oocbench") and "Traceback" not in out.stderr


def test_run_json_strict_and_repeats_of_a_short_case(data, tmp_path):
    res = tmp_path / "res"
    out = _piped("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1800", "--data",
                 str(data), "--results", str(res), "--json", "--no-memray", "--repeat", "auto", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # stdout is the JSON document alone: the result lines went to stderr
    assert doc["statuses"] == {"ok": 3} and [r["case"]["repeat"] for r in doc["records"]] == [0, 1, 2]
    assert "#1" in out.stderr and "#2" in out.stderr  # repeats are told apart in the result lines
    again = json.loads(_piped("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1800",
                              "--data", str(data), "--results", str(res), "--json", "--repeat", "auto",
                              cwd=tmp_path).stdout)
    assert again["kept"] == 3 and len(again["records"]) == 3  # resumed, repeats included, nothing rerun
    one = _piped("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1700", "--data",
                 str(data), "--results", str(res), "--repeat", "1", "--no-memray", "--json", cwd=tmp_path)
    assert json.loads(one.stdout)["statuses"] == {"ok": 1}
    # a case that does not end ok: exit 0 without --strict (a skip is a result), 3 with it
    args = ("run", "--adapter", "dask-ml.glm", "--dataset", "synth-ctr", "--scale", "1000", "--results",
            str(res), "--data", str(tmp_path / "ctr"), "--no-memray", "--repeat", "1")
    assert _piped(*args, cwd=tmp_path).returncode == 0
    strict = _piped(*args, "--strict", cwd=tmp_path)
    assert strict.returncode == 3, strict.stderr


@pytest.mark.parametrize(("text", "expected"), [("12GiB", 12 * 2**30), ("500MB", 500 * 10**6), ("2", 2 * 2**30),
                                                ("25%", None)])
def test_one_memory_unit(text, expected):
    import psutil

    got = config.parse_memory(text, psutil.virtual_memory().total)
    assert got == (expected if expected is not None else int(psutil.virtual_memory().total * 0.25))


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "abc", "1e308", "150%", "12 parsecs"])
def test_a_bad_memory_limit_exits_2_saying_the_unit(bad, tmp_path):
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
                       "--memory-limit", bad, cwd=tmp_path)
    assert out.returncode == 2 and "memory limit" in out.stderr


def test_help_has_defaults_and_no_rst_markup(tmp_path):
    top = _piped("--help", cwd=tmp_path).stdout
    run = _piped("run", "--help", cwd=tmp_path).stdout
    assert "``" not in top + run and ":func:" not in top + run
    for option in ("--profile", "--threads", "--batch-size", "--seed", "--repeat", "--memory-limit"):
        block = run.split("options:", 1)[1].split(f"\n  {option}", 1)[1].split("\n  --", 1)[0]
        assert "default" in block, f"{option} help states no default: {block!r}"


def test_every_case_leaves_the_eta_whether_it_ran_was_kept_or_failed(data, tmp_path, monkeypatch):
    """Kept cases and harness failures used to stay 'pending': the bar showed time left after the last case."""
    from oocbench.harness.eta import Eta
    from oocbench.harness.runner import Limits
    from oocbench.harness.suites import run_cases
    from oocbench.records import CaseSpec

    monkeypatch.setenv("OOCBENCH_DATA_DIR", str(data))
    cases = [CaseSpec("sklearn.sgd", "synth-binary", 1800)]
    run_cases(cases, tmp_path / "res", Limits(timeout_s=120), memray=False)
    more = [*cases, CaseSpec("sklearn.sgd", "nosuch-dataset", 1000)]  # a harness failure, not a record
    eta, finished, errors = Eta(more), [], []

    def on_finished(spec):
        finished.append(spec)
        eta.finished(spec, None)

    run_cases(more, tmp_path / "res", Limits(timeout_s=120), memray=False, errors=errors, on_finished=on_finished)
    assert finished == more and len(errors) == 1 and eta.pending == {}


def test_the_run_summary_fits_an_80_column_terminal_without_cutting_a_name():
    """At 80 columns each cell keeps rows/s and loss (the rest is in the report); no adapter name is cut."""
    from rich.console import Console

    from oocbench.cli import summary_table
    from oocbench.records import CaseRecord, CaseSpec, Memory

    records = [CaseRecord(CaseSpec(a, d, n), status="ok", task="binary", rows_per_s=1.2e6, rows=n,
                          metrics={"log_loss": 0.1427}, memory=Memory(rss_fit_bytes=5 * 2**20))
               for a in ("dask-ml.incremental", "xgboost.external-memory") for d in ("synth-binary", "synth-ctr")
               for n in (10_000, 100_000, 1_000_000)]
    narrow = Console(width=80, record=True, color_system=None)
    narrow.print(summary_table(records, 80))
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "xgboost.external-memory" in text and "1.2M/s" in text and "0.1427" in text
    wide = Console(width=200, record=True, color_system=None)
    wide.print(summary_table(records, 200))
    assert "RSS +5 MiB" in wide.export_text()  # a wide terminal keeps every figure


def test_the_eta_treats_a_fits_own_set_up_as_fixed_past_the_largest_finished_scale():
    """Per-row time at 10^4 rows counts a fit's set-up (TF's tracing) as rows: ``make bench`` showed 3x the
    time left past its middle. Two scales of a dataset give a line; one, the growth seen on another dataset."""
    from oocbench.harness.eta import Eta
    from oocbench.records import CaseRecord, CaseSpec, Timings

    def done(dataset, n, total, fit):
        spec = CaseSpec("a", dataset, n)
        return spec, CaseRecord(spec, status="ok", timings=Timings(total_s=total, fit_s=fit))

    eta = Eta([CaseSpec("a", "d1", 1_000_000), CaseSpec("a", "d2", 1_000_000)])
    for spec, record in (done("d1", 10_000, 10.0, 5.0), done("d1", 100_000, 12.0, 7.0), done("d2", 10_000, 10.0, 5.0)):
        eta.finished(spec, record.timings.total_s, record)
    # d1: 5 s fixed + 7 s at 10^5 + 2 s per 9x10^4 rows beyond (per-row alone: 5 + 70 = 75 s)
    assert eta._from_records(CaseSpec("a", "d1", 1_000_000)) == pytest.approx(32.0)
    # d2, one scale: d1's growth (7/5 over a decade, k = 0.15) clamped to k = 0.5: 5 + 5 x 100^0.5
    assert eta._from_records(CaseSpec("a", "d2", 1_000_000)) == pytest.approx(55.0)
    assert eta.remaining() == pytest.approx(87.0)
