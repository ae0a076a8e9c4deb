"""LightGBM gradient boosting (``gbdt``): the Dataset built from the stream, the training in RAM.

The rows go in through ``lightgbm.Sequence``, LightGBM's documented path for data that is not one array: it
samples rows by index to find the bins, then pushes the rows range by range, so the raw float matrix is never held
whole; random access comes from the stream's Parquet row groups (``stream.parts()`` / ``stream.read_part``, one
row group cached at a time), read twice like XGBoost's iterator; the ~200,000 rows LightGBM picks for its bins
are handed over a row group at a time (:func:`gathering_dataset`), not one Python call per row. The binned
Dataset and the training are in RAM.

Categorical columns use LightGBM's native categorical splits (its documented path, "Advanced Topics: Categorical
Feature Support": non-negative integer codes, a contiguous range from zero, ``categorical_feature``): the shared
``codes`` format, each column's 254 most frequent training values then one "other" code, missing NaN. Its knobs for
many categories (``cat_smooth``, ``min_data_per_group``, ``max_cat_threshold``, ``max_cat_to_onehot``, ``cat_l2``;
the same page: "use min_data_per_group, cat_smooth to deal with over-fitting when #category is large") are params,
at LightGBM's defaults. Hashed buckets as categories (up to 2^18 per column) overfit a 4,000-value id column of a
real CSV (0.4625 against HistGradientBoosting's 0.4440); on the hashed CSR itself (2^18 columns) LightGBM 4.7 spent
808 s in its first round on synth-ctr at 10^6 rows (LightGBM issue #5205).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.adapters.xgboost import MATCHED_TREES
from oocbench.provenance import thread_count

if TYPE_CHECKING:
    from oocbench.features import BatchStream


def part_sequence(stream: BatchStream) -> Any:
    """A ``lightgbm.Sequence`` of the stream's (dense or codes) rows, read by Parquet row group."""
    import lightgbm

    parts = stream.parts()
    starts = np.cumsum([0] + [rows for _, _, rows in parts])
    total = int(starts[-1])  # LightGBM's sampler asks len() once per sampled row

    class Parts(lightgbm.Sequence):
        batch_size = stream.batch_size  # rows per range read when the Dataset is pushed: the shared batch

        def __init__(self) -> None:
            # the cached row group: its index, first and end row, its rows, and (for the sampler) as float64
            self.k, self.lo, self.hi = -1, 0, 0
            self.rows: np.ndarray | None = None
            self.rows64: np.ndarray | None = None

        def __len__(self) -> int:
            return total

        def load(self, i: int) -> None:
            # indices and ranges come in increasing order: one row group at a time
            k = int(np.searchsorted(starts, i, side="right")) - 1
            if k != self.k:
                self.k, self.rows, self.rows64 = k, None, None
                self.rows = stream.read_part(*parts[k])[0]
                self.lo, self.hi = int(starts[k]), int(starts[k + 1])

        def __getitem__(self, idx: int | slice) -> np.ndarray:
            if not isinstance(idx, slice):
                # a sampled row (LightGBM asks for ~200,000, one call each): the row group's float64 copy is made
                # once, as its sampler takes float64 rows only; the view it gets back, it copies
                i = int(idx)
                if not self.lo <= i < self.hi:
                    self.load(i)
                if self.rows64 is None:
                    self.rows64 = self.rows.astype(np.float64)
                return self.rows64[i - self.lo]
            lo, hi, _ = idx.indices(len(self))
            pieces = []
            while lo < hi:
                if not self.lo <= lo < self.hi:
                    self.load(lo)
                end = min(hi, self.hi)
                pieces.append(self.rows[lo - self.lo:end - self.lo])
                lo = end
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

        def gather(self, indices: np.ndarray) -> Iterator[np.ndarray]:
            """The rows at ``indices`` (increasing), float64, each row group read once and indexed at once."""
            groups = np.searchsorted(starts, indices, side="right") - 1
            for k in np.unique(groups):
                self.load(int(starts[k]))
                yield from self.rows[indices[groups == k] - self.lo].astype(np.float64)

    return Parts()


def gathering_dataset() -> type:
    """``lightgbm.Dataset``, its Sequence sampler fed a row group at a time.

    LightGBM picks the ~200,000 bin-sample rows itself (``_create_sample_indices``, from its seed) and asks a
    Sequence for each one by one in Python (``Dataset._yield_row_from_seqlist``): 1.9 s of a 3.7 s Dataset build
    at 10^6 synth-ctr rows. This subclass answers the same indices with the same rows, gathered per row group
    (:meth:`gather`); the bins, the Dataset and the model are those of the plain Sequence path (a test checks the
    rows and the predictions). A LightGBM without that hook gets the plain Dataset.
    """
    import lightgbm

    base = lightgbm.Dataset
    if not callable(getattr(base, "_yield_row_from_seqlist", None)):
        return base

    class Gathering(base):
        @staticmethod
        def _yield_row_from_seqlist(seqs: list[Any], indices: Any) -> Iterator[np.ndarray]:
            if len(seqs) == 1 and hasattr(seqs[0], "gather"):
                return seqs[0].gather(np.asarray(indices))
            return base._yield_row_from_seqlist(seqs, indices)

    return Gathering


