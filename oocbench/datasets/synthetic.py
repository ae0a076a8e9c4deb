"""Synthetic datasets with a known ground truth.

Rows come in fixed blocks of :data:`BLOCK_ROWS`; block ``k`` of split ``s`` is drawn from
``default_rng([seed, s, k])``, always whole (a shorter dataset cuts the last block). So the dataset at
scale N is exactly the first N rows of one seeded stream, any block can be generated independently (in
parallel), and the holdout (split 1) is the same at every scale.

Every generator has ``name``, ``task``, ``params``, ``features``, ``columns`` (kinds of non-numeric
columns), ``feature_spec`` (how the shared feature layer treats it), ``truth(seed)``, ``table(seed, split, k,
rows, truth)`` -> Arrow table, and ``optimum_table(table, truth)`` -> the Bayes-optimal scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.special import expit

from oocbench.datasets.writer import arrow_schema, to_table

BLOCK_ROWS = 1 << 14
TRAIN, HOLDOUT, TRUTH = 0, 1, 2
#: version of the streams a seed produces: bump it whenever a change to a generator changes its rows, so data
#: written by an older oocbench is regenerated instead of silently reused (its optimum would differ too)
STREAM_VERSION = 2


class _Generator:
    name: str
    task: str
    params: dict[str, Any]
    holdout_rows: int
    target = "y"
    #: synthetic dense data is not standardised: features are already unit-variance by design and the true
    #: coefficients (``truth["coef"]``, compared with learned weights) stay in the space adapters see
    feature_spec: dict[str, Any] = {"standardize": False}
    columns: dict[str, Any] = {}

    @property
    def features(self) -> list[str]:
        return [f"f{j}" for j in range(self.n_features)]  # type: ignore[attr-defined]

    @property
    def schema(self) -> pa.Schema:
        return arrow_schema(self.features, self.target, self.columns)

    def truth_arrays(self, truth: dict[str, Any]) -> dict[str, np.ndarray]:
        """Large parts of the true model, stored in ``truth.npz`` next to the manifest (none by default)."""
        return {}

    def table(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> pa.Table:
        return to_table(*self.block(seed, split, k, rows, truth), self.schema)  # type: ignore[attr-defined]

    def manifest_extra(self, rows: int) -> dict[str, Any]:
        """Generator facts that depend on the scale (e.g. where the concept drifts)."""
        return {}

    def is_current(self, manifest: Any) -> bool:
        """Whether data on disk was written by this version of the stream."""
        return manifest.generator.get("stream_version") == STREAM_VERSION

    def optimum_table(self, table: pa.Table, truth: dict[str, Any]) -> dict[str, float]:
        X = np.column_stack([table.column(c).to_numpy() for c in self.features]).astype(np.float32)
        return self.optimum(X, table.column(self.target).to_numpy(), truth)  # type: ignore[attr-defined]


def _f32(matrix: Any) -> np.ndarray:
    return np.asarray(matrix, dtype=np.float32)


def _linear_truth(rng: np.random.Generator, d: int, informative: int, rho: float, signal: float):
    coef = np.zeros(d)
    coef[rng.choice(d, informative, replace=False)] = rng.normal(size=informative)
    idx = np.arange(d)
    cov = rho ** np.abs(idx[:, None] - idx[None, :])
    return coef * (signal / np.sqrt(coef @ cov @ coef)), np.linalg.cholesky(cov)


@dataclass
class SynthBinary(_Generator):
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

    def truth(self, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng([seed, TRUTH])
        coef, chol = _linear_truth(rng, self.n_features, self.n_informative, self.rho, self.signal)
        return {"coef": coef.tolist(), "intercept": float(rng.normal(scale=0.5)), "chol": chol.tolist()}

    def block(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, split, k])
        # float32 draws and product: 1.6x faster than float64 (the dominant cost of generation); the labels
        # come from the stored float32 X, so the true model is exact on what adapters read
        X = rng.standard_normal((rows, self.n_features), dtype=np.float32) @ _f32(truth["chol"]).T
        p = expit(X @ np.asarray(truth["coef"]) + truth["intercept"])
        y = (rng.random(rows) < p).astype(np.float32)
        return X, y

    def optimum(self, X: np.ndarray, y: np.ndarray, truth: dict[str, Any]) -> dict[str, float]:
        """Bayes-optimal scores on ``(X, y)``: the true model's own predictions."""
        from oocbench.metrics import binary_metrics

        p = expit(X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"])
        return binary_metrics(y, p)


@dataclass
class SynthRegression(_Generator):
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

    def truth(self, seed: int) -> dict[str, Any]:
        # a different stream from synth-binary's truth (same seed must not give the same coefficients)
        rng = np.random.default_rng([seed, TRUTH, 1])
        coef, chol = _linear_truth(rng, self.n_features, self.n_informative, self.rho, self.signal)
        return {"coef": coef.tolist(), "intercept": float(rng.normal()), "noise_std": self.noise,
                "chol": chol.tolist()}

    def block(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, split, k])
        X = rng.standard_normal((rows, self.n_features), dtype=np.float32) @ _f32(truth["chol"]).T
        # the signal is computed from the stored float32 X so the true model is exact on what adapters read
        y = X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"]
        y += rng.normal(scale=truth["noise_std"], size=rows)
        return X, y.astype(np.float32)

    def optimum(self, X: np.ndarray, y: np.ndarray, truth: dict[str, Any]) -> dict[str, float]:
        """Best achievable scores on ``(X, y)``: the true model's predictions (error = the noise alone)."""
        from oocbench.metrics import regression_metrics

        return regression_metrics(y, X.astype(np.float64) @ np.asarray(truth["coef"]) + truth["intercept"])


