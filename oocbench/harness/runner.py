"""Run cases in fresh child processes, enforce time and memory limits, and turn every fate into a record.

The parent never imports a backend. It starts ``python -m oocbench.harness.case`` with the thread environment of the
case, polls the child's process tree, and on a timeout escalates SIGINT -> SIGTERM -> SIGKILL over the whole
tree; past the memory cap (process-tree RSS, which also catches TensorFlow) it kills the tree and records
``oom``. A child killed by a signal is ``crashed``; an exception is ``error`` with the traceback's tail. A
dataset found damaged by the child (after this process checked it) is no result of the backend: ``run_case``
raises :class:`~oocbench.datasets.DatasetError` for it, a harness failure that is never recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from oocbench import datasets
from oocbench.adapters.registry import get_entry
from oocbench.datasets import DatasetError
from oocbench.datasets.seal import check_claims
from oocbench.features import UnsupportedInputError, choose_format
from oocbench.harness.measure import tree_rss
from oocbench.harness.watchdog import escalate, kill_group, kill_tree
from oocbench.provenance import load_during, load_snapshot, provenance, thread_env
from oocbench.records import CaseRecord, CaseSpec, Memory, Timings

#: how far below the known optimum a holdout loss may be by chance (a fitted model can beat the true model on a
#: finite holdout by a little): past it the record is ``suspect``, not ``ok``
BELOW_OPTIMUM = 0.005


@dataclass
class Limits:
    timeout_s: float = 600.0
    memory_bytes: int | None = None  # default: 80% of the machine's RAM
    grace_s: float = 5.0  # between escalation steps
    poll_s: float = 0.05
    #: per-case time budget (s): a case whose wall time, projected from the same case at a smaller scale, is
    #: over it is recorded ``skipped`` without running (see :func:`oocbench.harness.suites.over_budget`)
    budget_s: float | None = None

    def memory_cap(self) -> int:
        return self.memory_bytes or int(psutil.virtual_memory().total * 0.8)


def limits_of(limits: Limits) -> dict[str, Any]:
    """What a record keeps of the limits it ran under (``provenance["limits"]``)."""
    return {"timeout_s": limits.timeout_s, "memory_bytes": limits.memory_cap(),
            "memory_default": limits.memory_bytes is None, "grace_s": limits.grace_s, "budget_s": limits.budget_s}


def budget_skip(spec: CaseSpec, limits: Limits, reason: str, projection: dict[str, Any]) -> CaseRecord:
    """The record of a case not run because its projected wall time is over ``limits.budget_s``."""
    entry = get_entry(spec.adapter)
    record = CaseRecord(case=spec, started_at=_now(), provenance=provenance(), status="skipped", reason=reason,
                        task=datasets.get_source(spec.dataset).task)
    record.provenance["limits"] = limits_of(limits)
    if entry.cls is not None:
        record.adapter_info = entry.cls.describe()
    record.extra["budget_skip"] = projection
    record.finished_at = _now()
    return record


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_child(payload: dict, limits: Limits, workdir: Path) -> tuple[dict, float]:
    """Run one child; returns (result dict with status/reason, wall seconds)."""
    spec_path, out_path, log_path = workdir / "spec.json", workdir / "out.json", workdir / "child.log"
    out_path.unlink(missing_ok=True)
    case_dir = workdir / f"work-{payload.get('mode', 'timed')}"  # the adapter's caches and model files
    case_dir.mkdir(exist_ok=True)
    spec_path.write_text(json.dumps(payload))
    env = {**os.environ, **thread_env(payload["case"]["threads"]),
           "OOCBENCH_MEMRAY_FILE": str(workdir / "memray.bin"), "TF_CPP_MIN_LOG_LEVEL": "2",
           "OOCBENCH_CASE_DIR": str(case_dir),
           # pyarrow's mimalloc pool reserves arenas that memray counts as a ~1 GB "heap peak" when reading
           # Parquet; the system allocator makes memray and RSS agree (same setting in both runs)
           "ARROW_DEFAULT_MEMORY_POOL": "system",
           # the child kills itself and its group when this process is gone (a runner killed with -9)
           "OOCBENCH_PARENT_PID": str(os.getpid()),
           "PYTHONFAULTHANDLER": "1"}
    cap = limits.memory_cap()
    start = time.perf_counter()
    # a points child (run_points): the time limit is each point's, its clock restarts when a point is written
    points_file, seen, clock = (workdir / POINTS_FILE if payload.get("mode") == "points" else None), None, start
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "oocbench.harness.case", str(spec_path), str(out_path)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ps = psutil.Process(proc.pid)
        fate: dict | None = None
        while proc.poll() is None:
            if points_file is not None and points_file.exists() and (size := points_file.stat().st_size) != seen:
                seen, clock = size, time.perf_counter()
            elapsed = time.perf_counter() - clock
            rss = tree_rss(ps)
            if rss > cap:
                # RSS, not RLIMIT_AS: TensorFlow and JIT runtimes reserve far more address space than they use
                kill_tree(ps, signal.SIGKILL)
                proc.wait()
                fate = {"status": "oom", "reason": f"process-tree RSS {rss / 2**20:.0f} MiB passed the cap "
                                                   f"{cap / 2**20:.0f} MiB after {elapsed:.1f} s; killed (SIGKILL)"}
                break
            if elapsed > limits.timeout_s:
                ended_by = escalate(proc, limits.grace_s)
                # "still running", not "ignored": a case may handle SIGINT and still need long to exit
                steps = {"SIGINT": "SIGINT", "SIGTERM": "SIGTERM (still running after SIGINT)",
                         "SIGKILL": "SIGKILL (still running after SIGINT and SIGTERM)"}[ended_by]
                fate = {"status": "timeout", "reason": f"no result after {limits.timeout_s:g} s; stopped by {steps}, "
                                                       f"signals {limits.grace_s:g} s apart, whole process tree",
                        "extra": {"stopped_by": ended_by}}
                break
            time.sleep(limits.poll_s)
    wall = time.perf_counter() - start
    kill_group(proc.pid)  # helpers a finished case left behind (its group outlives it only through them)
    if fate is not None:
        if out_path.exists():  # a case that caught SIGINT says where it was: keep that traceback
            with contextlib.suppress(ValueError):
                if tb := json.loads(out_path.read_text()).get("traceback"):
                    fate["traceback"] = tb
        return fate, wall
    if out_path.exists():
        return json.loads(out_path.read_text()), wall
    tail = _log_tail(log_path.read_text(errors="replace"))
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return {"status": "crashed", "reason": f"killed by {name}", "traceback": tail,
                "extra": {"signal": name}}, wall
    return {"status": "error", "reason": f"exited with code {proc.returncode} and no result", "traceback": tail}, wall


def _log_tail(log: str, limit: int = 3000) -> str:
    """The useful end of a dead child's output: faulthandler's report (where it crashed) if there is one.

    faulthandler ends its report with a list of every loaded extension module (hundreds of names with numpy,
    pandas, sklearn), which would push the stack out of a plain tail: that line is dropped.
    """
    start = log.rfind("Fatal Python error")
    if start < 0:
        return log[-limit:]
    lines = [line for line in log[start:].splitlines() if not line.startswith("Extension modules:")]
    return "\n".join(lines)[:limit]


def _raise_harness_error(result: dict) -> None:
    """Raise the dataset error a child reported (``status`` ``harness-error``): data damaged after this process
    checked it is a failure of the harness's input, not a result of the backend, so it is never recorded."""
    if result.get("status") == "harness-error":
        raise DatasetError(result.get("reason") or "the case's child process found the dataset damaged")


