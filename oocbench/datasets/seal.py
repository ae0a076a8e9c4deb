"""What a dataset means, fixed when it is written (the manifest's ``seal``), and the check of it before a case.

Checksums (:mod:`.reader`) say that each file is the one the manifest names; they cannot say that the manifest
still describes the dataset that was written. Careful edits passed them all and were recorded ``ok``: a training
shard and its manifest cut to half the rows, a holdout replaced by a copy of the training shard or by another
seed's holdout (sizes and sha256 updated each time). The seal, computed by the writer just before the manifest
is written, holds:

``holdout``
    sha256 of the dataset's name, task, seed, features, target, generator and source, and of the holdout
    file's own sha256 and rows: a holdout from another seed, dataset or generator (or any other file) does
    not match it.
``overlap``
    how many of a sample of training rows (the first :data:`SAMPLE_PER_SHARD` rows of each shard, at most
    :data:`SAMPLE_SHARDS` shards) occur in the holdout, compared by a hash of the whole row: 0 for synthetic
    data; a user's file may repeat rows.
``manifest``
    sha256 of the manifest's whole content except this hash: any edited field does not match it.

:func:`check_claims` runs before every case (:func:`oocbench.harness.runner.run_case`): the manifest names the
dataset, seed and row count the case asks for; the seal matches; the holdout's targets are finite; the
training sample overlaps the holdout no more than when it was written. Datasets written before seals existed
stay usable: they get every check that needs no seal (a synthetic dataset's sample must not overlap its
holdout at all; another source's not entirely).

>>> SEAL_VERSION
1
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from oocbench.datasets.manifest import MANIFEST, DatasetError, Manifest, ShardInfo
from oocbench.storage import Location, resolve

if TYPE_CHECKING:
    from oocbench.datasets.reader import ShardedDataset

SEAL_VERSION = 1
#: training rows sampled from the start of each shard for the overlap check, and shards sampled at most
SAMPLE_PER_SHARD, SAMPLE_SHARDS = 1024, 32


def _sha256(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def holdout_fingerprint(m: Manifest) -> str:
    """What the holdout belongs to (dataset, seed, generator, source) bound to its file's own sha256 and rows."""
    return _sha256({"name": m.name, "task": m.task, "seed": m.seed, "features": m.features, "target": m.target,
                    "generator": m.generator, "source": m.source, "holdout_sha256": m.holdout.sha256,
                    "holdout_rows": m.holdout.rows})


def content_digest(raw: dict[str, Any]) -> str:
    """sha256 of a manifest's JSON content (as written) without its seal's own ``manifest`` entry."""
    raw = dict(raw)
    if isinstance(raw.get("seal"), dict):
        raw["seal"] = {k: v for k, v in raw["seal"].items() if k != "manifest"}
    return _sha256(raw)


def row_hashes(table: pa.Table) -> np.ndarray:
    """A 64-bit hash of each row's values (every column, in order): equal rows, equal hashes."""
    import pandas as pd

    return pd.util.hash_pandas_object(table.to_pandas(), index=False).to_numpy()


def _read(loc: Location, columns: list[str], rows: int | None = None) -> pa.Table:
    """The first ``rows`` rows of a Parquet file (all with ``None``), only ``columns``."""
    with loc.open_input() as fh:
        shard = pq.ParquetFile(fh)
        if rows is None:
            return shard.read(columns=columns)
        batch = next(shard.iter_batches(batch_size=rows, columns=columns), None)
        return pa.Table.from_batches([batch]) if batch is not None else shard.schema_arrow.empty_table()


def _sampled(shards: list[ShardInfo]) -> list[ShardInfo]:
    if len(shards) <= SAMPLE_SHARDS:
        return shards
    return [shards[i] for i in np.linspace(0, len(shards) - 1, SAMPLE_SHARDS).round().astype(int)]


def overlap(directory: Location, m: Manifest, holdout: pa.Table | None = None) -> dict[str, int]:
    """How many sampled training rows (see the module docstring) occur in the holdout, by row hash."""
    columns = [*m.features, m.target]
    hold = holdout if holdout is not None else _read(directory / m.holdout.path, columns)
    seen = set(row_hashes(hold).tolist())
    sampled = shared = 0
    for info in _sampled(m.shards):
        hashes = row_hashes(_read(directory / info.path, columns, SAMPLE_PER_SHARD))
        sampled += len(hashes)
        shared += sum(h in seen for h in hashes.tolist())
    return {"sampled": sampled, "shared": shared, "holdout_rows": hold.num_rows}


