"""TensorFlow adapters: Keras models trained by ``fit`` on a ``tf.data`` pipeline over the shared batches.

TF reads no Parquet itself, so the pipeline is ``Dataset.from_generator`` over the stream's batches (pyarrow
inside), with the cardinality asserted (else Keras warns "ran out of data") and ``prefetch(AUTOTUNE)`` so reading
overlaps learning. TensorFlow is imported in ``setup`` only: ``oocbench list`` stays fast.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter

if TYPE_CHECKING:
    from oocbench.features import BatchStream

#: matched, linear: sklearn.sgd's model (alpha, 1/sqrt(t) decay, one pass, the stream's batch size). Its eta0=0.1 is
#: per row; a Keras step uses the *mean* gradient of a whole batch, so at that rate one pass at batch 10^4 takes 100
#: tiny steps and stays near the constant predictor, while the per-row rates summed over a batch (2*eta0*sqrt(B),
#: ~20 at B=10^4) are far past a mean-gradient step's stability limit (~2/L, L ~ 1-2 on these standardised
#: features). So the per-batch eta0 is 1.0 (~1/L) with the same 1/sqrt(t) decay, t counted in batches.
LINEAR_MATCHED = {"optimizer": "sgd", "eta0": 1.0, "power_t": 0.5, "alpha": 1e-4}
#: matched, MLP: the same L2, pass and batch size; plain SGD diverges or stalls on the MLP in 100 steps, so Adam
#: with a rate (1e-2) that converges in one pass
MLP_MATCHED = {"optimizer": "adam", "eta0": 1e-2, "power_t": 0.0, "alpha": 1e-4}
#: Keras' own defaults: Adam at its default learning rate, no weight penalty.
RECOMMENDED = {"optimizer": "adam", "eta0": 1e-3, "power_t": 0.0, "alpha": 0.0}

#: absl INFO lines TF writes at import, before any log level applies (TF_CPP_MIN_LOG_LEVEL does not stop them)
_IMPORT_NOISE = re.compile(r"^(I\d{4} |WARNING: All log messages before absl::InitializeLog)")


@contextlib.contextmanager
def _drop_import_noise() -> Iterator[None]:
    """Capture file descriptor 2 while TF is imported; pass through every line but absl INFO noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [ln for ln in tmp.read().decode(errors="replace").splitlines(True) if not _IMPORT_NOISE.match(ln)]
            sys.stderr.write("".join(kept))


