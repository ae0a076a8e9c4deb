"""Process control shared by the two sides of a case: the parent runner's kill escalation and the child's
watch on its parent. Measurement of the process tree lives in :mod:`oocbench.harness.measure`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

import psutil


def watch_parent(parent_pid: int, interval: float = 0.25) -> threading.Thread | None:
    """Kill this process's group (the case and its helpers) as soon as the runner ``parent_pid`` is gone.

    The runner starts the case in a new session, so the group holds the case and whatever it spawned; a runner
    killed with SIGKILL cannot clean up, and without this the case would run on (possibly for hours). On Linux
    ``PR_SET_PDEATHSIG`` is not used: it would SIGKILL this process before it could kill its helpers.
    """
    if os.getppid() != parent_pid:  # the runner died before we got here
        kill_own_group()

    def run() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                kill_own_group()

    thread = threading.Thread(target=run, name="oocbench-parent-watch", daemon=True)
    thread.start()
    return thread


def kill_own_group() -> None:
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(137)


def kill_tree(proc: psutil.Process, sig: int) -> None:
    """Send ``sig`` to ``proc``, its descendants, and its process group (orphans that left the tree)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        procs = [proc]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(sig)
    kill_group(proc.pid, sig)


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    # the case runs in its own session (start_new_session), so its group id is its pid: this reaches helpers
    # whose parent already exited (re-parented away from the tree) but not processes that made their own session
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def escalate(proc: subprocess.Popen, grace_s: float) -> str:
    """SIGINT, then SIGTERM, then SIGKILL of the whole tree, ``grace_s`` apart; returns the signal that ended it.

    The tree is re-read at every step (a hung case may still be spawning) and remembered, so grandchildren
    are killed even after the child itself exited; the process group is killed last for the same reason.
    """
    seen: dict[int, psutil.Process] = {}
    ended_by = "SIGKILL"
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(psutil.Error):
            ps = psutil.Process(proc.pid)
            for p in [ps, *ps.children(recursive=True)]:
                seen.setdefault(p.pid, p)
        for p in seen.values():
            with contextlib.suppress(psutil.Error):
                p.send_signal(sig)
        if sig == signal.SIGKILL:
            kill_group(proc.pid)
        try:
            proc.wait(timeout=grace_s if sig != signal.SIGKILL else 30)
            ended_by = signal.Signals(sig).name
            break
        except subprocess.TimeoutExpired:
            continue
    for p in seen.values():  # no helper outlives the case
        with contextlib.suppress(psutil.Error):
            p.kill()
    kill_group(proc.pid)
    return ended_by
