"""The tuned profile (``oocbench run --tune``, issue 24 part 3): each adapter's grid fitted on the training rows minus
a validation tail, the winner chosen by validation loss without reading the holdout, then run as a case.

Real libraries on tiny data: one ``--tune`` run of vw.linear and sklearn.sgd on synth-ctr (20,000 rows) serves
the first three tests; the holdout spy is a ``sitecustomize`` on the children's ``PYTHONPATH`` that logs every read
of the dataset's rows (and refuses the holdout's inside a grid point).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oocbench.adapters.base import MAX_TUNE_POINTS, PROFILES, TUNED
from oocbench.adapters.registry import discover
from oocbench.features import BatchStream
from oocbench.harness.suites import check_params
from oocbench.harness.tune import MAX_TUNE_WORKERS, NO_GRID, TUNING_FILE, choose
from oocbench.harness.validation import ValidationSplit, split_rows
from oocbench.records import CaseRecord, CaseSpec
from tests.conftest import REPO, oocbench_cli

ROWS = 20_000
ADAPTERS = ("vw.linear", "sklearn.sgd")

#: logs every read of a dataset's rows (who, when, holdout or not); a grid point's child may not read the holdout
SPY = '''
import json, os, sys, time
from oocbench.datasets import reader

def _role():
    try:
        if len(sys.argv) > 1 and sys.argv[1].endswith("spec.json"):
            return "grid" if json.loads(open(sys.argv[1]).read()).get("validation") else "case"
    except (OSError, ValueError):
        pass
    return "other"

def _spied(original, one):
    def read(self, infos, *args, **kwargs):
        infos = infos if one else list(infos)
        holdout = any(i.path == self.manifest.holdout.path for i in ([infos] if one else infos))
        role = _role()
        with open(os.environ["OOCBENCH_SPY_LOG"], "a") as log:
            log.write(json.dumps({"t": time.time(), "role": role, "holdout": holdout, "pid": os.getpid()}) + "\\n")
        if holdout and role == "grid":
            raise PermissionError("spy: a tuning grid point read the holdout")
        return original(self, infos, *args, **kwargs)
    return read

reader.ShardedDataset.record_batches = _spied(reader.ShardedDataset.record_batches, False)
reader.ShardedDataset.read_row_group = _spied(reader.ShardedDataset.read_row_group, True)
'''


def _run(*args: str, cwd: Path, env: dict | None = None) -> dict:
    out = oocbench_cli("run", *args, "--json", cwd=cwd, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout) | {"stderr": out.stderr}


def _lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, data_base) -> dict:
    """One ``--tune`` run of vw.linear and sklearn.sgd on synth-ctr, the holdout spy listening."""
    tmp = tmp_path_factory.mktemp("tune")
    spy = tmp / "spy"
    spy.mkdir()
    (spy / "sitecustomize.py").write_text(SPY)
    log = tmp / "reads.jsonl"
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(spy), os.environ.get("PYTHONPATH", "")) if p),
           "OOCBENCH_SPY_LOG": str(log)}
    results = tmp / "results"
    args = ("--suite", "smoke", "--adapter", ",".join(ADAPTERS), "--dataset", "synth-ctr", "--scale", str(ROWS),
            "--tune", "--repeat", "1", "--no-memray", "--data", str(data_base), "--results", str(results))
    first = _run(*args, cwd=tmp, env=env)
    return {"first": first, "args": args, "tmp": tmp, "env": env, "log": log, "results": results}


def test_tune_records_every_grid_point_with_its_validation_loss_and_runs_the_argmin(tuned):
    out, results = tuned["first"], tuned["results"]
    assert {t["adapter"] for t in out["tuning"]} == set(ADAPTERS)
    points = _lines(results / TUNING_FILE)
    for t in out["tuning"]:
        losses = [p["validation_loss"] for p in t["points"]]
        assert len(losses) >= 4 and all(math.isfinite(v) for v in losses), t["points"]
        assert t["winner"]["point"] == int(np.argmin(losses)) and t["winner"]["validation_loss"] == min(losses)
        assert (t["scale"], t["train_rows"], t["validation_rows"]) == (ROWS, *split_rows(ROWS))
        assert "lowest validation log loss" in t["rule"] and t["base_profile"] == "recommended"
        assert t["wall_s"] > 0 and t["ran_now"] == len(losses)
        filed = [p for p in points if p["case"]["adapter"] == t["adapter"]]
        assert len(filed) == len(losses)  # each point's record, its figures under extra.validation only
        assert all(p["metrics"] == {} and p["rows"] == t["train_rows"] for p in filed)
        assert sorted(p["extra"]["validation"]["value"] for p in filed) == sorted(losses)
        # the tuned case: profile tuned, the winner's overrides as its parameters, extra.tuning saying it all
        (record,) = [r for r in out["records"] if r["case"]["adapter"] == t["adapter"]]
        assert record["status"] == "ok" and record["case"]["profile"] == TUNED
        hyper = {k: v for k, v in t["winner"]["params"].items() if k != "passes"}
        assert record["case"]["params"] == hyper and record["case"]["passes"] == t["winner"]["params"].get("passes", 1)
        assert {k: record["adapter_info"]["hyperparameters"][k] for k in hyper} == hyper
        assert record["extra"]["tuning"] == {k: v for k, v in t.items() if k not in ("adapter", "dataset")}
        assert "log_loss" in record["metrics"]  # the holdout's figure
    assert "tuned sklearn.sgd synth-ctr:" in tuned["first"]["stderr"]


def test_the_holdout_is_not_read_before_the_winner_is_chosen(tuned):
    reads = _lines(tuned["log"])
    grid = [r for r in reads if r["role"] == "grid"]
    holdout = [r for r in reads if r["holdout"]]
    # grid points share a child process per worker (run_points)
    pids, points = {r["pid"] for r in grid}, sum(len(t["points"]) for t in tuned["first"]["tuning"])
    assert len(ADAPTERS) <= len(pids) <= len(ADAPTERS) * MAX_TUNE_WORKERS and len(pids) < points
    assert not [r for r in grid if r["holdout"]]  # (the spy would have failed such a point: every one is ok)
    assert all(p["status"] == "ok" for t in tuned["first"]["tuning"] for p in t["points"])
    assert holdout and all(r["role"] == "case" for r in holdout)
    assert max(r["t"] for r in grid) < min(r["t"] for r in holdout)  # every grid read came first


def test_a_grid_point_in_a_shared_process_scores_as_it_does_alone(tiny, data_base):
    """Sharing a process pays imports once and changes nothing a point is used for: its validation loss."""
    from oocbench.harness.runner import run_case, run_points

    tiny("synth-ctr", 6_000)
    split = dict(zip(("train_rows", "valid_rows"), split_rows(6_000), strict=True))
    specs = [CaseSpec("sklearn.sgd", "synth-ctr", 6_000, profile="recommended", params=(("alpha", a),))
             for a in (1e-5, 1e-3, 1e-1)]
    shared = run_points(specs, data_base=data_base, validation=split)
    alone = [run_case(s, memray=False, data_base=data_base, validation=split) for s in specs]
    assert [r.status for r in shared] == ["ok"] * 3
    assert [r.metrics for r in shared] == [r.metrics for r in alone]  # validation figures, bit for bit
    assert len(set(r.metrics["log_loss"] for r in shared)) == 3  # the points differ: each its own adapter
    assert [r.extra["shared_process"]["point"] for r in shared] == [0, 1, 2]
    assert shared[1].timings.child_start_s == 0.0 < shared[0].timings.child_start_s  # one process start
    assert all(r.rows == split["train_rows"] for r in shared)


def test_a_rerun_reuses_the_grid_and_the_tuned_cases(tuned):
    results = tuned["results"]
    before = (results / TUNING_FILE).read_text(), (results / "records.jsonl").read_text()
    again = _run(*tuned["args"], cwd=tuned["tmp"])
    assert ((results / TUNING_FILE).read_text(), (results / "records.jsonl").read_text()) == before
    assert again["kept"] == len(ADAPTERS)
    assert all(p["kept"] for t in again["tuning"] for p in t["points"])
    assert [t["winner"] for t in again["tuning"]] == [t["winner"] for t in tuned["first"]["tuning"]]


def test_an_adapter_without_a_grid_runs_its_recommended_settings_and_says_so(tmp_path, data_base):
    """The example third-party adapter (examples/oocbench-example-adapter), installed by its entry point."""
    site = tmp_path / "site"
    meta = site / "oocbench_example_adapter-0.1.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: oocbench-example-adapter\nVersion: 0.1.0\n")
    (meta / "entry_points.txt").write_text("[oocbench.adapters]\nexample.perceptron = oocbench_example.adapter:Perceptron\n")
    path = [str(site), str(REPO / "examples" / "oocbench-example-adapter"), os.environ.get("PYTHONPATH", "")]
    out = _run("--adapter", "example.perceptron", "--dataset", "synth-binary", "--scale", "2000", "--tune",
               "--no-memray", "--data", str(data_base), "--results", str(tmp_path / "results"), cwd=tmp_path,
               env={"PYTHONPATH": os.pathsep.join(p for p in path if p)})
    (record,) = out["records"]
    assert record["status"] == "ok" and record["case"]["profile"] == TUNED and record["case"]["params"] == {}
    assert record["extra"]["tuning"] == {"grid": {}, "why": NO_GRID}
    assert out["tuning"] == [{"adapter": "example.perceptron", "dataset": "synth-binary", "grid": {}, "why": NO_GRID}]
    assert not (tmp_path / "results" / TUNING_FILE).exists()
    check = subprocess.run([sys.executable, "-c", "from oocbench_example.adapter import Perceptron as P; "
                            "print(P.resolve('tuned', 'dense') == P.resolve('recommended', 'dense'))"],
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)},
                           capture_output=True, text=True)
    assert check.stdout.strip() == "True", check.stderr
    assert {k: record["adapter_info"]["hyperparameters"][k] for k in ("alpha", "penalty")} == {"alpha": 1e-4,
                                                                                              "penalty": "l2"}


# ----- without child processes -------------------------------------------------------------------------------
def test_every_builtin_grid_is_small_accepted_and_effective_for_every_task():
    assert TUNED in PROFILES
    for name, entry in discover().items():
        cls = entry.cls
        if cls is None or not entry.source.startswith("builtin"):
            continue
        points = cls.tune_points()
        assert 2 <= len(points) <= MAX_TUNE_POINTS, (name, cls.tune_grid)
        assert cls.describe()["tune_grid"] == {k: list(v) for k, v in cls.tune_grid.items()}
        for task in cls.tasks:  # check_params refuses an unknown name, a wrong type, an override with no effect
            specs = [CaseSpec(name, "d", 1000, profile=TUNED, passes=p.get("passes", 1), params=tuple(sorted(
                (k, v) for k, v in p.items() if k != "passes"))) for p in points]
            assert all(s.passes == 1 or cls.multi_pass() for s in specs), name
            assert len(check_params(specs, lambda _, t=task: t)) == len(points), (name, task)
        assert cls.resolve(TUNED, cls.input_formats[0]) == cls.resolve("recommended", cls.input_formats[0])


def test_the_winner_is_the_lowest_finite_loss_and_the_first_listed_of_equals():
    assert choose([0.5, 0.2, 0.3]) == 1
    assert choose([0.4, 0.2, 0.2]) == 1
    assert choose([None, float("nan"), 0.9, float("inf")]) == 2
    assert choose([None, None]) is None


def test_the_validation_tail_is_the_rows_after_the_training_part_with_its_statistics(tiny, monkeypatch):
    ds = tiny("synth-ctr", 5000)
    train, valid = split_rows(ds.rows)
    full = BatchStream(ds, train + valid, 700, "csr")
    split = ValidationSplit.of(BatchStream(ds, ds.rows, 700, "csr"), train, valid)
    assert (split.rows, split.valid_rows, split.input_format) == (train, valid, "csr")
    read: list[list[str]] = []
    original = type(ds).record_batches

    def spy(self, infos, *args, **kwargs):
        infos = list(infos)
        read.append([i.path for i in infos])
        return original(self, infos, *args, **kwargs)

    monkeypatch.setattr(type(ds), "record_batches", spy)
    tail = list(split.holdout())
    assert all(ds.manifest.holdout.path not in paths for paths in read)
    assert sum(len(y) for _, y in tail) == valid
    # the same rows as the stream of train + valid rows, cut after the training part, transformed with the
    # training part's statistics (standardisation from the first `train` rows: synth-ctr is standardised)
    y_all = np.concatenate([y for _, y in full])
    np.testing.assert_array_equal(np.concatenate([y for _, y in tail]), y_all[train:])
    assert split.spec.mean is not None and not np.allclose(split.spec.mean, full.spec.mean)
    table = next(iter(ds.record_batches(ds.manifest.shards, train + valid, None)))
    X, _ = split.spec.transform(table.slice(train, valid), "csr")
    import scipy.sparse as sp

    assert abs(sp.vstack([X for X, _ in tail]) - X).max() == 0
    assert split.describe()["validation"]["train_rows"] == train
    with pytest.raises(ValueError, match="does not fit"):
        ValidationSplit.of(full, train, ds.rows)


def test_tuned_cases_are_a_section_of_their_own_with_the_passes_they_won_in_their_label():
    from oocbench.reports.model import case_groups, sections

    def rec(adapter: str, profile: str, passes: int = 1, params: tuple = ()) -> CaseRecord:
        spec = CaseSpec(adapter, "synth-ctr", 1000, profile=profile, passes=passes, params=params)
        return CaseRecord(spec, task="binary", rows=1000, rows_per_s=1.0, metrics={"log_loss": 0.2})

    records = [rec("vw.linear", "recommended"), rec("sklearn.sgd", "recommended"),
               rec("vw.linear", TUNED, passes=3, params=(("bit_precision", 22),)),
               rec("sklearn.sgd", TUNED, params=(("alpha", 1e-3),))]
    by = {key: sorted(g.label() for g in groups) for key, groups in sections(case_groups(records)).items()}
    assert by == {("synth-ctr", "recommended", "1", ""): ["sklearn.sgd", "vw.linear"],
                  ("synth-ctr", TUNED, "1", ""): ["sklearn.sgd alpha=0.001", "vw.linear bit_precision=22 passes=3"]}


def test_grid_points_share_the_machine_only_when_every_tuned_case_runs_on_one_thread():
    """Points are fitted for their validation loss alone, so they may run side by side (one per core); a case
    using every core would be slowed by its neighbour for nothing."""
    from dataclasses import replace

    from oocbench.harness.tune import MAX_TUNE_WORKERS, tune_workers

    one = CaseSpec("sklearn.sgd", "synth-ctr", ROWS, profile=TUNED)
    assert tune_workers([one]) == max(1, min(MAX_TUNE_WORKERS, os.cpu_count() or 1))
    assert tune_workers([one, replace(one, threads="all")]) == 1
    assert tune_workers([replace(one, profile="matched", threads="all"), one]) == tune_workers([one])
