"""dask-ml adapters on a dask.distributed cluster: ``Incremental(SGD)`` and a full-batch GLM (dask-glm L-BFGS).

Both learn from a dask array built lazily from the dataset's Parquet shards, one block per shard, each block
read by ``stream.read_part`` (the shared features) inside a worker: the client never holds the training data and
the graph holds no data. The cluster is a ``LocalCluster`` sized by the thread mode, or an existing one named by
``$OOCBENCH_DASK_SCHEDULER`` (``oocbench run --scheduler tcp://HOST:PORT``); its workers must then see the same
data directory and have oocbench installed.
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

if TYPE_CHECKING:
    from oocbench.features import BatchStream

SCHEDULER_ENV = "OOCBENCH_DASK_SCHEDULER"
#: What a worker imports before fit, so worker start-up imports are not timed as fit.
WORKER_IMPORTS = ("sklearn.linear_model", "oocbench.features", "pyarrow.parquet")
#: Sklearn's SGD settings, kept equal to ``sklearn.sgd`` (a test checks) so the pair isolates dask's overhead.
SGD_PARAMS = {"penalty": "l2", "alpha": 1e-4, "learning_rate": "optimal", "eta0": 0.01, "average": False}
SGD_MATCHED = {"learning_rate": "invscaling", "eta0": 0.1, "power_t": 0.5}


def _warm_worker() -> None:
    for module in WORKER_IMPORTS:
        importlib.import_module(module)


def lazy_arrays(stream: BatchStream) -> tuple[Any, Any]:
    """``(X, y)`` dask arrays with one block per shard, each from one ``stream.read_part(i)`` task.

    Parameters
    ----------
    stream : BatchStream
        The training rows; only its shard layout is read here, the data is read by the workers.

    Returns
    -------
    tuple of dask.array.Array
        ``X`` float32 ``(rows, n_features)`` and ``y`` float32 ``(rows,)``, blocks aligned.
    """
    import dask
    import dask.array as da

    # computes the stream's feature statistics once, here, so every task ships them instead of each worker
    # recomputing them
    d = stream.n_features
    read = dask.delayed(stream.read_part, pure=True, nout=2)
    blocks = [(read(i), rows) for i, rows in stream.parts()]
    X = da.concatenate([da.from_delayed(part[0], (rows, d), np.float32) for part, rows in blocks])
    y = da.concatenate([da.from_delayed(part[1], (rows,), np.float32) for part, rows in blocks])
    return X, y


@contextlib.contextmanager
def _quiet_known_warnings():
    # deprecations inside dask-glm / dask-ml themselves (not our usage); anything else still shows
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fuse_ave_width.*")
        warnings.filterwarnings("ignore", message=r".*(iprint|disp).*L-BFGS-B.*|.*L-BFGS-B.*(iprint|disp).*")
        yield


class _DaskAdapter(Adapter):
    """Starts the client (and a LocalCluster unless one is given) in setup; closes both in release."""

    library = "dask_ml"
    requirements = ("dask-ml", "distributed", "dask[array]")
    extra = "dask"
    _client: Any = None
    _cluster: Any = None

    def setup(self) -> None:
        from distributed import Client, LocalCluster

        address = os.environ.get(SCHEDULER_ENV)
        if address:
            self._client = Client(address, timeout="30s")
        else:
            # one worker, threads from the thread mode (one worker: the Incremental chain never ships the model
            # between workers). In-process by default (params processes=True for a worker process): the SGD and
            # numpy kernels release the GIL, at 10^6 rows it was ~1.4x faster than a worker process on 2 cores,
            # and memray's heap peak then covers the worker's allocations (it does not follow child processes)
            nthreads = 1 if self.threads == "1" else (os.cpu_count() or 1)
            processes = bool(self.hyperparameters.get("processes", False))
            self._cluster = LocalCluster(n_workers=1, threads_per_worker=nthreads, processes=processes,
                                         dashboard_address=":0", silence_logs=logging.ERROR,
                                         **({"host": "127.0.0.1"} if processes else {}))  # else inproc://
            self._client = Client(self._cluster)
        self._client.run(_warm_worker)
        workers = self._client.scheduler_info(n_workers=-1)["workers"].values()
        where = f"external scheduler {address}" if address else f"LocalCluster(processes={processes})"
        self.hyperparameters["cluster"] = (f"{where}: {len(workers)} worker(s) x "
                                           f"{sorted({w['nthreads'] for w in workers})} thread(s)")
        self.build()

    def build(self) -> None:
        """Build the estimator from ``self.hyperparameters``."""
        raise NotImplementedError

    def release(self) -> None:
        for thing in (self._client, self._cluster):  # client first: it talks to the cluster's scheduler
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        self._client = self._cluster = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        # numpy in -> the fitted estimator runs here on the holdout batch (never a collected dask test set)
        return np.asarray(self.model.predict_proba(X))[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(X))


class Incremental(_DaskAdapter):
    """``dask_ml.wrappers.Incremental(SGDClassifier | SGDRegressor)`` over the lazy per-shard array."""

    name = "dask-ml.incremental"
    params = {**SGD_PARAMS, "shuffle_blocks": True, "processes": False}
    profiles = {
        # sklearn.sgd's matched settings; blocks in stream order like every other adapter
        "matched": {**SGD_MATCHED, "shuffle_blocks": False},
        "recommended": {},  # dask-ml's default: blocks in a random (seeded) order
    }
    update_semantics = ("per row: one partial_fit call per block (= one Parquet shard) on a worker, plain SGD "
                        "steps per example inside it, as sklearn.sgd")
    api_path = "dask_ml.wrappers.Incremental(SGDClassifier/SGDRegressor).fit(dask array from read_part per shard)"

    def build(self) -> None:
        from dask_ml.wrappers import Incremental as DaskIncremental
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        hp = {k: v for k, v in self.hyperparameters.items() if k not in ("cluster", "processes", "shuffle_blocks")}
        if self.task == "binary":
            est = SGDClassifier(loss="log_loss", random_state=self.seed, **hp)
        else:
            if hp.get("learning_rate") == "optimal":  # classification-only, as in sklearn.sgd
                hp["learning_rate"] = self.hyperparameters["learning_rate"] = "invscaling"
            est = SGDRegressor(loss="squared_error", random_state=self.seed, **hp)
        # random_state fixes the block order when shuffling, so a seed gives one result (else it varies per run)
        self.model = DaskIncremental(est, shuffle_blocks=self.hyperparameters["shuffle_blocks"],
                                     random_state=self.seed)
        self._kw = {"classes": np.array([0.0, 1.0])} if self.task == "binary" else {}

    def fit(self, stream: BatchStream) -> None:
        X, y = lazy_arrays(stream)
        with self._client.as_current():
            self.model.fit(X, y, **self._kw)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(X, y, **self._kw)  # numpy in: the wrapped estimator's partial_fit, in process

    def explain(self) -> np.ndarray | None:
        return np.asarray(self.model.estimator_.coef_, dtype=np.float64).ravel()


class GLM(_DaskAdapter):
    """``dask_ml.linear_model.LogisticRegression | LinearRegression`` with an explicit full-batch solver.

    dask-glm minimises ``sum_i loss_i + lamduh * |beta|^2 / 2`` with ``lamduh = 1 / C`` (the intercept is
    penalised too); sklearn's SGD minimises ``mean_i loss_i + alpha * |w|^2 / 2`` with a half squared error for
    regression. So the matched profile sets ``C = 1 / (n * alpha)`` (binary) or ``1 / (2 * n * alpha)``
    (regression) once ``n`` is known, at fit, and scales ``tol`` (L-BFGS-B's projected-gradient tolerance) by
    ``n`` so it stops where sklearn.batch's lbfgs (mean-scaled objective, ``gtol=tol``) does.
    """

    name = "dask-ml.glm"
    params = {"solver": "lbfgs", "alpha": 1e-4, "C": None, "max_iter": 100, "tol": 1e-4, "processes": False}
    profiles = {
        "matched": {},
        # dask-ml's default C=1.0; lbfgs kept: the default admm is ~50x slower (library-facts)
        "recommended": {"alpha": None, "C": 1.0},
    }
    update_semantics = ("full batch: L-BFGS on all rows; each iteration is one pass over every shard, re-read "
                        "from Parquet (nothing persisted), until convergence or max_iter")
    api_path = "dask_ml.linear_model.LogisticRegression/LinearRegression(solver='lbfgs').fit(lazy dask array)"

    def build(self) -> None:
        self.model = None

    def fit(self, stream: BatchStream) -> None:
        from dask_ml.linear_model import LinearRegression, LogisticRegression

        hp = self.hyperparameters  # the dict the record publishes: effective values are written into it
        hp["solver_tol"] = hp["tol"]
        if hp.get("alpha") is not None:
            scale = 1.0 if self.task == "binary" else 2.0
            hp["C"] = 1.0 / (scale * stream.rows * hp["alpha"])
            hp["solver_tol"] = hp["tol"] * stream.rows  # tol on the mean gradient, as sklearn.batch's lbfgs
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
