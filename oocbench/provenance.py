"""System and version information stored with every record (benchopt's sys_info, db-benchmark's versions)."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
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
    """The commit that ran: asv's ``ASV_COMMIT`` inside an asv environment (its virtualenv sits inside the clone,
    whose HEAD may be a later commit than the one measured), else ``git rev-parse HEAD`` (+dirty)."""
    if os.environ.get("ASV_COMMIT"):
        return os.environ["ASV_COMMIT"]
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


def _own_cpu_s() -> float:
    """CPU seconds of this process and of every child it has waited for (a finished case's whole tree)."""
    try:
        import resource
    except ImportError:  # not on POSIX: no way to tell the case's CPU from others'
        return float("nan")
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (steal counted: a neighbour VM took them)."""
    t = psutil.cpu_times()
    # guest time is already inside user / nice
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal")) - sum(
        getattr(t, k, 0.0) for k in ("guest", "guest_nice"))


def load_snapshot() -> dict[str, Any]:
    """How busy the machine is now: load averages, CPU frequency, and the counters :func:`load_during` needs."""
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, AttributeError):  # no cpufreq on this system or in this container
        freq = None
    try:
        loadavg = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        loadavg = None
    return {"loadavg": loadavg, "cpu_freq_mhz": round(freq.current) if freq and freq.current else None,
            "cpu_freq_max_mhz": round(freq.max) if freq and freq.max else None,
            "_t": time.monotonic(), "_busy_cpu_s": _busy_cpu_s(), "_own_cpu_s": _own_cpu_s()}


def load_during(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """The machine's load around a case run by this process between two :func:`load_snapshot`.

    ``start`` / ``end``: 1-, 5- and 15-minute load averages (``os.getloadavg``) and CPU frequency in MHz
    (``psutil.cpu_freq``: current and max, ``None`` where not exposed). ``others_cores``: the average number
    of cores other processes kept busy meanwhile - the machine's busy CPU time minus this process's and its
    waited-for children's (the case's process tree), over the wall time; the load average cannot tell the
    case's own work (or the previous case's, still decaying in it) from anyone else's.
    """
    wall = end["_t"] - start["_t"]
    own = end["_own_cpu_s"] - start["_own_cpu_s"]
    busy = end["_busy_cpu_s"] - start["_busy_cpu_s"]
    others = max(busy - own, 0.0) / wall if wall > 0 and own == own else None  # own is NaN off POSIX
    public = ("loadavg", "cpu_freq_mhz", "cpu_freq_max_mhz")
    return {"start": {k: start[k] for k in public}, "end": {k: end[k] for k in public}, "wall_s": round(wall, 3),
            "others_cores": None if others is None else round(others, 3)}