def seal(m: Manifest, directory: Path | str | Location) -> dict[str, Any]:
    """The seal of a dataset whose files (in ``directory``) are written and whose manifest is complete but for it."""
    m.seal = {"version": SEAL_VERSION, "holdout": holdout_fingerprint(m), "overlap": overlap(resolve(directory), m)}
    m.seal["manifest"] = content_digest(json.loads(m.to_json()))
    return m.seal


def check_claims(ds: ShardedDataset, name: str, scale: int, seed: int, kind: str) -> str:
    """Check that ``ds`` is what a case of dataset ``name`` at ``scale`` rows and ``seed`` will claim it measured.

    Parameters
    ----------
    ds
        The dataset, opened (its files already checked against the manifest).
    name, scale, seed
        What the case asks for (its record will say so).
    kind
        The source's kind: ``"synthetic"`` has every row count, so fewer rows than ``scale`` mean the dataset
        was cut; other sources may simply hold fewer rows.

    Returns
    -------
    str
        ``""`` when the case may run; else why it cannot be measured at ``scale`` (a fixed-size dataset with
        fewer training rows): the case is recorded ``skipped`` with it, never ``ok`` under the wrong ``n``.

    Raises
    ------
    DatasetError
        One line naming the directory or file, what does not match, and the command that rewrites the dataset:
        a harness failure, never a record.
    """
    from oocbench.datasets.reader import _mark_verified, _verified

    m, where, hint = ds.manifest, ds.root, ds.hint()
    if m.name != name:
        raise DatasetError(f"{where}: its manifest is of dataset {m.name!r}, not {name!r} (copied from another "
                           f"dataset?); {hint}")
    if m.seed != seed:
        raise DatasetError(f"{where}: its manifest is of seed {m.seed}, not {seed} (copied from another seed?); {hint}")
    if m.rows < scale:
        if kind != "synthetic":
            return (f"dataset {name} has only {m.rows:,} training rows: a case at n={scale:,} cannot be measured; "
                    f"use --scale {m.rows} or less")
        raise DatasetError(f"{where}: holds {m.rows:,} training rows, not the {scale:,} it was written with (cut "
                           f"or edited since?); {hint}")
    sealed = bool(m.seal)
    if sealed:
        if m.seal.get("version") != SEAL_VERSION:
            raise DatasetError(f"{where}: seal version {m.seal.get('version')!r} is not this oocbench's "
                               f"({SEAL_VERSION}); upgrade oocbench or {hint}")
        if m.seal.get("holdout") != holdout_fingerprint(m):
            raise DatasetError(f"{ds.location / m.holdout.path}: not the holdout written for {name} seed {seed} "
                               f"(its fingerprint differs: replaced, or copied from another seed or dataset?); {hint}")
        raw = json.loads((ds.location / MANIFEST).read_text())
        if m.seal.get("manifest") != content_digest(raw):
            raise DatasetError(f"{ds.location / MANIFEST}: edited after the dataset was written (its content no "
                               f"longer matches its seal); {hint}")
    # reading the holdout once per run is enough: the token changes with any file (see reader.VERIFIED_ENV)
    token = hashlib.sha1(f"claims {ds._fingerprint()}".encode()).hexdigest()[:16]
    if token in _verified():
        return ""
    hold_at = ds.location / m.holdout.path
    hold = _read(hold_at, [*m.features, m.target])
    y = hold.column(m.target).to_numpy(zero_copy_only=False).astype(np.float64)
    if bad := int((~np.isfinite(y)).sum()):
        raise DatasetError(f"{hold_at}: target {m.target!r} has {bad:,} non-finite values (inf or NaN) in "
                           f"{len(y):,} holdout rows, so no loss on it means anything; {hint}")
    found = overlap(ds.location, m, hold)
    if sealed and isinstance(m.seal.get("overlap"), dict):
        allowed = int(m.seal["overlap"].get("shared", 0))
    else:  # no seal: synthetic rows never repeat; another source's may, but not all of them
        allowed = 0 if kind == "synthetic" else found["sampled"] - 1
    if found["shared"] > allowed:
        raise DatasetError(f"{hold_at}: {found['shared']:,} of {found['sampled']:,} sampled training rows are also "
                           "in the holdout" + (f" ({allowed:,} when it was written)" if sealed else "")
                           + f": the holdout overlaps the training rows (a copy of a training shard?); {hint}")
    _mark_verified(token)
    return ""
