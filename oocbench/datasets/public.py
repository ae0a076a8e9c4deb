"""Real public datasets: download once (resumable, checksummed), convert to the same Parquet shards.

Scales are prefixes of the file (in file order). The holdout is fixed: every ``holdout_every``-th row among
the first ``holdout_window`` rows of the file (10% of the first 500,000 rows by default), so it is the same
at every scale and comes from the same period as the early training rows; training rows are all the other
rows, in file order. Rows whose label is missing are dropped. Numeric columns are standardised by the
feature layer (statistics of the training rows), categorical ones hashed.

Source files are never committed or faked: without network, put the file at the cache path the error
message names. Tests run each loader end to end on small files written in the original format.
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oocbench.datasets.download import cache_dir, fetch, verify
from oocbench.datasets.manifest import DatasetError
from oocbench.datasets.reader import ShardedDataset
from oocbench.datasets.writer import DatasetWriter

HOLDOUT_EVERY = 10
HOLDOUT_WINDOW = 500_000


def convert(tables: Iterator[pa.Table], root: Path, *, name: str, task: str, features: list[str],
            categorical: list[str], rows: int, rows_per_shard: int = 1 << 20, holdout_every: int = HOLDOUT_EVERY,
            holdout_window: int = HOLDOUT_WINDOW, progress: Callable[[int], None] | None = None,
            source: dict[str, Any] | None = None, seed: int = 0) -> ShardedDataset:
    """Write the first ``rows`` training rows of ``tables`` (feature columns + ``y``) as a dataset at ``root``.

    ``tables`` yields raw rows in source order with the target already in ``y`` (float32; binary 0/1).
    """
    columns: dict[str, Any] = {c: pa.string() for c in categorical}
    holdout: list[pa.Table] = []
    seen = 0  # source rows read (holdout rule index)
    with DatasetWriter(root, features, "y", rows_per_shard=rows_per_shard, columns=columns,
                       standardize=True) as writer:
        for t in tables:
            t = t.filter(pc.is_valid(t.column("y")))
            if t.num_rows == 0:
                continue
            idx = np.arange(seen, seen + t.num_rows)
            seen += t.num_rows
            is_hold = (idx < holdout_window) & (idx % holdout_every == holdout_every - 1)
            if is_hold.any():
                holdout.append(t.filter(pa.array(is_hold)))
            train = t.filter(pa.array(~is_hold)) if is_hold.any() else t
            take = min(train.num_rows, rows - writer.rows)
            if take > 0:
                writer.write_table(train.slice(0, take))
                if progress is not None:
                    progress(take)
            if writer.rows >= rows and seen >= holdout_window:
                break
        if writer.rows == 0 or not holdout:
            raise DatasetError(f"{name}: the source gave {writer.rows} training and "
                               f"{sum(h.num_rows for h in holdout)} holdout rows; it is empty or too short")
        hold = pa.concat_tables(holdout)
        writer.finish(hold, name=name, task=task, seed=seed,
                      generator={"name": name, "holdout": f"every {holdout_every}th of the first "
                                                          f"{holdout_window:,} source rows"},
                      columns={c: "categorical" for c in categorical},
                      feature_spec={"standardize": True, "missing": True},
                      source=source or {})
    return ShardedDataset(root)


def _open_text(path: Path, member: str | None):
    """A binary stream of the data file: plain, .gz, or one member of a .tar.gz."""
    if member:
        tar = tarfile.open(path, mode="r|gz")  # noqa: SIM115 - streamed, never extracted; the caller closes it
        for info in tar:
            if Path(info.name).name == member:
                return tar.extractfile(info)
        raise DatasetError(f"{path}: no member {member!r} in the archive; is it the right file?")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


@dataclass
class PublicDataset:
    """One public dataset: where it comes from, how its file is laid out, and what the target is."""

    name: str
    task: str
    url: str
    filename: str
    sha256: str | None
    columns: list[str]  # every column of the file, in order
    target: str
    positive: Any = None  # binary: the label value that means 1 (None: the value is already 0/1)
    categorical: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    header: bool = False
    delimiter: str = ","
    member: str | None = None  # inside a .tar.gz
    size: int | None = None  # bytes of the source file, when known
    note: str = ""
    tiers: tuple[str, ...] = ("xs", "s", "m", "l", "xl")
    kind = "public"
    holdout_every: int = HOLDOUT_EVERY
    holdout_window: int = HOLDOUT_WINDOW

    @property
    def features(self) -> list[str]:
        return [c for c in self.columns if c not in (self.target, *self.drop)]

    @property
    def params(self) -> dict[str, Any]:
        return {"url": self.url, "sha256": self.sha256}

    def path(self) -> Path:
        return cache_dir() / self.filename

    def source_file(self, download: bool = True) -> Path:
        """The cached source file, downloaded first if missing (checksum verified either way)."""
        path = self.path()
        if path.exists():
            verify(path, self.sha256)
            return path
        if not download:
            raise DatasetError(f"{self.name}: {path} is missing; download {self.url} there")
        return fetch(self.url, path, self.sha256)

    def tables(self, path: Path, block_rows: int = 1 << 16) -> Iterator[pa.Table]:
        """Raw rows of the file as tables of feature columns + ``y``."""
        types = {c: (pa.string() if c in (*self.categorical, *self.drop) else pa.float32()) for c in self.columns}
        if self.positive is not None:
            types[self.target] = pa.string()
        read = pacsv.ReadOptions(column_names=None if self.header else self.columns, block_size=8 << 20)
        parse = pacsv.ParseOptions(delimiter=self.delimiter)
        conv = pacsv.ConvertOptions(column_types=types, include_columns=[*self.features, self.target],
                                    strings_can_be_null=True, null_values=["", "NA", "nan", "NaN"])
        stream = _open_text(path, self.member)
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=conv)
            for rb in reader:
                t = pa.Table.from_batches([rb])
                y = t.column(self.target)
                if self.positive is not None:
                    y = pc.if_else(pc.is_null(y), None, pc.equal(y, str(self.positive)))
                t = t.drop_columns([self.target]).append_column("y", y.cast(pa.float32()))
                yield t
        except pa.ArrowInvalid as exc:
            raise DatasetError(f"{path}: not in {self.name}'s format ({exc}); delete it and download again") from None
        finally:
            stream.close()

    def is_current(self, manifest: Any) -> bool:
        """Converted from the same file (the download is checked against ``sha256`` when one is known)."""
        return (getattr(manifest, "source", None) or {}).get("sha256", self.sha256) == self.sha256

    def build(self, root: Path, rows: int, seed: int = 0, rows_per_shard: int = 1 << 20,
              progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
        path = self.source_file()
        return convert(self.tables(path), root, name=self.name, task=self.task, features=self.features,
                       categorical=self.categorical, rows=rows, rows_per_shard=rows_per_shard,
                       holdout_every=self.holdout_every, holdout_window=self.holdout_window, progress=progress,
                       source={"kind": "public", "url": self.url, "file": path.name, "sha256": self.sha256,
                               "note": self.note}, seed=seed)


_CRITEO_INT = [f"I{j}" for j in range(1, 14)]
_CRITEO_CAT = [f"C{j}" for j in range(1, 27)]
_COVTYPE = ["Elevation", "Aspect", "Slope", "Horizontal_Distance_To_Hydrology", "Vertical_Distance_To_Hydrology",
            "Horizontal_Distance_To_Roadways", "Hillshade_9am", "Hillshade_Noon", "Hillshade_3pm",
            "Horizontal_Distance_To_Fire_Points", *[f"Wilderness_Area_{j}" for j in range(4)],
            *[f"Soil_Type_{j}" for j in range(40)], "Cover_Type"]
_AVAZU = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
          "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type", "device_conn_type",
          "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]
_AIRLINE = ["Month", "DayofMonth", "DayOfWeek", "DepTime", "UniqueCarrier", "Origin", "Dest", "Distance",
            "dep_delayed_15min"]

PUBLIC: tuple[PublicDataset, ...] = (
    PublicDataset(
        name="higgs", task="binary",
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00280/HIGGS.csv.gz", filename="HIGGS.csv.gz",
        # no published sha256 that we could check offline: size from river.datasets.Higgs; set sha256 after a
        # first verified download
        sha256=None, size=2_816_407_858,
        columns=["label", *[f"x{j}" for j in range(1, 29)]], target="label",
        note="UCI HIGGS, 11M rows x 28 float features, label 1 = signal"),
    PublicDataset(
        name="covertype", task="binary", url="https://ndownloader.figshare.com/files/5976039",
        filename="covtype.data.gz",
        sha256="614360d0257557dd1792834a85a1cdebfadc3c4f30b011d56afee7ffb5b15771",  # scikit-learn's fetch_covtype
        columns=_COVTYPE, target="Cover_Type", positive="2",
        note="UCI Covertype (scikit-learn's mirror), 581,012 rows; binary: Cover_Type == 2 (Lodgepole Pine) vs rest"),
    PublicDataset(
        name="criteo-kaggle", task="binary",
        url="https://go.criteo.net/criteo-research-kaggle-display-advertising-challenge-dataset.tar.gz",
        filename="criteo-research-kaggle-display-advertising-challenge-dataset.tar.gz", member="train.txt",
        sha256=None, columns=["label", *_CRITEO_INT, *_CRITEO_CAT], target="label", categorical=_CRITEO_CAT,
        delimiter="\t", note="Criteo display-advertising challenge train.txt (45.8M rows), TSV in a tar.gz"),
    PublicDataset(
        name="avazu", task="binary", url="https://www.kaggle.com/competitions/avazu-ctr-prediction/data",
        filename="avazu-train.gz", sha256=None, columns=_AVAZU, target="click", header=True, drop=["id"],
        categorical=[c for c in _AVAZU if c not in ("id", "click")],
        note="Kaggle Avazu CTR train.gz (40.4M rows); needs a Kaggle login: save it as the cache file named"),
    PublicDataset(
        name="airline-benchm-ml", task="binary", url="https://s3.amazonaws.com/benchm-ml--main/train-10m.csv",
        filename="airline-train-10m.csv", sha256=None, columns=_AIRLINE, target="dep_delayed_15min",
        positive="Y", header=True,
        categorical=["Month", "DayofMonth", "DayOfWeek", "UniqueCarrier", "Origin", "Dest"],
        note="benchm-ml airline on-time training set (10M rows), label dep_delayed_15min == 'Y'"),
)
