"""Datasets in object storage, against a real S3-compatible server (SeaweedFS) on loopback.

Generation writes straight to ``s3://`` (no local staging), the reader streams from it, a case reads it
through the isolated runner, and an interrupted writer leaves nothing that reads as complete.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from oocbench import datasets
from oocbench.datasets.catalog import on_disk
from oocbench.records import RECORDS_FILE, read_records
from oocbench.storage import resolve
from tests.conftest import REPO, oocbench_cli
from tests.servers import BUCKET, s3_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def s3():
    """A SeaweedFS S3 endpoint for this module; this process (and its children) get its environment."""
    with s3_env() as server:
        yield server


def _keys(prefix: str) -> list[str]:
    loc = resolve(f"s3://{BUCKET}/{prefix}")
    return sorted(p.path[len(loc.path) + 1:] for p in loc.walk_files())


def test_generate_to_s3_streams_back_equal_to_local(s3, tmp_path):
    base = f"s3://{BUCKET}/equal"
    remote = datasets.generate("synth-binary", 30_000, base=base, rows_per_shard=10_000, workers=2)
    local = datasets.generate("synth-binary", 30_000, base=tmp_path, rows_per_shard=10_000, workers=1)
    # the same bytes: shard hashes, computed on write by reading each object back from the server
    assert [s.sha256 for s in remote.manifest.shards] == [s.sha256 for s in local.manifest.shards]
    assert remote.manifest.holdout.sha256 == local.manifest.holdout.sha256
    # a fresh reader on the URL (not the writer's object) streams the same batches
    again = datasets.ShardedDataset(f"{base}/synth-binary/seed-0/rows-30000", verify=True)
    again.verify_all()
    for (Xa, ya), (Xb, yb) in zip(again.batches(7_000), local.batches(7_000), strict=True):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    assert _keys("equal/synth-binary/seed-0/rows-30000") == [
        "holdout.parquet", "manifest.json", "train-00000.parquet", "train-00001.parquet", "train-00002.parquet"]
    assert [d["rows"] for d in on_disk("synth-binary", base)] == [30_000]  # the catalog lists object storage too
    assert datasets.load("synth-binary", 30_000, base=base, create=False).uri.startswith(f"s3://{BUCKET}/equal/")


def test_cli_generate_and_run_a_case_from_s3(s3, tmp_path):
    base = f"s3://{BUCKET}/cli"
    gen = oocbench_cli("generate", "synth-binary", "--scale", "20000", "--out", base, cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    assert f"-> {base}/synth-binary/seed-0/rows-20000" in gen.stdout
    run = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "20000",
                       "--data", base, "--no-memray", "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    (record,) = read_records(tmp_path / "results" / RECORDS_FILE)
    assert record.status == "ok", record.reason
    assert record.rows == 20_000 and record.metrics["log_loss"] < 0.6
    # streamed from the server, no local copy: the working directory holds only the results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_interrupted_write_leaves_no_manifest_and_resumes(s3, tmp_path):
    base = f"s3://{BUCKET}/killed"
    prefix = "killed/synth-binary/seed-0/rows-120000"
    # a slow writer (a pause per generated block) killed with SIGKILL once two shards are on the server
    code = ("import time; from oocbench import datasets; "
            f"datasets.generate('synth-binary', 120_000, base={base!r}, rows_per_shard=20_000, workers=1, "
            "progress=lambda n: time.sleep(0.3))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=os.environ.copy(),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while sum(k.endswith(".done") for k in _keys(prefix)) < 2:
            assert proc.poll() is None, "the writer ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    keys = _keys(prefix)
    assert "manifest.json" not in keys and ".lock" in keys and "plan.json" in keys
    with pytest.raises(datasets.DatasetError, match="no manifest"):
        datasets.ShardedDataset(f"{base}/synth-binary/seed-0/rows-120000")
    with pytest.raises(datasets.DatasetError, match="not generated"):
        datasets.load("synth-binary", 120_000, base=base, create=False)
    # the rerun keeps the finished shards (the dead writer's lock is released: same host, pid gone)
    fs = resolve(base).fs
    kept = {k: fs.get_file_info(f"{BUCKET}/{prefix}/{k}").mtime for k in keys
            if k.startswith("train-") and f"{k}.done" in keys}
    assert len(kept) >= 2
    resumed = datasets.generate("synth-binary", 120_000, base=base, rows_per_shard=20_000, workers=1)
    fresh = datasets.generate("synth-binary", 120_000, base=tmp_path, rows_per_shard=20_000, workers=1)
    assert [s.sha256 for s in resumed.manifest.shards] == [s.sha256 for s in fresh.manifest.shards]
    assert all(fs.get_file_info(f"{BUCKET}/{prefix}/{k}").mtime == t for k, t in kept.items())  # not rewritten
    assert not any(k.endswith(".done") or k in (".lock", "plan.json") for k in _keys(prefix))


def test_rewriting_a_complete_dataset_drops_its_manifest_first(s3):
    base = f"s3://{BUCKET}/rewrite"
    datasets.generate("synth-regression", 5_000, base=base)
    root = resolve(base) / "synth-regression" / "seed-0" / "rows-5000"
    assert (root / "manifest.json").is_file()

    def boom(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datasets.generate("synth-regression", 5_000, base=base, workers=1, progress=boom)
    assert not (root / "manifest.json").is_file()  # half rewritten: no longer reads as complete
    with pytest.raises(datasets.DatasetError, match="no manifest"):
        datasets.ShardedDataset(root)
