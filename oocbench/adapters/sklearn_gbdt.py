"""scikit-learn's histogram gradient boosting: the in-memory reference of the boosted-tree adapters.

``HistGradientBoostingClassifier/Regressor`` learns from one array held whole in RAM; out of memory at large
scale is the expected, recorded result (as for ``sklearn.batch``, the linear reference). It takes dense arrays
only (scikit-learn 1.9 raises ``TypeError`` on sparse input); categorical columns come as the shared ``codes``
(each column's 254 most frequent training values, one "other" code, missing NaN: at most 255 categories, what its
native ``categorical_features`` takes with ``max_bins=255``; scikit-learn's user guide, "Categorical Features
Support", recommends native categories over one-hot encoding for trees).

It has no per-iteration hook, so no round is reported while it fits (a time per round would be invented); the
holdout loss after each iteration comes from staged predictions after fit, untimed, in
``extra.staged_holdout``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.adapters.xgboost import MATCHED_TREES
from oocbench.features import collect_dense

if TYPE_CHECKING:
    from oocbench.features import BatchStream


class HistGBDT(Adapter):
    """The in-memory reference: ``HistGradientBoosting*`` fitted once on every training row, early stopping off."""

    name = "sklearn.hist-gbdt"
    # scikit-learn's HistGradientBoosting docs: learning_rate and max_leaf_nodes (with max_iter) shape the trees
    tune_grid = {"max_leaf_nodes": (15, 31, 63), "learning_rate": (0.05, 0.1)}
    reference = "in-memory tree reference"
    explains = "importance"
    library = "sklearn"
    requirements = ("scikit-learn",)
    params = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "max_depth": None,
              "min_samples_leaf": 20, "l2_regularization": 0.0, "max_bins": 255, "early_stopping": False,
              # native categories only for columns whose every value has a code; a column with an "other" code
              # as its frequency-rank numbers. Measured on synth-ctr (10 columns, 6 of them past the 254 cap):
              # native everywhere overfits small data, 0.1880 vs 0.1537 at 2*10^4 rows, 0.1478 vs 0.1378 at 10^5
              # (XGBoost native: 0.1476 / 0.1347), and wins at 10^6, 0.1259 vs 0.1313: a trade-off with scale,
              # so the default is the one that never falls below the constant predictor; "native" is a param
              "categorical_splits": "low-cardinality"}
    profiles = {
        # the same trees as the other boosting adapters: 100 rounds of depth <= 6 (up to 64 leaves), lr 0.1,
        # 255 bins, L2 1 (min_samples_leaf stays scikit-learn's 20: XGBoost bounds a leaf's hessian instead)
        "matched": {"max_iter": MATCHED_TREES["rounds"], "max_depth": MATCHED_TREES["max_depth"],
                    "max_leaf_nodes": 2 ** MATCHED_TREES["max_depth"], "learning_rate": MATCHED_TREES["learning_rate"],
                    "max_bins": MATCHED_TREES["bins"], "l2_regularization": MATCHED_TREES["l2"]},
        # scikit-learn's defaults, except early stopping ('auto' holds out 10% above 10k rows and stops early):
        # off in both profiles, so every model makes max_iter rounds on every training row
        "recommended": {},
    }
    update_semantics = ("in-memory reference: full batch, every training row held in RAM, max_iter boosting "
                        "iterations (early stopping off); rounds, not passes (no --passes)")
    api_path = ("HistGradientBoostingClassifier/Regressor.fit(X, y) on the whole stream collected into one dense "
                "float32 array inside fit; per-iteration holdout loss from staged_predict after fit (untimed)")
    input_formats = ("dense", "codes")

    def setup(self) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        self.kind = HistGradientBoostingClassifier if self.task == "binary" else HistGradientBoostingRegressor
        # oocbench's knob (how the code columns are split on), not scikit-learn's
        self.model_params = {k: v for k, v in self.hyperparameters.items() if k != "categorical_splits"}
        self.splits = self.hyperparameters["categorical_splits"]
        self.model = self.kind(random_state=self.seed, **self.model_params)
        self._as_run = {"model": self.kind.__name__, "loss": self.model.loss}
        self._hold: tuple[Any, np.ndarray] | None = None

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def fit(self, stream: BatchStream) -> None:
        from threadpoolctl import threadpool_limits

        X, y = collect_dense(stream, stream.rows, stream.n_features)
        if self.input_format == "codes":  # native categories on the code columns categorical_splits names
            book = stream.spec.codebook
            if book.cap + 1 > self.model.max_bins:
                raise ValueError(f"category_cap {book.cap} gives {book.cap + 1} categories per column with 'other'; "
                                 f"HistGradientBoosting takes at most max_bins={self.model.max_bins}: use "
                                 f"category_cap <= {self.model.max_bins - 1}")
            mask = np.isin(np.arange(stream.n_features), stream.spec.categorical_code_columns(self.splits))
            self.model = self.kind(random_state=self.seed, categorical_features=mask, **self.model_params)
            self._as_run["categorical_features"] = [stream.spec.categorical[j - len(stream.spec.numeric)]
                                                    for j in np.flatnonzero(mask)]
        with threadpool_limits(1 if self.threads == "1" else None, user_api="openmp"):
            self.model.fit(X, y)
        if self.monitor is not None:  # scored in fit_facts, after the timed fit
            self._hold = (self.monitor.X, self.monitor.y)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError("sklearn.hist-gbdt is a full-batch learner with no incremental update: use "
                                  "fit(stream)")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)

    def fit_facts(self) -> dict[str, Any]:
        from oocbench.curve import loss_name
        from oocbench.metrics import task_metrics

        if self._hold is None:
            return {}
        X, y = self._hold
        name = loss_name(self.task)
        staged = (self.model.staged_predict_proba(X) if self.task == "binary" else self.model.staged_predict(X))
        losses = [task_metrics(self.task, y, p[:, 1] if p.ndim == 2 else p)[name] for p in staged]
        return {"staged_holdout": {"loss": name, "by_round": losses, "holdout_rows": len(y), "what": (
            f"{name} on the first {len(y):,} holdout rows after each iteration, from staged predictions after "
            "fit; no times: HistGradientBoosting has no per-iteration hook")}}

    def explain(self) -> np.ndarray | None:
        return None  # no feature importances in HistGradientBoosting (permutation importance would be a refit)

    def release(self) -> None:
        self.model, self._hold = None, None
