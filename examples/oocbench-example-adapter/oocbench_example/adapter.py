"""A complete third-party adapter: scikit-learn's Perceptron via partial_fit, with calibrated probabilities.

A perceptron has no probabilities, and oocbench scores binary tasks by log loss: its margin squashed as it is
(``expit(decision_function)``) loses to the constant predictor on synth-binary, which oocbench's
``check_beats_constant_predictor`` catches. So the adapter calibrates it as Platt did for SVMs, out of core: each
batch's signed distances to the hyperplane, taken before the batch is learnt (out of sample; the first batch's
after), join a window of the last ``calibration_rows`` rows with their labels, and at predict time a
one-feature logistic regression fitted on that window maps distances to probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oocbench.adapters import Adapter

CLASSES = np.array([0.0, 1.0])


class Perceptron(Adapter):
    name = "example.perceptron"
    library = "sklearn"
    tasks = frozenset({"binary"})
    requirements = ("scikit-learn",)
    params = {"alpha": 1e-4, "penalty": "l2", "calibration_rows": 10_000}
    update_semantics = ("per row: perceptron update on each misclassified example; probabilities by Platt scaling "
                        "on the last calibration_rows rows' distances, each taken before its batch was learnt")
    api_path = "sklearn.linear_model.Perceptron.partial_fit per batch; LogisticRegression on the distances"
    input_formats = ("dense", "csr")  # numpy for numeric data, scipy CSR for hashed categoricals

    def setup(self) -> None:
        from sklearn.linear_model import Perceptron as SkPerceptron

        hp = dict(self.hyperparameters)
        self.keep = int(hp.pop("calibration_rows"))
        self.model = SkPerceptron(random_state=self.seed, **hp)
        self.distances, self.labels = np.empty(0), np.empty(0)
        self.platt: Any = None  # fitted on demand, dropped when the window moves

    def distance(self, X: Any) -> np.ndarray:
        """Signed distance of each row to the hyperplane: the margin over ``|w|``, whose scale grows as it learns."""
        norm = float(np.linalg.norm(self.model.coef_))
        return self.model.decision_function(X) / (norm if norm > 0 else 1.0)

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        first = not hasattr(self.model, "coef_")
        if not first:  # test, then train: this batch's distances are out of sample
            self.remember(self.distance(X), y)
        self.model.partial_fit(X, y, classes=CLASSES)
        if first:  # no earlier model: the first batch is calibrated on its own distances, after it is learnt
            self.remember(self.distance(X), y)

    def remember(self, distances: np.ndarray, y: np.ndarray) -> None:
        self.distances = np.concatenate([self.distances, distances])[-self.keep:]
        self.labels = np.concatenate([self.labels, y])[-self.keep:]
        self.platt = None

    def predict_proba(self, X: Any) -> np.ndarray:
        if len(np.unique(self.labels)) < 2:  # nothing to calibrate on yet: the smoothed rate of positives
            return np.full(X.shape[0], (self.labels.sum() + 0.5) / (len(self.labels) + 1))
        if self.platt is None:
            from sklearn.linear_model import LogisticRegression

            self.platt = LogisticRegression().fit(self.distances[:, None], self.labels)
        return self.platt.predict_proba(self.distance(X)[:, None])[:, 1]

    def explain(self) -> np.ndarray:
        return self.model.coef_.ravel()
