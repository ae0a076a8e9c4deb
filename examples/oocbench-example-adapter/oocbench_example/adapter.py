"""A complete third-party adapter: sklearn's averaged Perceptron-style linear model via partial_fit."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from oocbench.adapters import Adapter


class Perceptron(Adapter):
    name = "example.perceptron"
    library = "sklearn"
    tasks = frozenset({"binary"})
    requirements = ("scikit-learn",)
    params = {"alpha": 1e-4, "penalty": "l2"}
    update_semantics = "per row: perceptron update on each misclassified example"
    api_path = "sklearn.linear_model.Perceptron.partial_fit per batch"

    def setup(self) -> None:
        from sklearn.linear_model import Perceptron as SkPerceptron

        self.model = SkPerceptron(random_state=self.seed, **self.hyperparameters)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(X, y, classes=np.array([0.0, 1.0]))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        # a perceptron has no probabilities: squash its margin (documented, and it shows in log loss)
        return expit(self.model.decision_function(X))

    def explain(self) -> np.ndarray:
        return self.model.coef_.ravel()
