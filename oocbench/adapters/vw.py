"""Vowpal Wabbit on its own reader: the stream is piped as VW text into VW's command line (``-d /dev/stdin``).

VW's Python binding costs one Python call per example (``Workspace.learn(str)``: ~34k rows/s); its C++ text
reader is ~10x faster. :meth:`VWLinear.fit` starts ``python -m vowpalwabbit -d /dev/stdin`` (VW's CLI) and writes
the shared batches into its stdin as VW text, formatted vectorised (no Python loop per row). Categorical values go
in raw (``|c C1=123 carrier=AA``): VW hashes them itself into its ``-b`` bits.

Why a pipe (synth-ctr, 10^6 rows, 2 cores): the feature layer plus formatting cost ~1.2 CPU-s, VW's parse + learn
~1.6 s (parsing dominates: ``-t`` costs the same). Text written in prepare and read after runs them one after the
other (~3.2 s at best, and 220 MB of disk per 10^6 rows); through a pipe, with a thread writing batch k while
batch k + 1 is formatted, they overlap (fit 2.1 s at best). VW's cache costs an extra parse (7.7 s) to save
~0.3 s of the one pass that reads it. An in-process ``Workspace("-d ...")`` holds the GIL until its input ends.
With ``passes > 1`` the cache pays: VW writes it while parsing the pipe in pass 1 (10^6 rows of synth-ctr: 151 MB,
pass 1 ~1.5 s slower) and passes 2..N read it (~0.7 s each, vs ~3 s for a text pass; one run, 2 shared cores).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oocbench.adapters.base import Adapter
from oocbench.features import DEFAULT_HASH_BITS, MISSING_TOKEN

if TYPE_CHECKING:
    from oocbench.features import BatchStream

NUMERIC_NS, CATEGORICAL_NS = "n", "c"
#: what VW's text parser splits on (its ``read_name``), and ``%``: percent-encoded, so values stay distinct
ESCAPES = (("%", "%25"), (" ", "%20"), ("\t", "%09"), ("\r", "%0D"), ("\n", "%0A"), ("|", "%7C"), (":", "%3A"))
MAX_CHUNK = 1 << 17  # rows per take(): bounds memory and keeps the int32 string offsets far from 2 GiB


def escape_name(name: str) -> str:
    """A column name as a VW feature name: :data:`ESCAPES`, and ``=`` (it ends a categorical column's name)."""
    for char, code in (*ESCAPES, ("=", "%3D")):
        name = name.replace(char, code)
    return name


def escape(values: pa.Array) -> pa.Array:
    """String values with :data:`ESCAPES` applied; a single regex scan when none occurs (the usual case)."""
    if pc.any(pc.match_substring_regex(values, r"[% \t\r\n|:]")).as_py():
        for char, code in ESCAPES:
            values = pc.replace_substring(values, char, code)
    return values


def _tokens(name: str, col: pa.Array, numeric: bool) -> tuple[pa.Array, np.ndarray]:
    """``(tokens, codes)``: the text of each distinct value of a column, and each row's index into it.

    ``" I1:0.53"`` (float32's shortest exact text; ``""`` for 0, which VW's parser drops anyway), ``" C1=123"``,
    ``" C1=__missing__"`` for a null (as the shared layer hashes it). Formatting each distinct value once pays:
    counts, codes and labels repeat a lot.
    """
    name = escape_name(name)
    if numeric:
        col = col.fill_null(0)
        if len(col) > 1024 and len(pc.unique(col.slice(0, 256))) > 128:  # continuous: nothing to share
            values, codes = col, np.arange(len(col), dtype=np.int32)
        else:
            enc = pc.dictionary_encode(col)
            values, codes = enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)
        text = pc.binary_join_element_wise(f" {name}:", pc.cast(values, pa.string()), "")
        return pc.if_else(pc.equal(values, 0), "", text), codes
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    enc = pc.dictionary_encode(col if not pa.types.is_null(col.type) else col.cast(pa.string()),
                               null_encoding="encode")
    values = pc.cast(enc.dictionary, pa.string())
    if not pa.types.is_integer(enc.dictionary.type):  # digits need no escaping
        values = escape(values)
    text = pc.binary_join_element_wise(f" {name}=", values.fill_null(MISSING_TOKEN), "")
    return text, enc.indices.to_numpy(zero_copy_only=False)


