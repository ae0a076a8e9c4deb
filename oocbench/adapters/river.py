"""river adapters: per-row ``learn_one`` (linear model, Hoeffding tree) and mini-batch ``learn_many``.

river learns from one dict per row (``learn_one``) or one DataFrame per mini-batch (``learn_many``), built
inside ``fit`` batch by batch: it is the input river requires (a river user pays it too), and converting the
stream up front would hold every row as Python dicts. Per format:

- ``dense`` (all-numeric data): ``{column index: value}`` per row, or the mini-batch's rows as a DataFrame;
- ``csr`` (hashed categoricals): the row's non-zeros only, ``{column index: value}`` (at most ``d +
  2**hash_bits`` distinct keys: the features every other linear adapter sees); ``learn_many`` gets a DataFrame
  of only the columns non-zero in its mini-batch: river densifies any frame to float64 (a sparse pandas frame
  too), so all 2^18 columns would cost 2 MiB a row;
- ``arrow`` (Hoeffding tree on categorical data): ``{column name: value}``, numeric values as the other formats
  see them, categorical values raw (``None`` when missing) declared ``nominal_attributes``: the tree splits on
  categories, not on hash buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from oocbench.adapters.base import Adapter


def nonzeros(X: Any) -> Any:
    """``X`` with duplicate entries summed and explicit zeros dropped (a copy when needed: the caller's batch
    stays as it is). The shared layer's CSR stores every numeric column, zeros included."""
    if X.has_canonical_format and X.data.all():
        return X
    X = X.copy()
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def csr_dicts(X: Any) -> Iterator[dict[int, float]]:
    """``{column index: value}`` of each row's non-zeros (one ``tolist`` per array, list slices per row), built
    lazily as river asks for them: a list of a batch's dicts, or ``map`` chains, were 5-8% slower."""
    X = nonzeros(X)
    ptr, indices, data = X.indptr.tolist(), X.indices.tolist(), X.data.tolist()
    for start, stop in pairwise(ptr):
        yield dict(zip(indices[start:stop], data[start:stop]))


def arrow_dicts(table: Any) -> Iterator[dict[str, Any]]:
    """``{column name: value}`` per row: numeric columns as floats, categorical ones raw (None if missing)."""
    names = table.column_names
    cols = [np.asarray(col).tolist() if pa.types.is_floating(col.type) and not col.null_count else col.to_pylist()
            for col in table.columns]
    return (dict(zip(names, values)) for values in zip(*cols))


def _matched_optimizer(task: str, hp: dict[str, Any]) -> tuple[Any, Any, float]:
    """(optimizer, intercept_lr, l2) for the sklearn-matched profile, in river's units.

    sklearn SGD: per-example objective loss + alpha/2 |w|^2, eta_t = eta0 / t^power_t, t from 1. river's
    SGD steps with the gradient + l2 * w and InverseScaling(lr, p) = lr / (t + 1)^p with t from 0, so for the
    logistic loss lr = eta0 and l2 = alpha. river's Squared loss is (p - y)^2 (gradient 2(p - y)) against
    sklearn's 0.5 (p - y)^2: regression takes lr = eta0 / 2 and l2 = 2 alpha for the same steps.
    A ``learn_many`` step on the mean gradient of m rows gets the sum of those m rows' per-row rates,
    eta0 m / sqrt(s m) = eta0 sqrt(m) / sqrt(s) at step s: lr = eta0 sqrt(m), the schedule counting steps.
    """
    from river import optim

    factor = 1.0 if task == "binary" else 0.5
    lr = hp["eta0"] * factor * math.sqrt(hp.get("rows_per_step", 1))
    schedule = optim.schedulers.InverseScaling(lr, power=hp.get("power_t", 0.5))
    return optim.SGD(schedule), schedule, hp.get("alpha", 0.0) / factor


class _River(Adapter):
    library = "river"
    extra = "river"
    requirements = ("river>=0.21",)
    input_formats = ("dense", "csr")

    def _dicts(self, X: Any) -> Iterator[dict]:
        """One dict per row, the input ``learn_one`` / ``predict_one`` take (see the module docstring)."""
        if self.input_format == "csr":
            return csr_dicts(X)
        if self.input_format == "arrow":
            return arrow_dicts(X)
        keys = range(X.shape[1])
        return (dict(zip(keys, row)) for row in X.tolist())

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        # labels as bool for classifiers, float for regressors
        targets = (y > 0.5).tolist() if self.task == "binary" else y.tolist()
        learn = self.model.learn_one
        for row, target in zip(self._dicts(X), targets, strict=True):
            learn(row, target)


