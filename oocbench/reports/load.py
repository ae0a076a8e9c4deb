"""Read records for a report from wherever they were written.

``load_records(path)`` is the single entry point. It understands:

- a ``records.jsonl`` file (the CLI's append-only store),
- a directory holding one (``oocbench run --results DIR``), or a tree holding several (e.g. asv's
  ``results/`` tree, where the asv suite writes a ``records.jsonl`` next to its own JSON),
- a ``results.json`` written by a previous report (a JSON list of records),
- any other ``.json`` file through the loaders in :data:`JSON_LOADERS` (where an asv result-file reader
  plugs in: a function ``(parsed_json, path) -> list[CaseRecord] | None`` that returns ``None`` for files
  it does not understand).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oocbench.records import RECORDS_FILE, CaseRecord, read_records

JsonLoader = Callable[[Any, Path], "list[CaseRecord] | None"]


def _report_json(raw: Any, path: Path) -> list[CaseRecord] | None:
    """A report's ``results.json``: a list of record dicts (as written by :func:`CaseRecord.to_dict`)."""
    if isinstance(raw, list) and all(isinstance(r, dict) and "case" in r for r in raw):
        return [CaseRecord.from_dict(r) for r in raw]
    return None


#: Readers tried in order on a ``.json`` file; the first that returns a list wins.
JSON_LOADERS: list[JsonLoader] = [_report_json]


def _load_json(path: Path) -> list[CaseRecord]:
    raw = json.loads(path.read_text())
    for loader in JSON_LOADERS:
        records = loader(raw, path)
        if records is not None:
            return records
    raise ValueError(f"{path}: not a file of oocbench records (no loader in JSON_LOADERS understands it)")


def load_records(path: str | Path) -> list[CaseRecord]:
    """Every record found at ``path`` (see the module docstring for what a path may be).

    Parameters
    ----------
    path : str or Path
        A ``records.jsonl``, a ``.json`` file, or a directory (searched recursively for ``records.jsonl``).

    Returns
    -------
    list of CaseRecord
        In file order; several files are read in sorted path order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a directory holds no ``records.jsonl``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}")
    if path.is_file():
        return _load_json(path) if path.suffix == ".json" else read_records(path)
    direct = path / RECORDS_FILE
    files = [direct] if direct.exists() else sorted(path.rglob(RECORDS_FILE))
    if not files:
        raise FileNotFoundError(f"no {RECORDS_FILE} in {path} (run `oocbench run --results {path}` first)")
    return [r for f in files for r in read_records(f)]


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