def vw_text(X: Any, y: np.ndarray | None, binary: bool, categorical: frozenset[str] = frozenset()
            ) -> bytes | memoryview:
    """VW text lines ``"label |n I1:0.53 I2:-1.1 |c C1=123 C6=__missing__\\n"`` for one batch.

    ``X``: an Arrow table (float columns numeric unless named in ``categorical``, the others categorical, raw)
    or a dense array (numeric features ``f0..f{d-1}``). Labels: -1/+1 for the binary task (VW's convention),
    the value for regression, none when ``y`` is None. One Arrow ``take`` of the columns' distinct tokens, in
    row-major order, lays out the whole text.
    """
    if isinstance(X, np.ndarray):
        X = pa.table([np.ascontiguousarray(X[:, j]) for j in range(X.shape[1])],
                     names=[f"f{j}" for j in range(X.shape[1])])
    n = X.num_rows
    if n == 0:
        return b""
    if y is None:
        label: tuple[pa.Array, np.ndarray | None] = (pa.array([""]), None)
    elif binary:
        label = (pa.array(["-1 ", "1 "]), (np.asarray(y) > 0).astype(np.int32))
    else:
        enc = pc.dictionary_encode(pa.array(np.asarray(y, dtype=np.float32)))
        label = (pc.binary_join_element_wise(pc.cast(enc.dictionary, pa.string()), " ", ""), enc.indices.to_numpy())
    cols = {c: X.column(c).combine_chunks() for c in X.column_names}
    num = [c for c in cols if pa.types.is_floating(cols[c].type) and c not in categorical]
    pieces = [label]
    for ns, names in ((NUMERIC_NS, num), (CATEGORICAL_NS, [c for c in cols if c not in num])):
        if names:
            pieces.append((pa.array([("|" if len(pieces) == 1 else " |") + ns]), None))
            pieces += [_tokens(c, cols[c], ns == NUMERIC_NS) for c in names]
    pieces.append((pa.array(["\n"]), None))
    tokens = pa.concat_arrays([t.cast(pa.string()) for t, _ in pieces])
    starts = np.cumsum([0] + [len(t) for t, _ in pieces[:-1]])
    index = np.empty((n, len(pieces)), dtype=np.int32)  # row i's tokens, in line order
    for j, (_, codes) in enumerate(pieces):
        index[:, j] = starts[j] if codes is None else codes + starts[j]
    out = []
    for lo in range(0, n, MAX_CHUNK):
        text = tokens.take(pa.array(index[lo:lo + MAX_CHUNK].ravel()))
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
        out.append(memoryview(text.buffers()[2])[offsets[0]:offsets[-1]])
    return out[0] if len(out) == 1 else b"".join(out)


