"""Shared fixtures: tiny real datasets in a session temp dir; every test runs real libraries, no mocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oocbench import datasets

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def tiny(data_base):
    """Return a loader ``tiny(name, rows=3000)`` of tiny datasets, generated once per session."""

    def load(name: str, rows: int = 3000, **kw):
        return datasets.load(name, rows, base=data_base, **kw)

    return load


def oocbench_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real ``oocbench`` console entry point in a subprocess."""
    return subprocess.run([sys.executable, "-m", "oocbench.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A fresh synth-binary dataset of 2,000 rows written by ``oocbench generate`` into ``tmp_path/data``."""
    out = oocbench_cli("generate", "synth-binary", "--scale", "2000", "--out", str(tmp_path / "data"),
                       cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return tmp_path / "data"


def flights_dataset(tmp_path: Path, carriers: tuple[str, ...] = ("AA", "DL", "UA", "WN", "B6"), n: int = 20_000):
    """A user's CSV with string categoricals (carrier, origin), built through ``--from-file``'s FileSource.

    The label depends on the second carrier (+1.5), the third (-1.0), airports ending in 7 (+1.0) and the delay.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from oocbench.datasets.bundled import FileSource
    from oocbench.datasets.public import HOLDOUT_EVERY

    rng = np.random.default_rng(0)
    carrier = rng.choice(np.array(carriers), n)
    origin = rng.choice(np.array([f"A{i:02d}" for i in range(40)]), n)
    delay = rng.gamma(2.0, 10.0, n)
    logit = (-3.0 + 1.5 * (carrier == carriers[1]) - 1.0 * (carrier == carriers[2]) + 0.03 * delay
             + np.where(np.char.endswith(origin, "7"), 1.0, 0.0))
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    path = tmp_path / "flights.csv"
    pacsv.write_csv(pa.table({"delay": delay, "carrier": carrier, "origin": origin, "label": label}), path)
    return FileSource(path, "label").build(tmp_path / "flights", n - n // HOLDOUT_EVERY)  # every training row
