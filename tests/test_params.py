"""Issue 18 part 1 (``oocbench run --param``: overrides and grids) and issue 15's effective-hyperparameters bug:
through the real command line on tiny data, and every installed adapter fitted for real."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oocbench.adapters.registry import discover
from oocbench.features import BatchStream, UnsupportedInputError
from tests.conftest import oocbench_cli

ROWS = 3000
GRID = ("--param", "eta0=0.01,0.1,1", "--param", "batch_size=1000,10000")


def _records(results: Path) -> list[dict]:
    path = results / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


# ----- part A: the acceptance of issue 18's grid, at 3,000 rows instead of 10^5 ---------------------------------
def test_a_grid_writes_one_record_per_point_a_rerun_skips_them_and_an_unknown_name_exits_2(tmp_path):
    case = ("run", "--adapter", "sklearn.sgd", "--dataset", "synth-ctr", "--scale", str(ROWS))
    where = ("--results", str(tmp_path / "r"), "--data", str(tmp_path / "data"), "--no-memray")
    run = (*case, *GRID, *where)
    out = oocbench_cli(*run, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    records = _records(tmp_path / "r")
    assert len(records) == 6 and all(r["status"] == "ok" for r in records), [r["reason"] for r in records]
    assert len({r["case_key"] for r in records}) == 6
    asked = {(e, b) for e in (0.01, 0.1, 1.0) for b in (1000, 10_000)}
    assert {(r["case"]["params"]["eta0"], r["case"]["batch_size"]) for r in records} == asked
    for r in records:
        assert set(r["case"]["params"]) == {"eta0"}
        hp = r["adapter_info"]["hyperparameters"]
        # eta0 as set, under the schedule that uses it (sklearn's 'optimal' would ignore it)
        assert hp["eta0"] == r["case"]["params"]["eta0"] and hp["learning_rate"] == "invscaling"
        assert "no_effect" not in hp
    # a setting of its own per grid point: the result lines (and summaries) keep them apart
    heads = [ln.split(": ok")[0] for ln in (out.stdout + out.stderr).splitlines() if ": ok " in ln]
    assert len(heads) == 6 == len(set(heads)) and any("[batch 1,000, eta0=0.01]" in h for h in heads), heads
    # the step size moved the loss: the knob reached the model (not a measured figure: a direction only)
    loss = {(r["case"]["params"]["eta0"], r["case"]["batch_size"]): r["metrics"]["log_loss"] for r in records}
    assert len({round(v, 6) for v in loss.values()}) > 1, loss

    again = oocbench_cli(*run, cwd=tmp_path, timeout=600)
    assert again.returncode == 0 and "6 already recorded" in again.stdout, again.stdout + again.stderr
    assert len(_records(tmp_path / "r")) == 6

    bad = oocbench_cli(*case, "--param", "nosuch=1", *where, cwd=tmp_path)
    last = bad.stderr.strip().splitlines()[-1]
    assert bad.returncode == 2 and "unknown parameter 'nosuch'" in last, bad.stderr
    assert all(name in last for name in ("eta0", "alpha", "learning_rate", "batch_size")), last
    assert len(_records(tmp_path / "r")) == 6


@pytest.mark.parametrize(("args", "needle"), [
    (("--param", "eta0=abc"), "eta0 of sklearn.sgd is a number"),
    (("--param", "batch_size=1e3"), "--param batch_size=1e3"),
    (("--param", "threads=2"), "--param threads=2: must be one of 1, all"),
    (("--param", "passes=0"), "--param passes=0"),
    (("--param", "eta0=nan"), "not a finite number"),
    (("--param", "batch_size=500", "--batch-size", "500"), "both given"),
    (("--param", "eta0=0.1", "--param", "eta0=1"), "given twice"),
    (("--param", "eta0"), "NAME=VALUE"),
    (("--profile", "recommended", "--param", "eta0=0.1,1"), "learning_rate='optimal' ignores eta0"),
    (("--suite", "smoke", "--param", "eta0=0.1"), "unknown parameter 'eta0' for"),
])
def test_bad_overrides_exit_2_before_anything_runs(tmp_path, args, needle):
    head = ("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000")
    if "--suite" in args:
        head = ("run", "--scale", "1000")
    out = oocbench_cli(*head, *args, "--results", str(tmp_path / "r"), cwd=tmp_path)
    assert out.returncode == 2 and needle in out.stderr.strip().splitlines()[-1], out.stderr
    assert not (tmp_path / "r" / "records.jsonl").exists() and not (tmp_path / "data").exists()


# ----- part B: hyperparameters are set once; what an adapter derives comes from effective_hyperparameters() -----
#: facts each adapter derives and publishes beside its hyperparameters
DERIVED = {
    "sklearn.sgd": {"loss"}, "sklearn.passive-aggressive": {"loss"}, "sklearn.batch": {"model", "C"},
    "vw.linear": {"vw_args", "parser_thread"}, "river.linear": {"model", "optimizer", "intercept_lr"},
    "river.linear-many": {"model", "step_eta0"}, "river.hoeffding-tree": {"model", "grace_period"},
    "dask-ml.incremental": {"cluster", "sparse_intercept"}, "dask-ml.glm": {"cluster", "C", "solver_tol"},
    "tf.linear": {"layers", "l2", "intra_op_threads"}, "tf.mlp": {"layers", "l2", "intra_op_threads"},
    "xgboost.external-memory": {"objective", "nthread"}, "xgboost.in-memory": {"objective", "nthread"},
    "sklearn.hist-gbdt": {"model", "loss"}, "lightgbm.gbdt": {"objective", "num_threads"},
}
INSTALLED = [name for name, entry in discover().items() if entry.installed]


@pytest.mark.parametrize("data", ["synth-binary", "synth-ctr"])
@pytest.mark.parametrize("name", INSTALLED)
def test_hyperparameters_stay_as_init_set_them_and_derived_facts_come_from_the_method(name, data, tiny):
    cls = discover()[name].cls
    ds = tiny(data, rows=2000)
    try:  # numeric data dense; categorical data CSR or Arrow (the sparse profiles), 2^12 buckets to stay small
        stream = BatchStream.for_adapter(ds, ds.rows, 500, cls, hash_bits=12)
    except UnsupportedInputError as exc:
        pytest.skip(str(exc))
    adapter = cls("binary", stream.n_features, input_format=stream.input_format)
    try:
        on_categorical = cls.sparse_profiles.get("matched", {}) if stream.input_format != "dense" else {}
        asked = {**cls.params, **cls.profiles.get("matched", {}), **on_categorical}
        assert adapter.hyperparameters == asked, "setup() changed the hyperparameters"
        adapter.prepare(stream)
        adapter.fit(stream)
        assert adapter.hyperparameters == asked, "prepare() / fit() changed the hyperparameters"
        effective = adapter.effective_hyperparameters()
        assert DERIVED.get(name, set()) <= set(effective), (name, sorted(effective))
        json.dumps(effective)  # it goes into the record
        effective["scribble"] = 1
        assert "scribble" not in adapter.effective_hyperparameters() and adapter.hyperparameters == asked
        if stream.input_format == "arrow" and name == "river.hoeffding-tree":  # known after the first batch
            assert effective["nominal_attributes"] == stream.spec.categorical
        assert np.all(np.isfinite(adapter.predict_batch(next(iter(stream.holdout()))[0])))
    finally:
        adapter.close()


def test_sgd_publishes_what_it_ran_and_an_override_without_effect():
    from oocbench.adapters.sklearn import SGD

    # the regressor runs sklearn's classification-only 'optimal' as 'invscaling': published, not written back
    reg = SGD("regression", 5, profile="recommended")
    assert reg.hyperparameters["learning_rate"] == "optimal"
    assert reg.effective_hyperparameters()["learning_rate"] == "invscaling" == reg.model.learning_rate
    # an override the model ignores is run only through the API (the CLI refuses it) and the record says so
    idle = SGD("binary", 5, profile="recommended", params={"eta0": 0.5})
    assert idle.overrides == {"eta0": 0.5} and idle.hyperparameters["eta0"] == 0.5
    assert "optimal" in idle.effective_hyperparameters()["no_effect"]["eta0"]
    assert "no_effect" not in SGD("binary", 5, params={"eta0": 0.5}).effective_hyperparameters()


def test_accepted_params_are_the_declared_names_and_the_harness_knobs():
    from oocbench.adapters.river import HoeffdingTree
    from oocbench.adapters.sklearn import SGD
    from oocbench.records import HARNESS_KNOBS

    assert set(SGD.accepted_params()) == set(SGD.params) | {"power_t"} | set(HARNESS_KNOBS)
    # sparse profiles count: the tree's categorical settings can be set on numeric data too
    assert {"binary_split", "split_criterion", "grace_period"} <= set(HoeffdingTree.accepted_params())
