"""The result record of one case, and the append-only JSON-lines store.

A record is appended with a single ``write`` of one complete line on a file opened with ``O_APPEND``, then
fsync'd; readers skip a line that is not valid JSON, so a killed writer never leaves a half record that reads
as a result. Readers also skip a line written by a newer schema (``schema_version`` above
:data:`SCHEMA_VERSION`) or with a field of the wrong type, and say so: :func:`read_records` collects every
skipped line (:class:`SkippedLine`: file, line number, why) for the caller to report.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from oocbench.files import open_regular
from oocbench.fmt import fmt_bytes

SCHEMA_VERSION = 1
#: ``suspect``: the case ran, but its holdout loss is below the dataset's known optimum by more than noise (the
#: holdout leaked into the fit, or the optimum is wrong): kept with its reason, never counted as a result
STATUSES = ("ok", "timeout", "oom", "error", "crashed", "not-installed", "skipped", "suspect")
RECORDS_FILE = "records.jsonl"
#: the longest line read as a record: a record is ~5 KB, tens of KB with a traceback; a longer line (a file that is
#: not records, a device) is skipped without being held in memory
MAX_LINE = 16 << 20
#: what to do about a records path that is not a regular file
_INSTEAD = "remove it (a new records.jsonl is created), or give --results another directory"
#: the fields of :class:`CaseSpec` that ``oocbench run --param NAME=VALUE`` and a suite's grid may set besides the
#: adapters' hyperparameters (which go into ``CaseSpec.params``)
HARNESS_KNOBS = ("batch_size", "passes", "hash_bits", "threads", "seed", "profile")


@dataclass(frozen=True)
class CaseSpec:
    """The identity of a case: what is run, on what, with which settings."""

    adapter: str
    dataset: str
    scale: int
    profile: str = "matched"
    seed: int = 0
    batch_size: int = 10_000
    threads: str = "1"
    repeat: int = 0
    params: tuple[tuple[str, Any], ...] = ()  # hyperparameter overrides (--param, a suite's grid), sorted pairs
    hash_bits: int | None = None  # 2**hash_bits buckets for categorical columns; None: the feature layer's default
    passes: int = 1  # passes over the training rows (re-streamed, or the library's own multi-pass mode)

    def key(self) -> str:
        """A stable id of the identity, used to skip cases already done.

        A field added after records existed is left out while it has its default, so those records keep their key;
        ``params`` (empty: ``[]``) was there from the start, so overrides change the key and no override leaves it.
        """
        ident = asdict(self)
        if self.passes == 1:
            del ident["passes"]
        return hashlib.sha1(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def setting(self) -> str:
        """The settings besides adapter, dataset, scale, profile and threads that differ from the defaults, in
        words ("" for none), hyperparameter overrides last: reports and summaries keep such cases apart.

        >>> CaseSpec("a", "d", 10, passes=3, hash_bits=20, params=(("eta0", 0.1),)).setting()
        '3 passes, 2^20 buckets, eta0=0.1'
        """
        parts = []
        if self.passes != 1:
            parts.append(f"{self.passes} passes")
        if self.hash_bits is not None:
            parts.append(f"2^{self.hash_bits} buckets")
        if self.batch_size != CaseSpec.__dataclass_fields__["batch_size"].default:
            parts.append(f"batch {self.batch_size:,}")
        if self.seed != 0:
            parts.append(f"seed {self.seed}")
        parts += [f"{name}={value}" for name, value in self.params]
        return ", ".join(parts)

    def label(self) -> str:
        passes = f" passes={self.passes}" if self.passes != 1 else ""
        params = "".join(f" {name}={value}" for name, value in self.params)
        return (f"{self.adapter} {self.dataset} n={self.scale:,} {self.profile} threads={self.threads}{passes}"
                f"{params} #{self.repeat}")


@dataclass
class Timings:
    """Seconds per phase, each measured apart (wall clock unless named ``cpu``)."""

    import_s: float | None = None  # importing the adapter module and its library
    prepare_s: float | None = None  # adapter.prepare: one-off conversion to the native input
    features_s: float | None = None  # one pass of reading + feature extraction, no learning
    fit_s: float | None = None  # adapter.fit over the stream (includes its reading)
    fit_cpu_s: float | None = None  # CPU seconds of the whole process tree during fit
    evaluate_s: float | None = None  # scoring the holdout, batch by batch
    total_s: float | None = None  # child process start to finish, as seen by the parent
    child_start_s: float | None = None  # interpreter start + oocbench imports before the case began (harness cost)
    curve_s: float | None = None  # learning-curve scoring inside the fit loop, already subtracted from fit_s
    memray_fit_s: float | None = None  # fit under memray (separate run; never used for throughput)
    memray_total_s: float | None = None  # the memray child process start to finish, as seen by the parent


@dataclass
class Memory:
    """Two honest memory figures, each saying what it covers."""

    rss_baseline_bytes: int | None = None  # process-tree RSS just before fit
    rss_peak_bytes: int | None = None  # process-tree RSS high-water mark during fit (sampled)
    rss_fit_bytes: int | None = None  # peak minus baseline: what fitting added
    rss_covers: str = ""
    heap_peak_bytes: int | None = None  # memray heap peak of fit (native allocations), separate run
    heap_covers: str = ""
    rss_peak_sampled_bytes: int | None = None  # tree RSS high-water mark from 10 ms sampling alone
    rss_peak_kernel_bytes: int | None = None  # kernel VmHWM of the case process (reset before fit), exact
    rss_kernel_covers: str = ""
    rss_samples: int | None = None  # how many samples the 10 ms sampler took during fit
    rss_anon_fit_bytes: int | None = None  # anonymous RSS (no mapped files) the fit added, sampled: see covers
    rss_anon_covers: str = ""


@dataclass
class CaseRecord:
    case: CaseSpec
    status: str = "ok"
    reason: str = ""
    task: str = ""
    rows: int | None = None  # training rows the adapter saw
    rows_per_s: float | None = None  # rows / fit_s (every pass of a multi-pass case inside fit_s)
    timings: Timings = field(default_factory=Timings)
    memory: Memory = field(default_factory=Memory)
    metrics: dict[str, float] = field(default_factory=dict)  # holdout metrics
    optimum: dict[str, float] = field(default_factory=dict)  # the dataset's known best (synthetic data)
    baseline: dict[str, float] = field(default_factory=dict)  # the best constant predictor
    adapter_info: dict[str, Any] = field(default_factory=dict)  # version, api path, semantics, hyperparameters
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # learning curve, coefficient similarity, ...
    started_at: str = ""
    finished_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["case"]["params"] = dict(self.case.params)
        out["case_key"] = self.case.key()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CaseRecord:
        raw = dict(raw)
        raw.pop("case_key", None)
        case = dict(raw.pop("case"))
        case["params"] = tuple(sorted(case.get("params", {}).items()))
        known = {f.name for f in fields(cls)}
        return cls(case=CaseSpec(**case), timings=Timings(**raw.pop("timings", {})),
                   memory=Memory(**raw.pop("memory", {})), **{k: v for k, v in raw.items() if k in known})


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


class RecordNotSavedError(OSError):
    """A record could not be written whole (disk full, file size limit); nothing of it is left in the file."""


def append_record(path: Path, record: CaseRecord) -> None:
    """Append one record as one JSON line, atomically (single write, O_APPEND, fsync).

    A short write (a full disk, a file-size limit) is undone - the file is cut back to its size before the
    write, so no partial line is left for readers to skip without a word - and raises
    :class:`RecordNotSavedError`: the caller must treat the case as not recorded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record.to_dict(), default=_json_default, allow_nan=True) + "\n").encode()
    # a FIFO here would block the write until someone reads it; a device is no store of records
    fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "records file", _INSTEAD)
    try:
        start = os.fstat(fd).st_size
        # a previous writer killed mid-line would glue our record to its fragment: start on a fresh line
        if start and not _ends_with_newline(path):
            line = b"\n" + line
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise RecordNotSavedError(errno.ENOSPC, f"only {written} of {len(line)} bytes written", str(path))
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise RecordNotSavedError(exc.errno or errno.EIO, f"{path}: the record of {record.case.label()} "
                                      f"was not saved ({exc.strerror or exc}); the partial line was removed, "
                                      "free space and rerun: the case runs again") from None
    finally:
        os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


