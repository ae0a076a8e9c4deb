"""The public Python API for results: :func:`load_results` reads records into a pandas DataFrame.

One row per record (every repeat and every status; ``latest`` is False for a record a later run of the same
case superseded, e.g. with ``--force``), with the case's identity (``setting`` names what sets a case apart:
passes, batch size, ``--param`` overrides), status, throughput, memory,
the task's headline loss (:data:`oocbench.metrics.TASKS`), every holdout metric as ``metric.<name>``, and the
provenance a reader filters on. Nested facts (hyperparameters, learning curves, checkpoints) stay in
``record``, the full :class:`~oocbench.records.CaseRecord`.

>>> import tempfile, pathlib
>>> from oocbench.records import CaseRecord, CaseSpec, append_record
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> append_record(d / "records.jsonl", CaseRecord(CaseSpec("sklearn.sgd", "synth-binary", 1000), task="binary",
...               metrics={"log_loss": 0.52}, rows=1000, rows_per_s=2e5))
>>> df = load_results(d)
>>> print(*df.loc[0, ["adapter", "scale", "status", "loss_name", "loss"]])
sklearn.sgd 1000 ok log_loss 0.52
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from oocbench.cost import core_seconds_per_million, cost_of_rows
from oocbench.metrics import get_task, headline, task_of_metrics
from oocbench.records import CaseRecord, CaseSpec
from oocbench.reports.load import latest_per_case, load_records

if TYPE_CHECKING:
    import pandas as pd


def record_row(record: CaseRecord) -> dict[str, Any]:
    """One flat row of :func:`load_results` for ``record``."""
    c, task = record.case, record.task or task_of_metrics(record.metrics)
    loss = get_task(task).loss
    value, best = headline(task, record.metrics), record.optimum.get(loss.key)
    prov = record.provenance or {}
    row: dict[str, Any] = {
        "adapter": c.adapter, "dataset": c.dataset, "scale": c.scale, "profile": c.profile, "threads": c.threads,
        "seed": c.seed, "batch_size": c.batch_size, "passes": c.passes, "hash_bits": c.hash_bits,
        "params": dict(c.params), "setting": c.setting(), "repeat": c.repeat, "case_key": c.key(),
        "status": record.status, "reason": record.reason, "task": task, "rows": record.rows,
        "rows_per_s": record.rows_per_s, "fit_s": record.timings.fit_s, "fit_cpu_s": record.timings.fit_cpu_s,
        "total_s": record.timings.total_s, "rss_fit_bytes": record.memory.rss_fit_bytes,
        "rss_peak_bytes": record.memory.rss_peak_bytes, "heap_peak_bytes": record.memory.heap_peak_bytes,
        "loss_name": loss.key, "loss": value, "optimum": best, "baseline": record.baseline.get(loss.key),
        "gap": None if value is None or best is None else value - float(best),
        "core_s_per_million": core_seconds_per_million(record), "cost_per_billion_rows": cost_of_rows(record),
        "library_version": (record.adapter_info or {}).get("version"),
        "git_commit": prov.get("git_commit"), "host": prov.get("hostname"), "started_at": record.started_at,
        "record": record,
    }
    row.update({f"metric.{k}": v for k, v in record.metrics.items()})
    return row


def load_results(path: str | Path) -> pd.DataFrame:
    """Every record under ``path`` as a DataFrame, one row per record (see the module docstring).

    ``path`` is anything ``oocbench report --results`` takes: a ``records.jsonl``, a results directory, a
    report's ``results.json``, or asv's results tree.
    """
    import pandas as pd

    records = load_records(path)
    latest = {id(r) for r in latest_per_case(records)[0]}
    rows = [{**record_row(r), "latest": id(r) in latest} for r in records]
    columns = [*record_row(CaseRecord(case=CaseSpec("", "", 0))).keys(), "latest"]
    return pd.DataFrame(rows, columns=sorted({*columns, *(k for r in rows for k in r)}, key=_column_order(columns)))


def _column_order(columns: list[str]) -> Any:
    first = {c: i for i, c in enumerate(columns)}
    return lambda c: (first.get(c, len(first)), c)
