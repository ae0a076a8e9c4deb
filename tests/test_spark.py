"""Spark MLlib adapters on real Spark (issue 29): ``local[N]``, and ``local-cluster[2,1,1024]`` (a master, two
workers and their executors as separate JVM processes on loopback), with an executor killed mid-fit.

Marked ``spark`` (``pytest -m "not spark"`` deselects them); CI runs them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from oocbench import datasets
from oocbench.adapters.registry import discover
from oocbench.records import RECORDS_FILE, read_records

pytestmark = [pytest.mark.spark, pytest.mark.timeout(420),
              pytest.mark.skipif(not discover()["spark.linear"].installed,
                                 reason="pyspark is not installed (pip install 'oocbench[spark]')")]

ROWS = 100_000
LOCAL_CLUSTER = "local-cluster[2,1,1024]"


@pytest.fixture(scope="module")
def spark_data(tmp_path_factory):
    base = tmp_path_factory.mktemp("spark-data")
    for name in ("synth-binary", "synth-ctr"):  # several shards: the prefix cut runs through _metadata.row_index
        datasets.generate(name, ROWS + 20_000, base=base, rows_per_shard=40_000)
    return base


def _run(*args: str, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "oocbench.cli", "run", "--suite", "smoke", "--no-memray",
                             "--timeout", "300", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "COLUMNS": "200"}, start_new_session=True)


def _jvms_since(t0: float) -> list[str]:
    out = []
    for p in psutil.process_iter(["create_time", "cmdline", "name"]):
        if (p.info["create_time"] or 0) > t0 and "java" in (p.info["name"] or ""):
            out.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:100]}")
    return out


@pytest.mark.parametrize("master", ["local", LOCAL_CLUSTER])
def test_spark_adapters_end_ok_on_dense_and_wide_data(master, spark_data, tmp_path):
    t0 = time.time()
    results = tmp_path / "results"
    extra = ["--spark-master", master] if master != "local" else []
    proc = _run("--adapter", "spark.linear,sklearn.sgd", "--dataset", "synth-binary,synth-ctr", "--scale",
                str(ROWS), "--data", str(spark_data), "--results", str(results), *extra, cwd=tmp_path)
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out
    records = {(r.case.adapter, r.case.dataset): r for r in read_records(results / RECORDS_FILE)}
    assert len(records) == 4, out
    for (name, dataset), r in records.items():
        assert r.status == "ok", (name, dataset, r.status, r.reason)
        assert r.rows == ROWS
        assert r.metrics["log_loss"] < r.baseline["log_loss"], (name, dataset)
        if name.startswith("spark."):
            hp = r.adapter_info["hyperparameters"]
            assert hp["master"] == (master if master != "local" else "local[1]")
            assert hp["engine"].startswith("Spark ")
            assert r.memory.rss_fit_bytes is not None
    # the linear model beside scikit-learn's SGD on the same rows: same features, within a few percent
    for dataset in ("synth-binary", "synth-ctr"):
        spark_loss = records["spark.linear", dataset].metrics["log_loss"]
        assert spark_loss < 1.1 * records["sklearn.sgd", dataset].metrics["log_loss"], dataset
    time.sleep(1.0)
    assert not _jvms_since(t0), _jvms_since(t0)  # every JVM (driver, local-cluster executors) went with its case


def test_a_killed_executor_is_recovered_or_an_error_never_a_hang(spark_data, tmp_path):
    t0 = time.time()
    results = tmp_path / "results"
    proc = _run("--adapter", "spark.linear", "--dataset", "synth-ctr", "--scale", str(ROWS), "--data", str(spark_data),
                "--spark-master", LOCAL_CLUSTER, "--results", str(results), cwd=tmp_path)
    try:
        deadline, killed = time.monotonic() + 240, None
        while killed is None:  # an executor JVM of this case, once it has started
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline
            for p in psutil.process_iter(["create_time", "cmdline"]):
                cmd = " ".join(p.info["cmdline"] or [])
                if (p.info["create_time"] or 0) > t0 and "CoarseGrainedExecutorBackend" in cmd:
                    killed = p
                    break
            time.sleep(0.2)
        time.sleep(12.0)  # into the fit (a JVM's start and the session take ~10 s)
        killed.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    (rec,) = read_records(results / RECORDS_FILE)
    print(f"after the kill: {rec.status} {rec.reason!r} fit {rec.timings.fit_s}")  # CI log
    assert rec.status in ("ok", "error"), (rec.status, rec.reason)
    if rec.status == "ok":  # Spark reran the lost tasks on a new executor: every row learnt from
        assert rec.rows == ROWS and rec.metrics["log_loss"] < rec.baseline["log_loss"]
    time.sleep(1.0)
    assert not _jvms_since(t0), _jvms_since(t0)