@dataclass(frozen=True)
class SkippedLine:
    """A line of a records file (or an entry of a report's ``results.json``) that was not read, and why."""

    path: str
    line: int  # 1-based line number (entry number for a JSON list)
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}"


def _fits(value: Any, tp: Any) -> bool:
    """Whether a JSON value fits a field's annotation (numbers may be null: NaN is written as null)."""
    if tp is Any:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and _fits(v, args[1]) for k, v in value.items())
    return isinstance(value, origin or tp)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_record(raw: Any) -> str:
    """Why ``raw`` (a parsed JSON line) is not a record this version reads; ``""`` when it is.

    >>> check_record({"case": {"adapter": "a", "dataset": "d", "scale": "big"}})
    "case.scale is 'big' (str), not int"
    """
    if not isinstance(raw, dict):
        return f"a JSON {type(raw).__name__}, not a record"
    version = raw.get("schema_version", SCHEMA_VERSION)
    if not _fits(version, int):
        return f"schema_version is {version!r}, not a whole number"
    if version > SCHEMA_VERSION:
        return f"schema_version {version} is newer than this oocbench reads ({SCHEMA_VERSION}); upgrade oocbench"
    case = raw.get("case")
    if not isinstance(case, dict):
        return "no case" if case is None else f"case is a {type(case).__name__}, not an object"
    for name in ("adapter", "dataset", "scale"):
        if name not in case:
            return f"case.{name} missing"
    groups = [("case", case, CaseSpec), ("timings", raw.get("timings", {}), Timings),
              ("memory", raw.get("memory", {}), Memory), ("", raw, CaseRecord)]
    for prefix, part, cls in groups:
        if not isinstance(part, dict):
            return f"{prefix} is a {type(part).__name__}, not an object"
        hints = _hints(cls)
        for name, value in part.items():
            if name not in hints or name in ("case", "timings", "memory"):
                continue  # unknown fields are ignored (an older reader of a compatible record)
            tp = dict[str, Any] if (cls is CaseSpec and name == "params") else hints[name]
            if not _fits(value, tp):
                where = f"{prefix}.{name}" if prefix else name
                return f"{where} is {value!r:.40} ({type(value).__name__}), not {getattr(tp, '__name__', tp)}"
    if raw.get("status", "ok") not in STATUSES:
        return f"status {raw.get('status')!r} is not one of {', '.join(STATUSES)}"
    if case["scale"] < 1:
        return f"case.scale is {case['scale']}, not a positive row count"
    return ""