def run_case(spec: CaseSpec, limits: Limits | None = None, memray: bool = True,
             data_base: Path | str | None = None, validation: dict[str, int] | None = None) -> CaseRecord:
    """Run one case in isolation and return its record (never raises for a backend's failure).

    ``validation`` (``{"train_rows": n, "valid_rows": m}``) runs a tuning grid point instead: the child learns from
    the first ``n`` training rows and scores on the ``m`` after them, never on the holdout (see
    :func:`oocbench.harness.case.execute`); :mod:`oocbench.harness.tune` files its record apart from the cases'.

    Raises :class:`~oocbench.datasets.DatasetError` for data found damaged, here or inside the case's child
    process (a harness failure: not a result). The record's ``provenance["limits"]`` holds the time limit, the
    memory cap (bytes; ``memory_default``: the 80%-of-RAM default) and the grace it ran under;
    ``provenance["load"]`` how busy the machine was from start to end (:func:`oocbench.provenance.load_during`:
    load averages and CPU frequency at both ends, and the cores other processes kept busy meanwhile).
    """
    start = load_snapshot()
    record = _run_case(spec, limits or Limits(), memray, data_base, validation)
    record.provenance["load"] = load_during(start, load_snapshot())
    return record


def _run_case(spec: CaseSpec, limits: Limits, memray: bool, data_base: Path | str | None,
              validation: dict[str, int] | None = None) -> CaseRecord:
    record, payload = _open_case(spec, limits, data_base, validation)
    if payload is None:
        return record
    with tempfile.TemporaryDirectory(prefix="oocbench-case-") as tmp:
        result, wall = run_child(payload, limits, Path(tmp))
        _raise_harness_error(result)
        if result.get("status") == "ok" and memray:
            heap, heap_wall = run_child({**payload, "mode": "memray"}, limits, Path(tmp))
            _raise_harness_error(heap)
            result["timings"]["memray_total_s"] = heap_wall
            if heap.get("status") == "ok":
                result["memory"].update(heap["memory"])
                result["timings"]["memray_fit_s"] = heap["timings"].get("memray_fit_s")
            else:
                result.setdefault("extra", {})["memray_failed"] = heap.get("reason", "")
    return _close_case(record, result, wall, validation)


