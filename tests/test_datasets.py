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
    g = datasets.get_generator("synth-regression")
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
    g = datasets.get_generator("synth-regression")
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
