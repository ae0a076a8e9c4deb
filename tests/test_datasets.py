"""Synthetic generators: determinism, nesting scales, and known optima that agree with the stored truth."""

from __future__ import annotations

import numpy as np
import pytest

from oocbench import datasets
from oocbench.metrics import binary_metrics, regression_metrics


def _all(ds, rows=None):
    Xs, ys = zip(*ds.batches(1 << 14, rows=rows))
    return np.concatenate(Xs), np.concatenate(ys)


def _holdout(ds):
    Xs, ys = zip(*ds.holdout())
    return np.concatenate(Xs), np.concatenate(ys)


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    return datasets.generate("synth-regression", 20_000, base=tmp_path_factory.mktemp("reg"))


def test_regression_is_registered_with_its_task():
    g = datasets.get_source("synth-regression")
    assert (g.name, g.task) == ("synth-regression", "regression")
    assert "synth-regression" in datasets.dataset_names()


def test_regression_optimum_matches_the_stored_true_model(reg):
    m = reg.manifest
    assert m.task == "regression" and set(m.optimum) >= {"rmse", "mae", "r2"}
    coef = np.asarray(m.truth["coef"])
    assert coef.shape == (reg.n_features,)
    X, y = _holdout(reg)
    direct = regression_metrics(y, X.astype(np.float64) @ coef + m.truth["intercept"])
    for k in ("rmse", "mae", "r2"):
        assert m.optimum[k] == pytest.approx(direct[k], rel=1e-9)
    # the design: best RMSE = noise std, best R^2 = signal^2 / (signal^2 + noise^2), up to sampling noise
    g = datasets.get_source("synth-regression")
    assert m.optimum["rmse"] == pytest.approx(g.noise, rel=0.02)
    assert m.optimum["r2"] == pytest.approx(g.signal**2 / (g.signal**2 + g.noise**2), abs=0.01)


def test_least_squares_does_not_beat_the_regression_optimum(reg):
    from sklearn.linear_model import LinearRegression

    X, y = _all(reg)
    Xh, yh = _holdout(reg)
    fitted = regression_metrics(yh, LinearRegression().fit(X, y).predict(Xh))
    # 20k training rows, 21 parameters: the fitted model is at most a hair worse, never meaningfully better
    assert fitted["rmse"] >= reg.manifest.optimum["rmse"] * (1 - 1e-3)
    assert fitted["rmse"] <= reg.manifest.optimum["rmse"] * 1.01
    cos = LinearRegression().fit(X, y).coef_ @ np.asarray(reg.manifest.truth["coef"])
    assert cos > 0


def test_binary_optimum_matches_the_stored_true_model(tiny):
    ds = tiny("synth-binary", rows=2000)
    X, y = _holdout(ds)
    from scipy.special import expit

    p = expit(X.astype(np.float64) @ np.asarray(ds.manifest.truth["coef"]) + ds.manifest.truth["intercept"])
    direct = binary_metrics(y, p)
    for k in ("log_loss", "roc_auc", "accuracy"):
        assert ds.manifest.optimum[k] == pytest.approx(direct[k], rel=1e-4)


@pytest.mark.parametrize("name", ["synth-binary", "synth-regression"])
def test_scales_nest_and_holdout_is_fixed(name, tmp_path):
    a = datasets.generate(name, 10_000, base=tmp_path)
    b = datasets.generate(name, 25_000, base=tmp_path)
    Xa, ya = _all(a)
    Xb, yb = _all(b, rows=10_000)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(_holdout(a)[1], _holdout(b)[1])


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = _all(datasets.generate("synth-regression", 3000, seed=1, base=tmp_path / "a"))
    b = _all(datasets.generate("synth-regression", 3000, seed=1, base=tmp_path / "b"))
    c = _all(datasets.generate("synth-regression", 3000, seed=2, base=tmp_path / "c"))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.fixture(scope="module")
def ctr(tmp_path_factory):
    return datasets.generate("synth-ctr", 30_000, base=tmp_path_factory.mktemp("ctr"))


def test_ctr_shape_positive_rate_and_columns(ctr):
    m = ctr.manifest
    assert m.columns["C10"] == "categorical" and m.columns["I1"] == "count"
    import pyarrow.parquet as pq

    t = pq.read_table(ctr.shard_paths()[0])
    assert 0.03 <= float(np.mean(t.column("y").to_numpy())) <= 0.05
    assert t.column("I1").null_count > 0 and t.column("C6").null_count > 0  # missing values exist
    c10 = t.column("C10").drop_null().to_numpy()
    assert len(np.unique(c10)) > 3000  # high cardinality, Zipf head: the most frequent id dominates
    assert np.mean(c10 == 0) > 10 * np.mean(c10 == 100)


def test_ctr_optimum_matches_the_stored_true_model(ctr):
    import pyarrow.parquet as pq
    from scipy.special import expit

    m = ctr.manifest
    effects = np.load(ctr.root / m.truth["effects_file"])
    hold = pq.read_table(ctr.root / m.holdout.path)
    logit = np.full(hold.num_rows, m.truth["intercept"])
    for w, j in zip(m.truth["count_weights"], range(1, 14)):
        v = hold.column(f"I{j}").to_numpy(zero_copy_only=False).astype(float)
        logit += w * np.nan_to_num(np.log1p(v))
    for j, K in enumerate(m.generator["params"]["cardinalities"], 1):
        logit += effects[f"effect_C{j}"][hold.column(f"C{j}").fill_null(K).to_numpy()]
    direct = binary_metrics(hold.column("y").to_numpy(), expit(logit))
    assert m.optimum["log_loss"] == pytest.approx(direct["log_loss"], rel=1e-9)
    assert m.optimum["roc_auc"] == pytest.approx(direct["roc_auc"], rel=1e-9)


