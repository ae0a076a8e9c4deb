"""What the asv suite runs, chosen by ``OOCBENCH_ASV_PROFILE`` (like scikit-learn's ``SKLBENCH_PROFILE``).

The profiles are the CLI's suites (:data:`oocbench.harness.suites.SUITES`: quick, default, full), so scales are defined
in one place; ``tiny`` is the quick suite cut to 10^3 rows without memray, for the CI test of the asv wiring.

Environment variables (read in every asv process, so set them before ``asv run``):

``OOCBENCH_ASV_PROFILE``   tiny | quick (default) | default | full
``OOCBENCH_ASV_MEMRAY``    0 skips the separate memray run (heap peak is then n/a); default 1, tiny 0
``OOCBENCH_ASV_TIMEOUT``   seconds per case in the isolated runner (default 600)
``OOCBENCH_DATA_DIR``      where datasets are generated (default ``<repo>/data``, shared with the CLI)
``OOCBENCH_ASV_RECORDS_DIR``  where records are appended (default ``<repo>/.asv/results/oocbench-records``)
``OOCBENCH_ASV_REUSE``     0 fits every case again; default 1: a case already recorded for the same commit,
                           versions and machine (in the records dir above, or by ``oocbench run`` in
                           ``OOCBENCH_RESULTS_DIR``, default ``<repo>/results``: ``make bench``) is reused
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from oocbench.harness.suites import SUITES, Suite

#: The checkout holding asv.conf.json and benchmarks/ (asv imports benchmarks from the working tree, never
#: from the installed commit); absolute, because asv runs benchmarks in a temporary working directory.
REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = "quick"
#: In-process time_/peakmem_ benchmarks only at scales up to this: asv repeats each one several times.
INPROCESS_MAX_ROWS = 100_000


def _profiles() -> dict[str, Suite]:
    """The suites asv can run: one case per (dataset, rows, profile, threads), the asv parameters. A suite with
    a passes axis or a hyperparameter grid has several (``oocbench run --suite`` runs those)."""
    tiny = replace(SUITES["quick"], name="tiny", scales=(1_000,), adapters=(),
                   datasets=("synth-binary", "synth-regression", "synth-ctr"),
                   description="CI check of the asv wiring: every adapter, both tasks, dense and categorical data "
                               "at 10^3 rows, no memray")
    return {"tiny": tiny, **{n: s for n, s in SUITES.items() if len(s.passes) == 1 and not s.grid}}


def profile_name() -> str:
    name = os.environ.get("OOCBENCH_ASV_PROFILE", DEFAULT_PROFILE)
    if name not in _profiles():
        # asv shows a discovery error with this message; a silent fallback would record the wrong suite
        raise ValueError(f"OOCBENCH_ASV_PROFILE={name!r}; valid profiles: {', '.join(_profiles())} (a suite with "
                         f"a passes axis or a grid runs with `oocbench run --suite`)")
    return name


def profile() -> Suite:
    return _profiles()[profile_name()]


def adapters() -> list[str]:
    """The profile's adapters: those its suite names (``make bench``'s quick suite names seven), else every
    registered one but the scale-out ones; an adapter a suite names but nobody registered is left out."""
    from oocbench.adapters.registry import discover

    registered = discover()
    if profile().adapters:
        return [a for a in profile().adapters if a in registered]
    # as a suite of every adapter: one machine's (the scale-out ones run where a suite names them)
    return [n for n, e in registered.items() if not (e.cls is not None and e.cls.scale_out)]


def use_memray() -> bool:
    default = "0" if profile_name() == "tiny" else "1"
    return os.environ.get("OOCBENCH_ASV_MEMRAY", default) not in ("0", "false", "no", "")


def case_timeout_s() -> float:
    return float(os.environ.get("OOCBENCH_ASV_TIMEOUT", "600"))


def data_dir() -> Path:
    """Absolute: asv runs benchmarks in a temporary working directory."""
    env = os.environ.get("OOCBENCH_DATA_DIR")
    return Path(env).resolve() if env else REPO / "data"


def cli_results_dir() -> Path:
    """Where ``oocbench run`` (``make bench``) keeps its records: ``$OOCBENCH_RESULTS_DIR`` (relative to the
    checkout, as ``make`` runs there), else ``<repo>/results``. Absolute: asv runs benchmarks elsewhere."""
    env = os.environ.get("OOCBENCH_RESULTS_DIR")
    return (REPO / env).resolve() if env else REPO / "results"


def reuse_records() -> bool:
    return os.environ.get("OOCBENCH_ASV_REUSE", "1") not in ("0", "false", "no", "")


def class_name(adapter: str) -> str:
    """``sklearn.sgd`` -> ``sklearn_sgd`` (asv benchmark names are dotted paths)."""
    return re.sub(r"\W", "_", adapter)
