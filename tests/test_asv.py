"""The asv suite end to end: a real ``asv run`` of a fresh clone on the ``tiny`` profile, then ``asv publish``.

asv needs a git repository with commits, and with an ``existing`` environment it saves results only under
``--set-commit-hash``; the test clones the committed tree (as CI's fresh clone would be) into a temp dir,
isolates ``HOME`` (``asv machine`` writes ``~/.asv-machine.json``) and runs asv with the interpreter running
the tests (the project's ``.venv``) as the existing environment.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oocbench import datasets
from oocbench.adapters.registry import discover
from oocbench.asv_results import TrackedValue, read_asv_records, tracked_values

MACHINE = "oocbench-ci"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _asv(*args: str, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "asv", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"asv {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory) -> dict:
    here = Path(__file__).resolve().parent
    top = Path(_git("rev-parse", "--show-toplevel", cwd=here))
    clone = tmp_path_factory.mktemp("asv") / "clone"
    # only committed files: what CI's fresh clone has (an uncommitted benchmark would not be tested)
    _git("clone", "--quiet", str(top), str(clone), cwd=top)
    head = _git("rev-parse", "HEAD", cwd=clone)
    home = tmp_path_factory.mktemp("home")
    # oocbench itself from the clone too, in asv's benchmark processes (ASV_PYTHONPATH: asv drops PYTHONPATH
    # from their sys.path) and in the runner's case children (PYTHONPATH): the committed tree is what is tested
    env = {**os.environ, "HOME": str(home), "OOCBENCH_ASV_PROFILE": "tiny", "COLUMNS": "200",
           "ASV_PYTHONPATH": str(clone), "PYTHONPATH": str(clone)}
    for var in ("OOCBENCH_ASV_RECORDS_DIR", "OOCBENCH_DATA_DIR", "OOCBENCH_ASV_MEMRAY"):
        env.pop(var, None)
    _asv("machine", "--yes", "--machine", MACHINE, cwd=clone, env=env)
    # every adapter's track_ benchmarks, but the in-process time_/peakmem_ of one adapter only: each of
    # those is a process importing its backend per parameter, minutes for all adapters on a 2-core runner
    run = _asv("run", "--environment", f"existing:{sys.executable}", "--set-commit-hash", head,
               "--machine", MACHINE, "--show-stderr", "--bench", r"^(cases\.|inprocess\.sklearn_sgd\.)",
               cwd=clone, env=env)
    publish = _asv("publish", cwd=clone, env=env)
    results = sorted((clone / ".asv" / "results" / MACHINE).glob(f"{head[:8]}-existing-*.json"))
    assert len(results) == 1, f"expected one results file, got {results}\n{run.stdout[-3000:]}"
    return {"clone": clone, "results": results[0], "run": run, "publish": publish,
            "values": tracked_values(results[0])}


def _installed() -> dict[str, type]:
    return {name: e.cls for name, e in discover().items() if e.installed and e.cls is not None}


def _by_case(values: list[TrackedValue], benchmark: str) -> dict[tuple[str, int], float | None]:
    """{(dataset, rows): value} of one benchmark (asv stores params as reprs: "'synth-binary'", "1000")."""
    out = {}
    for v in values:
        if v.benchmark == benchmark:
            out[(v.params[0].strip("'"), int(v.params[1]))] = v.value
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_asv_run_tracks_every_installed_adapter(asv_run) -> None:
    values, records = asv_run["values"], read_asv_records(asv_run["clone"] / ".asv" / "results")
    installed = _installed()
    assert installed, "no adapter installed: nothing to benchmark"
    by_key = {(r.case.adapter, r.case.dataset, r.case.scale): r for r in records}
    for name, cls in installed.items():
        bench = "cases." + name.replace(".", "_").replace("-", "_")
        rates = _by_case(values, f"{bench}.track_rows_per_s")
        assert rates, f"{name}: no {bench}.track_rows_per_s in {asv_run['results'].name}"
        for (dataset, rows), rate in rates.items():
            assert rows == 1_000  # the tiny profile
            gen = datasets.get_generator(dataset)
            task = gen.task
            record = by_key[(name, dataset, rows)]
            # a dense-only adapter on categorical data (dask-ml.glm on synth-ctr) is skipped with its reason
            dense_only_here = (tuple(cls.input_formats) == ("dense",)
                               and "categorical" in getattr(gen, "columns", {}).values())
            if task not in cls.tasks or dense_only_here:
                assert rate is not None and math.isnan(rate), f"{name} {dataset}: a skipped case should be n/a"
                assert record.status == "skipped" and record.reason
                continue
            assert record.status == "ok", f"{name} {dataset}: {record.status} {record.reason}"
            assert rate is not None and rate > 0 and math.isfinite(rate), f"{name} {dataset}: rows/s {rate}"
            # the number asv saved is the record's: one fit, shared by every track_ benchmark
            assert rate == pytest.approx(record.rows_per_s, rel=1e-12)
            rss = _by_case(values, f"{bench}.track_rss_peak_bytes")[(dataset, rows)]
            assert rss is not None and rss > 2**20, f"{name} {dataset}: RSS peak {rss}"
            assert _by_case(values, f"{bench}.track_rows")[(dataset, rows)] == rows
            metric = "log_loss" if task == "binary" else "rmse"
            score = _by_case(values, f"{bench}.track_{metric}")[(dataset, rows)]
            assert score is not None and math.isfinite(score) and score > 0, f"{name} {dataset}: {metric} {score}"
            assert score == pytest.approx(record.metrics[metric], rel=1e-12)
            # the other task's metric is n/a (NaN), not a failure (None)
            other = _by_case(values, f"{bench}.track_{'rmse' if task == 'binary' else 'log_loss'}")[(dataset, rows)]
            assert other is not None and math.isnan(other)
            # the tiny profile skips memray: n/a, not a made-up number
            heap = _by_case(values, f"{bench}.track_heap_peak_bytes")[(dataset, rows)]
            assert heap is not None and math.isnan(heap)
    for kind in ("time_fit", "peakmem_fit"):  # asv's own measurements, in its process
        for (dataset, _rows), value in _by_case(values, f"inprocess.sklearn_sgd.{kind}").items():
            assert value is not None and value > 0 and math.isfinite(value), f"sklearn.sgd {dataset}: {kind} {value}"
        assert _by_case(values, f"inprocess.sklearn_sgd.{kind}"), f"no inprocess.sklearn_sgd.{kind}"
    # every record of this run was written once: setup_cache fitted each case once, not once per metric
    keys = [(r.case.adapter, r.case.dataset, r.case.scale) for r in records]
    assert len(keys) == len(set(keys))
    assert {r.extra["asv"]["profile"] for r in records} == {"tiny"}


@pytest.mark.slow
def test_asv_publish_builds_the_site(asv_run) -> None:
    html = asv_run["clone"] / ".asv" / "html"
    assert (html / "index.html").is_file()
    graphs = list((html / "graphs").rglob("cases.sklearn_sgd.track_rows_per_s.json"))
    assert graphs, "asv publish wrote no graph for cases.sklearn_sgd.track_rows_per_s"