def run_points(specs: list[CaseSpec], limits: Limits | None = None, data_base: Path | str | None = None,
               validation: dict[str, int] | None = None) -> list[CaseRecord]:
    """Run tuning grid points of one adapter one after another in one child process; their records, in order.

    A grid point is used for its validation loss only, never for its time or memory, so the points of one
    adapter may share a process: its interpreter start and library imports (70% of a point's wall time in the
    default suite) are paid once. Each point still gets its own adapter object, seed and work directory, and the
    time limit applies to each point (the clock restarts when one ends). A point the shared process did not
    finish (the process crashed, ran out of memory or past the limit) runs again alone, as :func:`run_case`, so
    its record says its own fate. Records say ``extra.shared_process``; without ``validation`` every spec runs
    alone (a measured case never shares a process).
    """
    limits = limits or Limits()
    if not validation:
        return [run_case(s, limits, memray=False, data_base=data_base) for s in specs]
    start = load_snapshot()
    opened = [_open_case(s, limits, data_base, validation) for s in specs]
    todo = [i for i, (_, payload) in enumerate(opened) if payload is not None]
    done: dict[int, dict] = {}
    if todo:
        payload = {**opened[todo[0]][1], "mode": "points", "points": [opened[i][1] for i in todo]}
        with tempfile.TemporaryDirectory(prefix="oocbench-points-") as tmp:
            run_child(payload, limits, Path(tmp))
            steps = Path(tmp) / POINTS_FILE
            lines = steps.read_text().splitlines() if steps.exists() else []
        for i, line in zip(todo, lines):  # a line per finished point, in order; a cut last line is not one
            with contextlib.suppress(ValueError):
                done[i] = json.loads(line)
    records = []
    for i, (record, payload) in enumerate(opened):
        result = done.get(i)
        if payload is None:
            records.append(record)
        elif result is None or result.get("status") in ("timeout", "oom", "crashed"):  # its own fate, alone
            records.append(run_case(specs[i], limits, memray=False, data_base=data_base, validation=validation))
        else:
            _raise_harness_error(result)
            record = _close_case(record, result, result.pop("wall_s"), validation)
            record.extra["shared_process"] = {"point": todo.index(i), "of": len(todo), "why": SHARED_WHY}
            record.provenance["load"] = load_during(start, load_snapshot())
            records.append(record)
    return records


#: where a points child writes each finished point's result, one JSON line each (see :func:`run_points`)
POINTS_FILE = "points.jsonl"
SHARED_WHY = ("tuning grid points of one adapter share one child process (imports paid once): only their "
              "validation loss is used; their time and memory include what earlier points left in the process")