class _RiverLinear(_River):
    """LogisticRegression (binary) / LinearRegression (regression) with the matched SGD (``eta0``), river's SGD
    at a constant rate ``lr``, or river's default optimizer, SGD(0.01)."""

    profiles = {
        "matched": {"eta0": 0.1, "power_t": 0.5, "alpha": 1e-4},
        # river's defaults (LogisticRegression / LinearRegression API docs): optimizer optim.SGD(0.01), a constant
        # rate, intercept_lr 0.01, l2 0
        "recommended": {},
    }
    def setup(self) -> None:
        from river import linear_model

        hp = self.hyperparameters
        kw: dict[str, Any] = {}
        if "eta0" in hp:
            kw["optimizer"], kw["intercept_lr"], kw["l2"] = _matched_optimizer(self.task, hp)
        elif hp.get("lr") is not None:  # river's own SGD at another constant rate (intercept_lr stays river's)
            from river import optim

            kw["optimizer"] = optim.SGD(hp["lr"])
        cls = linear_model.LogisticRegression if self.task == "binary" else linear_model.LinearRegression
        self.model = cls(**kw)
        # as built: the optimizer's repr counts its steps once fitting starts
        self._as_run = {"model": cls.__name__, "optimizer": repr(self.model.optimizer), "l2": self.model.l2,
                        "intercept_lr": repr(self.model.intercept_lr)}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        if "eta0" in hyperparameters:
            return {"lr": "eta0 sets the matched SGD schedule, which replaces lr"} if "lr" in hyperparameters else {}
        why = "counts only with eta0 (the matched SGD); without it river runs its default optimizer: set eta0 too"
        return {n: why for n in ("power_t", "alpha") if n in hyperparameters}

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def explain(self) -> np.ndarray:
        """river's weights (a dict keyed by column index) as a vector of the ``n_features`` columns."""
        weights, out = self.model.weights, np.zeros(self.n_features)
        if weights:
            out[np.fromiter(weights, np.int64, len(weights))] = np.fromiter(weights.values(), np.float64, len(weights))
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        # river's model read back: its weights and intercept through its own link function (predict_proba_many
        # would need a dense float64 frame of every column the holdout batch touches)
        return self.model.loss.mean_func(np.asarray(X @ self.explain() + self.model.intercept, dtype=np.float64))

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X)  # LinearRegression's link is the identity


class Linear(_RiverLinear):
    name = "river.linear"
    # river's LogisticRegression docs: the optimizer's learning rate (SGD(0.01)); power_t 0 is its constant form
    tune_grid = {"eta0": (0.01, 0.1, 1.0), "power_t": (0.0, 0.5)}
    update_semantics = ("per row: one SGD step per example (learn_one); each row a dict of its features (dense) or "
                        "of its non-zeros (CSR), keyed by column index, built per batch inside fit")
    api_path = ("LogisticRegression/LinearRegression.learn_one(dict, y) per row; predictions from model.weights "
                "and intercept through the model's link (loss.mean_func)")


class LinearMany(_RiverLinear):
    name = "river.linear-many"
    # river's LogisticRegression docs: the optimizer's learning rate (SGD(0.01)); power_t 0 is its constant form
    tune_grid = {"eta0": (0.01, 0.1, 1.0), "power_t": (0.0, 0.5)}
    # One learn_many per stream batch (10^4 rows) is not usable on synth-ctr: a batch touches ~10^4 hashed
    # columns, which river densifies to an 800 MB float64 matrix per call, and 10 steps per 10^5 rows at the
    # matched rate (10) score log loss 0.240, worse than the constant predictor (0.175; at 100 rows: 0.160).
    # Matched steps take the per-row schedule summed over the mini-batch (see _matched_optimizer): at 100
    # rows 1.0 / sqrt(step), tf.linear's per-batch rate (~1/L on standardised features, inside a mean-gradient
    # step's stability limit; synth-regression diverges at 5).
    params = {"rows_per_step": 100}
    profiles = {
        **_RiverLinear.profiles,
        # river's LogisticRegression docs example, optim.SGD(0.1) (intercept_lr at its default 0.01). learn_many
        # steps on the mini-batch's *mean* gradient (river's _eval_gradient_many), so the default SGD(0.01), a
        # per-row rate, makes 1/100 of river.linear's progress per row: log loss 0.1786 on synth-ctr at 10^5
        # rows, worse than the constant predictor (0.1684); SGD(0.1): 0.1527 (synth-binary 0.5146, defaults
        # 0.5209; synth-regression RMSE 1.013, defaults 1.000)
        "recommended": {"lr": 0.1},
    }
    update_semantics = ("per mini-batch of rows_per_step (100) rows: one SGD step on the mean gradient per learn_many "
                        "call (ceil(batch/100) calls per stream batch, the last one the remainder); matched rate "
                        "eta0 sqrt(100) / sqrt(step), the per-row rates of the mini-batch summed; recommended: "
                        "river's SGD(0.1), constant")
    api_path = ("LogisticRegression/LinearRegression.learn_many(DataFrame, Series) per 100 rows; CSR: a "
                "DataFrame of the mini-batch's non-zero columns only; predictions as river.linear")

    def setup(self) -> None:
        super().setup()
        if "eta0" in self.hyperparameters:
            self._as_run["step_eta0"] = self.model.optimizer.lr.learning_rate

    def _frame(self, X: Any, start: int, stop: int) -> Any:
        """Rows ``start:stop`` as a float64 DataFrame; for CSR only the columns non-zero in those rows."""
        import pandas as pd

        if self.input_format != "csr":
            return pd.DataFrame(X[start:stop], columns=range(X.shape[1]), copy=False)
        lo, hi = X.indptr[start], X.indptr[stop]
        cols, where = np.unique(X.indices[lo:hi], return_inverse=True)
        block = np.zeros((stop - start, len(cols)))
        block[np.repeat(np.arange(stop - start), np.diff(X.indptr[start:stop + 1])), where] = X.data[lo:hi]
        return pd.DataFrame(block, columns=cols.astype(np.int64), copy=False)

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        import pandas as pd

        if self.input_format == "csr":
            X = nonzeros(X)
        target = y > 0.5 if self.task == "binary" else y.astype(np.float64)
        m = int(self.hyperparameters["rows_per_step"])
        for start in range(0, len(y), m):
            stop = min(start + m, len(y))
            self.model.learn_many(self._frame(X, start, stop), pd.Series(target[start:stop]))


