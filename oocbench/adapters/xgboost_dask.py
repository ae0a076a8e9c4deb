"""XGBoost's dask interface: ``xgboost.dask.train`` on a ``DaskQuantileDMatrix`` over dask arrays read from the
shards, on a ``LocalCluster`` of worker processes (``workers``, default 1) or the cluster ``oocbench run
--scheduler`` names.

The arrays are the ones ``dask-ml.*`` learns from (one block per Parquet row group, each read and turned into the
shared features by a worker: :func:`oocbench.adapters.dask_ml.lazy_arrays`), in the format the single-machine
XGBoost adapters take: numpy, with categorical columns as integer codes declared ``feature_types="c"`` for
XGBoost's native categorical splits. The trees, profiles and tuning grid are theirs (``xgboost.in-memory``), so a
pair of rows isolates what distribution costs. Every worker holds its blocks and their quantised pages in RAM
(the dask interface persists the collections, then each worker trains on its share, gradients summed across
workers by XGBoost's collective), so the learner is in memory across the cluster, not out of core.

The learning curve: a dask worker runs the training callbacks, so the holdout is scored after training with the
first ``r`` trees of the booster (``iteration_range=(0, r)``), the same predictions a callback after round ``r``
would have made; the monitor times that scoring out of fit.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from oocbench.adapters.dask_ml import close_client, lazy_arrays, start_client
from oocbench.adapters.xgboost import InMemory, feature_types

if TYPE_CHECKING:
    from oocbench.features import BatchStream


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class Dask(InMemory):
    """``xgboost.dask.train(client, params, DaskQuantileDMatrix(client, X, y))`` with the ``hist`` trees."""

    name = "xgboost.dask"
    requirements = ("xgboost-cpu>=3.0", "distributed", "dask[array]")
    extra = "xgboost-dask"
    # one worker process by default (a real cluster boundary: data and booster cross it); workers=2 splits the
    # thread mode's cores between two
    # collective_timeout_s: how long a worker waits in an allreduce for a peer (XGBoost's dmlc_timeout), so a
    # lost worker ends the fit with an error instead of a wait
    params = {**InMemory.params, "workers": 1, "collective_timeout_s": 120}
    # numpy blocks only: codes on categorical data (native splits), as the single-machine adapters prefer
    input_formats = ("dense", "codes")
    scale_out = True
    update_semantics = ("boosting rounds over the whole quantised dataset held in the dask workers' RAM, each "
                        "worker building histograms on its own blocks and XGBoost's collective summing them "
                        "(allreduce) every level; the control of xgboost.in-memory; rounds, not passes")
    api_path = ("xgboost.dask.DaskQuantileDMatrix(client, dask arrays of one stream.read_part task per Parquet row "
                "group) + xgboost.dask.train(tree_method='hist', grow_policy='depthwise') on a LocalCluster of "
                "worker processes or the cluster --scheduler names")
    heap_note = ("memray follows this process only: the dask workers are child processes, so the heap figure is "
                 "the client's; the process-tree RSS covers the workers (the whole cluster when it is local)")
    _client: Any = None
    _cluster: Any = None

    def setup(self) -> None:
        super().setup()
        for name in ("workers", "collective_timeout_s"):  # the cluster's settings, not the booster's
            self.train_params.pop(name, None)
        self._client, self._cluster, self.cluster = start_client(self.threads, processes=True,
                                                                 workers=int(self.hyperparameters["workers"]))

    @classmethod
    def skip(cls, task: str | None = None) -> str | None:
        import importlib.util

        if (why := super().skip(task)) is None and importlib.util.find_spec("distributed") is None:
            return "library 'distributed' is not installed (pip install 'oocbench[xgboost-dask]')"
        return why

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        return {**super().inert_params(task, hyperparameters, input_format),
                "page_rows": "the dask interface takes the row-group blocks as they are: no pages to join"}

    def effective_hyperparameters(self) -> dict[str, Any]:
        # each worker's XGBoost takes the threads of its dask worker (nthread is not passed to train)
        return {**super().effective_hyperparameters(), **self.cluster, "nthread": self.cluster["threads_per_worker"]}

    def fit(self, stream: BatchStream) -> None:
        import xgboost.dask as dxgb
        from xgboost.collective import Config

        hp, t = self.hyperparameters, time.perf_counter()
        before = set(self._client.scheduler_info(n_workers=-1)["workers"])
        X, y = lazy_arrays(stream)
        codes = self.input_format == "codes"
        params = {k: v for k, v in self.train_params.items() if k != "nthread"}
        try:
            dtrain = dxgb.DaskQuantileDMatrix(self._client, X, y, max_bin=hp["max_bin"], enable_categorical=codes,
                                              feature_types=feature_types(stream, hp["categorical_splits"]))
            built = time.perf_counter()
            out = dxgb.train(self._client, params, dtrain, num_boost_round=hp["num_boost_round"],
                             verbose_eval=False, coll_cfg=Config(timeout=int(hp["collective_timeout_s"])))
        except Exception as exc:  # a lost worker is named, so the error record says what happened
            lost = sorted(before - set(self._client.scheduler_info(n_workers=-1)["workers"]))
            if lost:
                why = str(exc).split("Stack trace:")[0].strip()  # XGBoost appends its C++ frames
                raise RuntimeError(f"dask worker(s) {', '.join(lost)} lost during fit: "
                                   f"{type(exc).__name__}: {why}") from exc
            raise
        trained = time.perf_counter()
        self.booster = out["booster"]
        for r in sorted(self.scored_rounds(int(hp["num_boost_round"]))):
            self.checkpoint(predict=lambda X, r=r: self.scores_at(X, r), round=r)
        self.facts = {"dmatrix_build_s": built - t, "train_s": trained - built, "workers": self.cluster["workers"],
                      "workers_lost": sorted(before - set(self._client.scheduler_info(n_workers=-1)["workers"])),
                      # each worker process's own high-water mark (since it started: a long-lived external
                      # worker's includes what it ran before this case)
                      "worker_peak_rss_bytes": self._client.run(_peak_rss)}
        del dtrain

    def scores_at(self, X: Any, rounds: int) -> Any:
        """Predictions of the first ``rounds`` trees (numpy batches: dense or codes), here in the client."""
        return self.booster.inplace_predict(X, iteration_range=(0, rounds))

    def release(self) -> None:
        super().release()
        close_client(self._client, self._cluster)
        self._client = self._cluster = None