class GBDT(Adapter):
    """``lightgbm.train`` (gbdt) on a Dataset built from the stream through a Sequence."""

    name = "lightgbm.gbdt"
    # LightGBM's "Parameters Tuning": num_leaves first (leaf-wise trees), then a smaller learning_rate
    tune_grid = {"num_leaves": (15, 31, 63), "learning_rate": (0.05, 0.1)}
    in_memory = True  # the binned Dataset holds every row
    explains = "importance"
    library = "lightgbm"
    requirements = ("lightgbm>=4.3",)
    extra = "lightgbm"
    # the cat_* / *_cat_* knobs at LightGBM's defaults (Parameters.rst), for the categorical columns' codes
    params = {"num_iterations": 100, "learning_rate": 0.1, "num_leaves": 31, "max_depth": -1, "max_bin": 255,
              "lambda_l2": 0.0, "min_data_in_leaf": 20, "min_sum_hessian_in_leaf": 1e-3, "cat_smooth": 10.0,
              "cat_l2": 10.0, "min_data_per_group": 100, "max_cat_threshold": 32, "max_cat_to_onehot": 4,
              "categorical_splits": "native"}
    profiles = {
        # the same trees as the other boosting adapters: 100 rounds of depth <= 6 (up to 64 leaves, grown leaf
        # by leaf), lr 0.1, 255 bins, L2 1, a leaf's hessian >= 1 as XGBoost's min_child_weight
        "matched": {"num_iterations": MATCHED_TREES["rounds"], "max_depth": MATCHED_TREES["max_depth"],
                    "num_leaves": 2 ** MATCHED_TREES["max_depth"], "learning_rate": MATCHED_TREES["learning_rate"],
                    "max_bin": MATCHED_TREES["bins"], "lambda_l2": MATCHED_TREES["l2"],
                    "min_sum_hessian_in_leaf": 1.0},
        "recommended": {},  # LightGBM's defaults
    }
    update_semantics = ("boosting rounds over the binned Dataset in RAM (built from a Sequence that reads the "
                        "stream twice: bin sampling, then the rows); rounds, not passes (no --passes)")
    api_path = ("lightgbm.Dataset(lightgbm.Sequence over the stream's row groups, categorical_feature = the "
                "categorical columns' codes) + lightgbm.train(objective binary / regression); the Dataset is built "
                "inside fit (fit_facts: dataset_build_s, train_s), prepare does nothing")
    # categorical data as codes: one integer column per categorical column (native categorical splits)
    input_formats = ("dense", "codes")

    def setup(self) -> None:
        objective = "binary" if self.task == "binary" else "regression"
        self.train_params = {**self.hyperparameters, "objective": objective, "seed": self.seed, "verbose": -1,
                             "num_threads": thread_count(self.threads)}
        self.splits = self.train_params.pop("categorical_splits")  # oocbench's knob, not LightGBM's
        self.booster: Any = None
        self.facts: dict[str, Any] = {}
        self.spec: Any = None

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        if input_format == "codes":
            return {}
        why = "no categorical feature: this data has no categorical column taken as codes"
        return dict.fromkeys(("cat_smooth", "cat_l2", "min_data_per_group", "max_cat_threshold",
                              "max_cat_to_onehot", "categorical_splits"), why)

    def effective_hyperparameters(self) -> dict[str, Any]:
        out = {**super().effective_hyperparameters(), "objective": self.train_params["objective"],
               "num_threads": self.train_params["num_threads"]}
        if self.input_format == "codes":
            out["categorical_feature"] = "native splits on the categorical columns' integer codes"
        return out

    def fit(self, stream: BatchStream) -> None:
        import time

        import lightgbm

        t = time.perf_counter()
        scored = self.scoring_s()
        self.spec, ds = stream.spec, stream.dataset
        y = np.concatenate([ds.read_row_group(ds.manifest.shards[s], g, [self.spec.target]).column(0).to_numpy()
                            .astype(np.float32)[:rows] for s, g, rows in stream.parts()])  # the target alone
        categorical = self.spec.categorical_code_columns(self.splits) if self.input_format == "codes" else []
        data = gathering_dataset()(part_sequence(stream), label=y, params=self.train_params,
                                   categorical_feature=categorical or "auto")
        data.construct()
        built = time.perf_counter()

        due = self.scored_rounds(int(self.train_params["num_iterations"]))

        def rounds(env: Any) -> None:
            if env.iteration + 1 in due:
                self.checkpoint(predict=lambda X: env.model.predict(X), round=env.iteration + 1)

        self.booster = lightgbm.train(self.train_params, data, callbacks=[rounds])
        scored = self.scoring_s() - scored
        self.facts = {"dataset_build_s": built - t, "train_s": time.perf_counter() - built - scored}

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError("lightgbm.gbdt: boosted trees have no incremental update; use fit(stream)")

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.booster.predict(X)

    predict = predict_proba  # probabilities (binary) or values (regression): the booster's output either way

    def fit_facts(self) -> dict[str, Any]:
        return dict(self.facts)

    def explain(self) -> np.ndarray | None:
        """Total gain of every feature's splits; 0 for a feature no split uses."""
        return np.asarray(self.booster.feature_importance(importance_type="gain"), dtype=np.float64)

    def release(self) -> None:
        self.booster = None
