"""The adapter check suite: named checks any adapter must pass, for built-ins and third-party packages alike.

Like river's ``utils.estimator_checks`` and scikit-learn's ``check_estimator``: a package that ships an adapter
calls :func:`check_adapter` in its own tests, and oocbench runs the same checks over every registered adapter
(``tests/test_conformance.py``, ``oocbench check-adapter NAME``)::

    from oocbench.adapters.checks import check_adapter
    from mylib_oocbench.adapter import MyLinear

    def test_oocbench_checks(tmp_path):
        check_adapter(MyLinear, data_dir=tmp_path)  # raises AssertionError naming every failed check

The checks (one per task and dataset where it learns; ``[task/dataset]`` in the name):

- ``check_metadata``: name, library, update_semantics and api_path set; tasks and input_formats known;
  ``describe()`` JSON-able; a library version when installed; no other class registered under the name;
- ``check_predictions_well_formed``: one finite prediction per holdout row (probabilities in [0, 1]) and finite
  ``explain()`` weights;
- ``check_every_profile``: every other profile the adapter declares (``profiles``, e.g. ``recommended``) whose
  settings on this data differ from the default's, fitted on the first :data:`PROFILE_BATCHES` batch, gives
  well-formed predictions too (the default profile, ``matched``, is what the other checks fit);
- ``check_beats_constant_predictor``: a lower headline loss (:data:`oocbench.metrics.TASKS`) on the holdout than
  the best constant;
- ``check_same_seed_same_predictions``: two fits with the same seed predict the same;
- ``check_fit_is_partial_fit_loop``: for an adapter that keeps the default ``fit``, the harness's own loop
  (``partial_fit`` per batch, scored in between for the learning curve) gives the model ``fit`` gives;
- ``check_receives_declared_format``: ``partial_fit`` and the predict methods receive the batch format the
  adapter declared and was built with (numpy for ``"dense"``, scipy CSR for ``"csr"``, a ``pyarrow.Table``
  for ``"arrow"``), and no CSR batch is made dense at full width;
- ``check_close_twice``: ``close()`` after a fit, then again, raises nothing;
- ``check_isolated_run``: one case through the harness's isolated runner (a child process that finds the
  adapter by its registered name) ends ``ok``.

Data: tiny synthetic datasets written with the project's own generators into ``data_dir`` (a temporary
directory by default): the first dense dataset of each task and wide categorical ``synth-ctr`` with
``2**HASH_BITS`` hashing buckets, each handed over by :meth:`~oocbench.features.BatchStream.for_adapter` in the
format the adapter asks for. An adapter that takes dense batches only is refused categorical data
(``UnsupportedInputError``): its checks there are skipped with that reason, which is a pass.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from oocbench import datasets
from oocbench.adapters.base import Adapter
from oocbench.adapters.registry import ENTRY_POINT_GROUP, discover, get_entry
from oocbench.features import INPUT_FORMATS, BatchStream, UnsupportedInputError
from oocbench.metrics import TASKS, constant_baseline, task_metrics

#: the wide categorical dataset (hashed CSR or raw Arrow batches; refused to dense-only adapters)
CATEGORICAL_DATASET = "synth-ctr"
#: 2^14 buckets on categorical data: the contract does not depend on the width, and a boosting round costs in
#: proportion to the columns (the trees are fitted several times here)
HASH_BITS = 14
#: (training rows, batch rows): ~4% positives in synth-ctr need more rows for a linear model to beat the constant
SIZES = {CATEGORICAL_DATASET: (20_000, 2_000)}
DENSE_SIZE = (4_000, 500)
#: the profile every case runs without ``--profile`` (Adapter's default), fitted by the reference fit
DEFAULT_PROFILE = "matched"
#: check_every_profile fits each other profile on the first batch only: enough for well-formed predictions, and
#: cheap (tf.mlp's recommended Keras default of 32-row steps on a 2^14-bucket kernel)
PROFILE_BATCHES = 1
HOLDOUT_ROWS = 3_000
ISOLATED_TIMEOUT_S = 300.0
#: two fits with the same seed agree within this (float32 features, libraries that sum in float32)
RTOL, ATOL = 1e-6, 1e-7

PASSED, SKIPPED, FAILED = "passed", "skipped", "failed"


class SkipCheck(Exception):
    """Raised by a check that does not apply here (library missing, task or data format refused): a pass."""


@dataclass(frozen=True)
class CheckResult:
    """What one check found: ``status`` is ``"passed"``, ``"skipped"`` (``message`` says why) or ``"failed"``."""

    name: str
    status: str
    message: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def line(self) -> str:
        """One line for a terminal: ``PASS|SKIP|FAIL name: message``."""
        tag = {PASSED: "PASS", SKIPPED: "SKIP", FAILED: "FAIL"}[self.status]
        return f"{tag} {self.name}: {self.message}" if self.message else f"{tag} {self.name}"


@dataclass(frozen=True)
class Check:
    """A named check; calling it runs it and returns a :class:`CheckResult` (it never raises)."""

    name: str
    run: Callable[[], str]

    def __call__(self) -> CheckResult:
        t = time.perf_counter()
        try:
            message, status = self.run(), PASSED
        except SkipCheck as exc:
            message, status = str(exc), SKIPPED
        except AssertionError as exc:
            message, status = str(exc) or "assertion failed", FAILED
        except Exception as exc:  # noqa: BLE001 - a crash of the adapter is a failed check, not a crash of the suite
            message, status = _describe_error(exc), FAILED
        return CheckResult(self.name, status, message, time.perf_counter() - t)


def _describe_error(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame: where the adapter broke."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


# ----- data ------------------------------------------------------------------------------------------------
_default_dir: Path | None = None


def _default_data_dir() -> Path:
    """One temporary directory per process (removed at exit): datasets are generated once for every check."""
    global _default_dir
    if _default_dir is None:
        _default_dir = Path(tempfile.mkdtemp(prefix="oocbench-checks-"))
        atexit.register(shutil.rmtree, _default_dir, ignore_errors=True)
    return _default_dir


def dense_dataset(task: str) -> str:
    """The first synthetic dataset of ``task`` with no categorical column (``SOURCES`` lists them first)."""
    for gen in datasets.SOURCES.values():
        columns = getattr(gen, "columns", {})  # built-in generators declare it; the DatasetSource protocol does not
        if gen.kind == "synthetic" and gen.task == task and "categorical" not in dict(columns).values():
            return gen.name
    raise LookupError(f"no dense synthetic dataset for task {task!r}")


def check_datasets(task: str) -> list[str]:
    """The datasets the learning checks of ``task`` run on: its dense dataset, then the categorical one."""
    out = [dense_dataset(task)]
    if datasets.get_source(CATEGORICAL_DATASET).task == task:
        out.append(CATEGORICAL_DATASET)
    return out


# ----- watching what the adapter receives ------------------------------------------------------------------
def format_of(X: Any) -> str:
    """The batch format of ``X`` in :data:`~oocbench.features.INPUT_FORMATS` terms, else its type's name."""
    import pyarrow as pa

    if isinstance(X, np.ndarray):
        return "dense" if X.ndim == 2 else f"ndarray({X.ndim}-d)"
    if sparse.issparse(X):
        return "csr" if X.format == "csr" else f"{type(X).__name__}"
    if isinstance(X, pa.Table):
        return "arrow"
    return type(X).__name__


