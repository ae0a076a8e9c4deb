"""The on-disk dataset format every backend reads: Parquet shards plus a JSON manifest.

Layout of one dataset instance (one name, seed and row count)::

    <root>/manifest.json        # written last: its presence means "complete"
    <root>/train-00000.parquet  # training rows in stream order, shard after shard
    <root>/holdout.parquet      # the fixed holdout set, the same at every scale

``<root>`` is a local path or a URL (``s3://bucket/prefix``): every file goes through one
:class:`oocbench.storage.Location` (a pyarrow filesystem and a path), so the same code writes and streams both.
On a local filesystem a dataset is written into ``<root>.partial`` and renamed to ``<root>`` when complete. On
object storage there is no atomic rename: the dataset is written in place and the manifest, written last (after
every shard is uploaded and the bookkeeping files are deleted), is the completeness marker; a rewrite deletes
an old manifest first. Either way an interrupted writer never leaves something that reads as complete. Each finished shard gets a small ``.done`` sidecar in
``<root>.partial``; a rerun of the same plan (same source, seed, rows, sharding) keeps those shards and writes
only the rest, a different plan starts over. A ``.lock`` file holding the writer's pid stops two writers.

Columns are ``float32`` numeric (nulls allowed: missing values), ``int64`` or string categorical, and a
``float32`` target; :attr:`Manifest.columns` says which kind each feature column is.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from oocbench.storage import Location, resolve

FORMAT = "oocbench-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HOLDOUT = "holdout.parquet"
#: the largest manifest read: ~90 bytes per column per shard (10^5 columns, one shard: 9.4 MB)
MAX_MANIFEST_BYTES = 1 << 30
NUMERIC_KINDS = ("numeric", "count")  # "count": non-negative counts, log1p-transformed by the feature layer
KINDS = (*NUMERIC_KINDS, "categorical")
#: the tasks a dataset may have (:data:`oocbench.metrics.TASKS`, which imports scikit-learn: not imported here)
TASKS = ("binary", "regression")


#: what a shard or holdout file may be called in a manifest: no directory part, no "..", no hidden file
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.parquet")


class DatasetError(Exception):
    """A dataset on disk is missing, incomplete or corrupt; the message says which file and what to do."""


@dataclass
class ShardInfo:
    path: str
    rows: int
    bytes: int
    sha256: str
    #: per numeric column ``[count, mean, M2]`` of the feature-layer value (after log1p for counts), float64,
    #: so exact standardisation statistics of any set of shards merge without rereading (Chan et al.)
    stats: dict[str, list[float]] | None = None


@dataclass
class Manifest:
    name: str
    task: str  # "binary" | "regression"
    rows: int
    seed: int
    features: list[str]
    target: str
    shards: list[ShardInfo]
    holdout: ShardInfo
    generator: dict[str, Any] = field(default_factory=dict)
    optimum: dict[str, float] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    #: feature name -> "numeric" | "count" | "categorical"; absent names are numeric
    columns: dict[str, str] = field(default_factory=dict)
    #: how the shared feature layer treats this dataset: {"standardize": bool, "missing": bool}
    feature_spec: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    #: what the dataset means, fixed by its writer (:mod:`oocbench.datasets.seal`); empty in older datasets
    seal: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def kind(self, column: str) -> str:
        return self.columns.get(column, "numeric")

    @property
    def all_numeric(self) -> bool:
        return all(self.kind(c) == "numeric" for c in self.features)

    @property
    def has_categorical(self) -> bool:
        return any(self.kind(c) == "categorical" for c in self.features)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: Path | str | Location) -> Manifest:
        try:
            loc = resolve(path)
            info = loc.info()
            # object stores raise a generic OSError for a missing key: ask first. A FIFO or a device is no
            # File here (Unknown): never opened, it would block or never end
            if info.type != pafs.FileType.File:
                raise FileNotFoundError(str(loc))
            if info.size is not None and info.size > MAX_MANIFEST_BYTES:
                raise DatasetError(f"{path}: {info.size:,} bytes, more than a manifest can be "
                                   f"({MAX_MANIFEST_BYTES:,}); delete the directory and regenerate")
            raw = json.loads(loc.read_text())
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                fmt = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
                raise DatasetError(f"{path}: not an oocbench manifest (format={fmt!r}); delete the directory "
                                   "and regenerate")
            if raw.get("format_version", 0) > FORMAT_VERSION:
                raise DatasetError(f"{path}: format version {raw['format_version']} is newer than this oocbench "
                                   f"reads ({FORMAT_VERSION}); upgrade oocbench or regenerate")
            raw["shards"] = [ShardInfo(**s) for s in raw["shards"]]
            raw["holdout"] = ShardInfo(**raw["holdout"])
            man = cls(**raw)
            _check_types(man)
            if not isinstance(man.rows, int) or sum(s.rows for s in man.shards) != man.rows:
                raise ValueError(f"rows={man.rows!r} but the shards hold {sum(s.rows for s in man.shards)}")
            for info in [*man.shards, man.holdout]:
                # a data file is a plain name inside the dataset's directory: never a path that leads out of it
                if not isinstance(info.path, str) or not _PLAIN_NAME.fullmatch(info.path):
                    raise ValueError(f"data file {info.path!r} is not a plain file name inside the dataset")
            return man
        except DatasetError:
            raise
        except FileNotFoundError:
            raise DatasetError(f"{path}: no manifest; generate the dataset first (oocbench generate)") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DatasetError(f"{path}: malformed manifest ({type(exc).__name__}: {exc}); delete the directory "
                               "and regenerate") from None


def _fits(value: Any, tp: Any) -> bool:
    """Whether a manifest value fits its field's annotation (as JSON gives it: a float may be an int)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp in (int, float):
        return isinstance(value, int if tp is int else (int, float)) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and _fits(v, args[1]) for k, v in value.items())
    if is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return isinstance(value, tp) and all(_fits(getattr(value, f.name), hints[f.name]) for f in fields(tp))
    return isinstance(value, origin or tp)


def _check_types(man: Manifest) -> None:
    """Every field of the right JSON type and the task a known one: an edited manifest is refused here, in
    one line, rather than failing deep inside a case (``'list' object has no attribute 'get'``)."""
    hints = typing.get_type_hints(Manifest)
    for f in fields(Manifest):
        if not _fits(getattr(man, f.name), hints[f.name]):
            raise ValueError(f"{f.name} is {json.dumps(getattr(man, f.name), default=str)[:60]}, not of the "
                             f"type {hints[f.name]}".replace("typing.", ""))
    if man.task not in TASKS:
        raise ValueError(f"task {man.task!r} is not one of {', '.join(TASKS)}")


def sha256_file(path: Path | str | Location, chunk: int = 1 << 22) -> str:
    """sha256 of a local file or of any :class:`~oocbench.storage.Location` (streamed, constant memory)."""
    digest = hashlib.sha256()
    if isinstance(path, Location):
        with path.fs.open_input_stream(path.path) as fh:
            while block := fh.read(chunk):
                digest.update(block)
        return digest.hexdigest()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()

