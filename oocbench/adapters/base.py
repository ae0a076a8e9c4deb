"""The adapter contract: one small class per (library, algorithm), declared with class attributes.

An adapter is built fresh for every case (and every repeat), so no state leaks between measurements.

Examples
--------
A complete adapter for a hypothetical library that learns from numpy batches::

    class MyAdapter(Adapter):
        name = "mylib.linear"
        library = "mylib"
        requirements = ("mylib>=1.0",)
        params = {"l2": 1e-4}
        update_semantics = "per mini-batch: one gradient step per partial_fit call"
        api_path = "mylib.Model.update(X, y)"

        def setup(self):
            import mylib
            self.model = mylib.Model(**self.hyperparameters)

        def partial_fit(self, X, y):
            self.model.update(X, y)

        def predict_proba(self, X):
            return self.model.proba(X)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from oocbench.records import HARNESS_KNOBS

if TYPE_CHECKING:
    from oocbench.curve import Monitor
    from oocbench.features import BatchStream

TASKS = ("binary", "regression")
#: the profile views: ``matched`` (the same model in every library), ``recommended`` (each library's documented
#: practice) and ``tuned`` (``recommended`` plus the overrides its ``tune_grid`` point won on a validation tail of
#: the training rows; see :mod:`oocbench.harness.tune`)
PROFILES = ("matched", "recommended", "tuned")
#: the profile a tuned case starts from, before the winning grid point's overrides
TUNED, TUNED_BASE = "tuned", "recommended"
#: grid points an adapter's ``tune_grid`` may declare (the product of its values)
MAX_TUNE_POINTS = 6
THREAD_MODES = ("1", "all")


class Adapter(ABC):
    """Base class of every backend adapter.

    Class attributes (declarative, read by the registry, the runner and the report):

    name : str
        Unique id, ``"<library>.<algorithm>"``, e.g. ``"sklearn.sgd"``.
    library : str
        Import name of the library under test; if it cannot be imported the adapter is ``not-installed``.
    tasks : frozenset of str
        Subset of ``{"binary", "regression"}``.
    requirements : tuple of str
        pip requirement strings; the first one names the distribution whose version is recorded.
    extra : str
        The ``oocbench[extra]`` that installs the requirements.
    params : dict
        Default hyperparameters, published with every record.
    profiles : dict
        Overrides of ``params`` per profile: ``"matched"`` (the same L2-regularised linear model, one pass,
        the shared batch size) and ``"recommended"`` (the library's documented defaults).
    update_semantics : str
        One line: per row, per mini-batch step, full pass...
    api_path : str
        The library API the adapter drives, e.g. ``"SGDClassifier.partial_fit per batch"``.
    input_formats : tuple of str
        The batch formats :meth:`partial_fit` and the predict methods take, in order of preference, from
        ``"dense"`` (numpy float32), ``"csr"`` (scipy.sparse CSR: hashed categoricals) and ``"arrow"`` (a
        ``pyarrow.Table``: numeric features transformed, categorical values raw). All-numeric data comes dense
        when the adapter takes dense; data with categorical columns never comes dense (2^hash_bits columns):
        an adapter that takes dense only is ``skipped`` there (``dense_only_because`` says why, if set).
        ``self.input_format`` is the one chosen.
    passes_semantics : str
        How an adapter with its own :meth:`fit` makes ``self.passes`` passes (VW's ``--passes`` over its cache,
        Keras epochs...); empty when it cannot, and a case with ``passes > 1`` is then ``skipped``. An adapter
        that keeps the default :meth:`fit` needs nothing: the harness re-streams the batches (see
        :meth:`multi_pass`).
    explains : str
        What :meth:`explain` returns: ``"weights"`` (signed per-feature weights of a linear model, compared with
        the true coefficients on synthetic data) or ``"importance"`` (non-negative importances, e.g. a tree's
        gain: never compared with signed coefficients).
    reference : str
        Non-empty for an in-memory reference that holds every row at once (``"in-memory linear reference"``):
        the report draws it apart from the streaming adapters it measures them against.
    in_memory : bool
        True when fit holds every training row (or its binned form) in RAM at once, as the references and the
        in-memory boosting libraries do: its memory grows with the rows, so it has no price per 10^9 rows
        (:func:`oocbench.cost.cost_of_rows`). Implied by ``reference``.
    heap_note : str
        What the memray heap figure means for this adapter when it is not plain heap (e.g. memory-mapped cache
        files counted as allocations); published with the figure.
    scale_out : bool
        True when fit trains across the worker processes of a cluster (XGBoost's dask interface, Spark): such an
        adapter runs in suites that name it (``cluster``) or when asked for, not in the suites of every installed
        adapter, whose budget and figures are for one machine.
    tune_grid : dict
        The knobs the library's documentation says matter, name -> values (step size / regularisation / passes
        for linear learners; rounds, depth, learning rate, leaves for trees), every combination a grid point: at
        most :data:`MAX_TUNE_POINTS` points. A name is any that ``--param`` takes (:meth:`accepted_params`,
        harness knobs such as ``passes`` included). The ``tuned`` profile fits each point on the training rows
        minus a validation tail and runs the winner (:mod:`oocbench.harness.tune`); empty (the default, e.g. a
        third party's adapter): ``tuned`` runs the ``recommended`` settings and its record says so.

    Instance attributes set by the harness: ``passes`` (passes over the training rows), ``workdir`` (the case's
    temporary directory, for caches and model files: removed after the case), ``monitor`` (scores the holdout
    after each pass or round you report with :meth:`checkpoint`; ``None`` when nobody is listening).
    ``hyperparameters`` is ``params``, then the profile, the categorical overrides and the caller's ``params``
    (``overrides``), set by ``__init__`` and never changed after: what the adapter derives from them (a loss
    name, a library's command line, a regularisation constant known at fit) is published by
    :meth:`effective_hyperparameters`.
    """

    name: ClassVar[str]
    library: ClassVar[str]
    tasks: ClassVar[frozenset[str]] = frozenset(TASKS)
    requirements: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    profiles: ClassVar[dict[str, dict[str, Any]]] = {}
    update_semantics: ClassVar[str] = ""
    api_path: ClassVar[str] = ""
    input_formats: ClassVar[tuple[str, ...]] = ("dense",)
    #: overrides of a profile on categorical data (CSR or Arrow batches), under the caller's ``params``
    sparse_profiles: ClassVar[dict[str, dict[str, Any]]] = {}
    #: why a dense-only adapter cannot take categorical data (the reason recorded when it is skipped there)
    dense_only_because: ClassVar[str] = ""
    passes_semantics: ClassVar[str] = ""
    heap_note: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    in_memory: ClassVar[bool] = False
    scale_out: ClassVar[bool] = False
    explains: ClassVar[str] = "weights"
    #: pip distributions that provide ``library``, tried in order for its version (a CPU wheel and the full one)
    distributions: ClassVar[tuple[str, ...]] = ()
    tune_grid: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, task: str, n_features: int, *, profile: str = "matched", params: dict[str, Any] | None = None,
                 seed: int = 0, threads: str = "1", input_format: str | None = None, passes: int = 1,
                 workdir: str | Path | None = None) -> None:
        if task not in self.tasks:
            raise ValueError(f"{self.name} does not support task {task!r} (supports {sorted(self.tasks)})")
        if passes > 1 and not self.multi_pass():
            raise ValueError(f"{self.name} makes one pass only (no multi-pass mode)")
        self.task, self.n_features, self.profile, self.seed, self.threads = task, n_features, profile, seed, threads
        self.passes = passes
        self._workdir, self._own_workdir = (Path(workdir) if workdir is not None else None), workdir is None
        self.monitor: Monitor | None = None
        self.input_format = input_format or self.input_formats[0]
        if self.input_format not in self.input_formats:
            raise ValueError(f"{self.name} takes {self.input_formats}, not {self.input_format!r} batches")
        self.overrides: dict[str, Any] = dict(params or {})
        self.hyperparameters: dict[str, Any] = self.resolve(profile, self.input_format, self.overrides)
        self._closed = False
        self.setup()

    # ----- declarative helpers -------------------------------------------------------------------------
    @classmethod
    def skip(cls, task: str | None = None) -> str | None:
        """Why this adapter cannot run here (``None`` if it can): library missing or task unsupported."""
        if importlib.util.find_spec(cls.library) is None:
            hint = f"pip install 'oocbench[{cls.extra}]'" if cls.extra else f"pip install {' '.join(cls.requirements)}"
            return f"library {cls.library!r} is not installed ({hint})"
        if task is not None and task not in cls.tasks:
            return f"task {task!r} not supported (supports {', '.join(sorted(cls.tasks))})"
        return None

    @classmethod
    def library_distribution(cls) -> str:
        """The pip distribution that provides the library here: the first of ``distributions`` installed
        (default: the first requirement's name, without its version specifier)."""
        dist = cls.requirements[0] if cls.requirements else cls.library
        for sep in "<>=!~[; ":
            dist = dist.split(sep)[0]
        for name in cls.distributions or (dist,):
            try:
                importlib.metadata.version(name)
                return name
            except importlib.metadata.PackageNotFoundError:
                continue
        return (cls.distributions or (dist,))[0]

    @classmethod
    def library_version(cls) -> str | None:
        """The installed version of :meth:`library_distribution` (``None`` when not installed)."""
        try:
            return importlib.metadata.version(cls.library_distribution())
        except importlib.metadata.PackageNotFoundError:
            return None

    @classmethod
    def source_sha256(cls) -> str | None:
        """sha256 of the module that defines this adapter: a resumed run redoes the cases of an edited adapter
        (the package version does not change when its code does)."""
        import hashlib
        import inspect

        try:
            return hashlib.sha256(Path(inspect.getfile(cls)).read_bytes()).hexdigest()
        except (OSError, TypeError):
            return None

    @classmethod
    def multi_pass(cls) -> str:
        """How this adapter makes more than one pass; ``""`` if it cannot."""
        if cls.fit is Adapter.fit:
            return "the harness re-streams the same batches in the same order: partial_fit again, no reset"
        return cls.passes_semantics

    @classmethod
    def resolve(cls, profile: str, input_format: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hyperparameters ``__init__`` sets: ``params``, the profile's, on categorical data (a non-dense
        ``input_format``) the sparse profile's, then ``overrides``. ``tuned`` resolves as ``recommended``: a tuned
        case's overrides (the winning grid point) carry the difference."""
        profile = TUNED_BASE if profile == TUNED else profile
        on_categorical = cls.sparse_profiles.get(profile, {}) if input_format != "dense" else {}
        return {**cls.params, **cls.profiles.get(profile, {}), **on_categorical, **(overrides or {})}

    @classmethod
    def accepted_params(cls) -> tuple[str, ...]:
        """Names a case may set (``oocbench run --param``, a suite's grid), sorted: the keys of ``params``, of
        every profile and sparse profile, and the harness's knobs (:data:`oocbench.records.HARNESS_KNOBS`)."""
        names = set(cls.params) | set(HARNESS_KNOBS)
        for table in (cls.profiles, cls.sparse_profiles):
            for overrides in table.values():
                names |= set(overrides)
        return tuple(sorted(names))

    @classmethod
    def tune_points(cls) -> list[dict[str, Any]]:
        """Every point of ``tune_grid``, in declared order (the last name varies fastest); ``[]`` without a grid.

        Examples
        --------
        >>> class A(Adapter):
        ...     name, library = "a.b", "a"
        ...     tune_grid = {"alpha": (1e-5, 1e-4), "passes": (1, 2)}
        ...     def partial_fit(self, X, y): ...
        >>> A.tune_points()[:2]
        [{'alpha': 1e-05, 'passes': 1}, {'alpha': 1e-05, 'passes': 2}]
        """
        import itertools

        if not cls.tune_grid:
            return []
        names = list(cls.tune_grid)
        return [dict(zip(names, values)) for values in itertools.product(*(cls.tune_grid[n] for n in names))]

    @classmethod
    def inert_params(cls, task: str, hyperparameters: dict[str, Any], input_format: str) -> dict[str, str]:
        """Hyperparameters that have no effect on the model under ``hyperparameters`` (as :meth:`resolve` gives
        them), name -> why; default none. An override listed here is refused by ``oocbench run`` when it is inert
        for every input format the adapter takes, and recorded under ``no_effect`` otherwise."""
        return {}

    @classmethod
    def holds_every_row(cls) -> bool:
        """Whether fit holds every training row in RAM (``in_memory``, implied by ``reference``): not out of core.
        Records keep it as ``adapter_info["in_memory"]``; the report, the cost and ``oocbench list`` read that."""
        return cls.in_memory or bool(cls.reference)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What a report publishes about this adapter."""
        return {"name": cls.name, "library": cls.library, "version": cls.library_version(),
                "tasks": sorted(cls.tasks), "api_path": cls.api_path, "update_semantics": cls.update_semantics,
                "params": dict(cls.params), "profiles": {k: dict(v) for k, v in cls.profiles.items()},
                # overrides of a profile on categorical data (CSR / Arrow), where an adapter declares them
                "sparse_profiles": {k: dict(v) for k, v in cls.sparse_profiles.items()},
                "input_formats": list(cls.input_formats), "multi_pass": cls.multi_pass(), "reference": cls.reference,
                "in_memory": cls.holds_every_row(), "scale_out": cls.scale_out,
                "heap_note": cls.heap_note, "tune_grid": {k: list(v) for k, v in cls.tune_grid.items()},
                "source_sha256": cls.source_sha256()}

    @property
    def workdir(self) -> Path:
        """The case's temporary directory (made on first use when the adapter runs outside the harness)."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="oocbench-adapter-"))
        return self._workdir

    # ----- lifecycle -----------------------------------------------------------------------------------
    def setup(self) -> None:  # noqa: B027 - optional hook
        """Build the model from ``self.hyperparameters`` (called by ``__init__``)."""

    def prepare(self, stream: BatchStream) -> None:  # noqa: B027 - optional hook
        """One-off conversion of the stream (the shared features) to the backend's native input.

        Timed apart from fit. ``stream.dataset`` and ``stream.rows`` reach the shards; iterate ``stream`` for
        the same feature batches every other adapter sees.
        """

    def fit(self, stream: BatchStream) -> None:
        """Learn from the stream. Default: one :meth:`partial_fit` call per batch, in stream order."""
        for X, y in stream:
            self.partial_fit(X, y)

    @abstractmethod
    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """Update the model with one batch."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(y = 1) for each row, shape ``(n,)`` (binary task)."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted target, shape ``(n,)`` (regression task)."""
        raise NotImplementedError

    def predict_batch(self, X: np.ndarray) -> np.ndarray:
        """What the metrics need for this task: probabilities (binary) or values (regression)."""
        out = self.predict_proba(X) if self.task == "binary" else self.predict(X)
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def checkpoint(self, predict: Callable[[Any], np.ndarray] | None = None, **where: Any) -> None:
        """Tell the harness a pass or round is done (``pass=k`` / ``round=r``): it scores the holdout subset now
        (with ``predict``, or :meth:`predict_batch`) and times the scoring out of fit. A no-op when unmonitored."""
        if self.monitor is not None:
            self.monitor.checkpoint(predict, **where)

    @staticmethod
    def scored_rounds(rounds: int) -> frozenset[int]:
        """The boosting rounds after which a tree adapter calls :meth:`checkpoint`: log-spaced, the last included.

        Scoring after every round predicts with r trees at round r: at 10^6 synth-ctr rows that was 4.8 s of a
        21 s LightGBM fit (100 rounds), timed out of fit but not without cost to it.

        >>> sorted(Adapter.scored_rounds(100))
        [1, 2, 4, 6, 10, 18, 32, 57, 100]
        """
        from oocbench.curve import checkpoints

        return frozenset(checkpoints(rounds, 1))

    def scoring_s(self) -> float:
        """Wall seconds the monitor has spent scoring so far (0 unmonitored): subtract a difference of two
        readings from a phase timed inside fit."""
        return self.monitor.scoring_wall if self.monitor is not None else 0.0

    def effective_hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters as run, for the record: a copy of ``self.hyperparameters``, with ``no_effect``
        (name -> why) for overrides :meth:`inert_params` says the model ignores.

        Adapters that derive settings (a loss name, a library's command line, a constant known at fit) extend
        this copy; the harness calls it after fit.
        """
        out = dict(self.hyperparameters)
        inert = self.inert_params(self.task, self.hyperparameters, self.input_format)
        if ignored := {name: why for name, why in inert.items() if name in self.overrides}:
            out["no_effect"] = ignored
        return out

    def fit_facts(self) -> dict[str, Any]:
        """Facts about the finished fit that belong in the record's ``extra`` (disk used by a cache...)."""
        return {}

    def explain(self) -> np.ndarray | None:
        """Per-feature weights (linear models) or importances (trees); ``None`` when the model has none."""
        return None

    def close(self) -> None:
        """Release resources (files, workers, sessions). Safe to call more than once."""
        if not self._closed:
            self._closed = True
            try:
                self.release()
            finally:
                if self._own_workdir and self._workdir is not None:
                    import shutil

                    shutil.rmtree(self._workdir, ignore_errors=True)

    def release(self) -> None:  # noqa: B027 - optional hook
        """Override to free resources; called once by :meth:`close`."""

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