class VWLinear(Adapter):
    """Logistic (``--link logistic``) / squared-loss linear model learnt by VW from text piped into its CLI."""

    name = "vw.linear"
    # VW's wiki (Command-line arguments, Tutorial): --passes over its cache, and -b, the bits of its hash table
    tune_grid = {"passes": (1, 3), "bit_precision": (18, 22)}
    library = "vowpalwabbit"
    extra = "vw"
    requirements = ("vowpalwabbit>=9.9",)
    params = {"bit_precision": DEFAULT_HASH_BITS}  # VW's -b; follows the stream's hash_bits unless set otherwise
    # matched, in sklearn SGD units (eta_t = eta0 / sqrt(t), per-example objective loss + alpha/2 |w|^2) and
    # translated in setup: VW --sgd steps with eta_t = l * t^-power_t (sd->t starts at 1, as sklearn's t_) and
    # --l2 lambda is a per-example decay, so l = eta0 and l2 = alpha for the logistic loss; VW's squared loss is
    # (p - y)^2 (gradient 2(p - y)), sklearn's 0.5 (p - y)^2, so regression takes l = eta0 / 2 and l2 = 2 alpha.
    # sklearn does not penalise the intercept: --no_bias_regularization.
    profiles = {
        "matched": {"eta0": 0.1, "power_t": 0.5, "alpha": 1e-4},
        # VW's defaults (vw --help, "Update options"): adaptive, normalized and invariant updates (no --sgd),
        # -l 0.5, --power_t 0.5, no --l2
        "recommended": {},
    }
    update_semantics = ("per row: one online update per example, read by VW's own text parser; passes > 1: "
                        "the same updates pass after pass, the step schedule's t still counting up")
    api_path = ("python -m vowpalwabbit -d /dev/stdin ... fed VW text batch by batch: numeric features in "
                "namespace n, raw categorical values in namespace c, hashed by VW into -b bits; formatting the text "
                "is inside fit_s (overlapped with VW's parsing), prepare_s is ~0; passes > 1 adds --passes N "
                "--cache_file F -k --holdout_off --save_per_pass")
    passes_semantics = ("VW's --passes N: pass 1 parses the piped text and writes VW's cache, passes 2..N read the "
                        "cache; --holdout_off (VW's default with passes > 1 trains on 9 rows in 10 and may stop "
                        "early); the loss after pass k from the model VW saves after it (--save_per_pass)")
    # numeric data costs the same to format from dense or Arrow batches (measured): Arrow carries the names
    input_formats = ("arrow",)

    def setup(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="oocbench-vw-"))
        self.model_file = self._dir / "model.vw"
        self.fit_args: str | None = None  # VW's command line in fit (tests check it reads stdin)
        self.categorical: frozenset[str] | None = None  # the stream's categorical columns, once prepare ran
        self.numeric_names: list[str] = []  # VW names of the numeric features, in column order (for explain)
        self._proc: subprocess.Popen | None = None
        self.cache_file: Path | None = None  # VW's cache, with passes > 1 only
        self._summary: dict[str, str] = {}  # VW's end-of-run summary (multi-pass)
        self._coef: np.ndarray | None = None
        self._set_args(int(self.hyperparameters.get("bit_precision", DEFAULT_HASH_BITS)))

    def _set_args(self, bits: int) -> None:
        hp = dict(self.hyperparameters)
        binary = self.task == "binary"
        args = ["--loss_function", "logistic", "--link", "logistic"] if binary else ["--loss_function", "squared"]
        args += ["-b", str(bits), "--hash", "all"]  # no name is read as an integer: same hashes, ~5% faster
        if "eta0" in hp:
            factor = 1.0 if binary else 0.5
            args += ["--sgd", "-l", repr(hp["eta0"] * factor), "--power_t", repr(hp.get("power_t", 0.5)),
                     "--l2", repr(hp.get("alpha", 0.0) / factor), "--no_bias_regularization"]
        self.model_args, self.bits = " ".join(args), bits

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        why = "counts only with eta0 (VW's --sgd); without it VW runs its adaptive defaults: set eta0 too"
        return {} if "eta0" in hyperparameters else {n: why for n in ("power_t", "alpha") if n in hyperparameters}

    def effective_hyperparameters(self) -> dict[str, Any]:
        # VW 9 has no option to drop its parser thread (--onethread is gone); this process formats the text
        return {**super().effective_hyperparameters(), "bit_precision": self.bits, "vw_args": self.model_args,
                "parser_thread": True, "text_writer": "this process (a thread writes while the next batch is formatted)"}

    def _text(self, X: Any, y: np.ndarray | None) -> bytes | memoryview:
        if not self.numeric_names:
            self.numeric_names = ([f"f{j}" for j in range(X.shape[1])] if isinstance(X, np.ndarray) else
                                  [escape_name(c) for c in X.column_names if c not in (self.categorical or ())
                                   and pa.types.is_floating(X.schema.field(c).type)])
        return vw_text(X, y, self.task == "binary", self.categorical or frozenset())

    def prepare(self, stream: BatchStream) -> None:
        """VW's ``-b`` becomes the stream's ``hash_bits`` (the harness's buckets); nothing is written ahead."""
        if self.hyperparameters["bit_precision"] == DEFAULT_HASH_BITS:  # an explicit other -b is kept
            self._set_args(stream.spec.hash_bits)
        self.categorical = frozenset(stream.spec.categorical)

    def fit(self, stream: BatchStream) -> None:
        """VW's CLI reads the text from a pipe while this process formats the next batches.

        With ``passes > 1``, VW's own multi-pass mode: pass 1 reads the pipe and writes VW's cache as it goes,
        passes 2..N read the cache (``--passes N --cache_file``), over every row (``--holdout_off``: else VW
        keeps every 10th row out and may stop early), saving the model after each pass (``--save_per_pass``:
        ``model.vw.1`` ... ``model.vw.N``), which the monitor scores once VW is done, timed by the file's mtime.
        """
        if self.categorical is None:
            self.prepare(stream)
        self.fit_args = f"-d /dev/stdin -f {self.model_file} {self.model_args} --quiet"
        if self.passes > 1:  # -k: a cache left by an earlier fit would be read instead of the pipe
            self.cache_file = self.workdir / "train.vw.cache"
            self.fit_args = (f"-d /dev/stdin -f {self.model_file} {self.model_args} --passes {self.passes} "
                             f"--cache_file {shlex.quote(str(self.cache_file))} -k --holdout_off --save_per_pass")
        log = self._dir / "vw.log"  # multi-pass: not --quiet, for VW's summary (passes used, examples)
        with open(log, "wb") as err:  # close_fds=False allows posix_spawn: no forked copy of this process (which
            # /proc shows at this process's RSS until exec) for the case's process-tree RSS sampler to count
            self._proc = proc = subprocess.Popen([sys.executable, "-m", "vowpalwabbit", *shlex.split(self.fit_args)],
                                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                                 close_fds=False)
        with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux: 1 MiB pipe, 16x fewer wake-ups
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        try:  # a thread writes batch k (blocking while VW parses) as this one formats batch k + 1
            with proc.stdin, ThreadPoolExecutor(1) as pool:
                pending = None
                for X, y in stream:
                    text = self._text(X, y)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(proc.stdin.write, text)
                if pending is not None:
                    pending.result()
        except BrokenPipeError:
            pass  # VW stopped reading: its exit status and log say why
        except BaseException:
            proc.kill()  # an error or an interrupt here: VW must not wait for more input
            proc.wait()
            raise
        if proc.wait() != 0:
            said = log.read_text(errors="replace").strip().splitlines() or ["(nothing on stderr)"]
            raise RuntimeError(f"VW ({self.fit_args}) exited with status {proc.returncode}: {said[-1]}")
        self._run(f"-t -i {self.model_file}")
        if self.passes > 1:
            self._summary = dict(re.findall(r"^(number of examples per pass|passes used|weighted example sum) = "
                                            r"(\S+)$", log.read_text(errors="replace"), re.MULTILINE))
        if self.monitor is not None:  # each pass ended when VW wrote its model file (renamed in when complete)
            for k in range(1, self.passes + 1):
                model = self.model_file if self.passes == 1 else self.model_file.with_name(f"{self.model_file.name}.{k}")
                self.monitor.checkpoint(lambda X, m=model: self._predict(X, m),
                                        fit_s=model.stat().st_mtime - self.monitor.start_epoch, **{"pass": k})

    def partial_fit(self, X: Any, y: np.ndarray) -> None:
        """One batch through VW's reader, continuing from the saved model (not the path fit uses)."""
        batch = self._dir / "batch.vw"
        batch.write_bytes(self._text(X, y))
        start = f"-i {self.model_file}" if self.model_file.exists() else self.model_args
        self._run(f"-d {batch} {start} -f {self.model_file}")

    def _run(self, args: str) -> None:
        """An in-process VW run to its end; keeps the weights of the numeric features (VW hashes their names)."""
        import vowpalwabbit

        ws = vowpalwabbit.Workspace(f"{args} --quiet")
        try:
            space = ws.hash_space(NUMERIC_NS)
            self._coef = np.array([ws.get_weight(ws.hash_feature(c, space)) for c in self.numeric_names])
        finally:
            ws.finish()  # writes the model file (-f)

    def _predict(self, X: Any, model: Path | None = None) -> np.ndarray:
        """P(y = 1) (binary, ``--link logistic``) or values: VW's C++ reads a file of the batch (``-t -p``)."""
        data, preds = self._dir / "predict.vw", self._dir / "predict.txt"
        data.write_bytes(self._text(X, None))
        self._run(f"-t -i {model or self.model_file} -d {data} -p {preds}")
        return np.loadtxt(preds, dtype=np.float64, ndmin=1)

    predict_proba = predict = _predict

    def fit_facts(self) -> dict[str, Any]:
        """Multi-pass: VW's own count of passes and examples (every row each pass: no holdout), the cache's size."""
        if self.cache_file is None:
            return {}
        size = self.cache_file.stat().st_size if self.cache_file.exists() else None
        return {"vw_passes": {"cache_bytes": size, **{k.replace(" ", "_"): float(v) for k, v in self._summary.items()}}}

    def explain(self) -> np.ndarray | None:
        """VW's weights of the numeric features in column order (namespace ``n``), bias and categoricals excluded."""
        return self._coef

    def release(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
