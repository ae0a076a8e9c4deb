"""TensorFlow adapters: Keras models trained by ``fit`` on a ``tf.data`` pipeline over the shared batches.

TF reads no Parquet itself, so the pipeline is ``Dataset.from_generator`` over the stream's batches (pyarrow
inside; each epoch calls the generator anew: a fresh read), with the cardinality asserted (else Keras warns "ran
out of data") and ``prefetch(AUTOTUNE)`` so reading overlaps learning. Hashed categoricals (CSR, d + 2^18
columns) enter as ``tf.SparseTensor`` batches into a sparse ``keras.Input``; Keras multiplies them by the first
kernel through ``embedding_lookup_sparse``, so no dense (batch, width) tensor exists, forward or backward.
TensorFlow is imported in ``setup`` only.
"""

from __future__ import annotations

import contextlib
import itertools
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
from oocbench.provenance import thread_count

if TYPE_CHECKING:
    from oocbench.features import BatchStream

#: matched, linear: sklearn.sgd's model (alpha, 1/sqrt(t) decay, one pass, the stream's batch size). Its eta0=0.1 is
#: per row; a Keras step takes the *mean* gradient of a batch, whose stability limit is ~2/L (L ~ 1-2 on these
#: standardised features), far below the per-row rates summed over a batch: per-batch eta0 = 1.0 (~1/L), t in batches.
LINEAR_MATCHED = {"optimizer": "sgd", "eta0": 1.0, "power_t": 0.5, "alpha": 1e-4, "output_bias_init": "zeros"}
#: ... on hashed categoricals (CSR): a bucket in c rows of a batch gets c/B of a per-row step, so one global
#: eta0/sqrt(t) leaves rare buckets near 0 (synth-ctr 10^6: log loss 0.1660, constant 0.1684). Adagrad is that
#: schedule per coordinate (steady gradients: eta0/sqrt(t_bucket)), as CTR learners do (FTRL, VW's --adaptive):
#: 0.1401 vs sklearn.sgd's 0.1425 (10^5: 0.1621 vs 0.1598, where the global schedule gives 0.2028)
LINEAR_SPARSE_MATCHED = {"optimizer": "adagrad", "eta0": 1.0, "power_t": 0.0}
#: matched, MLP: the same L2, pass and batch size; plain SGD diverges or stalls on the MLP in 100 steps: Adam 1e-2
MLP_MATCHED = {"optimizer": "adam", "eta0": 1e-2, "power_t": 0.0, "alpha": 1e-4}
#: recommended: Keras' own defaults, as its API docs give them: keras.optimizers.Adam() (learning_rate=0.001), no
#: weight penalty (Dense's kernel_regularizer=None), and Model.fit's batch_size=32 ("If unspecified, batch_size will
#: default to 32"): steps of 32 rows across the stream's batches (rows_per_step; tf.data's rebatch). One Adam step
#: per 10,000-row stream batch, as before, is 10 steps at 10^5 rows: 10 x 1e-3 barely moves the glorot-initialised
#: kernel, and tf.linear scored log loss 0.6496 on synth-ctr (constant 0.1684) and 0.8623 on synth-binary (0.6754).
#: The price on CSR: Adam updates the whole 2^18-bucket kernel every step, ~10 ms per 32-row step here, ~35 CPU-s
#: of fit per 10^5 synth-ctr rows for tf.linear (matched: 2 s); tf.mlp on CSR keeps the pipeline's batches (see MLP).
#: TensorFlow's canned LinearClassifier default, FTRL at min(0.2, 1/sqrt(columns)) (optimizer 'ftrl'), needs the
#: small steps too: 0.2230 per stream batch, 0.1314 on 32-row steps (synth-ctr 10^5, eta0 0.2).
RECOMMENDED = {"optimizer": "adam", "eta0": 1e-3, "power_t": 0.0, "alpha": 0.0, "rows_per_step": 32}
#: tf.mlp's output bias starts at the first batch's log-odds / mean, as CTR models do for rare positives and as
#: TensorFlow's "Classification on imbalanced data" tutorial does ("Optional: Set the correct initial bias",
#: b0 = log(pos/neg)): from p = 0.5, 10 Adam steps leave synth-ctr (20k rows, batch 2000) at 0.2167, above the
#: constant; from there, 0.1375 (10^6 rows: 0.1233 both). tf.linear matched keeps sklearn's zero start; its
#: recommended profile starts there too (synth-ctr 10^5: 0.1357, from zero 0.1406; synth-binary 0.5138 both).
FIRST_BATCH = "first_batch"
#: tf.mlp on CSR: width of its linear first layer, an embedding per bucket (and numeric column) summed per row.
#: Dense(64) there is a 16.8M-weight kernel (64 MiB, +128 MiB Adam slots, +64 MiB gradient); 8 is 2.1M (8 MiB)
#: and learnt best of 8 / 16 / 32 on synth-ctr 10^6 (log loss 0.1233 / 0.1239 / 0.1246; optimum 0.1108).
EMBEDDING_DIM = 8

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
    n = thread_count(threads)
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
    """One Keras model, ``fit`` for ``passes`` epochs (default one) over the stream's batches (matched: batch
    size = the stream's)."""

    library = "tensorflow"
    requirements = ("tensorflow-cpu", "keras")
    extra = "tensorflow"
    params = {**LINEAR_MATCHED, "rows_per_step": None}  # rows_per_step None: one step per stream batch
    profiles = {"matched": {}, "recommended": dict(RECOMMENDED)}
    hidden: tuple[int, ...] = ()
    input_formats = ("dense", "csr")
    passes_semantics = ("Keras epochs: model.fit(dataset, epochs=N); each epoch re-creates the from_generator "
                        "iterator (a fresh read of the stream, stream order, no shuffle); optimizer state and step "
                        "count carry on; a Callback's on_epoch_end reports each pass")

    distributions = ("tensorflow-cpu", "tensorflow")  # either wheel provides the same import

    def setup(self) -> None:
        keras = _configure(self.threads, self.seed)
        import tensorflow as tf

        self.sparse, hp = self.input_format == "csr", dict(self.hyperparameters)  # sparse_profiles: base class
        if not self.sparse and self.hidden:
            hp.pop("embedding_dim", None)  # dense numeric input goes straight into the 64-64 MLP
        # sklearn: mean(loss) + alpha/2 |w|^2; Keras adds l2 * sum(w^2) to mean(loss) -> l2 = alpha / 2
        reg = keras.regularizers.L2(hp["alpha"] / 2) if hp["alpha"] else None
        layers = [keras.Input((self.n_features,), sparse=self.sparse)]
        if self.sparse and self.hidden:  # the embedding-sum (see EMBEDDING_DIM), linear: the ReLUs come after
            layers.append(keras.layers.Dense(hp["embedding_dim"], kernel_regularizer=reg))
        layers += [keras.layers.Dense(h, activation="relu", kernel_regularizer=reg) for h in self.hidden]
        layers.append(keras.layers.Dense(1, activation="sigmoid" if self.task == "binary" else None,
                                         kernel_regularizer=reg))
        self.model = keras.Sequential(layers)
        if hp["optimizer"] == "sgd":
            optimizer = keras.optimizers.SGD(_inv_scaling(hp["eta0"], hp["power_t"]))
        else:
            optimizer = {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
                         "ftrl": keras.optimizers.Ftrl}[hp["optimizer"]](hp["eta0"])
        # regression: half squared error, sklearn's squared_error loss (so alpha means the same thing)
        loss = "binary_crossentropy" if self.task == "binary" else _half_mse
        self.model.compile(optimizer=optimizer, loss=loss, jit_compile=False)
        self._bias_from_data = hp["output_bias_init"] == FIRST_BATCH
        shape = " -> ".join(f"Dense({layer.units})" for layer in self.model.layers)
        self._as_run = {**hp, "l2": hp["alpha"] / 2 if hp["alpha"] else 0.0,
                        "layers": f"Input({self.n_features}{', sparse' if self.sparse else ''}) -> {shape}",
                        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        out = {} if hyperparameters.get("optimizer") == "sgd" else {
            "power_t": f"power_t shapes the 'sgd' schedule only, not {hyperparameters.get('optimizer')!r}"}
        if input_format == "dense" and cls.hidden and "embedding_dim" in hyperparameters:
            out["embedding_dim"] = "numeric input goes straight into the MLP: no embedding layer (CSR only)"
        return out

    def effective_hyperparameters(self) -> dict[str, Any]:
        out = super().effective_hyperparameters()
        if "embedding_dim" not in self._as_run:  # dropped on dense input
            out.pop("embedding_dim", None)
        return {**out, **self._as_run}

    def dataset(self, stream: BatchStream, batches: Iterator[tuple[Any, np.ndarray]] | None = None) -> Any:
        """The ``tf.data`` pipeline over the stream's batches (the first iteration from ``batches``, an iteration
        of it already begun, if given), CSR as ``tf.SparseTensor``, cardinality asserted, prefetched.

        Each iteration of the pipeline (each Keras epoch) calls the generator anew: a fresh pass over the stream.
        """
        import tensorflow as tf

        begun, y_spec = [batches], tf.TensorSpec((None,), tf.float32)

        def source() -> Iterator[tuple[Any, np.ndarray]]:
            it, begun[0] = begun[0] if begun[0] is not None else iter(stream), None
            return it

        if not self.sparse:
            sig = (tf.TensorSpec((None, self.n_features), tf.float32), y_spec)
            ds = tf.data.Dataset.from_generator(source, output_signature=sig)
        else:  # numpy COO parts from the generator; the SparseTensor is built in the graph (no eager op per batch)
            sig = (tf.TensorSpec((None, 2), tf.int64), tf.TensorSpec((None,), tf.float32), y_spec)
            ds = tf.data.Dataset.from_generator(lambda: ((*coo(X), y) for X, y in source()), output_signature=sig)
            width = tf.constant([self.n_features], tf.int64)
            ds = ds.map(lambda ij, v, y: (tf.SparseTensor(ij, v, tf.concat([tf.shape(y, tf.int64), width], 0)), y))
        ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil(stream.rows / stream.batch_size)))
        if (step := self.hyperparameters["rows_per_step"]) and step != stream.batch_size:
            # Keras' own batching (fit(x, batch_size=...)) over the stream: steps of `step` rows across batches
            ds = ds.rebatch(step).apply(tf.data.experimental.assert_cardinality(math.ceil(stream.rows / step)))
        return ds.prefetch(tf.data.AUTOTUNE)

    def fit(self, stream: BatchStream) -> None:
        """``self.passes`` Keras epochs over the stream, in stream order; the monitor scores after each."""
        import keras

        adapter = self

        class Checkpoint(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                adapter.checkpoint(**{"pass": epoch + 1})  # predict_on_batch between epochs; timed out of fit

        batches = iter(stream)
        if (first := next(batches, None)) is not None:
            self._start(first[1])
            ds = self.dataset(stream, itertools.chain([first], batches))
            self.model.fit(ds, epochs=self.passes, shuffle=False, verbose=0, callbacks=[Checkpoint()])

    def _start(self, y: np.ndarray) -> None:
        """Before the first step: the output bias from this batch's labels when asked (see FIRST_BATCH)."""
        if self._bias_from_data:
            self._bias_from_data = False
            n, pos = len(y), float(np.sum(y))
            bias = math.log((pos + 0.5) / (n - pos + 0.5)) if self.task == "binary" else pos / max(n, 1)
            self.model.layers[-1].bias.assign([bias])

    def _input(self, X: Any) -> Any:
        """``X`` as the model takes it: numpy as is, scipy CSR as a ``tf.SparseTensor`` (never densified)."""
        if not self.sparse:
            return X
        import tensorflow as tf

        return tf.SparseTensor(*coo(X), np.array(X.shape, dtype=np.int64))

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        self._start(y)
        step = self.hyperparameters["rows_per_step"] or len(y)
        for lo in range(0, len(y), step):
            self.model.train_on_batch(self._input(X[lo:lo + step]), y[lo:lo + step])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(self._input(X))).reshape(-1)

    predict = predict_proba

    def release(self) -> None:
        import keras

        keras.backend.clear_session()  # frees the graph state this model built in the process
        self.model = None


