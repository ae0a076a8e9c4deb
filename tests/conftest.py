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
