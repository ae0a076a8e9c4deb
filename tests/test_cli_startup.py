"""The CLI starts light (issue 26): `oocbench --help` and `oocbench run --help` import no learning library.

The time itself is measured by ``scripts/bench_cli.py`` (median of several runs, one ratio per run), not
here: a timed unit test on a shared 2-core machine would fail on noise.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: what must not load before a case runs: each costs 0.3-3 s of start-up
HEAVY = ("sklearn", "tensorflow", "keras", "dask", "distributed", "dask_ml", "xgboost", "lightgbm", "river",
         "vowpalwabbit", "pandas", "matplotlib", "memray", "scipy")

PROBE = """
import sys
from oocbench.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["report", "--help"], ["list", "--help"]])
def test_help_imports_no_learning_library(argv):
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120)
    assert "usage:" in out.stdout, out.stdout + out.stderr
    loaded = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    assert loaded == "", f"oocbench {' '.join(argv)} imported {loaded}"