@dataclass
class SynthDrift(_Generator):
    """A binary stream whose concept changes abruptly every ``period`` rows, cycling through ``n_concepts``.

    Row ``t`` of the training stream follows concept ``(t // period) % n_concepts`` (a logistic model on
    independent N(0, 1) features); the manifest lists the rows where the concept changes
    (``generator["drift_rows"]``). The holdout mixes the concepts evenly (row ``i`` follows concept
    ``i % n_concepts``); its recorded optimum knows each row's concept, a bound no learner that is not told the
    concept can reach - use it with prequential evaluation. ``truth`` has the concepts, not one ``coef``.
    """

    name: str = "synth-drift"
    task: str = "binary"
    n_features: int = 10
    n_concepts: int = 3
    period: int = 25_000
    signal: float = 2.0
    holdout_rows: int = 30_000
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {k: getattr(self, k) for k in ("n_features", "n_concepts", "period", "signal", "holdout_rows")}

    def truth(self, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng([seed, TRUTH, 3])
        concepts = []
        for _ in range(self.n_concepts):
            coef = rng.normal(size=self.n_features)
            concepts.append({"coef": (coef * self.signal / np.linalg.norm(coef)).tolist(),
                             "intercept": float(rng.normal(scale=0.3))})
        return {"concepts": concepts, "period": self.period}

    def concept_of(self, split: int, k: int, rows: int) -> np.ndarray:
        t = k * BLOCK_ROWS + np.arange(rows)
        return t % self.n_concepts if split == HOLDOUT else (t // self.period) % self.n_concepts

    def _logit(self, X: np.ndarray, concept: np.ndarray, truth: dict[str, Any]) -> np.ndarray:
        W = np.array([c["coef"] for c in truth["concepts"]])
        b = np.array([c["intercept"] for c in truth["concepts"]])
        return np.einsum("ij,ij->i", X.astype(np.float64), W[concept]) + b[concept]

    def block(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, split, k])
        X = rng.standard_normal((rows, self.n_features), dtype=np.float32)
        p = expit(self._logit(X, self.concept_of(split, k, rows), truth))
        return X, (rng.random(rows) < p).astype(np.float32)

    def manifest_extra(self, rows: int) -> dict[str, Any]:
        drift = list(range(self.period, rows, self.period))
        return {"drift_rows": drift[:10_000], "drift_every": self.period}

    def optimum(self, X: np.ndarray, y: np.ndarray, truth: dict[str, Any]) -> dict[str, float]:
        """Bayes-optimal scores on the holdout when each row's concept is known."""
        from oocbench.metrics import binary_metrics

        concept = np.arange(len(y)) % self.n_concepts
        return binary_metrics(y, expit(self._logit(X, concept, truth)))


CTR_CARDINALITIES = (3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
CTR_CAT_MISSING = (0.0, 0.0, 0.0, 0.05, 0.0, 0.2, 0.0, 0.0, 0.1, 0.0)


@dataclass
class SynthCTR(_Generator):
    """Click-through data shaped like Criteo's: integer counts and high-cardinality Zipf categoricals.

    Columns ``I1..I{n_counts}`` are heavy-tailed counts (``floor(exp(N(mu_j, 1)))``, >= 0), each missing with
    its own probability (up to 40%); ``C1..C10`` are categorical ids ``0..K-1`` drawn from a Zipf law
    (``P(v) ~ (v + 1) ** -zipf_a``) with cardinalities from 3 to 10^5, some missing. The label is
    Bernoulli(``expit(b + sum_j w_j log1p(I_j) + sum_c e_c[C_c])``): a missing count contributes 0, a missing
    category its own effect (index K). The intercept ``b`` is solved so the positive rate is ``ctr``.
    The per-category effects ``e_c`` are stored in ``truth.npz`` (``effect_C1``...) next to the manifest.
    """

    name: str = "synth-ctr"
    task: str = "binary"
    n_counts: int = 13
    cardinalities: tuple[int, ...] = CTR_CARDINALITIES
    cat_missing: tuple[float, ...] = CTR_CAT_MISSING
    zipf_a: float = 1.1
    effect_std: float = 0.6
    ctr: float = 0.04
    holdout_rows: int = 50_000
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {k: getattr(self, k) for k in ("n_counts", "cardinalities", "cat_missing", "zipf_a",
                                                     "effect_std", "ctr", "holdout_rows")}
        self.params["cardinalities"] = list(self.cardinalities)
        self.params["cat_missing"] = list(self.cat_missing)
        self.columns = {**{c: "count" for c in self.count_names}, **{c: "categorical" for c in self.cat_names}}
        self.feature_spec = {"standardize": True}
        self._cdf_cache: dict[int, np.ndarray] = {}

    @property
    def count_names(self) -> list[str]:
        return [f"I{j + 1}" for j in range(self.n_counts)]

    @property
    def cat_names(self) -> list[str]:
        return [f"C{j + 1}" for j in range(len(self.cardinalities))]

    @property
    def features(self) -> list[str]:
        return [*self.count_names, *self.cat_names]

    def _cdf(self, K: int) -> np.ndarray:
        if K not in self._cdf_cache:
            w = (np.arange(K) + 1.0) ** -self.zipf_a
            self._cdf_cache[K] = np.cumsum(w) / w.sum()
        return self._cdf_cache[K]

    def truth(self, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng([seed, TRUTH, 2])
        truth: dict[str, Any] = {
            "count_mu": rng.uniform(0.3, 3.0, self.n_counts).tolist(),
            "count_missing": rng.uniform(0.0, 0.4, self.n_counts).tolist(),
            "count_weights": rng.normal(scale=0.25, size=self.n_counts).tolist(),
            "intercept": 0.0,
            "effects_file": "truth.npz",
        }
        truth["effects"] = [rng.normal(scale=self.effect_std, size=K + 1) for K in self.cardinalities]
        # solve the intercept so the positive rate is `ctr`, on a fixed sample of the feature distribution
        sample = self.table(seed, TRUTH, 0, 100_000, truth, labels=False)
        logit = self.logit(sample, truth)
        lo, hi = -15.0, 5.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if expit(logit + mid).mean() < self.ctr else (lo, mid)
        truth["intercept"] = (lo + hi) / 2
        return truth

    def truth_arrays(self, truth: dict[str, Any]) -> dict[str, np.ndarray]:
        return {f"effect_{c}": np.asarray(e) for c, e in zip(self.cat_names, truth["effects"])}

    def logit(self, table: pa.Table, truth: dict[str, Any]) -> np.ndarray:
        """The true log-odds of every row of ``table`` (the generative model, used for the optimum)."""
        out = np.full(table.num_rows, truth["intercept"], dtype=np.float64)
        for w, c in zip(truth["count_weights"], self.count_names):
            v = table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            out += w * np.nan_to_num(np.log1p(v), nan=0.0)
        for e, c, K in zip(truth["effects"], self.cat_names, self.cardinalities):
            ids = table.column(c).fill_null(K).to_numpy()
            out += np.asarray(e)[ids]
        return out

    def table(self, seed: int, split: int, k: int, rows: int, truth: dict[str, Any], labels: bool = True) -> pa.Table:
        rng = np.random.default_rng([seed, split, k])
        n_c, n_k = self.n_counts, len(self.cardinalities)
        counts = np.floor(np.exp(rng.normal(np.asarray(truth["count_mu"]), 1.0, (rows, n_c))))
        counts_missing = rng.random((rows, n_c)) < np.asarray(truth["count_missing"])
        u = rng.random((rows, n_k))
        cat_missing = rng.random((rows, n_k)) < np.asarray(self.cat_missing)
        arrays = [pa.array(counts[:, j].astype(np.float32), mask=counts_missing[:, j]) for j in range(n_c)]
        for j, K in enumerate(self.cardinalities):
            ids = np.minimum(np.searchsorted(self._cdf(K), u[:, j]), K - 1).astype(np.int64)
            arrays.append(pa.array(ids, mask=cat_missing[:, j] if self.cat_missing[j] else None))
        draw = rng.random(rows)  # drawn even without labels so the stream does not depend on `labels`
        t = pa.Table.from_arrays([*arrays, pa.array(np.zeros(rows, np.float32))], schema=self.schema)
        if labels:
            y = (draw < expit(self.logit(t, truth))).astype(np.float32)
            t = t.set_column(t.num_columns - 1, self.target, pa.array(y))
        return t

    def optimum_table(self, table: pa.Table, truth: dict[str, Any]) -> dict[str, float]:
        """Bayes-optimal log loss, ROC AUC and accuracy: the true model's probabilities on ``table``."""
        from oocbench.metrics import binary_metrics

        return binary_metrics(table.column(self.target).to_numpy(), expit(self.logit(table, truth)))