def _open_case(spec: CaseSpec, limits: Limits, data_base: Path | str | None,
               validation: dict[str, int] | None = None) -> tuple[CaseRecord, dict | None]:
    """A case's record before it runs and the payload of its child; no payload: the record is final (not
    installed, skipped, data short of the case's rows)."""
    started = _now()
    entry = get_entry(spec.adapter)  # raises UnknownAdapterError for a name nobody knows
    record = CaseRecord(case=spec, started_at=started, provenance=provenance())
    record.provenance["thread_env"] = thread_env(spec.threads)  # what the child process runs with
    record.provenance["arrow_memory_pool"] = "system"
    # the limits the case ran under: a timeout / oom under smaller ones than a later run's is retried then
    record.provenance["limits"] = limits_of(limits)
    if entry.cls is None or not entry.installed:
        return replace(record, status="not-installed", reason=entry.reason, finished_at=_now()), None
    gen = datasets.get_source(spec.dataset)
    record.adapter_info = entry.cls.describe()
    # keyed by distribution name ("river"), never by a requirement string ("river>=0.21")
    record.provenance["versions"][entry.cls.library_distribution()] = entry.cls.library_version()
    if reason := entry.cls.skip(gen.task):
        return replace(record, status="skipped", reason=reason, task=gen.task, finished_at=_now()), None
    if spec.passes > 1 and not entry.cls.multi_pass():
        return replace(record, status="skipped", task=gen.task, finished_at=_now(),
                       reason=f"{spec.adapter} makes one pass only: {entry.cls.update_semantics or 'no multi-pass mode'}"), None
    dataset = datasets.load(spec.dataset, spec.scale, spec.seed, base=data_base)
    # the record will claim this dataset, seed and n: check that the data on disk is that (DatasetError if not)
    if short := check_claims(dataset, spec.dataset, spec.scale, spec.seed, gen.kind):
        # a bundled or user file holding fewer rows than asked: never `ok` under an n it did not have
        return replace(record, status="skipped", reason=short, task=gen.task, finished_at=_now()), None
    # how large the training data is on disk (what "larger than RAM" is judged on)
    record.extra["dataset"] = {"train_bytes": sum(s.bytes for s in dataset.manifest.shards),
                               "shards": len(dataset.manifest.shards), "rows": dataset.rows,
                               "sealed": bool(dataset.manifest.seal)}
    try:  # an adapter that takes no batch format suiting this data (dense-only on categorical data) is skipped
        choose_format(tuple(entry.cls.input_formats), dataset.manifest.has_categorical,
                      getattr(entry.cls, "dense_only_because", ""))
    except UnsupportedInputError as exc:
        return replace(record, status="skipped", reason=str(exc), task=gen.task, finished_at=_now()), None
    # an absolute path or a URL (s3://...): the child streams from it itself, resolved with its own environment
    record.task = gen.task  # the child's own task replaces it
    payload = {"case": {**record.to_dict()["case"]}, "data_root": dataset.uri, "mode": "timed"}
    if validation:
        payload["validation"] = dict(validation)
    return record, payload


def _close_case(record: CaseRecord, result: dict, wall: float, validation: dict[str, int] | None) -> CaseRecord:
    """A case's record from its child's result (status, figures, timings, memory), checked when ``ok``."""
    record.status = result["status"]
    record.reason = result.get("reason", "")
    if "traceback" in result:
        record.extra["traceback"] = result["traceback"]
    task = record.task
    for name in ("task", "rows", "rows_per_s", "metrics", "optimum", "baseline"):
        if name in result:
            setattr(record, name, result[name])
    record.task = record.task or task
    record.adapter_info.update(result.get("adapter_info", {}))
    record.extra.update(result.get("extra", {}))
    record.timings = Timings(**{**result.get("timings", {}), "total_s": wall})
    record.memory = Memory(**result.get("memory", {}))
    if record.status == "ok":
        _check_result(record, validation)
    record.finished_at = _now()
    return record


def _check_result(record: CaseRecord, validation: dict[str, int] | None) -> None:
    """The last guard of an ``ok`` record's meaning: its rows are the case's, its loss is not below the optimum.

    Rows read other than the case's scale (or a tuning point's training part) raise
    :class:`~oocbench.datasets.DatasetError` (a harness failure: the child checks this too). A holdout loss below
    the dataset's known optimum by more than :data:`BELOW_OPTIMUM` cannot be a learner's merit (the optimum is the
    true model's loss on the same rows): the holdout leaked into the fit, or the optimum is wrong. The record
    becomes ``suspect`` with ``extra.below_optimum``: kept and shown by the report, never counted as a result.
    """
    want = validation["train_rows"] if validation else record.case.scale
    if record.rows != want:
        raise DatasetError(f"{record.case.label()}: read {record.rows} training rows, not the case's {want:,}; "
                           "regenerate the dataset (oocbench generate) and rerun")
    if validation:  # scored on a validation tail: the holdout's optimum says nothing about it
        return
    from oocbench.metrics import get_task

    key = get_task(record.task).loss.key
    loss, best = record.metrics.get(key), record.optimum.get(key)
    if isinstance(loss, int | float) and isinstance(best, int | float) and loss < best * (1 - BELOW_OPTIMUM):
        record.status = "suspect"
        record.extra["below_optimum"] = {"loss": key, "value": loss, "optimum": best,
                                         "by": (best - loss) / best, "noise": BELOW_OPTIMUM}
        record.reason = (f"holdout {key} {loss:.4f} is {(best - loss) / best:.1%} below the known optimum "
                         f"{best:.4f} (the true model's): the holdout leaked into the fit or the optimum is wrong; "
                         "not a result")