class HoeffdingTree(_River):
    """HoeffdingTreeClassifier / HoeffdingTreeRegressor: river's defaults, or profiles for wide categoricals."""

    name = "river.hoeffding-tree"
    # river's HoeffdingTreeClassifier docs: grace_period (rows between split attempts) and binary_split
    tune_grid = {"grace_period": (200, 1000), "binary_split": (False, True)}
    input_formats = ("dense", "arrow")
    # no linear model to match: on numeric data both profiles are river's defaults
    profiles = {"matched": {}, "recommended": {}}
    sparse_profiles = {
        # On categorical data (Arrow, raw values as nominal attributes). binary_split: a split on a category is
        # "value == v vs the rest", the split a tree on one-hot columns makes; river's default multiway split
        # gives each of a column's values its own new leaf (2,480 leaves after 10^4 synth-ctr rows, log loss
        # 0.76). hellinger (binary task only): river's skew-insensitive criterion, for rare positives (info
        # gain found no useful split at 4% CTR: AUC 0.50). grace_period 1000: each split attempt scores every
        # value of every nominal column in O(values^2) (NominalSplitterClassif), 72% of fit at 200; the
        # Hoeffding bound still decides splits. On synth-binary at 10^6 rows these settings gave log loss
        # 0.6473 against river's defaults' 0.5829 (2026-11-25), so numeric data keeps the defaults.
        "matched": {"binary_split": True, "split_criterion": "hellinger", "grace_period": 1000},
        # river's documented practice for imbalanced classes: its Hellinger criterion "is used as the splitting
        # criterion on decision trees to address the imbalanced data problem" (tree.split_criterion docs), and
        # it compares two branches (compute_hellinger reads branches 0 and 1), hence binary_split; everything
        # else river's defaults (grace_period 200). synth-ctr at 10^5 rows: log loss 0.1566 (constant 0.1684);
        # river's defaults there: 0.7564, binary_split alone 0.1779, leaf_prediction 'mc' alone 0.3476.
        "recommended": {"binary_split": True, "split_criterion": "hellinger"},
    }
    update_semantics = ("per row: learn_one updates leaf statistics; splits when the Hoeffding bound allows. "
                        "Categorical columns go in raw (Arrow) as nominal attributes: splits on category values")
    api_path = ("HoeffdingTreeClassifier/HoeffdingTreeRegressor.learn_one(dict, y) per row; dicts keyed by column "
                "index (dense) or by column name with raw categorical values (Arrow)")

    def setup(self) -> None:
        from river import tree

        hp = dict(self.hyperparameters)
        if self.task == "regression":  # the regressor has one criterion (variance reduction)
            hp.pop("split_criterion", None)
        cls = tree.HoeffdingTreeClassifier if self.task == "binary" else tree.HoeffdingTreeRegressor
        self.model = cls(**hp)
        self._as_run = {"model": cls.__name__, **{k: v if isinstance(v, (int, float, str, bool, type(None)))
                                                  else repr(v) for k, v in self.model._get_params().items()}}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        only_one = {"split_criterion": "the regressor has one criterion (variance reduction)"}
        return only_one if task == "regression" else {}

    def effective_hyperparameters(self) -> dict[str, Any]:
        out = {**super().effective_hyperparameters(), **self._as_run}
        if self.task == "regression":
            out.pop("split_criterion", None)
        if self.model is not None and self.model.nominal_attributes is not None:  # set by the first batch
            out["nominal_attributes"] = self.model.nominal_attributes
        return out

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        if self.input_format == "arrow" and self.model.nominal_attributes is None:
            # numeric features come as float32; every other column is a raw categorical (ints would be numeric)
            self.model.nominal_attributes = [f.name for f in X.schema if not pa.types.is_floating(f.type)]
        super().partial_fit(X, y)

    def predict_proba(self, X: Any) -> np.ndarray:
        # river trees have no predict_many: one call per holdout row (evaluation time, not fit time)
        predict = self.model.predict_proba_one
        return np.array([predict(row).get(True, 0.0) for row in self._dicts(X)])

    def predict(self, X: Any) -> np.ndarray:
        predict = self.model.predict_one
        return np.array([predict(row) for row in self._dicts(X)], dtype=np.float64)