def record_or_reason(raw: Any) -> tuple[CaseRecord | None, str]:
    """A parsed JSON value as a record, or ``None`` and why it is not one."""
    if why := check_record(raw):
        return None, why
    try:
        return CaseRecord.from_dict(raw), ""
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return None, f"not a record ({type(exc).__name__}: {exc})"


def read_records(path: Path, skipped: list[SkippedLine] | None = None) -> list[CaseRecord]:
    """All complete, valid records in ``path`` (a missing file is empty).

    Parameters
    ----------
    path : Path
        A ``records.jsonl``.
    skipped : list of SkippedLine, optional
        Where every line that is not read is appended (not JSON, not UTF-8, a newer schema, a field of the
        wrong type), with its line number and why; blank lines are not counted.
    """
    path = Path(path)
    if not path.exists():
        return []
    with os.fdopen(open_regular(path, os.O_RDONLY, "records file", _INSTEAD), "rb") as fh:
        return _read_lines(fh, path, skipped)


def _read_lines(fh: typing.BinaryIO, path: Path, skipped: list[SkippedLine] | None) -> list[CaseRecord]:
    """The records of an open records file, read a line at a time (memory: one line, at most
    :data:`MAX_LINE` bytes, plus the records)."""
    records = []
    number = 0
    while data := fh.readline(MAX_LINE + 1):
        number += 1
        if len(data) > MAX_LINE:  # no record is this long: skip to the line's end without holding it
            while data and not data.endswith(b"\n"):
                data = fh.readline(1 << 20)
            if skipped is not None:
                skipped.append(SkippedLine(str(path), number, f"longer than {fmt_bytes(MAX_LINE)}: not a record"))
            continue
        if not data.strip():
            continue
        try:
            raw = json.loads(data.decode())
        except UnicodeDecodeError:
            why = "not UTF-8 text"
        except ValueError as exc:
            why = f"not valid JSON ({exc.msg}; a line cut short by a killed writer?)"
        else:
            record, why = record_or_reason(raw)
            if record is not None:
                records.append(record)
                continue
        if skipped is not None:
            skipped.append(SkippedLine(str(path), number, why))
    return records
