"""Read records for a report from wherever they were written.

``load_records(path)`` is the single entry point. It understands:

- a ``records.jsonl`` file (the CLI's append-only store),
- a directory holding one (``oocbench run --results DIR``), or a tree holding several (e.g. asv's
  ``results/`` tree, where the asv suite writes a ``records.jsonl`` next to its own JSON),
- a ``results.json`` written by a previous report (a JSON list of records),
- any other ``.json`` file through the loaders in :data:`JSON_LOADERS` (where an asv result-file reader
  plugs in: a function ``(parsed_json, path) -> list[CaseRecord] | None`` that returns ``None`` for files
  it does not understand).

Library versions are keyed by distribution name (``river``); records written before that was so may key them by
the adapter's requirement string (``river>=0.21``): :func:`normalize_versions` maps those back, on load. Records
written before adapters declared ``in_memory`` get the registered adapter's declaration.

Lines or entries that are not valid records are skipped and, with ``skipped=[]`` given, reported there
(:class:`oocbench.records.SkippedLine`); a file that cannot be read at all raises
:class:`UnreadableRecordsError` naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oocbench.files import read_bounded, refuse_special
from oocbench.records import RECORDS_FILE, CaseRecord, SkippedLine, read_records, record_or_reason

JsonLoader = Callable[[Any, Path], "list[CaseRecord] | None"]


def normalize_versions(versions: dict[str, Any]) -> dict[str, Any]:
    """Library versions keyed by distribution name: a requirement string key (``"river>=0.21"``,
    ``"dask[dataframe]>=2024.1"``) becomes its name; a name given both ways keeps the plain key's version.

    >>> normalize_versions({"river>=0.21": "0.26.1", "numpy": "2.4.6", "dask[dataframe] >=2024.1": "2025.1"})
    {'numpy': '2.4.6', 'river': '0.26.1', 'dask': '2025.1'}
    """
    out = {k: v for k, v in versions.items() if _dist_name(k) == k}
    for k, v in versions.items():
        out.setdefault(_dist_name(k), v)
    return out


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(@]", requirement.strip(), maxsplit=1)[0] or requirement


def _normalized(records: list[CaseRecord]) -> list[CaseRecord]:
    for r in records:
        if isinstance(r.provenance.get("versions"), dict):
            r.provenance["versions"] = normalize_versions(r.provenance["versions"])
        if r.adapter_info and "in_memory" not in r.adapter_info:  # written before adapters declared it
            r.adapter_info["in_memory"] = _declares_in_memory(r.case.adapter)
    return records


def _declares_in_memory(adapter: str) -> bool | None:
    """Whether the registered adapter ``adapter`` holds every row in RAM (``None``: not known here)."""
    from oocbench.adapters.registry import UnknownAdapterError, get_entry

    try:
        cls = get_entry(adapter).cls
    except UnknownAdapterError:
        return None
    return None if cls is None else cls.holds_every_row()


class UnreadableRecordsError(ValueError):
    """A results file that cannot be read at all (not JSON, cut short, not records); the message names it."""


def _is_report_json(raw: Any) -> bool:
    return isinstance(raw, list) and (not raw or any(isinstance(r, dict) and "case" in r for r in raw))


def _report_entries(raw: list, path: Path, skipped: list[SkippedLine] | None) -> list[CaseRecord]:
    out = []
    for number, entry in enumerate(raw, start=1):
        record, why = record_or_reason(entry)
        if record is not None:
            out.append(record)
            continue
        if skipped is not None:
            skipped.append(SkippedLine(str(path), number, f"entry {number}: {why}"))
    return out


def _report_json(raw: Any, path: Path) -> list[CaseRecord] | None:
    """A report's ``results.json``: a list of record dicts (as written by :func:`CaseRecord.to_dict`)."""
    return _report_entries(raw, path, None) if _is_report_json(raw) else None


#: Readers tried in order on a ``.json`` file; the first that returns a list wins.
JSON_LOADERS: list[JsonLoader] = [_report_json]


#: the largest ``.json`` file of records read (whole, into memory): a report's results.json is ~13 KB per record,
#: so this is ~80,000 records; larger, a records.jsonl is read a line at a time instead
MAX_JSON_BYTES = 1 << 30


def _load_json(path: Path, skipped: list[SkippedLine] | None = None) -> list[CaseRecord]:
    data = read_bounded(path, MAX_JSON_BYTES, "results file", "give --results the records.jsonl the report was "
                        "built from (read a line at a time)")
    try:
        raw = json.loads(data.decode())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise UnreadableRecordsError(f"{path}: not valid JSON ({exc}); if it is a report's results.json written "
                                     "on a full disk, rebuild the report from the records.jsonl") from None
    for loader in JSON_LOADERS:
        if loader is _report_json and _is_report_json(raw):  # ours: skipped entries are reported
            return _report_entries(raw, path, skipped)
        records = loader(raw, path)
        if records is not None:
            return records
    raise UnreadableRecordsError(f"{path}: not a file of oocbench records (no loader in JSON_LOADERS "
                                 "understands it)")


def load_records(path: str | Path, skipped: list[SkippedLine] | None = None) -> list[CaseRecord]:
    """Every record found at ``path`` (see the module docstring for what a path may be).

    Parameters
    ----------
    path : str or Path
        A ``records.jsonl``, a ``.json`` file, or a directory (searched recursively for ``records.jsonl``).
    skipped : list of SkippedLine, optional
        Where every line (or ``results.json`` entry) that is not a valid record is appended, with why.

    Returns
    -------
    list of CaseRecord
        In file order; several files are read in sorted path order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a directory holds no ``records.jsonl``.
    UnreadableRecordsError
        If a ``.json`` file is not JSON or not records.
    oocbench.files.NotRegularFileError
        If ``path`` (or a records file found there) is a FIFO, a device or a socket, or a ``.json`` file is
        larger than :data:`MAX_JSON_BYTES`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}")
    # a FIFO would block the read, a device never end: neither is a file of records nor a directory of them
    if not path.is_dir():
        refuse_special(path, "results path", "give --results a records.jsonl, a report's results.json or a "
                       "directory holding records")
    if path.is_file():
        return _normalized(_load_json(path, skipped) if path.suffix == ".json" else read_records(path, skipped))
    direct = path / RECORDS_FILE
    files = [direct] if direct.exists() else sorted(path.rglob(RECORDS_FILE))
    if not files:
        raise FileNotFoundError(f"no {RECORDS_FILE} in {path} (run `oocbench run --results {path}` first)")
    return _normalized([r for f in files for r in read_records(f, skipped)])


def latest_per_case(records: Iterable[CaseRecord]) -> tuple[list[CaseRecord], list[CaseRecord]]:
    """Split records into the latest one per case identity and the older ones a rerun superseded.

    ``--force`` appends a rerun of a case without deleting the old record; the report plots the latest and
    publishes both (the raw files keep every record, flagged).

    Returns
    -------
    (current, superseded) : tuple of lists of CaseRecord
    """
    latest: dict[str, CaseRecord] = {}
    order: list[str] = []
    superseded: list[CaseRecord] = []
    for r in records:
        key = r.case.key()
        if key not in latest:
            order.append(key)
        elif (r.finished_at or r.started_at) < (latest[key].finished_at or latest[key].started_at):
            superseded.append(r)
            continue
        else:
            superseded.append(latest[key])
        latest[key] = r
    return [latest[k] for k in order], superseded
