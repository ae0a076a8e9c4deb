"""The CLI as a user runs it: real subprocesses, real child processes, real records."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO, oocbench_cli


def test_list_shows_adapters_datasets_scales(tmp_path):
    out = oocbench_cli("list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "sklearn.sgd" in out.stdout and "installed" in out.stdout
    assert "synth-binary" in out.stdout and "xxl" in out.stdout
    out = oocbench_cli("list", "--json", cwd=tmp_path)
    kinds = {a["name"]: a["memory"] for a in json.loads(out.stdout)["adapters"]}
    # which adapters stream the rows and which hold them all in RAM (the in-memory references, the binned trees)
    assert kinds["sklearn.sgd"] == kinds["vw.linear"] == kinds["xgboost.external-memory"] == "out of core"
    assert kinds["sklearn.batch"] == kinds["lightgbm.gbdt"] == kinds["xgboost.in-memory"] == "in memory"


def test_unknown_adapter_exits_2_and_lists_valid(tmp_path):
    out = oocbench_cli("run", "--adapter", "nope", "--dataset", "synth-binary", "--scale", "1000", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown adapter 'nope'" in out.stderr and "sklearn.sgd" in out.stderr


def test_unknown_dataset_and_scale_exit_2(tmp_path):
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "nope", "--scale", "1000", cwd=tmp_path)
    assert out.returncode == 2 and "synth-binary" in out.stderr
    out = oocbench_cli("generate", "synth-binary", "--scale", "lots", cwd=tmp_path)
    assert out.returncode == 2 and "xs=" in out.stderr


@given(mantissa=st.integers(1, 999), exponent=st.integers(0, 6))
def test_a_row_count_as_the_reports_print_it_is_a_scale(mantissa, exponent):
    """Reports label scales "10k", "1M", "2.5M"; the same text given to --scale is the same row count."""
    from oocbench.config import parse_scale
    from oocbench.fmt import fmt_rows

    rows = mantissa * 10**exponent
    assert parse_scale(fmt_rows(rows)) == rows


@pytest.mark.parametrize("bad", ["1m", "k", "1.5", "M1", "1.0001k"])
def test_a_scale_that_is_not_a_whole_row_count_is_refused(bad):
    from oocbench.config import parse_scale

    with pytest.raises(ValueError, match="scale"):
        parse_scale(bad)


def test_run_generates_data_prints_summary_and_appends_full_record(tmp_path):
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "20000",
                       cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "rows/s" in text and "log loss" in text and "RSS growth" in text
    lines = (tmp_path / "results" / "records.jsonl").read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["status"] == "ok", rec
    for section in ("timings", "memory"):
        empty = [k for k, v in rec[section].items() if v in (None, "")]
        assert not empty, f"{section} fields not filled: {empty}"
    assert rec["rows"] == 20000 and rec["rows_per_s"] > 0
    assert set(rec["metrics"]) == {"log_loss", "accuracy", "roc_auc"}
    assert rec["metrics"]["log_loss"] < rec["baseline"]["log_loss"]
    prov = rec["provenance"]
    assert prov["python"] and prov["versions"]["scikit-learn"] and prov["machine"]["ram_bytes"] > 0
    assert not [k for k in prov["versions"] if set(k) & set("<>=!~ ")], "versions keyed by requirement strings"
    assert prov["thread_env"]["OMP_NUM_THREADS"] == "1"
    assert rec["adapter_info"]["hyperparameters"]["learning_rate"] == "invscaling"

    # a second run of the same case is kept, not redone
    again = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "20000",
                         cwd=tmp_path)
    assert again.returncode == 0 and "already recorded" in again.stdout
    assert len((tmp_path / "results" / "records.jsonl").read_text().splitlines()) == 1


def test_third_party_adapter_via_entry_point(tmp_path):
    """An adapter in its own installed package appears in `oocbench list` and runs, with no change to oocbench."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(REPO / "examples" / "oocbench-example-adapter")],
                   check=True, capture_output=True)
    env = {"PYTHONPATH": str(site)}
    out = oocbench_cli("list", cwd=tmp_path, env=env)
    assert "example.perceptron" in out.stdout and "entry-point" in out.stdout, out.stdout
    listed = json.loads(oocbench_cli("list", "--json", cwd=tmp_path, env=env).stdout)["adapters"]
    entry = next(a for a in listed if a["name"] == "example.perceptron")
    assert entry["source"] == "entry-point (oocbench-example-adapter 0.1.0)"  # the adapter package's own release
    out = oocbench_cli("run", "--adapter", "example.perceptron", "--dataset", "synth-binary", "--scale", "5000",
                       "--no-memray", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "results" / "records.jsonl").read_text().splitlines()[-1])
    assert rec["status"] == "ok" and rec["case"]["adapter"] == "example.perceptron", rec


@pytest.mark.parametrize("bad", [("--timeout", "0"), ("--timeout", "-1"), ("--timeout", "nan"),
                                 ("--memory-limit", "0"), ("--memory-limit", "-1"), ("--memory-limit", "inf"),
                                 ("--batch-size", "0"), ("--repeat", "0"), ("--grace", "-1"),
                                 ("--scale", "1e30"), ("--scale", "inf"), ("--hash-bits", "31")])
def test_limits_out_of_range_exit_2_before_anything_runs(tmp_path, bad):
    # each once ran (a false oom, a hang over 10^24 shard indices, a traceback) and left records that then
    # blocked the corrected rerun; now a usage error, and nothing is written
    args = ["run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
            "--results", str(tmp_path / "r"), "--no-memray", *bad]
    out = oocbench_cli(*args, cwd=tmp_path, env={"OOCBENCH_DATA_DIR": str(tmp_path / "d")})
    assert out.returncode == 2, (bad, out.stdout, out.stderr)
    assert bad[0].lstrip("-").split("-")[0] in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()


def test_piped_output_is_never_cut_and_the_module_runs(tmp_path):
    """`oocbench list | cat` printed `dask-ml.increme…`; `python -m oocbench` and `--version` work."""
    import subprocess
    import sys

    from oocbench import __version__
    from oocbench.adapters.registry import discover

    env = {k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"}  # a pipe, no terminal width
    out = subprocess.run([sys.executable, "-m", "oocbench", "list"], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=120)
    assert out.returncode == 0 and "…" not in out.stdout
    assert all(name in out.stdout for name in discover())
    version = subprocess.run([sys.executable, "-m", "oocbench", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"oocbench {__version__}"


def test_load_results_gives_one_row_per_record(data, tmp_path):
    """``oocbench.load_results`` (the README's Python entry point) reads what ``oocbench run`` wrote."""
    import oocbench

    out = tmp_path / "res"
    for adapter in ("sklearn.sgd", "river.linear"):
        run = oocbench_cli("run", "--adapter", adapter, "--dataset", "synth-binary", "--scale", "1800", "--data",
                           str(data), "--results", str(out), "--no-memray", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    df = oocbench.load_results(out)
    assert sorted(df.adapter) == ["river.linear", "sklearn.sgd"] and set(df.status) == {"ok"}
    assert (df.loss_name == "log_loss").all() and (df.loss < df.baseline).all()
    assert (df["metric.log_loss"] == df.loss).all() and df.rows_per_s.gt(0).all() and df.latest.all()
    again = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1800", "--data",
                         str(data), "--results", str(out), "--no-memray", "--force", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    df = oocbench.load_results(out)  # the rerun supersedes the first sklearn.sgd record: both rows, one latest
    assert len(df) == 3 and sorted(df[df.adapter == "sklearn.sgd"].latest) == [False, True]
