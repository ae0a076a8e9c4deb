"""Real data available offline: datasets shipped inside installed packages, and a user's own CSV / Parquet.

Small bundled sets hold out every 5th row (20%); a user's file uses the public-data rule
(:data:`oocbench.datasets.public.HOLDOUT_EVERY` within the first rows). Scales are prefixes, as everywhere.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from oocbench import config
from oocbench.datasets.manifest import DatasetError
from oocbench.datasets.public import convert
from oocbench.datasets.reader import ShardedDataset
from oocbench.files import special_kind
from oocbench.fmt import elide_binary, printable
from oocbench.storage import resolve


@dataclass
class BundledDataset:
    """A dataset loaded from a package installed here (no network)."""

    name: str
    task: str
    package: str
    loader: str  # "sklearn:<function>" or "river:<class>"
    note: str = ""
    tiers: tuple[str, ...] = ("xs",)
    kind = "bundled"

    params: dict[str, Any] | None = None

    def table(self) -> pa.Table:
        kind, attr = self.loader.split(":")
        if kind == "sklearn":
            from sklearn import datasets as skd

            bunch = getattr(skd, attr)()
            cols = [re.sub(r"\W+", "_", str(n)).strip("_") for n in bunch.feature_names]
            X, y = np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target, dtype=np.float32)
            return pa.Table.from_arrays([*(pa.array(X[:, j]) for j in range(X.shape[1])), pa.array(y)],
                                        names=[*cols, "y"])
        import river.datasets

        rows = list(getattr(river.datasets, attr)())
        cols = list(rows[0][0])
        data = {c: pa.array([float(x[c]) for x, _ in rows], type=pa.float32()) for c in cols}
        data["y"] = pa.array([float(bool(t)) for _, t in rows], type=pa.float32())
        return pa.table(data)

    @property
    def features(self) -> list[str]:
        return [c for c in self.table().column_names if c != "y"]

    def is_current(self, manifest: Any) -> bool:
        """Loaded by the same loader (the data of an installed package does not change under a name)."""
        return (getattr(manifest, "source", None) or {}).get("loader", self.loader) == self.loader

    def build(self, root: Path, rows: int, seed: int = 0, rows_per_shard: int = 1 << 20,
              progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
        t = self.table()
        return convert(iter([t]), root, name=self.name, task=self.task, features=self.features, categorical=[],
                       rows=rows, rows_per_shard=rows_per_shard, holdout_every=5, holdout_window=t.num_rows,
                       progress=progress, source={"kind": "bundled", "package": self.package,
                                                  "loader": self.loader, "note": self.note}, seed=seed)


BUNDLED: tuple[BundledDataset, ...] = (
    BundledDataset("sklearn-breast-cancer", "binary", "scikit-learn", "sklearn:load_breast_cancer",
                   "Wisconsin diagnostic breast cancer, 569 rows x 30 features (target 1 = benign)"),
    BundledDataset("sklearn-diabetes", "regression", "scikit-learn", "sklearn:load_diabetes",
                   "diabetes progression, 442 rows x 10 features"),
    BundledDataset("river-phishing", "binary", "river", "river:Phishing", "phishing websites, 1,250 rows x 9"),
    BundledDataset("river-bananas", "binary", "river", "river:Bananas", "bananas, 5,300 rows x 2 features"),
)


def file_dataset_name(path: Path) -> str:
    return "file-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name.split(".")[0]).strip("-").lower()


#: what a user file's dataset may be called: ``file-`` first, so it never shadows a built-in dataset
FILE_NAME = re.compile(r"file-[a-z0-9_.-]+")


class FileNameTakenError(ValueError):
    """A user file's dataset name already belongs to another file (a usage error: exit 2)."""


class ScaleTooLargeError(DatasetError, ValueError):
    """A scale larger than the rows a user's file holds (a usage error: exit 2)."""


def check_file_name(name: str) -> str:
    """``name`` if it may name a user file's dataset, else :class:`ValueError` saying why.

    >>> check_file_name("file-flights")
    'file-flights'
    """
    if not FILE_NAME.fullmatch(name):
        raise ValueError(f"{name!r}: a dataset made from your file is named file-<name> (lower case letters, "
                         "digits, '.', '_', '-'), so it never shadows a built-in dataset; e.g. "
                         f"file-{re.sub(r'[^a-z0-9_.-]+', '-', name.lower()).strip('-') or 'mine'}")
    return name


class TargetError(DatasetError, ValueError):
    """A user's target column that oocbench cannot learn as it is (a usage error: exit 2): constant, multi-class,
    or not what ``--task`` says."""


