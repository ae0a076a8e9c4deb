"""Spark MLlib (``pyspark.ml``): L2 logistic / linear regression (L-BFGS), reading the dataset's Parquet shards
with Spark's own reader and building the features with Spark's own expressions and transformers.

The same features as every adapter, in the engine: numeric columns as the shared feature layer defines them
(log1p for counts, standardised with the stream's training statistics, missing -> 0) written as Spark SQL
expressions; categorical columns by Spark's ``FeatureHasher`` into ``2^hash_bits`` columns (the width of the other
linear learners; Spark's MurmurHash3 of "column=value", not the shared buckets). Spark's gradient-boosted trees
are not here yet: one matched fit (100 rounds, depth 6) of 2,400 rows took 45.6 s in ``local[1]`` (a Spark job
per tree level), so the adapter checks alone ran past 10 minutes. The training prefix is whole
shards plus the first rows of the next (``_metadata.row_index``, Parquet's row position). The holdout comes from
the harness as Arrow batches (numeric columns transformed, categorical values raw) and goes through the same
fitted transformers.

The session runs in ``local[N]`` (N from the thread mode), on the master ``$OOCBENCH_SPARK_MASTER`` names
(``oocbench run --spark-master URL``: a standalone ``spark://HOST:PORT``, or ``local-cluster[W,C,M]``, whose
executors are separate processes on this machine), with its temporary files in the case's directory. The JVM is
a child process: the process-tree RSS covers it (executors of a ``local-cluster`` too, a standalone cluster's do
not belong to this process tree); memray sees the Python side only. A JVM's RSS is the heap as its garbage
collector left it, up to ``driver_memory``: a ceiling it was given more than the data it held.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter
from oocbench.provenance import thread_count

if TYPE_CHECKING:
    from oocbench.features import BatchStream

MASTER_ENV = "OOCBENCH_SPARK_MASTER"


def start_session(threads: str, driver_memory: str, local_dir: str) -> Any:
    """The case's ``SparkSession`` (and its JVM): ``$OOCBENCH_SPARK_MASTER`` or ``local[N]``."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no other interface is reachable here
    from pyspark.sql import SparkSession

    n = thread_count(threads)
    master = os.environ.get(MASTER_ENV) or f"local[{n}]"
    spark = (SparkSession.builder.master(master).appName("oocbench")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", driver_memory)
             .config("spark.local.dir", local_dir).config("spark.sql.shuffle.partitions", str(max(2, n)))
             .config("spark.driver.host", os.environ["SPARK_LOCAL_IP"]).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def training_frame(spark: Any, stream: BatchStream) -> Any:
    """The stream's training rows (whole shards, then the first rows of the next) read by Spark's reader."""

    ds = stream.dataset
    if not ds.location.local:
        raise ValueError(f"spark.* reads local shards only (Spark's s3a needs hadoop-aws), not {ds.uri}")
    paths, left, last = [], stream.rows, None
    for path, info in zip(ds.shard_paths(), ds.manifest.shards):
        if left <= 0:
            break
        if info.rows <= left:
            paths.append(str(path))
        else:
            last = (str(path), left)
        left -= info.rows
    frame = spark.read.parquet(*paths) if paths else None
    if last is not None:
        part = spark.read.parquet(last[0])
        part = part.where(part["_metadata.row_index"] < last[1])
        frame = part if frame is None else frame.unionByName(part)
    return frame


def numeric_columns(stream: BatchStream) -> list[Any]:
    """Spark expressions of the shared numeric features (see :meth:`oocbench.features.FeatureSpec.numeric_block`)."""
    from pyspark.sql import functions as F

    spec, out = stream.spec, []
    for j, c in enumerate(spec.numeric):
        x = F.col(c).cast("double")
        if spec.kinds[c] == "count":
            x = F.log1p(F.when(x < 0, F.lit(0.0)).otherwise(x))  # a missing count stays missing (greatest drops nulls)
        if spec.standardize:
            x = (x - float(spec.mean[j])) / float(spec.std[j])
        if spec.missing:
            x = F.coalesce(F.nanvl(x, F.lit(0.0)), F.lit(0.0))
        out.append(x.alias(c))
    return out


class _Spark(Adapter):
    library = "pyspark"
    requirements = ("pyspark>=4.0",)  # createDataFrame(pyarrow.Table) and toArrow: Spark 4
    extra = "spark"
    input_formats = ("arrow",)
    in_memory = True  # the estimators cache their training instances in executor memory
    scale_out = True
    heap_note = ("memray follows this Python process only: Spark's memory is in its JVM (a child process, in the "
                 "process-tree RSS); the heap figure is the Python side's")

    def setup(self) -> None:
        self.spark = start_session(self.threads, self.hyperparameters["driver_memory"], str(self.workdir))
        sc = self.spark.sparkContext
        # a cluster's executors register after the session starts: wait for them (local-cluster[W,..]: W)
        want = int(sc.master.split("[", 1)[1].split(",", 1)[0]) if sc.master.startswith("local-cluster[") else 1
        deadline = time.monotonic() + 60
        while (executors := sc._jsc.sc().getExecutorMemoryStatus().size()) - 1 < want \
                and not sc.master.startswith("local[") and time.monotonic() < deadline:
            time.sleep(0.1)
        self._as_run = {"engine": f"Spark {self.spark.version}", "master": sc.master,
                        "executors": max(1, executors - 1) if not sc.master.startswith("local[") else 1,
                        "default_parallelism": sc.defaultParallelism,
                        "executor_memory": sc.getConf().get("spark.executor.memory", "(driver's)")}
        self.encoder: Any = None
        self.model: Any = None

    def effective_hyperparameters(self) -> dict[str, Any]:
        return {**super().effective_hyperparameters(), **self._as_run}

    def features(self, frame: Any, cats: list[str], numeric: list[str]) -> Any:
        """``frame`` with a ``features`` vector: the fitted categorical encoder, then the assembler."""
        from pyspark.ml.feature import VectorAssembler

        if cats:
            frame = self.encoder(frame)
        inputs = [*numeric, *(["cat"] if cats else [])]
        return VectorAssembler(inputCols=inputs, outputCol="features", handleInvalid="keep").transform(frame)

    def fit_encoder(self, train: Any, cats: list[str]) -> None:
        from pyspark.ml.feature import FeatureHasher

        model = FeatureHasher(inputCols=cats, outputCol="cat", numFeatures=1 << self.hash_bits, categoricalCols=cats)
        self.encoder = model.transform

    def fit(self, stream: BatchStream) -> None:
        spec = stream.spec
        self.hash_bits, cats, label = spec.hash_bits, list(spec.categorical), spec.target
        raw = training_frame(self.spark, stream)
        train = raw.select(*numeric_columns(stream), *cats, raw[label].cast("double").alias("label"))
        if self.task == "regression":
            from pyspark.sql import functions as F

            self.label_std = float(train.agg(F.stddev("label")).first()[0] or 1.0)
        if cats:
            self.fit_encoder(train, cats)
        self.model = self.estimator().fit(self.features(train, cats, list(spec.numeric)))
        self.cats, self.numeric = cats, list(spec.numeric)

    def estimator(self) -> Any:
        """The ``pyspark.ml`` estimator from ``self.hyperparameters`` (label ``label``, features ``features``)."""
        raise NotImplementedError

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        raise NotImplementedError(f"{self.name}: Spark's estimators fit whole DataFrames; use fit(stream)")

    def _predict(self, X: Any) -> np.ndarray:
        from pyspark.ml.functions import vector_to_array

        frame = self.features(self.spark.createDataFrame(X), self.cats, self.numeric)
        out = self.model.transform(frame)
        col = (vector_to_array(out["probability"])[1] if self.task == "binary" else out["prediction"])
        return out.select(col.alias("p")).toArrow().column("p").to_numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._predict(X)

    predict = predict_proba

    def release(self) -> None:
        spark, self.spark = getattr(self, "spark", None), None
        if spark is not None:
            spark.stop()


class Linear(_Spark):
    """``LogisticRegression`` / ``LinearRegression`` (L2, L-BFGS) on hashed categoricals."""

    name = "spark.linear"
    # Spark's "Linear methods" guide: regParam (the L2 strength) with elasticNetParam 0
    tune_grid = {"regParam": (1e-5, 1e-4, 1e-3)}
    # tol 1e-4 (Spark's default 1e-6): sklearn.batch's, so the matched pair stops alike (Spark's tol is on the
    # relative change of the loss); at 1e-6 L-BFGS ran its 100 iterations on synth-ctr
    params = {"regParam": 1e-4, "maxIter": 100, "tol": 1e-4, "standardization": False, "driver_memory": "2g"}
    profiles = {
        # the objective sklearn.batch solves: mean loss + alpha/2 |w|^2 (Spark's regParam is that alpha: its
        # objective is the mean loss + regParam/2 |w|^2 for elasticNetParam 0), on the standardised features
        "matched": {},
        # Spark's defaults: regParam 0 (no penalty), standardization True (it rescales every feature internally)
        "recommended": {"regParam": 0.0, "standardization": True, "tol": 1e-6},
    }
    # on 2^18 hashed columns Spark's defaults overfit (synth-ctr, 10^5 rows: holdout log loss 0.585 with regParam
    # 0, 0.303 with regParam 1e-4 and standardization, whose per-column scaling weakens the penalty on rare
    # columns; the constant predictor's is 0.168): an L2 penalty on the columns as they are, as its linear-methods
    # guide regularises
    sparse_profiles = {"recommended": {"regParam": 1e-4, "standardization": False}}
    update_semantics = ("full batch: L-BFGS over all training rows, cached in executor memory, one Spark job per "
                        "iteration, until tol or maxIter")
    api_path = ("spark.read.parquet(shards) -> SQL expressions (numeric) + FeatureHasher (categorical, 2^hash_bits) "
                "-> VectorAssembler -> pyspark.ml LogisticRegression / LinearRegression(elasticNetParam=0).fit")

    def estimator(self) -> Any:
        from pyspark.ml.classification import LogisticRegression
        from pyspark.ml.regression import LinearRegression

        hp = self.hyperparameters
        kw = {"regParam": hp["regParam"], "elasticNetParam": 0.0, "maxIter": hp["maxIter"], "tol": hp["tol"],
              "standardization": hp["standardization"]}
        if self.task == "binary":
            return LogisticRegression(**kw)
        # LinearRegression divides regParam by the label's standard deviation (it standardises the label): the
        # matched penalty alpha on the original scale is regParam = alpha * std(y); L-BFGS, not the normal
        # equations its "auto" picks below 4,096 features
        kw["regParam"] = self._as_run["regParam_as_run"] = hp["regParam"] * self.label_std
        return LinearRegression(solver="l-bfgs", **kw)

    def explain(self) -> np.ndarray | None:
        if self.cats:  # the hashed columns are Spark's (MurmurHash3), not the shared buckets: no per-feature map
            return None
        return np.asarray(self.model.coefficients.toArray(), dtype=np.float64)
