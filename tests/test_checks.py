"""The adapter check suite catches broken adapters, each by the check named for its fault, and passes a sound one.

The adapters here are small numpy learners written for the test (real numpy and scipy, no mocks); they are
not registered, so their isolated run is skipped with how to register them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.special import expit

from oocbench.adapters.base import Adapter
from oocbench.adapters.checks import (
    CATEGORICAL_DATASET,
    check_adapter,
    dense_dataset,
    iter_checks,
    run_checks_cli,
)
from oocbench.adapters.registry import UnknownAdapterError
from oocbench.adapters.sklearn import SGD

BINARY = [f"binary/{dense_dataset('binary')}", f"binary/{CATEGORICAL_DATASET}"]


class NumpySGD(Adapter):
    """A sound adapter: logistic / linear regression, a few full-batch gradient steps per mini-batch."""

    name = "test.numpy-sgd"
    library = "numpy"
    params = {"lr": 0.5, "steps": 5}
    update_semantics = "per mini-batch: `steps` gradient steps on the batch"
    api_path = "numpy: w -= lr * X.T @ (pred - y) / n"
    input_formats = ("dense", "csr")

    def setup(self) -> None:
        self.w = self.init(np.random.default_rng(self.seed)).astype(np.float32)  # as X: no cast per product
        self.b = np.float32(0.0)
        self.lr = np.float32(self.hyperparameters["lr"] * (1.0 if self.task == "binary" else 0.2))

    def init(self, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, 0.01, self.n_features)

    def raw(self, X) -> np.ndarray:
        return np.asarray(X @ self.w).ravel() + self.b

    def partial_fit(self, X, y) -> None:
        for _ in range(self.hyperparameters["steps"]):
            out = self.raw(X)
            r = (expit(out) if self.task == "binary" else out) - y
            self.w -= self.lr * np.asarray(X.T @ r).ravel() / len(y)
            self.b -= np.float32(self.lr * r.mean())

    def predict_proba(self, X) -> np.ndarray:
        return expit(self.raw(X))

    def predict(self, X) -> np.ndarray:
        return self.raw(X)

    def explain(self) -> np.ndarray:
        return self.w


class Unseeded(NumpySGD):
    """Ignores its seed: the initial weights come from an unseeded generator."""

    name = "test.unseeded"

    def init(self, rng: np.random.Generator) -> np.ndarray:
        return np.random.default_rng().normal(0.0, 0.01, self.n_features)


class DensifiesCSR(NumpySGD):
    """Declares CSR only, then makes every batch dense inside partial_fit (2^hash_bits columns per row)."""

    name = "test.densifies-csr"
    tasks = frozenset({"binary"})
    input_formats = ("csr",)

    def partial_fit(self, X, y) -> None:
        super().partial_fit(X.toarray(), y)


class ConvertsInFit(NumpySGD):
    """Its own fit hands partial_fit dense batches where the stream gives (and the adapter declared) CSR."""

    name = "test.converts-in-fit"
    tasks = frozenset({"binary"})

    def fit(self, stream) -> None:
        for X, y in stream:
            self.partial_fit(X.toarray() if sparse.issparse(X) else X, y)


class ClosesOnce(NumpySGD):
    """close() raises the second time."""

    name = "test.closes-once"
    tasks = frozenset({"binary"})

    def close(self) -> None:
        if self._closed:
            raise RuntimeError("already closed")
        self._closed = True


class NoLearning(NumpySGD):
    """Learns nothing: 0.5 for every row."""

    name = "test.no-learning"
    tasks = frozenset({"binary"})

    def partial_fit(self, X, y) -> None:
        pass

    def predict_proba(self, X) -> np.ndarray:
        return np.full(X.shape[0], 0.5)


class BrokenRecommended(NumpySGD):
    """Sound under its default profile; its recommended step size is infinite, so the weights become NaN."""

    name = "test.broken-recommended"
    tasks = frozenset({"binary"})
    profiles = {"matched": {}, "recommended": {"lr": float("inf")}, "same": {"steps": 5}}


class BadMetadata(NumpySGD):
    """No api_path, and a default hyperparameter no record can hold."""

    name = "test.bad-metadata"
    tasks = frozenset({"binary"})
    api_path = ""
    params = {**NumpySGD.params, "schedule": object()}


def failed(cls, data_base, tasks=None) -> dict[str, str]:
    """``check name -> message`` of every failed check; asserts check_adapter raised naming each of them."""
    with pytest.raises(AssertionError) as info:
        check_adapter(cls, tasks=tasks, data_dir=data_base)
    report = str(info.value)
    out = {}
    for line in report.splitlines()[1:]:
        name, _, message = line.removeprefix("- ").partition(": ")
        out[name] = message
    assert f"failed {len(out)} of" in report.splitlines()[0]
    return out


def test_a_sound_adapter_passes_every_check(data_base):
    results = check_adapter(NumpySGD, data_dir=data_base)
    by_name = {r.name: r for r in results}
    assert not [r for r in results if r.failed]
    # every learning check ran (none skipped) on each task's dense data and on the categorical data
    for label in [*BINARY, f"regression/{dense_dataset('regression')}"]:
        for check in ("check_predictions_well_formed", "check_beats_constant_predictor",
                      "check_same_seed_same_predictions", "check_fit_is_partial_fit_loop",
                      "check_receives_declared_format"):
            assert by_name[f"{check}[{label}]"].status == "passed", by_name[f"{check}[{label}]"]
    assert by_name[f"check_receives_declared_format[binary/{CATEGORICAL_DATASET}]"].message.startswith("'csr'")
    assert by_name["check_metadata"].status == "passed"
    assert by_name[f"check_close_twice[{BINARY[0]}]"].status == "passed"
    isolated = by_name[f"check_isolated_run[{BINARY[0]}]"]
    assert isolated.status == "skipped"
    assert "not registered" in isolated.message and '[project.entry-points."oocbench.adapters"]' in isolated.message


def test_an_adapter_that_ignores_its_seed_is_caught(data_base):
    bad = failed(Unseeded, data_base)
    assert {f"check_same_seed_same_predictions[{label}]" for label in BINARY} <= set(bad)
    assert "seed 0 predict differently" in bad[f"check_same_seed_same_predictions[{BINARY[0]}]"]
    # comparing fit with the harness's loop needs determinism too; nothing else fails
    assert {name.split("[")[0] for name in bad} == {"check_same_seed_same_predictions",
                                                    "check_fit_is_partial_fit_loop"}


def test_an_adapter_that_densifies_its_csr_batches_is_caught(data_base):
    # the checks that refit (same seed, fit vs loop) are left out: three dense fits of 2^14 columns cost ~10 s
    refits = ("check_same_seed_same_predictions", "check_fit_is_partial_fit_loop")
    results = [c() for c in iter_checks(DensifiesCSR, data_dir=data_base) if not c.name.startswith(refits)]
    bad = {r.name: r.message for r in results if r.failed}
    assert set(bad) == {f"check_receives_declared_format[{label}]" for label in BINARY}
    assert "made dense at full width" in bad[f"check_receives_declared_format[{BINARY[1]}]"]


def test_an_adapter_whose_fit_converts_the_batches_is_caught(data_base):
    bad = failed(ConvertsInFit, data_base)
    message = bad.pop(f"check_receives_declared_format[binary/{CATEGORICAL_DATASET}]")
    assert "partial_fit received 10 'dense' batch(es)" in message and "handed 'csr'" in message
    assert not bad  # on dense data the conversion is a no-op: nothing to find


def test_an_adapter_whose_second_close_raises_is_caught(data_base):
    bad = failed(ClosesOnce, data_base)
    assert set(bad) == {f"check_close_twice[{BINARY[0]}]"}
    assert "second close() raised RuntimeError: already closed" in bad[f"check_close_twice[{BINARY[0]}]"]


def test_an_adapter_that_does_not_learn_is_caught(data_base):
    bad = failed(NoLearning, data_base)
    assert set(bad) == {f"check_beats_constant_predictor[{label}]" for label in BINARY}
    assert "does not beat the best constant predictor" in bad[f"check_beats_constant_predictor[{BINARY[0]}]"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the broken profile's inf and NaN arithmetic
def test_every_declared_profile_is_fitted_and_a_broken_one_is_caught(data_base):
    label = BINARY[0]
    checks = {c.name: c for c in iter_checks(BrokenRecommended, data_dir=data_base)}
    bad = checks[f"check_every_profile[{label}]"]()
    assert bad.failed and "profile 'recommended' (500 rows)" in bad.message and "not finite" in bad.message
    assert "'same'" not in bad.message  # the default's settings: the model the other checks fit, not refitted
    assert checks[f"check_predictions_well_formed[{label}]"]().status == "passed"  # the default profile is sound
    sound = [c for c in iter_checks(NumpySGD, "binary", data_base) if c.name == f"check_every_profile[{label}]"]
    skipped = sound[0]()
    assert skipped.status == "skipped" and "no profile besides the default" in skipped.message


def test_bad_metadata_is_caught(data_base):
    bad = failed(BadMetadata, data_base)
    assert set(bad) == {"check_metadata"}
    assert "api_path" in bad["check_metadata"] and "not JSON-able" in bad["check_metadata"]


def test_a_class_that_takes_a_registered_name_fails_the_isolated_run(data_base):
    class Imposter(NumpySGD):
        name = "sklearn.sgd"

    checks = {c.name: c for c in iter_checks(Imposter, "binary", data_base)}
    meta, run = checks["check_metadata"](), checks[f"check_isolated_run[{BINARY[0]}]"]()
    assert meta.failed and "registered to oocbench.adapters.sklearn:SGD" in meta.message
    assert run.failed and "runs oocbench.adapters.sklearn:SGD" in run.message


def test_a_task_the_adapter_does_not_support_is_skipped_with_the_reason(data_base):
    results = check_adapter(NoLearning, tasks="regression", data_dir=data_base)
    learning = [r for r in results if "[regression/" in r.name]
    assert learning and all(r.status == "skipped" and "not supported" in r.message for r in learning)
    with pytest.raises(ValueError, match="unknown task"):
        list(iter_checks(NumpySGD, "ranking"))


def test_the_cli_entry_prints_one_line_per_check():
    with pytest.raises(UnknownAdapterError, match="valid adapters"):  # the command line's usage error, exit 2
        run_checks_cli("no.such-adapter")

    lines: list[str] = []
    assert run_checks_cli("sklearn.sgd", out=lines.append) == 0
    names = {c.name for c in iter_checks(SGD)}
    assert {line.split(" ", 2)[1].rstrip(":") for line in lines[:-1]} == names
    assert all(line.startswith(("PASS ", "SKIP ")) for line in lines[:-1])
    assert lines[-1].startswith("sklearn.sgd: ") and " 0 failed" in lines[-1]
