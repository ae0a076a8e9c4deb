"""XGBoost ``hist`` boosting from the shared batches: out of core (``ExtMemQuantileDMatrix``, a quantised cache on
disk) and its in-memory control (``QuantileDMatrix`` over the same iterator, pages joined in RAM).

Both read the stream through one ``xgboost.DataIter`` (dense numpy or scipy CSR: XGBoost 3.2 takes both from the
iterator on CPU, out of core too). Categorical columns come as integer codes (the ``codes`` format: the 254 most
frequent values of each column, one "other" code, missing NaN) declared ``feature_types="c"`` with
``enable_categorical=True``: XGBoost's native categorical splits (its tutorial "Categorical Data"; partition-based
splits above ``max_cat_to_onehot`` categories), which its external memory supports in 3.x as well. On synth-ctr at
10^5 rows the hashed one-hot path (2^18 CSR columns) learnt at 2.81k rows/s to log loss 0.1369; the codes at
~13k rows/s to 0.1347 (100 rounds, depth 6, eta 0.1, one thread). The shared batches are joined into pages of ``page_rows`` rows: every page is a
cache page, and XGBoost's guide advises large ones (synth-binary, 10^6 rows, 2 threads, 4 rounds: 10k-row pages
took 4-11 s per round, 2^17 rows 1.1 s, 2^18 rows 0.5 s, in RAM 0.33 s; on synth-ctr 10k-row pages doubled the
cache). On hashed categoricals a round costs in proportion to the columns (2^18), not the rows.

The quantile DMatrix is built inside ``fit``, not ``prepare``: quantising is part of the ``hist`` learner
(``max_bin``), and its RAM (the whole gradient index for the control, one page at a time for the external one) is
what the in-memory vs out-of-core comparison is about; built in prepare it would sit in the RSS baseline. The split
is published in ``fit_facts``: ``dmatrix_build_s`` (``stream_reads`` reads of the stream: 3 out of core, 4 in
memory, in 3.2), ``train_s`` (scoring excluded), and the cache's ``cache_disk_bytes``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.features import concat_batches
from oocbench.provenance import thread_count

if TYPE_CHECKING:
    from oocbench.features import BatchStream

#: the same trees in every boosting library (matched profile): rounds, depth-wise depth, learning rate, bins, L2
MATCHED_TREES = {"rounds": 100, "max_depth": 6, "learning_rate": 0.1, "bins": 255, "l2": 1.0}
PAGE_ROWS = 1 << 18
CACHE_NAME = "xgb-cache"


def feature_types(stream: BatchStream, splits: str = "native") -> list[str] | None:
    """XGBoost's ``feature_types`` for the stream's batches: ``"c"`` for the code columns split on as categories
    (:meth:`~oocbench.features.FeatureSpec.categorical_code_columns`), ``"q"`` for the others; ``None`` for
    formats other than ``codes`` (all quantitative)."""
    if stream.input_format != "codes":
        return None
    categorical = set(stream.spec.categorical_code_columns(splits))
    return ["c" if j in categorical else "q" for j in range(stream.n_features)]


def page_iter(stream: BatchStream, page_rows: int, cache_prefix: str | None, splits: str = "native") -> Any:
    """An ``xgboost.DataIter`` over ``stream``: consecutive shared batches joined into pages of ``page_rows``."""
    import xgboost

    types = feature_types(stream, splits)

    class Pages(xgboost.DataIter):
        def __init__(self) -> None:
            self.batches: Any = None
            self.pages = self.reads = 0  # pages per read of the stream, reads of the stream
            super().__init__(cache_prefix=cache_prefix, release_data=True)

        def reset(self) -> None:
            self.batches = None

        def next(self, input_data: Any) -> bool:
            if self.batches is None:
                self.batches, self.pages = iter(stream), 0
                self.reads += 1
            xs, ys, n = [], [], 0
            for X, y in self.batches:
                xs.append(X)
                ys.append(y)
                n += len(y)
                if n >= page_rows:
                    break
            if not xs:
                return False
            input_data(data=concat_batches(xs), label=np.concatenate(ys), feature_types=types)
            self.pages += 1
            return True

    return Pages()


class _XGBoost(Adapter):
    library = "xgboost"
    requirements = ("xgboost-cpu>=3.0",)
    extra = "xgboost"
    # max_cat_to_onehot / max_cat_threshold: XGBoost's knobs for categorical splits (its defaults: one-hot below 4
    # categories, at most 64 categories on one side of a partition split), reachable with --param
    params = {"num_boost_round": 100, "tree_method": "hist", "grow_policy": "depthwise", "max_depth": 6,
              "eta": 0.3, "max_bin": 256, "lambda": 1.0, "min_child_weight": 1.0, "max_cat_to_onehot": 4,
              "max_cat_threshold": 64, "categorical_splits": "native", "page_rows": PAGE_ROWS}
    profiles = {
        "matched": {"num_boost_round": MATCHED_TREES["rounds"], "max_depth": MATCHED_TREES["max_depth"],
                    "eta": MATCHED_TREES["learning_rate"], "max_bin": MATCHED_TREES["bins"],
                    "lambda": MATCHED_TREES["l2"]},
        # XGBoost's defaults (eta 0.3, depth 6, 256 bins, lambda 1); 100 rounds is its scikit-learn interface's
        # n_estimators (xgboost.train's own default is 10)
        "recommended": {},
    }
    # codes first on categorical data (native categorical splits); csr (hashed one-hot) stays available
    input_formats = ("dense", "codes", "csr")
    explains = "importance"
    distributions = ("xgboost-cpu", "xgboost")  # the CPU wheel, or the full one: both import as xgboost
    external: bool = False

    def setup(self) -> None:
        hp = self.hyperparameters
        objective = "binary:logistic" if self.task == "binary" else "reg:squarederror"
        self.train_params = {k: v for k, v in hp.items()
                             if k not in ("num_boost_round", "page_rows", "categorical_splits")}
        self.train_params.update(objective=objective, nthread=thread_count(self.threads), seed=self.seed)
        self.booster: Any = None
        self.facts: dict[str, Any] = {}

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        if input_format == "codes":
            return {}
        why = "no categorical split: this data has no categorical column taken as codes"
        return {"max_cat_to_onehot": why, "max_cat_threshold": why, "categorical_splits": why}

    def effective_hyperparameters(self) -> dict[str, Any]:
        out = {**super().effective_hyperparameters(), "objective": self.train_params["objective"],
               "nthread": self.train_params["nthread"]}
        if self.input_format == "codes":
            out["categorical"] = "native splits on integer codes (enable_categorical, feature_types 'c')"
        return out

    def fit(self, stream: BatchStream) -> None:
        import xgboost

        adapter, due = self, self.scored_rounds(int(self.hyperparameters["num_boost_round"]))

        class Rounds(xgboost.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if epoch + 1 in due:
                    adapter.checkpoint(predict=lambda X: adapter.scores(model, X), round=epoch + 1)
                return False

        hp, t = self.hyperparameters, time.perf_counter()
        scored = self.scoring_s()
        prefix = str(self.workdir / CACHE_NAME) if self.external else None
        pages = page_iter(stream, hp["page_rows"], prefix, hp["categorical_splits"])
        kind = xgboost.ExtMemQuantileDMatrix if self.external else xgboost.QuantileDMatrix
        dtrain = kind(pages, max_bin=hp["max_bin"], nthread=self.train_params["nthread"],
                      enable_categorical=self.input_format == "codes")
        built = time.perf_counter()
        self.booster = xgboost.train(self.train_params, dtrain, num_boost_round=hp["num_boost_round"],
                                     callbacks=[Rounds()], verbose_eval=False)
        scored = self.scoring_s() - scored
        self.facts = {"dmatrix_build_s": built - t, "train_s": time.perf_counter() - built - scored,
                      "pages": pages.pages, "stream_reads": pages.reads}
        if self.external:  # the cache as it stands after training; XGBoost deletes it with the DMatrix
            files = self.cache_files()
            self.facts.update(cache_disk_bytes=sum(f.stat().st_size for f in files), cache_files=len(files))
        del dtrain, pages

    def cache_files(self) -> list[Any]:
        return sorted(self.workdir.glob(CACHE_NAME + "*")) if self.external else []

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError(f"{self.name}: boosted trees have no incremental update; use fit(stream), which "
                                  "makes every round over all the rows")

    def scores(self, booster: Any, X: Any) -> np.ndarray:
        """Probabilities (binary) or values: in place for numpy (codes included: the booster keeps the feature
        types it was trained with); CSR through a DMatrix, ~9x faster than ``inplace_predict`` on 2^18 hashed
        columns (measured: 0.19 s vs 1.75 s for 10k rows)."""
        if isinstance(X, np.ndarray):
            return booster.inplace_predict(X)
        import xgboost

        return booster.predict(xgboost.DMatrix(X, nthread=self.train_params["nthread"]))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.scores(self.booster, X)

    predict = predict_proba  # probabilities (binary) or values (regression): the booster's output either way

    def fit_facts(self) -> dict[str, Any]:
        return dict(self.facts)

    def explain(self) -> np.ndarray | None:
        """Total gain (loss reduction summed over its splits, as LightGBM's) of every feature; 0 if unused."""
        out = np.zeros(self.n_features)
        for key, gain in self.booster.get_score(importance_type="total_gain").items():
            out[int(key[1:])] = gain  # keys are f0, f1, ... (no feature names given)
        return out

    def release(self) -> None:
        self.booster = None
        for f in self.cache_files():  # left by a fit that failed half-way
            f.unlink(missing_ok=True)


class ExternalMemory(_XGBoost):
    """``xgboost.train`` on an ``ExtMemQuantileDMatrix``: gradient-index pages cached on disk, read per level."""

    name = "xgboost.external-memory"
    # XGBoost's "Notes on Parameter Tuning": max_depth and eta (step shrinkage) set complexity and overfitting
    tune_grid = {"max_depth": (4, 6, 8), "eta": (0.1, 0.3)}
    external = True
    update_semantics = ("boosting rounds over an on-disk cache: the stream is read 3 times to build it (quantile "
                        "sketch, then gradient-index pages written to the case's temp dir), then every depth-wise "
                        "tree re-reads the pages (mmap) level by level; labels, gradients and histograms stay in "
                        "RAM; rounds, not passes (no --passes)")
    api_path = ("xgboost.ExtMemQuantileDMatrix(DataIter over the shared batches, joined into page_rows pages; "
                "numpy or CSR) + xgboost.train(tree_method='hist', grow_policy='depthwise'); the DMatrix is built "
                "inside fit (fit_facts: dmatrix_build_s, train_s, cache_disk_bytes), prepare does nothing")
    heap_note = ("XGBoost maps its cache pages with mmap and memray counts each mapping as an allocation: memray's "
                 "total allocated counts every re-mapping over all rounds (one trial: 102 GB for a 224 MB dataset); "
                 "the peak includes the pages mapped at that moment, file-backed memory the kernel can drop (at "
                 "10^6 synth-binary rows it matched RSS growth, 112 vs 110 MiB); rss_anon_fit_bytes excludes them")


class InMemory(_XGBoost):
    """``xgboost.train`` on a ``QuantileDMatrix`` built from the same iterator: the gradient index held in RAM."""

    name = "xgboost.in-memory"
    # XGBoost's "Notes on Parameter Tuning": max_depth and eta (step shrinkage) set complexity and overfitting
    tune_grid = {"max_depth": (4, 6, 8), "eta": (0.1, 0.3)}
    in_memory = True  # the quantised gradient index holds every row
    update_semantics = ("boosting rounds over the whole quantised dataset in RAM (the stream is read 4 times to "
                        "build it: quantile sketch, then the gradient index); the control of "
                        "xgboost.external-memory; rounds, not passes (no --passes)")
    api_path = ("xgboost.QuantileDMatrix(the same DataIter, pages joined in RAM) + xgboost.train(tree_method="
                "'hist', grow_policy='depthwise'); the DMatrix is built inside fit (fit_facts: dmatrix_build_s, "
                "train_s), prepare does nothing")
