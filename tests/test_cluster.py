"""A real dask.distributed cluster on loopback (``dask scheduler`` + 2 ``dask worker`` processes) reading from a
real S3 server (SeaweedFS): dask-ml on an existing cluster, a worker killed mid-fit, and a suite spread over the
cluster (``--dispatch``), one case per worker at a time, records appended by the caller.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from oocbench import datasets
from oocbench.records import RECORDS_FILE, read_records
from tests.conftest import REPO
from tests.servers import BUCKET, s3_env, start_dask

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def s3():
    with s3_env() as server:
        yield server


def _cli(*args: str, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "oocbench.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
                            start_new_session=True)


def _scheduler_tasks(address: str) -> int:
    from distributed import Client

    with Client(address, timeout="10s") as c:
        return c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def test_dask_ml_on_an_existing_cluster_from_s3_survives_a_killed_worker(s3, tmp_path):
    data = f"s3://{BUCKET}/cluster"
    # many small shards: one read_part + partial_fit task each, so the fit is long enough to be interrupted
    datasets.generate("synth-binary", 600_000, base=data, rows_per_shard=20_000)
    cluster = start_dask(2, env=s3.env())
    try:
        results = tmp_path / "results"
        proc = _cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd,dask-ml.incremental", "--dataset",
                    "synth-binary", "--scale", "600000", "--data", data, "--scheduler", cluster.address,
                    "--no-memray", "--timeout", "150", "--results", str(results), cwd=tmp_path)
        try:
            deadline = time.monotonic() + 150
            while _scheduler_tasks(cluster.address) == 0:  # the dask-ml case has submitted its fit graph
                assert proc.poll() is None, proc.stdout.read() + cluster.log_tail()
                assert time.monotonic() < deadline, cluster.log_tail()
                time.sleep(0.05)
            os.killpg(cluster.workers[0].pid, signal.SIGKILL)  # nanny and worker: the worker is gone for good
            out, _ = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.returncode == 0, out
        records = {r.case.adapter: r for r in read_records(results / RECORDS_FILE)}
        assert set(records) == {"sklearn.sgd", "dask-ml.incremental"}, out  # no record lost
        assert records["sklearn.sgd"].status == "ok"  # read from S3 in its own child process
        dask_rec = records["dask-ml.incremental"]
        print(f"after the kill: {dask_rec.status} {dask_rec.reason!r} fit {dask_rec.timings.fit_s}")  # CI log
        assert dask_rec.status in ("ok", "error"), (dask_rec.status, dask_rec.reason)
        assert f"external scheduler {cluster.address}: 2 worker(s)" in dask_rec.adapter_info["hyperparameters"][
            "cluster"]
        if dask_rec.status == "ok":  # the lost blocks were recomputed on the surviving worker, from S3
            assert dask_rec.rows == 600_000 and dask_rec.metrics["log_loss"] < 0.6
    finally:
        cluster.stop()


def test_suite_spread_over_the_cluster(s3, tmp_path):
    data = f"s3://{BUCKET}/dispatch"
    cluster = start_dask(2, env=s3.env(), resources="oocbench-case=1")
    try:
        from distributed import Client

        with Client(cluster.address, timeout="10s") as c:
            workers = set(c.scheduler_info(n_workers=-1)["workers"])
        results = tmp_path / "results"
        proc = _cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd,river.linear-many,sklearn.passive-aggressive",
                    "--dataset", "synth-binary", "--scale", "20000", "--data", data, "--dispatch", cluster.address,
                    "--no-memray", "--results", str(results), cwd=tmp_path)
        out, _ = proc.communicate(timeout=200)
        assert proc.returncode == 0, out + cluster.log_tail()
        records = read_records(results / RECORDS_FILE)
        assert sorted(r.case.adapter for r in records) == ["river.linear-many", "sklearn.passive-aggressive",
                                                           "sklearn.sgd"]  # one record per case
        for r in records:
            assert r.status == "ok", r.reason
            where = r.provenance["dispatched_to"]
            assert where["worker"] in workers and where["scheduler"] == cluster.address
            assert where["worker_resources"] == {"oocbench-case": 1.0}
            assert r.memory.rss_fit_bytes is not None and r.rows_per_s > 0
        # each case ran in its own child process: the worker's pid is not the case's (the runner spawned it)
        # and the caller (this test's subprocess) wrote the records; the workers' directories hold none
        assert not list(cluster.logs.rglob(RECORDS_FILE))
        # a rerun skips what is recorded, as for a local suite
        again = _cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale",
                     "20000", "--data", data, "--dispatch", cluster.address, "--no-memray", "--results",
                     str(results), cwd=tmp_path)
        out, _ = again.communicate(timeout=120)
        assert again.returncode == 0 and "already recorded" in out, out
        assert len(read_records(results / RECORDS_FILE)) == 3
    finally:
        cluster.stop()


def test_dispatch_refuses_a_cluster_without_the_case_resource(s3, tmp_path):
    cluster = start_dask(1, env=s3.env())
    try:
        proc = _cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd", "--dataset", "synth-binary",
                    "--data", f"s3://{BUCKET}/refuse", "--dispatch", cluster.address, "--results",
                    str(tmp_path / "r"), cwd=REPO)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 1 and "oocbench-case" in out, out
        assert not (tmp_path / "r" / RECORDS_FILE).exists()
    finally:
        cluster.stop()


def _python_procs_since(t0: float) -> list[str]:
    """Processes started after ``t0`` that are a dask cluster's or XGBoost's (what a case could leave behind)."""
    import psutil

    out = []
    for p in psutil.process_iter(["create_time", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if (p.info["create_time"] or 0) > t0 and ("multiprocessing" in cmd or "distributed" in cmd):
            out.append(f"{p.pid} {cmd[:120]}")
    return out


def test_xgboost_dask_ends_ok_on_a_loopback_cluster_and_in_local_mode(tmp_path):
    data = tmp_path / "data"
    for name in ("synth-binary", "synth-ctr"):
        datasets.generate(name, 100_000, base=data, rows_per_shard=25_000)
    cluster = start_dask(2)
    try:
        results = tmp_path / "on-cluster"
        proc = _cli("run", "--suite", "smoke", "--adapter", "xgboost.dask", "--dataset", "synth-binary,synth-ctr",
                    "--scale", "100000", "--data", str(data), "--scheduler", cluster.address, "--no-memray",
                    "--timeout", "150", "--results", str(results), cwd=tmp_path)
        out, _ = proc.communicate(timeout=200)
        assert proc.returncode == 0, out + cluster.log_tail()
    finally:
        cluster.stop()
    t0 = time.time()
    local = tmp_path / "local"
    proc = _cli("run", "--suite", "smoke", "--adapter", "xgboost.dask,xgboost.in-memory", "--dataset",
                "synth-binary,synth-ctr", "--scale", "100000", "--data", str(data), "--no-memray",
                "--timeout", "150", "--results", str(local), cwd=tmp_path)
    out2, _ = proc.communicate(timeout=200)
    assert proc.returncode == 0, out2
    time.sleep(1.0)
    assert not _python_procs_since(t0), _python_procs_since(t0)  # the LocalCluster's workers went with the case
    recs = {(r.case.adapter, r.case.dataset, d.name): r for d in (results, local)
            for r in read_records(d / RECORDS_FILE)}
    for key, r in recs.items():
        assert r.status == "ok", (key, r.reason)
        assert r.rows == 100_000
    for name in ("synth-binary", "synth-ctr"):
        on = recs["xgboost.dask", name, "on-cluster"].adapter_info["hyperparameters"]
        assert on["workers"] == 2 and f"external scheduler {cluster.address}" in on["cluster"]
        assert recs["xgboost.dask", name, "local"].adapter_info["hyperparameters"]["workers"] == 1
        # the same trees as the single-machine control: losses close (the quantiles are sketched per worker)
        dask_loss = recs["xgboost.dask", name, "local"].metrics["log_loss"]
        assert abs(dask_loss - recs["xgboost.in-memory", name, "local"].metrics["log_loss"]) < 0.01, name
    ctr = recs["xgboost.dask", "synth-ctr", "on-cluster"].adapter_info["hyperparameters"]
    assert "native splits" in ctr["categorical"]


def test_xgboost_dask_with_a_worker_killed_mid_fit_is_ok_on_every_row_or_an_error_naming_it(tmp_path):
    data = tmp_path / "data"
    datasets.generate("synth-ctr", 400_000, base=data, rows_per_shard=50_000)
    cluster = start_dask(2)
    try:
        results = tmp_path / "results"
        proc = _cli("run", "--suite", "smoke", "--adapter", "xgboost.dask", "--dataset", "synth-ctr", "--scale",
                    "400000", "--data", str(data), "--scheduler", cluster.address, "--no-memray", "--timeout", "150",
                    "--param", "collective_timeout_s=20", "--results", str(results), cwd=tmp_path)
        try:
            deadline = time.monotonic() + 150
            while _scheduler_tasks(cluster.address) == 0:  # the case has submitted its read tasks
                assert proc.poll() is None, proc.stdout.read() + cluster.log_tail()
                assert time.monotonic() < deadline, cluster.log_tail()
                time.sleep(0.05)
            time.sleep(3.0)  # into the DMatrix build or the first rounds
            os.killpg(cluster.workers[0].pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=200)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.returncode == 0, out
        (rec,) = read_records(results / RECORDS_FILE)
        print(f"after the kill: {rec.status} {rec.reason!r} fit {rec.timings.fit_s}")  # CI log
        assert rec.status in ("ok", "error"), (rec.status, rec.reason)
        if rec.status == "ok":  # every row learnt from: the lost blocks recomputed on the survivor
            assert rec.rows == 400_000 and rec.metrics["log_loss"] < rec.baseline["log_loss"]
        else:
            assert "lost during fit" in rec.reason, rec.reason
    finally:
        cluster.stop()