def coo(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)`` of a scipy CSR matrix as ``tf.SparseTensor`` takes them: int64 ``(nnz, 2)`` [row,
    column] pairs in row-major order (CSR with sorted indices already is), float32 values; vectorised."""
    ij = np.empty((X.nnz, 2), dtype=np.int64)
    ij[:, 0] = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    ij[:, 1] = X.indices
    return ij, np.asarray(X.data, dtype=np.float32)


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
    # Keras' optimizer docs: the learning rate (Adam's default 1e-3) is the knob to tune
    tune_grid = {"eta0": (1e-3, 1e-2, 1e-1)}
    profiles = {"matched": {}, "recommended": {**RECOMMENDED, "output_bias_init": FIRST_BATCH}}
    sparse_profiles = {"matched": dict(LINEAR_SPARSE_MATCHED)}
    update_semantics = ("per mini-batch: one optimizer step per batch of batch_size rows on the batch's mean gradient "
                        "(matched: SGD eta0/sqrt(t), t counted in batches, on across epochs; on hashed categoricals "
                        "(CSR) Adagrad, that schedule per coordinate; recommended: Keras' defaults, Adam 1e-3 on "
                        "32-row steps, the output bias starting at the first batch's log-odds)")
    api_path = ("keras.Sequential([Dense(1)]).fit(tf.data.Dataset.from_generator(batches), epochs=passes); CSR: "
                "Input(sparse=True), tf.SparseTensor batches")

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.layers[-1].kernel.numpy(), dtype=np.float64).ravel()


class MLP(_Keras):
    """Two hidden Dense layers of 64 ReLU units, then one output unit (on CSR, over an embedding-sum)."""

    name = "tf.mlp"
    # Keras' optimizer docs: the learning rate (Adam's default 1e-3) is the knob to tune
    tune_grid = {"eta0": (1e-3, 3e-3, 1e-2)}
    hidden = (64, 64)
    params = {**MLP_MATCHED, "embedding_dim": EMBEDDING_DIM, "output_bias_init": FIRST_BATCH, "rows_per_step": None}
    # recommended on hashed categoricals (CSR): one step per batch of the tf.data pipeline, as Keras takes a
    # dataset's own batches (Model.fit docs: "Do not specify the batch_size if your data is in the form of
    # datasets"). Each Adam step updates all 2.1M weights of the embedding-sum: Keras' 32-row default cost 264 s
    # of fit per 10^5 synth-ctr rows (log loss 0.1290; matched 8.6 s, 0.1333), over the case timeout from 10^6
    # rows; per stream batch 4 s, 0.1655 (constant 0.1684). Dense input keeps the 32-row steps (synth-binary:
    # 0.5171 in 5 s; per stream batch 0.5940).
    sparse_profiles = {"recommended": {"rows_per_step": None}}
    update_semantics = ("per mini-batch: one optimizer step per batch of batch_size rows (Adam; recommended: Keras' "
                        "defaults, Adam 1e-3, on 32-row steps on dense input), a 64-64 ReLU MLP "
                        "whose output bias starts at the first batch's log-odds (binary) or mean (regression); on "
                        "hashed categoricals (CSR) over an embedding-sum: a linear Dense(embedding_dim) of the sparse "
                        "input (each row's bucket embeddings, and numeric values times theirs, summed)")
    api_path = ("keras.Sequential([Dense(64), Dense(64), Dense(1)]).fit(tf.data.Dataset.from_generator(batches), "
                "epochs=passes); "
                "CSR: [Input(sparse=True), Dense(embedding_dim), Dense(64), Dense(64), Dense(1)], tf.SparseTensor "
                "batches")
