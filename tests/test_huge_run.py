"""scripts/huge_run.py on tiny data: a scale series on wide categorical data, written plain, with the per-case
budget and XGBoost's rounds (the real script, real adapters, in a subprocess)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq

from oocbench.records import read_records
from tests.conftest import REPO


def huge_run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "huge_run.py"), "--data", str(tmp_path / "data"),
                           "--results", str(tmp_path / "results"), "--timeout", "300", *args],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)


def test_a_series_runs_smallest_scale_first_and_budget_skips_are_recorded(tmp_path):
    out = huge_run(tmp_path, "--dataset", "synth-ctr", "--codec", "plain", "--rows", "30000,3000",
                   "--adapters", "sklearn.sgd,xgboost.external-memory", "--budget", "0.01", "--xgb-rounds", "2",
                   "--memory-limit", "30%")
    assert out.returncode == 0, out.stdout + out.stderr
    records = read_records(tmp_path / "results" / "records.jsonl")
    assert [(r.case.adapter, r.case.scale) for r in records] == [
        ("sklearn.sgd", 3000), ("xgboost.external-memory", 3000),
        ("sklearn.sgd", 30000), ("xgboost.external-memory", 30000)]
    small, big = records[0], records[2]
    assert small.status == "ok" and big.status == "skipped" and "per-case time budget" in big.reason
    assert big.extra["budget_skip"]["from_scale"] == 3000
    xgb = records[1]
    assert xgb.status == "ok" and dict(xgb.case.params) == {"num_boost_round": 2}
    assert xgb.adapter_info["hyperparameters"]["num_boost_round"] == 2
    shard = next((tmp_path / "data").rglob("train-00000.parquet"))
    assert pq.ParquetFile(shard).metadata.row_group(0).column(13).compression == "UNCOMPRESSED"  # C1: plain
    assert "B/row on disk (measured, codec plain)" in out.stdout and "sklearn.sgd" in out.stdout
    on_disk = sum(p.stat().st_size for p in shard.parent.glob("train-*.parquet"))
    assert small.extra["dataset"]["train_bytes"] == on_disk and small.extra["dataset"]["rows"] == 3000

    from oocbench.fmt import fmt_bytes
    from oocbench.reports.build import build_report

    html = build_report(records, tmp_path / "report").read_text()
    assert f"training Parquet: 3k rows {fmt_bytes(on_disk)} (0.00x RAM)" in html


def test_a_bad_memory_limit_fails_before_any_data_is_written(tmp_path):
    out = huge_run(tmp_path, "--rows", "3000", "--memory-limit", "lots")
    assert out.returncode == 2 and "memory" in out.stderr.lower()
    assert not (tmp_path / "data").exists()
