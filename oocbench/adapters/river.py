"""river adapters: true online learning (``learn_one`` per row), mini-batch ``learn_many``, a Hoeffding tree.

river learns from dicts (``learn_one``) or DataFrames (``learn_many``). The conversion from the shared numpy
batches happens batch by batch *inside* ``fit`` (``X.tolist()`` once per batch, then one dict per row, or one
zero-copy DataFrame per batch): it is the input river requires, a river user pays it too, and converting the
whole stream in ``prepare`` would hold every row in memory as Python dicts (~1 KB a row), which defeats the
point of streaming.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oocbench.adapters.base import Adapter


def _matched_optimizer(task: str, hp: dict[str, Any]) -> tuple[Any, Any, float]:
    """(optimizer, intercept_lr, l2) for the sklearn-matched profile, in river's units.

    sklearn SGD: per-example objective loss + alpha/2 |w|^2, eta_t = eta0 / t^power_t, t from 1. river's
    SGD steps with the gradient + l2 * w and InverseScaling(lr, p) = lr / (t + 1)^p with t from 0, so for the
    logistic loss lr = eta0 and l2 = alpha. river's Squared loss is (p - y)^2 (gradient 2(p - y)) against
    sklearn's 0.5 (p - y)^2: regression takes lr = eta0 / 2 and l2 = 2 alpha for the same steps.
    """
    from river import optim

    factor = 1.0 if task == "binary" else 0.5
    schedule = optim.schedulers.InverseScaling(hp["eta0"] * factor, power=hp.get("power_t", 0.5))
    return optim.SGD(schedule), schedule, hp.get("alpha", 0.0) / factor


class _River(Adapter):
    library = "river"
    extra = "river"
    requirements = ("river>=0.21",)

    def _names(self) -> list[str]:
        return [f"f{j}" for j in range(self.n_features)]

    def _frame(self, X: np.ndarray) -> Any:
        import pandas as pd

        return pd.DataFrame(X, columns=self.columns, copy=False)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        # one dict per row (the input learn_one takes); labels as bool for classifiers, float for regressors
        targets = (y > 0.5).tolist() if self.task == "binary" else y.tolist()
        names, learn = self.columns, self.model.learn_one
        for row, target in zip(X.tolist(), targets, strict=True):
            learn(dict(zip(names, row, strict=True)), target)


class _RiverLinear(_River):
    """LogisticRegression (binary) / LinearRegression (regression) with the matched or river's default SGD."""

    profiles = {
        "matched": {"eta0": 0.1, "power_t": 0.5, "alpha": 1e-4},
        "recommended": {},  # river defaults: SGD(0.01) constant, intercept_lr 0.01, l2 0
    }

    def setup(self) -> None:
        from river import linear_model

        self.columns = self._names()
        hp = self.hyperparameters
        kw: dict[str, Any] = {}
        if "eta0" in hp:
            kw["optimizer"], kw["intercept_lr"], kw["l2"] = _matched_optimizer(self.task, hp)
        cls = linear_model.LogisticRegression if self.task == "binary" else linear_model.LinearRegression
        self.model = cls(**kw)
        hp.update(model=cls.__name__, optimizer=repr(self.model.optimizer), l2=self.model.l2,
                  intercept_lr=repr(self.model.intercept_lr))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba_many(self._frame(X))[True].to_numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_many(self._frame(X)).to_numpy()

    def explain(self) -> np.ndarray | None:
        weights = self.model.weights
        return np.array([weights.get(name, 0.0) for name in self.columns])


class Linear(_RiverLinear):
    name = "river.linear"
    update_semantics = "per row: one SGD step per example (learn_one), dict conversion per row inside fit"
    api_path = "LogisticRegression/LinearRegression.learn_one(dict, y) per row"


class LinearMany(_RiverLinear):
    name = "river.linear-many"
    update_semantics = ("per mini-batch: ONE SGD step per learn_many call on the batch's mean gradient "
                        "(the schedule's t counts batches), so one pass makes rows/batch_size steps")
    api_path = "LogisticRegression/LinearRegression.learn_many(DataFrame, Series) per batch"

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import pandas as pd

        target = pd.Series(y > 0.5) if self.task == "binary" else pd.Series(y)
        self.model.learn_many(self._frame(X), target)


class HoeffdingTree(_River):
    """HoeffdingTreeClassifier / HoeffdingTreeRegressor with river's defaults (no linear model to match)."""

    name = "river.hoeffding-tree"
    # nothing to match with a linear model: both profiles are river's defaults, one pass, per-row updates
    profiles = {"matched": {}, "recommended": {}}
    update_semantics = "per row: learn_one updates leaf statistics; splits when the Hoeffding bound allows"
    api_path = "HoeffdingTreeClassifier/HoeffdingTreeRegressor.learn_one(dict, y) per row"

    def setup(self) -> None:
        from river import tree

        self.columns = self._names()
        cls = tree.HoeffdingTreeClassifier if self.task == "binary" else tree.HoeffdingTreeRegressor
        self.model = cls(**self.hyperparameters)
        params = self.model._get_params()
        self.hyperparameters.update(model=cls.__name__, **{k: v if isinstance(v, (int, float, str, bool, type(None)))
                                                          else repr(v) for k, v in params.items()})

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        # river trees have no predict_many: one call per holdout row (evaluation time, not fit time)
        predict, names = self.model.predict_proba_one, self.columns
        return np.array([predict(dict(zip(names, row, strict=True))).get(True, 0.0) for row in X.tolist()])

    def predict(self, X: np.ndarray) -> np.ndarray:
        predict, names = self.model.predict_one, self.columns
        return np.array([predict(dict(zip(names, row, strict=True))) for row in X.tolist()], dtype=np.float64)
