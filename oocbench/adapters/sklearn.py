"""scikit-learn adapters: ``partial_fit`` learners fed batch by batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.features import collect_dense, concat_batches

if TYPE_CHECKING:
    from oocbench.features import BatchStream


def with_constant_column(X: Any) -> Any:
    """CSR ``X`` with a column of ones appended (vectorised, O(nnz)): the intercept as an ordinary weight.

    scikit-learn's SGD steps the intercept of *sparse* input 100x more slowly than its weights
    (``SPARSE_INTERCEPT_DECAY = 0.01``, "Implementation details" of its SGD guide), so on hashed categoricals
    the matched profile learns the intercept as the weight of this column, at the rate of every other weight,
    as dense input and VW's constant feature do (it then carries the small L2 penalty too).
    """
    from scipy import sparse

    n, d = X.shape
    ends = X.indptr[1:]
    indices = np.insert(X.indices, ends, np.int32(d)).astype(np.int32, copy=False)
    data = np.insert(X.data, ends, np.float32(1.0))
    indptr = (X.indptr + np.arange(n + 1, dtype=X.indptr.dtype)).astype(X.indptr.dtype, copy=False)
    out = sparse.csr_matrix((data, indices, indptr), shape=(n, d + 1))
    out.has_sorted_indices = out.has_canonical_format = X.has_canonical_format
    return out


def sgd_inert(task: str, hp: dict[str, Any]) -> dict[str, str]:
    """What scikit-learn's SGD ignores under ``hp``'s step schedule (regression runs 'optimal' as 'invscaling')."""
    rate = hp.get("learning_rate")
    rate = "invscaling" if task == "regression" and rate == "optimal" else rate
    out = {}
    if rate == "optimal":
        out["eta0"] = ("learning_rate='optimal' ignores eta0 (its step is 1 / (alpha (t + t0))): set learning_rate "
                       "to 'invscaling', 'constant' or 'adaptive' for eta0 to count")
    if rate != "invscaling" and "power_t" in hp:
        out["power_t"] = f"power_t shapes learning_rate='invscaling' only, not {rate!r}"
    return out


class SGD(Adapter):
    """SGDClassifier (log loss) / SGDRegressor (squared error), one ``partial_fit`` call per batch."""

    name = "sklearn.sgd"
    # scikit-learn's SGD guide, "Tips on Practical Use": search alpha in 10.0**-np.arange(1, 7); averaged SGD (average)
    tune_grid = {"alpha": (1e-5, 1e-4, 1e-3), "average": (False, True)}
    library = "sklearn"
    requirements = ("scikit-learn",)
    params = {"penalty": "l2", "alpha": 1e-4, "learning_rate": "optimal", "eta0": 0.01, "average": False,
              "sparse_intercept": "sklearn"}
    profiles = {
        # L2 logistic / linear regression, one pass, eta_t = eta0 / sqrt(t) (the schedule VW uses too); on
        # sparse input the intercept is a constant column, stepped like the weights (see with_constant_column)
        "matched": {"learning_rate": "invscaling", "eta0": 0.1, "power_t": 0.5, "sparse_intercept": "column"},
        # SGDClassifier / SGDRegressor API defaults (scikit-learn docs): alpha 1e-4, learning_rate 'optimal'
        # (the regressor's: 'invscaling', eta0 0.01, power_t 0.25), average False; sklearn's own sparse intercept,
        # damped 100x (its SGD guide, "Implementation details")
        "recommended": {},
    }
    update_semantics = ("per row: plain SGD, one step per example inside each partial_fit batch (CSR, matched: "
                        "intercept as a constant column, undamped)")
    api_path = "SGDClassifier/SGDRegressor.partial_fit(X, y) per batch (numpy, or scipy CSR for hashed categoricals)"
    input_formats = ("dense", "csr")

    def setup(self) -> None:
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        hp = dict(self.hyperparameters)
        self.column = hp.pop("sparse_intercept") == "column" and self.input_format == "csr"
        if self.column:
            hp["fit_intercept"] = False
        if self.task == "binary":
            self.model = SGDClassifier(loss="log_loss", random_state=self.seed, **hp)
        else:
            if hp.get("learning_rate") == "optimal":  # 'optimal' is classification-only in SGDRegressor's docs
                hp["learning_rate"] = "invscaling"
            self.model = SGDRegressor(loss="squared_error", random_state=self.seed, **hp)
        self._as_run = {**hp, "loss": self.model.loss, "sparse_intercept": (
            "constant column, fit_intercept=False" if self.column else "sklearn's own")}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        return sgd_inert(task, hyperparameters)

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def _X(self, X: Any) -> Any:
        return with_constant_column(X) if self.column else X

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.task == "binary":
            self.model.partial_fit(self._X(X), y, classes=np.array([0.0, 1.0]))
        else:
            self.model.partial_fit(self._X(X), y)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._X(X))[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(self._X(X))

    def explain(self) -> np.ndarray | None:
        coef = np.asarray(self.model.coef_, dtype=np.float64).ravel()
        return coef[:-1] if self.column else coef


class PassiveAggressive(Adapter):
    """Passive-Aggressive (PA-I), one ``partial_fit`` per batch, through SGD's ``learning_rate='pa1'``.

    ``PassiveAggressiveClassifier/Regressor`` are deprecated since scikit-learn 1.8 (removed in 1.10); the
    deprecation message names this SGD configuration as the replacement. PA minimises the hinge /
    epsilon-insensitive loss and has no probabilities: P(y=1) comes from a Platt sigmoid fitted on the margins
    the model gave the *last training batch before learning it* (prequential, never the holdout; in-sample
    when the stream is a single batch).
    """

    name = "sklearn.passive-aggressive"
    # scikit-learn's PassiveAggressiveClassifier docs: C (here eta0), the maximum step size, is its regularisation
    tune_grid = {"eta0": (0.01, 0.1, 1.0)}
    library = "sklearn"
    requirements = ("scikit-learn",)
    params = {"learning_rate": "pa1", "eta0": 1.0, "penalty": None, "epsilon": 0.1}  # eta0 is PA's C
    # PA is not the L2 logistic model, so nothing to match beyond passes and batches: both are the defaults, the
    # replacement that PassiveAggressiveClassifier's deprecation notice names, at PA's documented C = 1.0
    profiles = {"matched": {}, "recommended": {}}
    update_semantics = "per row: PA-I step per example inside each partial_fit batch; Platt-scaled margins"
    api_path = "SGDClassifier(loss='hinge')/SGDRegressor(loss='epsilon_insensitive', learning_rate='pa1').partial_fit"
    input_formats = ("dense", "csr")

    def setup(self) -> None:
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        hp = dict(self.hyperparameters)
        if self.task == "binary":
            hp.pop("epsilon", None)  # only the epsilon-insensitive (regression) loss uses it
            self.model = SGDClassifier(loss="hinge", random_state=self.seed, **hp)
        else:
            self.model = SGDRegressor(loss="epsilon_insensitive", random_state=self.seed, **hp)
        self._as_run = {**hp, "loss": self.model.loss}
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._platt: tuple[float, float] | None = None

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        return {"epsilon": "the binary task's hinge loss has no epsilon (epsilon-insensitive regression only)"
                } if task == "binary" else {}

    def effective_hyperparameters(self) -> dict[str, Any]:
        out = {**super().effective_hyperparameters(), **self._as_run}
        if self.task == "binary":
            out.pop("epsilon", None)
        return out

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.task == "regression":
            self.model.partial_fit(X, y)
            return
        if hasattr(self.model, "coef_"):  # keep the pre-update model: its margins on X are out-of-sample
            self._last = (X, y, self.model.coef_.ravel().copy(), self.model.intercept_.copy())
        else:  # first batch: no earlier model; if it stays the only one, calibrate in-sample on it
            self._last = (X, y, np.array([]), np.array([]))
        self._platt = None
        self.model.partial_fit(X, y, classes=np.array([0.0, 1.0]))

    def _calibration(self) -> tuple[float, float]:
        from sklearn.linear_model import LogisticRegression

        if self._platt is None:
            if self._last is None:
                raise RuntimeError("sklearn.passive-aggressive: predict_proba before any batch was learnt")
            X, y, coef, intercept = self._last
            if not coef.size:
                coef, intercept = self.model.coef_.ravel(), self.model.intercept_
            margins = (X @ coef + intercept).reshape(-1, 1)
            platt = LogisticRegression(C=1e6).fit(margins, y)
            self._platt = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        return self._platt

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        a, b = self._calibration()
        return expit(a * self.model.decision_function(X) + b)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.coef_, dtype=np.float64).ravel()


class Batch(Adapter):
    """The in-memory reference: LogisticRegression (lbfgs) / Ridge on every training row at once.

    ``fit`` collects the whole stream into one preallocated array and fits once; out of memory at large scale
    is the expected, recorded result. ``partial_fit`` appends a batch and refits lazily on everything so far.
    """

    name = "sklearn.batch"
    # scikit-learn's LogisticRegression / Ridge docs: C / alpha, the regularisation strength (here per row: C = 1/(alpha n))
    tune_grid = {"alpha": (1e-6, 1e-5, 1e-4, 1e-3)}
    library = "sklearn"
    reference = "in-memory linear reference"
    requirements = ("scikit-learn",)
    params = {"max_iter": 100, "tol": 1e-4}
    # matched: the objective SGD approximates, mean loss + alpha/2 |w|^2 over n rows. LogisticRegression
    # minimises C * sum(loss) + 1/2 |w|^2, so C = 1 / (alpha n); Ridge minimises |y - Xw|^2 + a |w|^2, so
    # a = alpha n. Both are computed from n at fit time and published by effective_hyperparameters.
    profiles = {
        "matched": {"alpha": 1e-4},
        # scikit-learn's API defaults: LogisticRegression(C=1.0, solver='lbfgs', max_iter=100, tol=1e-4),
        # Ridge(alpha=1.0)
        "recommended": {},
    }
    update_semantics = "full batch: exact optimum of the regularised objective on all rows held in memory"
    api_path = ("LogisticRegression(solver='lbfgs')/Ridge.fit(X, y) on the whole stream collected in RAM "
                "(one dense array, or one CSR matrix for hashed categoricals)")
    input_formats = ("dense", "csr")

    def setup(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._dirty = False
        self.rows_in_memory = 0
        self.model: Any = None
        self._as_run: dict[str, Any] = {}  # the solver and its constant from the row count, known at fit

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def fit(self, stream: BatchStream) -> None:
        if self.input_format == "csr":  # CSR batches stacked once at the end (sparse: no preallocation)
            self._parts = [(X, y) for X, y in stream]
            self._refit()
            return
        self._parts = [collect_dense(stream, stream.rows, stream.n_features)]
        self._refit()

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._parts.append((X.copy(), np.array(y, dtype=np.float32)))
        self._dirty = True

    def _refit(self) -> None:
        from sklearn.linear_model import LogisticRegression, Ridge

        if len(self._parts) > 1:
            self._parts = [(concat_batches([p[0] for p in self._parts]), np.concatenate([p[1] for p in self._parts]))]
        X, y = self._parts[0]
        n, hp = len(y), self.hyperparameters
        self.rows_in_memory = n
        if self.task == "binary":
            C = 1.0 / (hp["alpha"] * n) if "alpha" in hp else hp.get("C", 1.0)
            self._as_run = {"model": "LogisticRegression", "solver": "lbfgs", "C": C}
            self.model = LogisticRegression(solver="lbfgs", C=C, max_iter=hp["max_iter"], tol=hp["tol"])
        else:
            a = hp["alpha"] * n if "alpha" in hp else hp.get("ridge_alpha", 1.0)
            self._as_run = {"model": "Ridge", "ridge_alpha": a}
            self.model = Ridge(alpha=a, tol=hp["tol"])
        self.model.fit(X, y)
        self._dirty = False

    def _fitted(self) -> Any:
        if self._dirty or self.model is None:
            self._refit()
        return self.model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._fitted().predict_proba(X)[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._fitted().predict(X)

    def explain(self) -> np.ndarray | None:
        return np.asarray(self._fitted().coef_, dtype=np.float64).ravel()

    def release(self) -> None:
        self._parts, self.model = [], None