def test_hashed_logistic_regression_does_not_beat_the_ctr_optimum(ctr):
    from sklearn.linear_model import LogisticRegression

    from oocbench.features import BatchStream

    stream = BatchStream(ctr, ctr.rows, 10_000, input_format="csr")
    Xs, ys = zip(*stream)
    from scipy import sparse

    model = LogisticRegression(C=0.1, max_iter=300).fit(sparse.vstack(Xs), np.concatenate(ys))
    Xh, yh = zip(*stream.holdout())
    fitted = binary_metrics(np.concatenate(yh), model.predict_proba(sparse.vstack(Xh))[:, 1])
    opt = ctr.manifest.optimum
    assert fitted["log_loss"] > opt["log_loss"] - 0.003, (fitted, opt)  # sampling noise only
    assert fitted["log_loss"] < binary_metrics(np.concatenate(yh), np.full(len(np.concatenate(yh)), 0.04))["log_loss"]


def test_drift_rows_are_recorded_and_concepts_differ(tmp_path):
    ds = datasets.generate("synth-drift", 60_000, base=tmp_path)
    m = ds.manifest
    assert m.generator["drift_rows"] == [25_000, 50_000]
    assert len(m.truth["concepts"]) == 3 and "coef" not in m.truth
    X, y = _all(ds)
    from sklearn.linear_model import LogisticRegression

    first = LogisticRegression().fit(X[:25_000], y[:25_000])
    # the first concept's model fits its own rows far better than the next concept's rows
    acc_same = first.score(X[15_000:25_000], y[15_000:25_000])
    acc_next = first.score(X[25_000:35_000], y[25_000:35_000])
    assert acc_same - acc_next > 0.1, (acc_same, acc_next)


@pytest.mark.parametrize("name", ["synth-ctr", "synth-drift"])
def test_new_generators_nest(name, tmp_path):
    import pyarrow.parquet as pq

    a = datasets.generate(name, 5_000, base=tmp_path)
    b = datasets.generate(name, 20_000, base=tmp_path, rows_per_shard=7_000)
    ta = pq.read_table(a.shard_paths()[0])
    tb = pa_concat([pq.read_table(p) for p in b.shard_paths()]).slice(0, 5_000)
    assert ta.equals(tb)


def pa_concat(tables):
    import pyarrow as pa

    return pa.concat_tables(tables)


def test_parallel_generation_equals_sequential(tmp_path):
    a = datasets.generate("synth-binary", 40_000, base=tmp_path / "p", rows_per_shard=10_000, workers=2)
    b = datasets.generate("synth-binary", 40_000, base=tmp_path / "s", rows_per_shard=10_000, workers=1)
    assert [s.sha256 for s in a.manifest.shards] == [s.sha256 for s in b.manifest.shards]


def test_resume_after_a_kill_keeps_finished_shards(tmp_path):
    calls = []

    def die_after_two_shards(n):
        calls.append(n)
        if sum(calls) > 20_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datasets.generate("synth-binary", 50_000, base=tmp_path, rows_per_shard=10_000, workers=1,
                          progress=die_after_two_shards)
    root = datasets.dataset_root("synth-binary", 50_000, base=tmp_path)
    partial = root.with_name(root.name + ".partial")
    assert not root.exists() and len(list(partial.glob("*.done"))) == 2
    kept = {p.name: p.stat().st_mtime_ns for p in partial.glob("train-*.parquet") if (partial / (p.name + ".done")).exists()}
    resumed = datasets.generate("synth-binary", 50_000, base=tmp_path, rows_per_shard=10_000, workers=1)
    fresh = datasets.generate("synth-binary", 50_000, base=tmp_path / "fresh", rows_per_shard=10_000, workers=1)
    assert [s.sha256 for s in resumed.manifest.shards] == [s.sha256 for s in fresh.manifest.shards]
    assert all((root / n).stat().st_mtime_ns == t for n, t in kept.items())  # not rewritten
    assert not partial.exists()


def test_a_live_writer_is_not_disturbed(tmp_path):
    import os
    import subprocess
    import sys

    root = datasets.dataset_root("synth-binary", 1000, base=tmp_path)
    partial = root.with_name(root.name + ".partial")
    partial.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (partial / ".lock").write_text(str(sleeper.pid))
        with pytest.raises(datasets.DatasetError, match=f"being written by process {sleeper.pid}"):
            datasets.generate("synth-binary", 1000, base=tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert os.path.isdir(partial)
    datasets.generate("synth-binary", 1000, base=tmp_path)  # the writer is gone: redone cleanly


def test_data_from_an_older_generator_version_is_regenerated_not_reused(tmp_path, capsys):
    import json

    from oocbench.datasets.synthetic import STREAM_VERSION

    ds = datasets.load("synth-binary", 3000, base=tmp_path)
    assert ds.manifest.generator["stream_version"] == STREAM_VERSION
    manifest = ds.root / "manifest.json"
    raw = json.loads(manifest.read_text())
    raw["generator"]["stream_version"] = STREAM_VERSION - 1  # as written by an older oocbench
    raw["optimum"]["log_loss"] = 0.123
    manifest.write_text(json.dumps(raw))
    with pytest.raises(datasets.DatasetError, match="older generator version"):
        datasets.load("synth-binary", 3000, base=tmp_path, create=False)
    again = datasets.load("synth-binary", 3000, base=tmp_path)
    assert again.manifest.generator["stream_version"] == STREAM_VERSION
    assert again.manifest.optimum["log_loss"] != 0.123
    assert "regenerating" in capsys.readouterr().err
