"""Synthetic datasets with a known ground truth.

Rows come in fixed blocks of :data:`BLOCK_ROWS`; block ``k`` of split ``s`` is drawn from
``default_rng([seed, s, k])``. So the dataset at scale N is exactly the first N rows of one seeded
stream, any block can be generated independently (in parallel), and the holdout (split 1) is the same
at every scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

BLOCK_ROWS = 1 << 14
TRAIN, HOLDOUT, TRUTH = 0, 1, 2


@dataclass
class SynthBinary:
    """Dense numeric features, labels from a logistic model with known coefficients.

    ``n_informative`` features carry signal, the rest are irrelevant; features are correlated
    (AR(1) covariance with ``rho``), so naive per-feature models are not optimal.
    """

    name: str = "synth-binary"
    task: str = "binary"
    n_features: int = 20
    n_informative: int = 10
    rho: float = 0.3
    signal: float = 1.5  # std of the true logit: sets how separable the classes are
    holdout_rows: int = 50_000
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {k: getattr(self, k) for k in ("n_features", "n_informative", "rho", "signal", "holdout_rows")}

    @property
    def features(self) -> list[str]:
        return [f"f{j}" for j in range(self.n_features)]

    def truth(self, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng([seed, TRUTH])
        d = self.n_features
        coef = np.zeros(d)
        informative = rng.choice(d, self.n_informative, replace=False)
        coef[informative] = rng.normal(size=self.n_informative)
        idx = np.arange(d)
        cov = self.rho ** np.abs(idx[:, None] - idx[None, :])
        scale = self.signal / np.sqrt(coef @ cov @ coef)  # std of the logit == signal
        return {"coef": (coef * scale).tolist(), "intercept": float(rng.normal(scale=0.5)),
                "chol": np.linalg.cholesky(cov).tolist()}

    def block(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, split, k])
        X = rng.standard_normal((rows, self.n_features)) @ np.asarray(truth["chol"]).T
        p = expit(X @ np.asarray(truth["coef"]) + truth["intercept"])
        y = (rng.random(rows) < p).astype(np.float32)
        return X.astype(np.float32), y

    def optimum(self, X: np.ndarray, y: np.ndarray, truth: dict[str, Any]) -> dict[str, float]:
        """Bayes-optimal scores on ``(X, y)``: the true model's own predictions."""
        from oocbench.metrics import binary_metrics

        p = expit(X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"])
        return binary_metrics(y, p)


@dataclass
class SynthRegression:
    """Dense numeric features, target = linear signal + Gaussian noise of known variance.

    Same feature design as :class:`SynthBinary` (``n_informative`` of ``n_features`` carry signal, AR(1)
    correlation ``rho``). The signal ``X @ coef + intercept`` has standard deviation ``signal`` and the noise
    ``noise``, so the best achievable R^2 is ``signal**2 / (signal**2 + noise**2)`` (0.8 by default) and the
    best RMSE is ``noise``; the manifest records both as measured with the true model on the holdout.

    >>> g = SynthRegression()
    >>> X, y = g.block(0, TRAIN, 0, 5, g.truth(0))
    >>> X.shape, y.dtype
    ((5, 20), dtype('float32'))
    """

    name: str = "synth-regression"
    task: str = "regression"
    n_features: int = 20
    n_informative: int = 10
    rho: float = 0.3
    signal: float = 2.0  # std of the true linear signal
    noise: float = 1.0  # std of the additive Gaussian noise: the irreducible error
    holdout_rows: int = 50_000
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {k: getattr(self, k)
                       for k in ("n_features", "n_informative", "rho", "signal", "noise", "holdout_rows")}

    @property
    def features(self) -> list[str]:
        return [f"f{j}" for j in range(self.n_features)]

    def truth(self, seed: int) -> dict[str, Any]:
        # a different stream from synth-binary's truth (same seed must not give the same coefficients)
        rng = np.random.default_rng([seed, TRUTH, 1])
        d = self.n_features
        coef = np.zeros(d)
        informative = rng.choice(d, self.n_informative, replace=False)
        coef[informative] = rng.normal(size=self.n_informative)
        idx = np.arange(d)
        cov = self.rho ** np.abs(idx[:, None] - idx[None, :])
        scale = self.signal / np.sqrt(coef @ cov @ coef)
        return {"coef": (coef * scale).tolist(), "intercept": float(rng.normal()), "noise_std": self.noise,
                "chol": np.linalg.cholesky(cov).tolist()}

    def block(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, split, k])
        X = (rng.standard_normal((rows, self.n_features)) @ np.asarray(truth["chol"]).T).astype(np.float32)
        # the signal is computed from the stored float32 X so the true model is exact on what adapters read
        y = X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"]
        y += rng.normal(scale=truth["noise_std"], size=rows)
        return X, y.astype(np.float32)

    def optimum(self, X: np.ndarray, y: np.ndarray, truth: dict[str, Any]) -> dict[str, float]:
        """Best achievable scores on ``(X, y)``: the true model's predictions (error = the noise alone)."""
        from oocbench.metrics import regression_metrics

        return regression_metrics(y, X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"])
