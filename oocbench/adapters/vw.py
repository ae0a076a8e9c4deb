"""Vowpal Wabbit on its own reader: the stream is written once to VW text + cache, then VW learns with ``-d``.

VW's Python binding costs one Python call per example (``Workspace.learn(str)``: ~34k rows/s, see the VW
issues on the slow binding); its C++ reader on a file is ~10x faster. So :meth:`VWLinear.prepare` formats the
shared batches into VW text (vectorised with pyarrow compute, no Python loop per row) and builds VW's binary
cache; both are ``prepare_s``. :meth:`VWLinear.fit` is then one ``Workspace("-d data --cache_file cache")``
whose parser thread reads the cache and learns without a Python call per row.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oocbench.adapters.base import Adapter

if TYPE_CHECKING:
    from oocbench.features import BatchStream

NAMESPACE = "x"


def vw_lines(X: np.ndarray, y: np.ndarray | None, binary: bool) -> memoryview:
    """VW text lines ``"label |x f0:v0 f1:v1 ...\\n"`` for a batch, built column-wise in pyarrow (C++).

    Labels are -1/+1 for the binary task (VW's convention), the value for regression, absent when ``y`` is None.
    Returns a view of the joined lines' contiguous buffer: writing it writes the whole batch at once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if y is None:
        head: Any = pa.scalar("|" + NAMESPACE)
    else:
        lab = np.where(y > 0, 1, -1).astype(np.int8) if binary else np.asarray(y, dtype=np.float32)
        head = pc.binary_join_element_wise(pc.cast(pa.array(lab), pa.string()), pa.scalar("|" + NAMESPACE), " ")
    feats = [pc.binary_join_element_wise(pa.scalar(f"f{j}"), pc.cast(pa.array(X[:, j]), pa.string()), ":")
             for j in range(X.shape[1])]
    lines = pc.binary_join_element_wise(head, *feats, pa.scalar("\n"), " ")
    if isinstance(lines, pa.Scalar):  # only a scalar head and no feature column: nothing row-wise to write
        raise ValueError("empty batch")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]


class VWLinear(Adapter):
    """Logistic (``--link logistic``) / squared-loss linear model learnt by VW from its own text file and cache."""

    name = "vw.linear"
    library = "vowpalwabbit"
    extra = "vw"
    requirements = ("vowpalwabbit>=9.9",)
    params = {"bit_precision": 18}
    # matched, in sklearn SGD units (eta_t = eta0 / sqrt(t), per-example objective loss + alpha/2 |w|^2) and
    # translated in setup: VW --sgd steps with eta_t = l * t^-power_t (sd->t starts at 1, as sklearn's t_) and
    # --l2 lambda is a per-example decay, so l = eta0 and l2 = alpha for the logistic loss; VW's squared loss is
    # (p - y)^2 (gradient 2(p - y)), sklearn's 0.5 (p - y)^2, so regression takes l = eta0 / 2 and l2 = 2 alpha.
    # sklearn does not penalise the intercept: --no_bias_regularization.
    profiles = {
        "matched": {"eta0": 0.1, "power_t": 0.5, "alpha": 1e-4},
        "recommended": {},  # VW defaults: adaptive + normalized + invariant updates, -l 0.5, no l2
    }
    update_semantics = "per row: one online update per example, read by VW's own parser (one pass)"
    api_path = 'vowpalwabbit.Workspace("-d data.vw --cache_file data.cache ...") after prepare() wrote both'

    def setup(self) -> None:
        hp = dict(self.hyperparameters)
        binary = self.task == "binary"
        args = ["--loss_function", "logistic", "--link", "logistic"] if binary else ["--loss_function", "squared"]
        args += ["-b", str(hp.get("bit_precision", 18))]
        if "eta0" in hp:
            factor = 1.0 if binary else 0.5
            args += ["--sgd", "-l", repr(hp["eta0"] * factor), "--power_t", repr(hp.get("power_t", 0.5)),
                     "--l2", repr(hp.get("alpha", 0.0) / factor), "--no_bias_regularization"]
        self.model_args = " ".join(args)
        # VW 9 has no option to drop its parser thread (--onethread is gone): fit uses 2 threads in any mode
        self.hyperparameters.update(vw_args=self.model_args, parser_thread=True)
        self._dir = Path(tempfile.mkdtemp(prefix="oocbench-vw-"))
        self.data_file, self.cache_file = self._dir / "train.vw", self._dir / "train.cache"
        self.model_file = self._dir / "model.vw"
        self.fit_args: str | None = None  # the Workspace command line fit used (tests check it reads -d)
        self._coef: np.ndarray | None = None

    def _workspace(self, args: str) -> Any:
        import vowpalwabbit

        return vowpalwabbit.Workspace(f"{args} --quiet")

    def prepare(self, stream: BatchStream) -> None:
        """Write the stream as VW text, then let VW parse it once (test-only) to build its binary cache."""
        binary = self.task == "binary"
        with open(self.data_file, "wb") as fh:
            for X, y in stream:
                fh.write(vw_lines(X, y, binary))
        self.cache_file.unlink(missing_ok=True)
        self._workspace(f"-d {self.data_file} --cache_file {self.cache_file} -t {self.model_args}").finish()

    def fit(self, stream: BatchStream) -> None:
        if not self.cache_file.exists():
            self.prepare(stream)
        self.fit_args = f"-d {self.data_file} --cache_file {self.cache_file} -f {self.model_file} {self.model_args}"
        ws = self._workspace(self.fit_args)  # runs VW's parser + learner to the end of the cache
        try:
            self._coef = self._read_weights(ws)
        finally:
            ws.finish()  # writes the model file

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """One batch through VW's reader, continuing from the saved model (not the path fit uses)."""
        batch = self._dir / "batch.vw"
        batch.write_bytes(vw_lines(X, y, self.task == "binary"))
        start = f"-i {self.model_file}" if self.model_file.exists() else self.model_args
        ws = self._workspace(f"-d {batch} {start} -f {self.model_file}")
        try:
            self._coef = self._read_weights(ws)
        finally:
            ws.finish()

    def _read_weights(self, ws: Any) -> np.ndarray:
        space = ws.hash_space(NAMESPACE)
        return np.array([ws.get_weight(ws.hash_feature(f"f{j}", space)) for j in range(self.n_features)])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        # test-only VW on a file of the batch: C++ parses and predicts, no Python call per row
        data, preds = self._dir / "predict.vw", self._dir / "predict.txt"
        data.write_bytes(vw_lines(X, None, self.task == "binary"))
        self._workspace(f"-t -i {self.model_file} -d {data} -p {preds}").finish()
        return np.loadtxt(preds, dtype=np.float64, ndmin=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X)

    def explain(self) -> np.ndarray | None:
        """VW's weights of the named features f0..f{d-1} (hashed in namespace ``x``), bias excluded."""
        return self._coef

    def release(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
