"""dask-ml adapters on a dask.distributed cluster: ``Incremental(SGD)`` and a full-batch GLM (dask-glm L-BFGS).

Both learn from a dask array built lazily from the dataset's Parquet shards, one block per row group (2^16 rows,
~12 MiB of CSR on synth-ctr; a whole 2^20-row shard as one CSR block is 180 MiB and building it grew RSS by
463 MiB), each read and turned into the shared features (numpy, or scipy CSR for hashed categoricals) by
``stream.read_part`` inside a worker: the client never holds the training data and the graph holds no data. The
cluster is a ``LocalCluster`` sized by the thread mode, or an existing one named by ``$OOCBENCH_DASK_SCHEDULER``
(``oocbench run --scheduler tcp://HOST:PORT``); its workers must then see the same data directory and have
oocbench installed.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.adapters.sklearn import SGD as SklearnSGD
from oocbench.adapters.sklearn import sgd_inert, with_constant_column
from oocbench.provenance import thread_count

if TYPE_CHECKING:
    from oocbench.features import BatchStream

SCHEDULER_ENV = "OOCBENCH_DASK_SCHEDULER"
#: What a worker imports before fit, so worker start-up imports are not timed as fit.
WORKER_IMPORTS = ("sklearn.linear_model", "oocbench.features", "pyarrow.parquet", "scipy.sparse")
#: sklearn.sgd's settings (and its constant-column intercept on CSR), so the pair isolates dask's overhead
SGD_PARAMS, SGD_MATCHED = dict(SklearnSGD.params), dict(SklearnSGD.profiles["matched"])


def _warm_worker() -> None:
    for module in WORKER_IMPORTS:
        importlib.import_module(module)


def _read_part(stream: BatchStream, shard: int, group: int, rows: int) -> tuple[Any, np.ndarray]:
    return stream.read_part(shard, group, rows)  # a plain function: the stream itself is one shared graph key


def lazy_arrays(stream: BatchStream) -> tuple[Any, Any]:
    """``(X, y)`` dask arrays, one block per Parquet row group (``stream.parts()``), each from one
    ``stream.read_part`` task run by a worker.

    Parameters
    ----------
    stream : BatchStream
        The training rows; only its shard layout is read here, the data is read by the workers.

    Returns
    -------
    tuple of dask.array.Array
        ``X`` float32 ``(rows, n_features)`` with numpy blocks, or scipy CSR blocks for a ``"csr"`` stream, and
        ``y`` float32 ``(rows,)``, blocks aligned.
    """
    import dask
    import dask.array as da
    from scipy import sparse

    # n_features computes the feature statistics once, here; the stream is then one graph key that every read
    # task names, so it is shipped to a worker once, not once per task
    d = stream.n_features
    src = dask.delayed(stream, pure=True, traverse=False)
    read = dask.delayed(_read_part, pure=True, nout=2)
    meta = sparse.csr_matrix((0, d), dtype=np.float32) if stream.input_format == "csr" else None
    parts = [(read(src, *part), part[2]) for part in stream.parts()]
    X = da.concatenate([da.from_delayed(p[0], (rows, d), np.float32, meta=meta) for p, rows in parts])
    y = da.concatenate([da.from_delayed(p[1], (rows,), np.float32) for p, rows in parts])
    return X, y


@contextlib.contextmanager
def _quiet_known_warnings():
    # deprecations inside dask-glm / dask-ml themselves (not our usage); anything else still shows
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fuse_ave_width.*")
        warnings.filterwarnings("ignore", message=r".*(iprint|disp).*L-BFGS-B.*|.*L-BFGS-B.*(iprint|disp).*")
        yield


def start_client(threads: str, processes: bool, workers: int = 1) -> tuple[Any, Any, dict[str, Any]]:
    """A dask client on ``$OOCBENCH_DASK_SCHEDULER`` when set, else on a new ``LocalCluster`` of ``workers``
    workers sharing the thread mode's cores (at least one thread each), warmed with :data:`WORKER_IMPORTS`.

    Returns
    -------
    tuple
        ``(client, cluster or None, facts)``: ``facts`` is what the record publishes about the cluster as run
        (``cluster``: a one-line description; ``workers``, ``threads_per_worker``, ``memory_limit_per_worker``).
    """
    from distributed import Client, LocalCluster

    address, cluster = os.environ.get(SCHEDULER_ENV), None
    if address:
        client = Client(address, timeout="30s")
    else:
        per = max(1, thread_count(threads) // workers)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=per, processes=processes,
                               dashboard_address=":0", silence_logs=logging.ERROR,
                               **({"host": "127.0.0.1"} if processes else {}))  # else inproc://
        client = Client(cluster)
    client.run(_warm_worker)
    info = list(client.scheduler_info(n_workers=-1)["workers"].values())
    where = f"external scheduler {address}" if address else f"LocalCluster(processes={processes})"
    threads_each = sorted({w["nthreads"] for w in info})
    limits = sorted({int(w.get("memory_limit") or 0) for w in info})
    return client, cluster, {"engine": "dask.distributed",
                             "cluster": f"{where}: {len(info)} worker(s) x {threads_each} thread(s)",
                             "workers": len(info), "threads_per_worker": threads_each,
                             "memory_limit_per_worker": limits}


def close_client(client: Any, cluster: Any) -> None:
    """Close the client, then the cluster it talks to (each may be ``None``); errors are ignored."""
    for thing in (client, cluster):  # client first: it talks to the cluster's scheduler
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()


class _DaskAdapter(Adapter):
    """Starts the client (and a LocalCluster unless one is given) in setup; closes both in release."""

    library = "dask_ml"
    requirements = ("dask-ml", "distributed", "dask[array]")
    extra = "dask"
    _client: Any = None
    _cluster: Any = None

    def setup(self) -> None:
        # one worker, threads from the thread mode (one worker: the Incremental chain never ships the model
        # between workers). In-process by default (params processes=True for a worker process): the SGD and
        # numpy kernels release the GIL, at 10^6 rows it was ~1.4x faster than a worker process on 2 cores,
        # and memray's heap peak then covers the worker's allocations (it does not follow child processes)
        processes = bool(self.hyperparameters.get("processes", False))
        self._client, self._cluster, facts = start_client(self.threads, processes)
        self._as_run = {"cluster": facts["cluster"]}
        self.build()

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def build(self) -> None:
        """Build the estimator from ``self.hyperparameters``."""
        raise NotImplementedError

    def release(self) -> None:
        close_client(self._client, self._cluster)
        self._client = self._cluster = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        # numpy in -> the fitted estimator runs here on the holdout batch (never a collected dask test set)
        return np.asarray(self.model.predict_proba(X))[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(X))


class Incremental(_DaskAdapter):
    """``dask_ml.wrappers.Incremental(SGDClassifier | SGDRegressor)`` over the lazy per-row-group array."""

    name = "dask-ml.incremental"
    # dask-ml's Incremental docs defer to the wrapped SGDClassifier, whose guide says search alpha in 10^-6 .. 10^-1
    tune_grid = {"alpha": (1e-5, 1e-4, 1e-3)}
    params = {**SGD_PARAMS, "shuffle_blocks": True, "processes": False}
    profiles = {
        # sklearn.sgd's matched settings; blocks in stream order like every other adapter
        "matched": {**SGD_MATCHED, "shuffle_blocks": False},
        # dask-ml's defaults: Incremental(shuffle_blocks=True), blocks in a random (seeded) order, around
        # SGDClassifier's / SGDRegressor's API defaults (sklearn.sgd's recommended)
        "recommended": {},
    }
    update_semantics = ("per row: one partial_fit call per block (one Parquet row group, 2^16 rows) on a worker, "
                        "plain SGD steps per example inside it, as sklearn.sgd (CSR, matched: the intercept as a "
                        "constant column, undamped)")
    api_path = ("dask_ml.wrappers.Incremental(SGDClassifier/SGDRegressor).fit(dask array of numpy or scipy CSR "
                "blocks, one stream.read_part task per Parquet row group); passes 2..N: .partial_fit(same arrays)")
    input_formats = ("dense", "csr")
    # dask-ml has no epochs option (dask/dask-ml#264, open); partial_fit on a fitted Incremental continues from
    # its estimator_ (fit starts from a clone of the unfitted estimator)
    passes_semantics = ("Incremental.fit, then Incremental.partial_fit on the same lazy arrays for passes 2..N: "
                        "another chain of partial_fit calls, one per block, continuing the fitted SGD (its t_ "
                        "counts on); every pass re-reads the row groups from Parquet (nothing persisted); "
                        "shuffled blocks (recommended) take a new seeded order each pass")

    def build(self) -> None:
        from dask_ml.wrappers import Incremental as DaskIncremental
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        hp = {k: v for k, v in self.hyperparameters.items()
              if k not in ("processes", "shuffle_blocks", "sparse_intercept")}
        # sklearn damps the intercept step of sparse input 100x: matched learns it as a constant column instead
        self.column = self.hyperparameters["sparse_intercept"] == "column" and self.input_format == "csr"
        if self.column:
            hp["fit_intercept"] = self._as_run["fit_intercept"] = False
        self._as_run["sparse_intercept"] = "constant column, fit_intercept=False" if self.column else "sklearn's own"
        if self.task == "binary":
            est = SGDClassifier(loss="log_loss", random_state=self.seed, **hp)
        else:
            if hp.get("learning_rate") == "optimal":  # classification-only, as in sklearn.sgd
                hp["learning_rate"] = self._as_run["learning_rate"] = "invscaling"
            est = SGDRegressor(loss="squared_error", random_state=self.seed, **hp)
        # random_state fixes the block order when shuffling, so a seed gives one result (else it varies per run)
        # a RandomState, not the int: the first pass's order is the same, and each further pass draws a new one
        self.model = DaskIncremental(est, shuffle_blocks=self.hyperparameters["shuffle_blocks"],
                                     random_state=np.random.RandomState(self.seed))
        self._kw = {"classes": np.array([0.0, 1.0])} if self.task == "binary" else {}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        return sgd_inert(task, hyperparameters)

    def _X(self, X: Any) -> Any:
        return with_constant_column(X) if self.column else X

    def fit(self, stream: BatchStream) -> None:
        X, y = lazy_arrays(stream)
        if self.column:  # one more task per block, on the worker
            X = X.map_blocks(with_constant_column, chunks=(X.chunks[0], (X.shape[1] + 1,)), dtype=np.float32,
                             meta=X._meta)
        with self._client.as_current():
            self.model.fit(X, y, **self._kw)
            self.checkpoint(**{"pass": 1})  # the fitted estimator, here on the monitor's numpy rows
            for k in range(2, self.passes + 1):
                self.model.partial_fit(X, y, **self._kw)
                self.checkpoint(**{"pass": k})

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(self._X(X), y, **self._kw)  # in-memory X: the wrapped estimator's partial_fit

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._X(X)))[:, 1]

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.model.predict(self._X(X)))

    def explain(self) -> np.ndarray | None:
        coef = np.asarray(self.model.estimator_.coef_, dtype=np.float64).ravel()
        return coef[:-1] if self.column else coef


class GLM(_DaskAdapter):
    """``dask_ml.linear_model.LogisticRegression | LinearRegression`` with an explicit full-batch solver.

    dask-glm minimises ``sum_i loss_i + lamduh * |beta|^2 / 2`` with ``lamduh = 1 / C`` (the intercept is
    penalised too); sklearn's SGD minimises ``mean_i loss_i + alpha * |w|^2 / 2`` with a half squared error for
    regression. So the matched profile sets ``C = 1 / (n * alpha)`` (binary) or ``1 / (2 * n * alpha)``
    (regression) once ``n`` is known, at fit, and scales ``tol`` (L-BFGS-B's projected-gradient tolerance) by
    ``n`` so it stops where sklearn.batch's lbfgs (mean-scaled objective, ``gtol=tol``) does.

    Dense data only, so a dataset with categorical columns is ``skipped``. dask-glm computes on numpy or
    pydata-``sparse`` chunks, not scipy CSR: with CSR blocks dask-ml's ``add_intercept`` fails (``ValueError:
    zero-dimensional arrays cannot be concatenated``) and without the intercept dask's scipy ``tensordot``
    rejects ``X.dot(beta)`` (``AssertionError`` on ``a.ndim == b.ndim == 2``: ``beta`` is 1-D). ``sparse.COO``
    blocks (``normalize=False``, intercept as a column) do fit, but on synth-ctr took 28 s at 10^5 rows, and at
    10^6 9 s per loss + gradient evaluation (~50 needed) with RSS +1.4 GiB after 6 of them: over the 256 MiB
    budget and the 600 s limit.
    """

    name = "dask-ml.glm"
    # dask-ml's LogisticRegression docs: C, the inverse of the regularisation strength
    tune_grid = {"C": (0.1, 1.0, 10.0)}
    dense_only_because = ("dask-glm's solvers take no scipy CSR chunks (add_intercept / tensordot fail); "
                          "pydata-sparse COO chunks fit but at 10^6 rows of synth-ctr grew RSS by 1.4 GiB after "
                          "6 of ~50 L-BFGS evaluations at 9 s each (see the class docstring)")
    params = {"solver": "lbfgs", "alpha": 1e-4, "C": None, "max_iter": 100, "tol": 1e-4, "processes": False}
    profiles = {
        "matched": {},
        # dask-ml's LogisticRegression defaults (penalty 'l2', C=1.0, max_iter 100, tol 1e-4), but solver lbfgs, one
        # it documents: its default admm is ~50x slower here (library-facts)
        "recommended": {"alpha": None, "C": 1.0},
    }
    update_semantics = ("full batch: L-BFGS on all rows; each iteration is one pass over every block, re-read "
                        "from Parquet (nothing persisted), until convergence or max_iter; dense data only "
                        "(dask-glm takes no scipy CSR chunks: skipped on categorical data)")
    api_path = ("dask_ml.linear_model.LogisticRegression/LinearRegression(solver='lbfgs').fit(lazy dask array of "
                "numpy blocks, one stream.read_part task per Parquet row group)")
    input_formats = ("dense",)

    def build(self) -> None:
        self.model = None

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        if hyperparameters.get("alpha") is None:
            return {}
        return {"C": "C is computed from alpha and the row count (1 / (n alpha)): give alpha=none to set C yourself"}

    def fit(self, stream: BatchStream) -> None:
        from dask_ml.linear_model import LinearRegression, LogisticRegression

        hp = {**self.hyperparameters, "solver_tol": self.hyperparameters["tol"]}  # as run: C and tol from the rows
        if hp.get("alpha") is not None:
            scale = 1.0 if self.task == "binary" else 2.0
            hp["C"] = 1.0 / (scale * stream.rows * hp["alpha"])
            hp["solver_tol"] = hp["tol"] * stream.rows  # tol on the mean gradient, as sklearn.batch's lbfgs
        self._as_run.update(C=hp["C"], solver_tol=hp["solver_tol"])
        cls = LogisticRegression if self.task == "binary" else LinearRegression
        self.model = cls(penalty="l2", solver=hp["solver"], C=hp["C"], max_iter=hp["max_iter"],
                         tol=hp["solver_tol"], random_state=self.seed)
        X, y = lazy_arrays(stream)
        with self._client.as_current(), _quiet_known_warnings():
            self.model.fit(X, y)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError("dask-ml.glm is a full-batch solver with no incremental update: use fit(stream)")

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.coef_, dtype=np.float64).ravel()
