"""System and version information stored with every record (benchopt's sys_info, db-benchmark's versions)."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

import oocbench

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "NUMBA_NUM_THREADS")
CORE_DISTS = ("numpy", "pyarrow", "pandas", "scikit-learn", "scipy", "psutil", "memray")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_commit() -> str | None:
    root = Path(oocbench.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def thread_count(threads: str) -> int:
    """Threads a thread mode means: 1 for ``"1"``, every core for ``"all"`` (the one rule every library follows)."""
    return 1 if threads == "1" else (os.cpu_count() or 1)


def thread_env(threads: str) -> dict[str, str]:
    """Environment that pins every library to one core (``"1"``) or lets it use all (``"all"``)."""
    return dict.fromkeys(THREAD_VARS, str(thread_count(threads)))


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "hostname": platform.node(),
    }


def provenance(extra_dists: tuple[str, ...] = ()) -> dict[str, Any]:
    """Versions, commit, interpreter, machine and thread settings of this process."""
    return {
        "oocbench": oocbench.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "versions": {d: dist_version(d) for d in (*CORE_DISTS, *extra_dists)},
        "machine": machine_info(),
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
    }
