"""``time_`` and ``peakmem_`` benchmarks of fit, inside asv's own benchmark process, at the small scales.

Here asv's statistics (several samples per round, confidence intervals, ``asv compare``) are worth having,
so the profile's scales up to ``_common.INPROCESS_MAX_ROWS`` are fitted by asv itself. What they cover,
unlike the isolated runner's ``cases.*.track_*`` figures:

- ``time_fit``: wall time of ``adapter.fit(stream)`` on a fresh adapter (asv re-runs ``setup`` before every
  timed call, so no sample learns from an already fitted model); reading the Parquet shards is included.
- ``peakmem_fit``: asv's peakmem is the benchmark process's maximum RSS (``ru_maxrss``) after one fit,
  **including the interpreter, the imports of the backend and the setup** - compare it between versions of
  one adapter, not between adapters (``cases.*.track_rss_fit_bytes`` subtracts the baseline).

Threads: pinned to one (the thread variables are set before any backend is imported), like the runner's
``threads="1"`` mode; the ``all`` mode is measured only by the isolated runner.
"""

from __future__ import annotations

import os

from oocbench.provenance import thread_env as _thread_env

# before any backend import: BLAS / OpenMP / TF read these once, at load time
for _k, _v in _thread_env("1").items():
    os.environ.setdefault(_k, _v)

from typing import Any  # noqa: E402

from benchmarks import _common  # noqa: E402
from oocbench import datasets as _datasets  # noqa: E402
from oocbench.adapters.registry import discover as _discover  # noqa: E402
from oocbench.features import BatchStream as _BatchStream  # noqa: E402
from oocbench.features import UnsupportedInputError as _UnsupportedInputError  # noqa: E402


class _FitInProcess:
    adapter: str = ""
    param_names = ["dataset", "rows", "profile"]
    number = 1  # one fit per sample: a second call would continue training the same model
    repeat = (2, 5, 30.0)  # (min samples, max samples, max seconds) per round
    rounds = 1  # each round is a new process (imports again): the case runner covers cold starts
    warmup_time = 0.0  # a warm-up call would be one more full fit

    def setup(self, dataset: str, rows: int, profile: str) -> None:
        entry = _discover()[self.adapter]
        if entry.cls is None or not entry.installed:
            raise NotImplementedError(entry.reason)  # asv: n/a
        data = _datasets.load(dataset, rows, base=_common.data_dir())
        if reason := entry.cls.skip(data.task):
            raise NotImplementedError(reason)
        try:  # the stream the case runner gives this adapter (dense, CSR or Arrow per its input_formats)
            self.stream = _BatchStream.for_adapter(data, min(rows, data.rows), _common.profile().batch_size,
                                                   entry.cls)
        except _UnsupportedInputError as exc:
            raise NotImplementedError(str(exc)) from None
        self.model = entry.cls(data.task, self.stream.n_features, profile=profile, threads="1",
                               input_format=self.stream.input_format)
        self.model.prepare(self.stream)

    def teardown(self, *_: Any) -> None:
        if getattr(self, "model", None) is not None:  # setup may have raised before building it
            self.model.close()

    def time_fit(self, *_: Any) -> None:
        self.model.fit(self.stream)

    def peakmem_fit(self, *_: Any) -> None:
        self.model.fit(self.stream)


def _make(adapter: str) -> type:
    suite = _common.profile()
    scales = [n for n in suite.scales if n <= _common.INPROCESS_MAX_ROWS]
    return type(_common.class_name(adapter), (_FitInProcess,), {
        "adapter": adapter,
        "params": [list(suite.datasets), scales, list(suite.profiles)],
        # the tiny profile checks the wiring: one sample is enough, and halves the CI test's in-process time
        **({"repeat": (1, 1, 10.0)} if _common.profile_name() == "tiny" else {}),
        "timeout": 600.0,
        "__doc__": f"{adapter}: fit timed and peak-memory measured by asv itself, in its own process.",
        "__module__": __name__,
    })


if _common.profile().scales[0] <= _common.INPROCESS_MAX_ROWS:
    for _adapter in _common.adapters():
        globals()[_common.class_name(_adapter)] = _make(_adapter)