def _configure(threads: str, seed: int) -> Any:
    """Import TF quietly, pin its thread pools (before any op runs) and seed it; returns ``keras``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the runner sets it for cases; also for in-process use
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        with _drop_import_noise():
            import tensorflow  # noqa: F401
    import absl.logging
    import tensorflow as tf

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    n = 1 if threads == "1" else (os.cpu_count() or 1)
    for get, put in ((tf.config.threading.get_intra_op_parallelism_threads,
                      tf.config.threading.set_intra_op_parallelism_threads),
                     (tf.config.threading.get_inter_op_parallelism_threads,
                      tf.config.threading.set_inter_op_parallelism_threads)):
        if get() != n:
            try:
                put(n)
            except RuntimeError:  # TF already ran an op in this process (tests); a case's child never has
                warnings.warn(f"TensorFlow already initialised: thread pools stay at {get()}, not {n}",
                              RuntimeWarning, stacklevel=3)
    # same seed -> same predictions, also with several intra-op threads (reductions in a fixed order)
    tf.config.experimental.enable_op_determinism()
    import keras

    keras.utils.set_random_seed(seed)
    return keras


class _Keras(Adapter):
    """One Keras model, ``fit`` for one epoch over the stream's batches (matched: batch size = the stream's)."""

    library = "tensorflow"
    requirements = ("tensorflow-cpu", "keras")
    extra = "tensorflow"
    params = dict(LINEAR_MATCHED)
    profiles = {"matched": {}, "recommended": dict(RECOMMENDED)}
    hidden: tuple[int, ...] = ()

    @classmethod
    def library_version(cls) -> str | None:
        import importlib.metadata

        for dist in ("tensorflow-cpu", "tensorflow"):  # either wheel provides the same import
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    def setup(self) -> None:
        keras = _configure(self.threads, self.seed)
        import tensorflow as tf

        hp = self.hyperparameters
        # sklearn: mean(loss) + alpha/2 |w|^2; Keras adds l2 * sum(w^2) to mean(loss) -> l2 = alpha / 2
        reg = keras.regularizers.L2(hp["alpha"] / 2) if hp["alpha"] else None
        layers = [keras.Input((self.n_features,))]
        layers += [keras.layers.Dense(h, activation="relu", kernel_regularizer=reg) for h in self.hidden]
        layers.append(keras.layers.Dense(1, activation="sigmoid" if self.task == "binary" else None,
                                         kernel_regularizer=reg))
        self.model = keras.Sequential(layers)
        if hp["optimizer"] == "sgd":
            schedule = _inv_scaling(hp["eta0"], hp["power_t"])
            optimizer = keras.optimizers.SGD(schedule)
        else:
            optimizer = keras.optimizers.Adam(hp["eta0"])
        # regression: half squared error, sklearn's squared_error loss (so alpha means the same thing)
        loss = "binary_crossentropy" if self.task == "binary" else _half_mse
        self.model.compile(optimizer=optimizer, loss=loss, jit_compile=False)
        self.hyperparameters = {**hp, "l2": hp["alpha"] / 2 if hp["alpha"] else 0.0,
                                "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                                "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}

    def dataset(self, stream: BatchStream) -> Any:
        """The ``tf.data`` pipeline: the stream's batches, cardinality asserted, prefetched."""
        import tensorflow as tf

        sig = (tf.TensorSpec((None, self.n_features), tf.float32), tf.TensorSpec((None,), tf.float32))
        n_batches = math.ceil(stream.rows / stream.batch_size)
        ds = tf.data.Dataset.from_generator(lambda: iter(stream), output_signature=sig)
        return ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(tf.data.AUTOTUNE)

    def fit(self, stream: BatchStream) -> None:
        self.model.fit(self.dataset(stream), epochs=1, shuffle=False, verbose=0)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.train_on_batch(X, y)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(X)).reshape(-1)

    predict = predict_proba

    def release(self) -> None:
        import keras

        keras.backend.clear_session()  # frees the graph state this model built in the process
        self.model = None


def _half_mse(y_true: Any, y_pred: Any) -> Any:
    import keras

    y_true = keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), keras.ops.shape(y_pred))
    return 0.5 * keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)


def _inv_scaling(eta0: float, power_t: float) -> Any:
    """A Keras schedule ``eta0 / t ** power_t``, ``t`` = optimizer step + 1 (defined here: TF is imported late)."""
    import keras
    import tensorflow as tf

    class InvScaling(keras.optimizers.schedules.LearningRateSchedule):
        """``eta0 / t ** power_t`` with ``t`` = optimizer step + 1: sklearn's invscaling, counted per batch."""

        def __call__(self, step: Any) -> Any:
            return eta0 / tf.pow(tf.cast(step, tf.float32) + 1.0, power_t)

        def get_config(self) -> dict[str, float]:
            return {"eta0": eta0, "power_t": power_t}

    return InvScaling()


class Linear(_Keras):
    """One Dense unit: logistic (sigmoid) or linear regression."""

    name = "tf.linear"
    update_semantics = ("per mini-batch: one optimizer step per batch of batch_size rows on the batch's mean gradient "
                        "(matched: SGD eta0/sqrt(t), t counted in batches; recommended: Adam)")
    api_path = "keras.Sequential([Dense(1)]).fit(tf.data.Dataset.from_generator(batches), epochs=1)"

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.layers[-1].kernel.numpy(), dtype=np.float64).ravel()


class MLP(_Keras):
    """Two hidden Dense layers of 64 ReLU units, then one output unit."""

    name = "tf.mlp"
    hidden = (64, 64)
    params = dict(MLP_MATCHED)
    update_semantics = ("per mini-batch: one optimizer step per batch of batch_size rows (Adam), a "
                        "64-64 ReLU MLP")
    api_path = "keras.Sequential([Dense(64), Dense(64), Dense(1)]).fit(tf.data.Dataset.from_generator(batches))"