@dataclass
class _Watch:
    """What reached the adapter: ``(method, format)`` per call, and full-width CSR batches made dense."""

    width: int
    calls: list[tuple[str, str]] = field(default_factory=list)
    densified: list[tuple[int, int]] = field(default_factory=list)

    def wrap(self, X: Any) -> Any:
        """``X`` itself, or for CSR a view of the same arrays that notes being made dense."""
        if sparse.issparse(X) and X.format == "csr" and not isinstance(X, WatchedCSR):
            watched = WatchedCSR((X.data, X.indices, X.indptr), shape=X.shape, copy=False)
            watched._oocbench_watch = self
            return watched
        return X

    def spy(self, adapter: Adapter, method: str) -> None:
        """Record the format of every ``X`` the adapter's ``method`` is called with (an instance attribute, so
        the adapter's own code and the harness's loop go through it)."""
        original = getattr(adapter, method)

        def spied(X: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append((method, format_of(X)))
            return original(X, *args, **kwargs)

        setattr(adapter, method, spied)


class WatchedCSR(sparse.csr_matrix):
    """A CSR batch (the same arrays, no copy) whose ``toarray`` - ``todense`` goes through it - notes being
    made dense at the stream's full width (module level: dask pickles it to and from its workers)."""

    def toarray(self, order: Any = None, out: Any = None) -> np.ndarray:
        watch = getattr(self, "_oocbench_watch", None)
        if watch is not None and self.shape[1] >= watch.width:
            watch.densified.append(tuple(self.shape))
        return super().toarray(order=order, out=out)


class _WatchedStream(BatchStream):
    """The stream the harness hands over, with every CSR batch it yields watched (see :class:`_Watch`)."""

    watch: _Watch | None = None

    def _wrap(self, batches: Iterable[tuple[Any, np.ndarray]]) -> Iterator[tuple[Any, np.ndarray]]:
        for X, y in batches:
            yield (self.watch.wrap(X) if self.watch else X), y

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        return self._wrap(super().__iter__())

    def holdout(self) -> Iterator[tuple[Any, np.ndarray]]:
        return self._wrap(super().holdout())

    def read_part(self, shard: int, group: int, rows: int) -> tuple[Any, np.ndarray]:
        X, y = super().read_part(shard, group, rows)
        return (self.watch.wrap(X) if self.watch else X), y


# ----- one adapter on one dataset --------------------------------------------------------------------------
@dataclass
class _Fit:
    """A finished fit: holdout predictions and what the adapter received."""

    y: np.ndarray
    pred: np.ndarray
    weights: np.ndarray | None
    handed: str  # the stream's format (what the adapter was built with)
    chosen: str  # adapter.input_format after __init__
    declared: tuple[str, ...]
    watch: _Watch


class _FitFailed(AssertionError):
    """The shared fit of a trial failed: every check that reads it reports the same cause."""


class _Trial:
    """One adapter class on one (task, dataset): builds the stream and fits, keeping the seed-0 fit for the
    checks that only read it (predictions, loss, formats, close)."""

    def __init__(self, cls: type[Adapter], task: str, dataset: str, data_dir: Callable[[], Path]) -> None:
        self.cls, self.task, self.dataset, self.data_dir = cls, task, dataset, data_dir
        self.rows, self.batch_size = SIZES.get(dataset, DENSE_SIZE)
        self._reference: _Fit | str | None = None
        self.close_errors: list[str] | None = None  # of the reference fit's two close() calls

    @property
    def label(self) -> str:
        return f"{self.task}/{self.dataset}"

    def stream(self, rows: int | None = None) -> _WatchedStream:
        """The stream the harness would hand this adapter (its first ``rows`` training rows, default all);
        :class:`SkipCheck` where it cannot run."""
        if reason := self.cls.skip(self.task):
            raise SkipCheck(reason)
        ds = datasets.load(self.dataset, self.rows, base=self.data_dir())
        try:
            return _WatchedStream.for_adapter(ds, min(rows or ds.rows, ds.rows), self.batch_size, self.cls, HASH_BITS)
        except UnsupportedInputError as exc:
            raise SkipCheck(f"{self.cls.name} refuses {self.dataset}: {exc}") from None

    def fit(self, seed: int = 0, loop: bool = False, profile: str | None = None, rows: int | None = None) -> _Fit:
        """Fit on the training rows (the first ``rows``; ``loop``: through the harness's own partial_fit loop, as
        a case does) with ``profile`` (default: the adapter's default) and predict the first
        :data:`HOLDOUT_ROWS` holdout rows; the adapter is closed twice after."""
        from oocbench.curve import fit_with_curve, holdout_subset

        stream = self.stream(rows)
        watch = stream.watch = _Watch(stream.n_features)
        X_hold, y_hold = holdout_subset(stream, HOLDOUT_ROWS)
        X_hold = watch.wrap(X_hold)
        chosen = {} if profile is None else {"profile": profile}
        adapter = self.cls(self.task, stream.n_features, seed=seed, input_format=stream.input_format, **chosen)
        closes: list[str] = []
        try:
            for method in ("partial_fit", "predict_proba", "predict"):
                watch.spy(adapter, method)
            adapter.prepare(stream)
            if loop:
                fit_with_curve(adapter, stream, stream.rows, (X_hold, y_hold))
            else:
                adapter.fit(stream)
            pred = adapter.predict_batch(X_hold)
            weights = adapter.explain()
        finally:
            for _ in range(2):
                try:
                    adapter.close()
                    closes.append("")
                except Exception as exc:  # noqa: BLE001 - reported by check_close_twice
                    closes.append(_describe_error(exc))
            if self.close_errors is None and seed == 0 and not loop and profile is None and rows is None:
                self.close_errors = closes
        return _Fit(y_hold, pred, None if weights is None else np.asarray(weights), stream.input_format,
                    adapter.input_format, tuple(self.cls.input_formats), watch)

    def reference(self) -> _Fit:
        """The seed-0 fit, made once; a failure is kept and re-raised as :class:`_FitFailed` for every check."""
        if self._reference is None:
            try:
                self._reference = self.fit()
            except SkipCheck:
                raise
            except Exception as exc:  # noqa: BLE001 - reported by each check that needs the fit
                self._reference = f"the fit on {self.label} failed: {_describe_error(exc)}"
        if isinstance(self._reference, str):
            raise _FitFailed(self._reference)
        return self._reference


# ----- the checks ------------------------------------------------------------------------------------------
def _check_metadata(cls: type[Adapter]) -> str:
    problems = [f"class attribute {attr} is empty or not a string" for attr in
                ("name", "library", "update_semantics", "api_path")
                if not (isinstance(getattr(cls, attr, None), str) and getattr(cls, attr))]
    tasks = set(getattr(cls, "tasks", ()))
    if not tasks or not tasks <= set(TASKS):
        problems.append(f"tasks {sorted(tasks)} is not a non-empty subset of {sorted(TASKS)}")
    formats = tuple(getattr(cls, "input_formats", ()))
    if not formats or not set(formats) <= set(INPUT_FORMATS):
        problems.append(f"input_formats {formats!r} is not a non-empty subset of {INPUT_FORMATS}")
    try:
        json.dumps(cls.describe())
    except Exception as exc:  # noqa: BLE001 - anything describe() or json raises is the finding
        problems.append(f"describe() is not JSON-able: {_describe_error(exc)}")
    installed = cls.skip() is None
    if installed and cls.library_version() is None:
        problems.append(f"no installed version for {cls.library_distribution()!r} (set requirements or "
                        "distributions to the pip distribution that provides the library)")
    if isinstance(getattr(cls, "name", None), str):
        entry = discover().get(cls.name)
        if entry is not None and not _is_entry_of(entry, cls):
            problems.append(f"the name {cls.name!r} is registered to {entry.target} ({entry.source}), not to this "
                            "class: oocbench would run that one (built-in names cannot be taken by entry points)")
        others = [name for name, e in discover().items() if name != cls.name and _is_entry_of(e, cls)]
        if others:
            problems.append(f"registered under {others}, which differs from its name {cls.name!r}")
    assert not problems, "; ".join(problems)
    version = f", {cls.library_distribution()} {cls.library_version()}" if installed else ", library not installed"
    return f"{cls.name}: tasks {sorted(tasks)}, input_formats {list(formats)}{version}"


def _is_entry_of(entry: Any, cls: type[Adapter]) -> bool:
    return entry.cls is cls or entry.target == f"{cls.__module__}:{cls.__qualname__}"


def _malformed(task: str, fit: _Fit) -> str:
    """What is wrong with the holdout predictions of ``fit`` ("" when nothing): shape, finiteness, range."""
    n = len(fit.y)
    if fit.pred.shape != (n,):
        return f"predict_batch gave shape {fit.pred.shape} for {n} rows, expected ({n},)"
    if bad := int(np.sum(~np.isfinite(fit.pred))):
        return f"{bad} of {n} predictions are not finite"
    if task == "binary" and (outside := int(np.sum((fit.pred < 0) | (fit.pred > 1)))):
        return f"{outside} of {n} probabilities are outside [0, 1]"
    return ""


def _check_well_formed(trial: _Trial) -> str:
    fit = trial.reference()
    n = len(fit.y)
    problem = _malformed(trial.task, fit)
    assert not problem, problem
    if fit.weights is not None:
        assert fit.weights.size >= 1 and np.all(np.isfinite(fit.weights)), \
            f"explain() returned {fit.weights.size} values, some not finite"
    what = "no explain()" if fit.weights is None else f"explain(): {fit.weights.size} finite values"
    return f"{n} finite predictions, {what}"


def _check_every_profile(trial: _Trial) -> str:
    fmt = trial.stream().input_format  # SkipCheck where the adapter cannot run here
    default = trial.cls.resolve(DEFAULT_PROFILE, fmt)
    others = [p for p in trial.cls.profiles if p != DEFAULT_PROFILE]
    fitted = [p for p in others if trial.cls.resolve(p, fmt) != default]  # the same settings: the same model
    if not fitted:
        said = f"profiles {others} resolve" if others else "no profile besides the default is declared: it resolves"
        raise SkipCheck(f"{said} to the {DEFAULT_PROFILE!r} settings on {fmt!r} batches, which the other checks fit")
    rows = PROFILE_BATCHES * trial.batch_size
    problems, done = [], []
    for profile in fitted:
        try:
            fit = trial.fit(profile=profile, rows=rows)
        except SkipCheck:
            raise
        except Exception as exc:  # noqa: BLE001 - a profile that cannot fit is the finding
            problems.append(f"profile {profile!r}: the fit failed: {_describe_error(exc)}")
            continue
        if problem := _malformed(trial.task, fit):
            problems.append(f"profile {profile!r} ({rows:,} rows): {problem}")
        else:
            done.append(f"{profile} ({len(fit.pred):,} finite predictions{' in [0, 1]' * (trial.task == 'binary')})")
    assert not problems, "; ".join(problems)
    return f"fitted on {rows:,} rows: " + ", ".join(done)


def _check_beats_constant(trial: _Trial) -> str:
    fit = trial.reference()
    key, label = TASKS[trial.task].loss.key, TASKS[trial.task].loss.label
    got = task_metrics(trial.task, fit.y, fit.pred)[key]
    floor = constant_baseline(trial.task, float(np.mean(fit.y)), fit.y)[key]
    assert got < floor, (f"{label} {got:.4g} on the holdout does not beat the best constant predictor's "
                         f"{floor:.4g}: the adapter does not learn")
    return f"{label} {got:.4g} < constant {floor:.4g}"


def _same(a: _Fit, b: _Fit) -> tuple[bool, str]:
    if a.pred.shape != b.pred.shape:
        return False, f"shapes {a.pred.shape} and {b.pred.shape}"
    if np.allclose(b.pred, a.pred, rtol=RTOL, atol=ATOL, equal_nan=True):
        return True, ""
    diff = np.abs(b.pred - a.pred)
    worst = int(np.nanargmax(diff))
    return False, (f"{int(np.sum(diff > ATOL + RTOL * np.abs(a.pred)))} of {len(diff)} predictions differ, most at "
                   f"row {worst}: {a.pred[worst]:.6g} vs {b.pred[worst]:.6g}")


def _check_same_seed(trial: _Trial) -> str:
    first = trial.reference()
    same, why = _same(first, trial.fit(seed=0))
    assert same, f"two fits with seed 0 predict differently: {why} (seed every random source from self.seed)"
    return f"two fits with seed 0 agree on {len(first.pred)} predictions (rtol {RTOL:g})"


def _check_fit_is_loop(trial: _Trial) -> str:
    if trial.cls.fit is not Adapter.fit:
        raise SkipCheck(f"{trial.cls.name} has its own fit(stream), which the harness calls as is")
    first = trial.reference()
    same, why = _same(first, trial.fit(seed=0, loop=True))
    assert same, ("fit(stream) and the harness's partial_fit loop (with predictions on the holdout and the next "
                  f"batch in between, for the learning curve) give different models: {why}; predicting must not "
                  "change the model")
    return "fit(stream) and the harness's partial_fit loop, scored in between, agree"


def _check_format(trial: _Trial) -> str:
    fit = trial.reference()
    assert fit.chosen == fit.handed, (f"built with input_format={fit.handed!r} (the stream's), the adapter says "
                                      f"input_format={fit.chosen!r}: it must take the format it is handed")
    wrong: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    for method, fmt in fit.watch.calls:
        counts[method] = counts.get(method, 0) + 1
        if fmt != fit.handed and not (fit.handed == "codes" and fmt == "dense"):  # codes are a float32 array
            wrong.setdefault(method, {}).setdefault(fmt, 0)
            wrong[method][fmt] += 1
    problems = [f"{method} received {n} {fmt!r} batch(es) of {counts[method]} call(s)"
                for method, seen in wrong.items() for fmt, n in seen.items()]
    if fit.watch.densified:
        problems.append(f"{len(fit.watch.densified)} CSR batch(es) made dense at full width (toarray / todense of "
                        f"a {fit.watch.densified[0]} matrix): declare 'dense' first instead, or keep them sparse")
    assert not problems, (f"declared input_formats {fit.declared!r} and handed {fit.handed!r} batches, but "
                          + "; ".join(problems))
    seen = ", ".join(f"{method} {n} call(s)" for method, n in counts.items()) or "no call of partial_fit or predict"
    if "partial_fit" not in counts:
        seen += "; fit(stream) read the stream itself"
    if fit.handed == "csr":
        seen += "; no CSR batch made dense"
    return f"{fit.handed!r} batches: {seen}"


def _check_close_twice(trial: _Trial) -> str:
    with contextlib.suppress(_FitFailed):  # a failed fit still built the adapter and closed it twice
        trial.reference()
    if trial.close_errors is None:  # the adapter could not even be built: the fit's own error says why
        trial.reference()
    first, second = trial.close_errors
    assert not first, f"the first close() after a fit raised {first}"
    assert not second, f"a second close() raised {second} (close() must be safe to call more than once)"
    return "close() after a fit, then again: no error"


def _not_registered(cls: type[Adapter]) -> str:
    return (f"{cls.__module__}:{cls.__qualname__} is not registered under its name {cls.name!r}, and the isolated "
            "runner's child process finds adapters by name. Register it with an entry point in the package's "
            f'pyproject.toml, [project.entry-points."{ENTRY_POINT_GROUP}"] "{cls.name}" = '
            f'"{cls.__module__}:{cls.__qualname__}", and install the package (see '
            "examples/oocbench-example-adapter)")


def _check_isolated_run(trial: _Trial) -> str:
    from oocbench.harness.runner import Limits, run_case
    from oocbench.records import CaseSpec

    cls = trial.cls
    trial.stream()  # skips where the adapter cannot run (library, task, format), as the runner would
    entry = discover().get(cls.name)
    if entry is None or not _is_entry_of(entry, cls):
        if entry is not None:  # check_metadata fails it too: the name runs another class
            raise AssertionError(f"the name {cls.name!r} runs {entry.target} ({entry.source}), not this class")
        raise SkipCheck(_not_registered(cls))
    spec = CaseSpec(cls.name, trial.dataset, trial.rows, batch_size=trial.batch_size,
                    hash_bits=HASH_BITS if trial.dataset == CATEGORICAL_DATASET else None)
    record = run_case(spec, Limits(timeout_s=ISOLATED_TIMEOUT_S), memray=False, data_base=trial.data_dir())
    if record.status in ("skipped", "not-installed"):
        raise SkipCheck(f"the runner says {record.status}: {record.reason}")
    tail = "\n".join(str(record.extra.get("traceback", "")).strip().splitlines()[-6:])
    assert record.status == "ok", (f"the isolated run ended {record.status!r}: {record.reason}"
                                   + (f"\n{tail}" if tail else ""))
    key = TASKS[trial.task].loss.key
    return (f"status ok in {record.timings.total_s:.1f} s (child process): {key} "
            f"{record.metrics.get(key, float('nan')):.4g}, constant {record.baseline.get(key, float('nan')):.4g}")


# ----- public API ------------------------------------------------------------------------------------------
def iter_checks(cls: type[Adapter], task: str | Iterable[str] | None = None,
                data_dir: Path | str | None = None) -> Iterator[Check]:
    """Every check of ``cls``, named, not yet run: call each one for its :class:`CheckResult`.

    Parameters
    ----------
    cls : type of Adapter
        The adapter class (need not be registered; the isolated run is then skipped, saying how to register).
    task : str or iterable of str, optional
        The task(s) to check on; default every task the adapter declares. A task it does not support is
        skipped with the reason.
    data_dir : path, optional
        Where the tiny datasets are written (reused when present); default a temporary directory of this
        process, removed at exit.
    """
    tasks = [task] if isinstance(task, str) else list(task) if task is not None else \
        [t for t in TASKS if t in getattr(cls, "tasks", ())]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; tasks are {sorted(TASKS)}")
    base = (lambda: Path(data_dir)) if data_dir is not None else _default_data_dir
    yield Check("check_metadata", lambda: _check_metadata(cls))
    trials = [_Trial(cls, t, ds, base) for t in tasks for ds in check_datasets(t)]
    for trial in trials:
        for name, run in (("check_predictions_well_formed", _check_well_formed),
                          ("check_every_profile", _check_every_profile),
                          ("check_beats_constant_predictor", _check_beats_constant),
                          ("check_same_seed_same_predictions", _check_same_seed),
                          ("check_fit_is_partial_fit_loop", _check_fit_is_loop),
                          ("check_receives_declared_format", _check_format)):
            yield Check(f"{name}[{trial.label}]", lambda run=run, trial=trial: run(trial))
    if trials:  # once per adapter: on the first task's dense dataset
        first = trials[0]
        yield Check(f"check_close_twice[{first.label}]", lambda: _check_close_twice(first))
        yield Check(f"check_isolated_run[{first.label}]", lambda: _check_isolated_run(first))


def check_adapter(cls: type[Adapter], tasks: str | Iterable[str] | None = None,
                  data_dir: Path | str | None = None) -> list[CheckResult]:
    """Run every check of ``cls`` (see :func:`iter_checks`); raise ``AssertionError`` naming every failed check
    with its message once all have run, else return the results (passed, or skipped with the reason)."""
    results = [check() for check in iter_checks(cls, tasks, data_dir)]
    failed = [r for r in results if r.failed]
    if failed:
        lines = "\n".join(f"- {r.name}: {r.message}" for r in failed)
        raise AssertionError(f"{getattr(cls, 'name', cls.__qualname__)} failed {len(failed)} of {len(results)} "
                             f"oocbench adapter checks:\n{lines}")
    return results


def run_checks_cli(name: str, out: Callable[[str], Any] = print) -> int:
    """``oocbench check-adapter NAME``: run the checks of a registered adapter, one line per check as it ends
    (``PASS|SKIP|FAIL name: message``) and a summary; returns 0 when none failed, else 1 (also for an adapter
    that is not installed). An unknown name raises :class:`~oocbench.adapters.registry.UnknownAdapterError`
    (listing the valid names), which the command line reports as a usage error, exit 2."""
    entry = get_entry(name)
    if entry.cls is None or not entry.installed:
        out(f"FAIL {name}: not installed: {entry.reason}")
        return 1
    results, t = [], time.perf_counter()
    for check in iter_checks(entry.cls):
        results.append(result := check())
        out(result.line())
    counts = {s: sum(r.status == s for r in results) for s in (PASSED, SKIPPED, FAILED)}
    out(f"{name}: {counts[PASSED]} passed, {counts[SKIPPED]} skipped, {counts[FAILED]} failed in "
        f"{time.perf_counter() - t:.1f} s")
    return 1 if counts[FAILED] else 0