#: a whole-number target with 3 to this many distinct values looks like class labels: refused unless --task says
#: regression (oocbench's tasks are binary and regression)
MAX_CLASSES = 10
#: distinct target values tracked while the whole column is read (past it: "many", a regression target)
_TRACKED = 64


@dataclass
class FileSource:
    """A user's CSV (optionally .gz) or Parquet file with a target column.

    The task is inferred from the whole target column (read once, that column only): two distinct values are
    binary (the larger value, or for text the one sorting last, is 1); more numbers are regression, except 3 to
    :data:`MAX_CLASSES` whole numbers, which look like class labels and are refused (as are 3 or more text
    values), unless ``given_task`` (``generate --task``) says regression. A constant target, or one with inf or
    NaN, is refused; empty cells are dropped as missing. Text and boolean columns are categorical, numbers
    numeric. ``source.json`` under the data directory remembers the file (and the task it was generated with) so
    ``oocbench run --dataset file-<name>`` finds it again.
    """

    path: Path
    target: str
    name: str = ""
    given_task: str | None = None  # "binary" | "regression": the user's word (generate --task), else inferred
    remembered_task: str | None = None  # the task source.json says it was generated with (no rescan per case)
    kind = "file"
    tiers: tuple[str, ...] = ()  # a file has the rows it has: scales are row counts up to them

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = check_file_name(self.name) if self.name else file_dataset_name(self.path)
        if self.given_task not in (None, "binary", "regression"):
            raise TargetError(f"--task {self.given_task!r}: oocbench's tasks are binary and regression")
        self._info: dict[str, Any] | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"path": str(self.path), "target": self.target}

    @property
    def task(self) -> str:
        return self.given_task or self.remembered_task or self.inspect()["task"]

    def _raw(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        if not self.path.exists():
            raise DatasetError(f"{self.path}: no such file")
        if kind := special_kind(self.path):  # a FIFO would block the read, /dev/zero never end
            raise DatasetError(f"{self.path}: {kind}, not a regular file; give --from-file a CSV or Parquet file")
        try:
            if self.path.suffix == ".parquet":
                for rb in pq.ParquetFile(self.path).iter_batches(batch_size=1 << 16, columns=columns):
                    yield pa.Table.from_batches([rb])
                return
            reader = pacsv.open_csv(pa.input_stream(str(self.path), compression="detect"),
                                    read_options=pacsv.ReadOptions(block_size=8 << 20),
                                    convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                         include_columns=columns or []))
            for rb in reader:
                yield pa.Table.from_batches([rb])
        except (pa.ArrowInvalid, OSError) as exc:
            # Arrow quotes the row it could not parse: of a binary file, raw bytes that would drive the terminal
            raise DatasetError(f"{self.path}: cannot read it as {'Parquet' if self.path.suffix == '.parquet' else 'CSV'}"
                               f" ({printable(elide_binary(str(exc).splitlines()[0]), 300)}); check the file's "
                               "format and that every row has the same columns") from None

    def inspect(self) -> dict[str, Any]:
        if self._info is None:
            first = next(self._raw(), None)
            if first is None or first.num_rows == 0:
                raise DatasetError(f"{self.path}: no rows")
            try:
                names = first.column_names
            except UnicodeDecodeError:  # a binary file's first line read as a header
                raise DatasetError(f"{self.path}: its column names are not UTF-8 text; check the file's format "
                                   "(a CSV's first line names the columns)") from None
            # one count per name (names.count per name was quadratic: 10^5 columns took minutes)
            if dupes := sorted(c for c, k in Counter(names).items() if k > 1):
                raise DatasetError(f"{self.path}: column name(s) {', '.join(map(repr, dupes))} appear more than "
                                   "once; give every column its own name")
            if self.target not in names:
                raise DatasetError(f"{self.path}: no column {self.target!r}; columns: {', '.join(names)}")
            if len(names) < 2:  # refused here, not at the first case: there is nothing to learn from
                raise DatasetError(f"{self.path}: only the target column {self.target!r}, no feature column; give a "
                                   "file with at least one column besides the target")
            if nested := [f for f in first.schema if pa.types.is_nested(f.type)]:
                # a list, struct or map cell is no number and no category (casting one failed deep in the build)
                raise DatasetError(f"{self.path}: column(s) {', '.join(f'{f.name!r} ({f.type})' for f in nested[:5])}"
                                   " hold lists, structs or maps, which are not supported; drop or flatten them "
                                   "(one number or one category per cell) and generate again")
            if "y" in names and self.target != "y":  # the datasets' target column is "y": two would collide
                raise DatasetError(f"{self.path}: a feature column is named 'y', the name oocbench gives the target "
                                   f"({self.target!r}); rename that column")
            features = [c for c in first.column_names if c != self.target]
            categorical = [c for c in features if not (pa.types.is_integer(first.schema.field(c).type)
                                                       or pa.types.is_floating(first.schema.field(c).type))]
            # the task from the whole column: a first block of one class (a sorted file) made it regression
            task = self._task_of(self._target_facts(first.schema.field(self.target).type))
            self._info = {**task, "features": features, "categorical": categorical}
        return self._info

    def _target_facts(self, kind: pa.DataType) -> dict[str, Any]:
        """One pass over the target column alone: values present, missing, non-finite, distinct (up to
        :data:`_TRACKED`), whether all are whole numbers, and the range."""
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        facts: dict[str, Any] = {"numeric": numeric, "present": 0, "missing": 0, "bad": 0, "values": set(),
                                 "many": False, "whole": True, "low": None, "high": None}
        for t in self._raw([self.target]):
            y = t.column(self.target)
            facts["missing"] += y.null_count
            y = y.drop_null()
            facts["present"] += len(y)
            if pa.types.is_floating(y.type):
                finite = pc.is_finite(y)
                facts["bad"] += len(y) - pc.sum(finite).as_py() if len(y) else 0
                y = y.filter(finite)
            if numeric and len(y):
                a = y.to_numpy().astype(np.float64)
                facts["whole"] &= bool(np.all(a == np.round(a)))
                low, high = float(a.min()), float(a.max())
                facts["low"] = low if facts["low"] is None else min(facts["low"], low)
                facts["high"] = high if facts["high"] is None else max(facts["high"], high)
            if not facts["many"]:
                facts["values"] |= set(pc.unique(y).to_pylist())
                facts["many"] = len(facts["values"]) > _TRACKED
        return facts

    def _task_of(self, f: dict[str, Any]) -> dict[str, Any]:
        """The task the target column's facts allow (see the class docstring); :class:`DatasetError` or
        :class:`TargetError` in one line naming the column, what is wrong and what to do, if none."""
        col, given, values = f"target {self.target!r}", self.given_task, f["values"]
        if f["bad"]:
            raise DatasetError(f"{self.path}: {col} has {f['bad']:,} non-finite values (inf, -inf or NaN) among "
                               f"{f['present']:,}; fix or remove those rows (a target must be a finite number; an "
                               "empty cell is dropped as missing)")
        if not values:
            raise DatasetError(f"{self.path}: {col} is empty in every row; give a column with values")
        n = "more than 64" if f["many"] else f"{len(values)}"
        if len(values) == 1:
            raise TargetError(f"{self.path}: {col} has one value ({next(iter(values))!r}) in all {f['present']:,} "
                              "rows: there is nothing to learn; give a target that varies")
        if given == "binary" and (f["many"] or len(values) != 2):
            raise TargetError(f"{self.path}: --task binary, but {col} has {n} distinct values, not 2")
        if given == "regression" and not f["numeric"]:
            raise TargetError(f"{self.path}: --task regression, but {col} is text; give a numeric column")
        facts = {"rows": f["present"], "missing": f["missing"], "classes": None if f["many"] else len(values),
                 "given": given is not None, "low": f["low"], "high": f["high"]}
        if len(values) == 2 and given != "regression":
            return {**facts, "task": "binary", "positive": max(values), "values": sorted(values)}
        if given == "regression" or (f["numeric"] and (f["many"] or not f["whole"] or len(values) > MAX_CLASSES)):
            return {**facts, "task": "regression", "positive": None, "values": []}
        if not f["numeric"]:
            shown = ", ".join(map(repr, sorted(map(str, values))[:5])) + (", ..." if len(values) > 5 else "")
            raise TargetError(f"{self.path}: {col} has {n} distinct text values ({shown}), a multi-class target: "
                              "oocbench's tasks are binary (2 values) and regression (numbers); give a 2-valued "
                              "column (e.g. one class against the rest)")
        raise TargetError(f"{self.path}: {col} has {n} distinct whole-number values ({f['low']:g} to {f['high']:g}), "
                          "which look like class labels: oocbench's tasks are binary and regression; give a 2-valued "
                          "target, or pass --task regression if the values are quantities")

    def task_detail(self) -> str:
        """How the task was decided, for ``oocbench generate`` to show (e.g. ``2 classes: 'no' -> 0, 'yes' -> 1``)."""
        i = self.inspect()
        how = "given by --task" if i["given"] else f"inferred from all {i['rows']:,} target values"
        if i["task"] == "binary":
            text = f"2 classes: {i['values'][0]!r} -> 0, {i['values'][1]!r} -> 1; {how}"
        else:
            distinct = f"{i['classes']:,}" if i["classes"] is not None else f"more than {_TRACKED}"
            text = f"numeric target, {distinct} distinct values from {i['low']:g} to {i['high']:g}; {how}"
        return text + (f"; {i['missing']:,} row(s) with an empty target dropped" if i["missing"] else "")

    def tables(self) -> Iterator[pa.Table]:
        info = self.inspect()
        categorical = set(info["categorical"])
        schema = pa.schema([(c, pa.string() if c in categorical else pa.float32()) for c in info["features"]])
        for t in self._raw():
            y = t.column(self.target)
            if info["positive"] is not None:
                extra = set(pc.unique(y.drop_null()).to_pylist()) - set(info["values"])
                if extra:
                    raise DatasetError(f"{self.path}: target {self.target!r} has more than two values "
                                       f"(also {sorted(map(str, extra))[:3]}); give a binary or numeric column")
                y = pc.if_else(pc.is_null(y), None, pc.equal(y, pa.scalar(info["positive"], type=y.type)))
            try:
                # one cast of the whole table: a cast per column (and `in` a list per column) took minutes
                # at 10^5 columns
                cols = t.select(info["features"]).cast(schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as exc:
                raise DatasetError(f"{self.path}: columns change type or go missing after the first rows "
                                   f"({printable(str(exc), 300)})") from None
            yield cols.append_column("y", y.cast(pa.float32()))

    def is_current(self, manifest: Any) -> bool:
        """Converted from this path with this target, as this task (an older oocbench inferred it from the first
        rows: a 7-class target became regression)."""
        src = (getattr(manifest, "source", None) or {})
        return src.get("path", str(self.path.resolve())) == str(self.path.resolve()) and src.get(
            "target", self.target) == self.target and getattr(manifest, "task", None) == self.task

    def build(self, root: Path, rows: int, seed: int = 0, rows_per_shard: int = 1 << 20,
              progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
        info = self.inspect()
        ds = convert(self.tables(), root, name=self.name, task=info["task"], features=info["features"],
                     categorical=info["categorical"], rows=rows, rows_per_shard=rows_per_shard, progress=progress,
                     source={"kind": "file", "path": str(self.path.resolve()), "target": self.target}, seed=seed)
        if ds.rows < rows:  # a scale the file cannot fill would be recorded as rows it never had
            with contextlib.suppress(OSError):
                ds.location.rmtree()
            raise ScaleTooLargeError(f"--scale {rows:,}: {self.path} gives only {ds.rows:,} training rows (after "
                                     f"setting aside its holdout); use --scale {ds.rows} or less")
        return ds

    def remember(self, base: Path | str | None = None) -> None:
        """Register the file under :attr:`name` in the data directory (``source.json``) for later runs.

        Raises :class:`FileNameTakenError` when the name already belongs to another file: two files called
        ``data.csv`` in different directories must not become one dataset and mix.
        """
        d = resolve(base or config.data_dir()) / self.name
        here = str(self.path.resolve())
        old = remembered_file(self.name, base)
        if old is not None and (str(old.path) != here or old.target != self.target):
            raise FileNameTakenError(
                f"dataset {self.name} is already {old.path} (target {old.target!r}); to make it {self.path} with "
                f"target {self.target!r} instead, add --replace (its data under {d} is deleted), or name this one, "
                f"e.g. `oocbench generate {self.name}-2 --from-file {self.path} --target {self.target} ...`")
        # the task is decided first (the whole target column is read): a refused file is not remembered
        (d / "source.json").write_text(json.dumps({"path": here, "target": self.target, "task": self.inspect()["task"],
                                                   "given_task": self.given_task}))


def remembered_file(name: str, base: Path | str | None = None) -> FileSource | None:
    """The user file registered earlier under ``name`` (by ``oocbench generate --from-file``), if any."""
    if not name.startswith("file-"):
        return None
    p = resolve(base or config.data_dir()) / name / "source.json"
    if not p.is_file():
        return None
    try:
        raw = json.loads(p.read_text())
        task, given = raw.get("task"), raw.get("given_task")
        return FileSource(raw["path"], raw["target"], name, given_task=given if isinstance(given, str) else None,
                          remembered_task=task if task in ("binary", "regression") else None)
    except (ValueError, KeyError, TypeError):
        raise DatasetError(f"{p}: malformed; rerun `oocbench generate --from-file PATH --target COLUMN`") from None
