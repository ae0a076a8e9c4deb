"""Kill -9 the suite runner in the middle of a case, run the suite again.

Acceptance: every record written before the kill is intact (byte for byte), no record is half written, only
the missing cases run, and the orphaned case child (and the helper process it started) do not run on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from tests.conftest import oocbench_cli
from tests.test_faults import _gone, _pythonpath, fault_site  # noqa: F401 - the installed fault-adapter package (fixture)

ARGS = ("run", "--suite", "smoke", "--adapter", "sklearn.sgd,fault.slow", "--repeat", "2", "--no-memray")


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_mid_suite_then_resume(tmp_path, fault_site):  # noqa: F811
    records = tmp_path / "results" / "records.jsonl"
    pidfile = tmp_path / "helpers.pid"
    env = {**os.environ, "PYTHONPATH": _pythonpath(fault_site), "OOCBENCH_FAULT_PIDFILE": str(pidfile), "COLUMNS": "200",
           "OOCBENCH_FAULT_SLOW_S": "120"}  # fault.slow#0 sleeps in fit long enough to be killed there
    runner = subprocess.Popen([sys.executable, "-m", "oocbench.cli", *ARGS], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # cases run sgd#0, sgd#1, slow#0, slow#1: wait until both sgd records are written and slow#0 is in fit
        _wait_for(lambda: pidfile.exists() and records.exists() and len(records.read_text().splitlines()) == 2,
                  120, "two records and fault.slow in fit")
        children = psutil.Process(runner.pid).children()
        assert len(children) == 1 and "oocbench.harness.case" in " ".join(children[0].cmdline())
        case_pid, helper_pid = children[0].pid, int(pidfile.read_text().split()[0])
        before = records.read_bytes()
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
    # the orphaned case notices its runner is gone and kills itself and its helper (watchdog: 0.25 s polling)
    assert _gone(case_pid, within=5), "orphaned case child still running"
    assert _gone(helper_pid, within=5), "the case's helper process still running"
    assert records.read_bytes() == before  # nothing written after the kill

    again = oocbench_cli(*ARGS, cwd=tmp_path, env={"PYTHONPATH": _pythonpath(fault_site), "OOCBENCH_FAULT_SLOW_S": "0.1",
                                                   "OOCBENCH_FAULT_PIDFILE": str(pidfile)}, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "2 already recorded" in again.stdout, again.stdout
    after = records.read_bytes()
    assert after.startswith(before)  # the records written before the kill, byte for byte
    lines = after.decode().splitlines()
    assert len(lines) == 4
    recs = [json.loads(line) for line in lines]  # every line a whole JSON record
    ids = [(r["case"]["adapter"], r["case"]["repeat"]) for r in recs]
    assert ids == [("sklearn.sgd", 0), ("sklearn.sgd", 1), ("fault.slow", 0), ("fault.slow", 1)]
    assert len({r["case_key"] for r in recs}) == 4
    assert all(r["status"] == "ok" for r in recs), [r["reason"] for r in recs]
