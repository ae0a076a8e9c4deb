"""scikit-learn adapters: ``partial_fit`` learners fed batch by batch."""

from __future__ import annotations

import numpy as np

from oocbench.adapters.base import Adapter


class SGD(Adapter):
    """SGDClassifier (log loss) / SGDRegressor (squared error), one ``partial_fit`` call per batch."""

    name = "sklearn.sgd"
    library = "sklearn"
    requirements = ("scikit-learn",)
    params = {"penalty": "l2", "alpha": 1e-4, "learning_rate": "optimal", "eta0": 0.01, "average": False}
    profiles = {
        # L2 logistic / linear regression, one pass, eta_t = eta0 / sqrt(t) (the schedule VW uses too)
        "matched": {"learning_rate": "invscaling", "eta0": 0.1, "power_t": 0.5},
        "recommended": {},  # sklearn's documented defaults ('optimal' schedule)
    }
    update_semantics = "per row: plain SGD, one step per example inside each partial_fit batch"
    api_path = "SGDClassifier/SGDRegressor.partial_fit(X, y) per batch"

    def setup(self) -> None:
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        hp = dict(self.hyperparameters)
        if self.task == "binary":
            self.model = SGDClassifier(loss="log_loss", random_state=self.seed, **hp)
        else:
            if hp.get("learning_rate") == "optimal":  # 'optimal' is classification-only in SGDRegressor's docs
                hp["learning_rate"] = "invscaling"
            self.model = SGDRegressor(loss="squared_error", random_state=self.seed, **hp)
        self.hyperparameters = {**hp, "loss": self.model.loss}

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.task == "binary":
            self.model.partial_fit(X, y, classes=np.array([0.0, 1.0]))
        else:
            self.model.partial_fit(X, y)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.coef_, dtype=np.float64).ravel()
