"""Issue 27, item 2: the meaning of a record, not only its bytes. Each input here passed every checksum and was
recorded ``ok`` with a wrong claim: a dataset cut consistently to fewer rows, a holdout copied from the training
shard or from another seed, targets with inf, a multi-class or constant target taken as regression, a loss below
the known optimum. Each test makes its bad input itself and runs the real command line (or runner) on tiny data;
the last one edits a manifest at random (hypothesis)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oocbench import datasets
from oocbench.datasets import DatasetError
from tests.conftest import oocbench_cli
from tests.test_hostile_run import _installed

ROWS = 2000


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A fresh synth-binary dataset of 2,000 rows in ``tmp_path/data`` (written in this process: as
    ``oocbench generate`` writes it, without an interpreter's start)."""
    datasets.generate("synth-binary", ROWS, base=tmp_path / "data")
    return tmp_path / "data"


def _run_case(data: Path, adapter: str = "sklearn.sgd", dataset: str = "synth-binary", scale: int = ROWS):
    from oocbench.harness.runner import run_case
    from oocbench.records import CaseSpec

    return run_case(CaseSpec(adapter, dataset, scale, batch_size=500), memray=False, data_base=data)


def _root(data: Path, seed: int = 0, name: str = "synth-binary", rows: int = ROWS) -> Path:
    return data / name / f"seed-{seed}" / f"rows-{rows}"


def _forge(root: Path, which: str, table: pa.Table, unseal: bool = False) -> None:
    """Replace a data file (``"train-00000.parquet"`` or ``"holdout.parquet"``) by ``table`` and update the
    manifest consistently (rows, bytes, sha256; the dataset's rows for a shard): every checksum still holds."""
    path = root / which
    pq.write_table(table, path)
    raw = json.loads((root / "manifest.json").read_text())
    info = raw["holdout"] if which == raw["holdout"]["path"] else next(s for s in raw["shards"] if s["path"] == which)
    info.update(rows=table.num_rows, bytes=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    raw["rows"] = sum(s["rows"] for s in raw["shards"])
    if unseal:  # as written by an oocbench from before seals: only the checks that need none apply
        del raw["seal"]
    (root / "manifest.json").write_text(json.dumps(raw))


def _records(results: Path) -> list[dict]:
    path = results / "records.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def _text(out: subprocess.CompletedProcess) -> str:
    return " ".join((out.stdout + out.stderr).split())  # rich wraps long lines


def _run(tmp_path: Path, data: Path, *extra: str, adapter: str = "sklearn.sgd", dataset: str = "synth-binary",
         scale: int = ROWS, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[dict]]:
    res = tmp_path / "r"
    out = oocbench_cli("run", "--adapter", adapter, "--dataset", dataset, "--scale", str(scale), "--batch-size", "500",
                       "--no-memray", "--data", str(data), "--results", str(res), *extra, cwd=tmp_path, env=env)
    return out, _records(res)


def _refused(out: subprocess.CompletedProcess, records: list[dict], *needles: str) -> None:
    """A harness failure naming the problem: exit 1, nothing recorded (never `ok`), one line, no traceback."""
    text = _text(out)
    assert out.returncode == 1 and records == [], (text, records)
    (line,) = [ln for ln in out.stderr.splitlines() if "HARNESS FAILURE" in ln] or [text]
    for needle in needles:
        assert needle in text, (needle, text)
    assert "Traceback" not in text and "HARNESS FAILURE" in line


# ----- 1. rows: a dataset cut consistently to fewer rows than its scale -----------------------------------------
def test_a_dataset_cut_to_half_its_rows_is_never_recorded_at_its_scale(tmp_path, data):
    # was: `run --scale 1e4` recorded `ok`, labelled n=10,000, with rows: 5000
    root = _root(data)
    _forge(root, "train-00000.parquet", pq.read_table(root / "train-00000.parquet").slice(0, ROWS // 2))
    out, records = _run(tmp_path, data)
    _refused(out, records, str(root), "holds 1,000 training rows, not the 2,000 it was written with",
             f"oocbench generate synth-binary --scale {ROWS} --data")
    raw = json.loads((root / "manifest.json").read_text())
    del raw["seal"]  # a dataset from before seals: the same refusal (the scale is checked without one)
    (root / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match="holds 1,000 training rows, not the 2,000"):
        _run_case(data)
    # the case's child checks it again (data changed after the runner looked): it never measures fewer rows
    from oocbench.harness.case import execute
    from oocbench.records import CaseRecord, CaseSpec

    with pytest.raises(DatasetError, match="holds 1,000 training rows, fewer than the case's 2,000"):
        execute(CaseRecord(CaseSpec("sklearn.sgd", "synth-binary", ROWS)).to_dict()["case"], str(root))


# ----- 2. the holdout: a copy of the training rows, another seed's -------------------------------------------
def test_a_holdout_copied_from_the_training_shard_is_refused(tmp_path, data):
    # was: sklearn.batch recorded `ok` with log loss 0.5106, below the known optimum 0.5131
    root = _root(data)
    _forge(root, "holdout.parquet", pq.read_table(root / "train-00000.parquet"))
    out, records = _run(tmp_path, data, adapter="sklearn.batch")
    _refused(out, records, str(root / "holdout.parquet"), "not the holdout written for synth-binary seed 0",
             "oocbench generate synth-binary")
    # without a seal (an older dataset), the sample of training rows found in the holdout gives it away
    _forge(root, "holdout.parquet", pq.read_table(root / "train-00000.parquet"), unseal=True)
    with pytest.raises(DatasetError, match=r"1,024 of 1,024 sampled training rows are also in the holdout"):
        _run_case(data, "sklearn.batch")


def test_another_seeds_holdout_is_refused(tmp_path, data):
    # was: `ok` at log loss 0.9288 (another seed's holdout: another true model)
    other = datasets.generate("synth-binary", ROWS, seed=1, base=tmp_path / "other")
    root = _root(data)
    _forge(root, "holdout.parquet", pq.read_table(other.root / "holdout.parquet"))
    out, records = _run(tmp_path, data, adapter="sklearn.batch")
    _refused(out, records, "not the holdout written for synth-binary seed 0", "copied from another seed")
    # the whole other seed's dataset put in seed 0's place: its manifest says so
    shutil.rmtree(root)
    shutil.copytree(other.root, root)
    with pytest.raises(DatasetError, match="its manifest is of seed 1, not 0"):
        _run_case(data, "sklearn.batch")


# ----- 3. targets: inf in a user's file ----------------------------------------------------------------------
def _inf_csv(path: Path, rows: int = 1500, every: int = 50) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    y = [("inf" if i % every == every - 1 else f"{2 * v + rng.normal():.5f}") for i, v in enumerate(x)]
    path.write_text("x,y\n" + "".join(f"{a:.5f},{b}\n" for a, b in zip(x, y)))


def test_a_users_file_with_inf_targets_is_refused_at_generate_and_in_the_case(tmp_path):
    # was: river.linear recorded `ok` with RMSE 1.1e10
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    _inf_csv(tmp_path / "m.csv")
    out = oocbench_cli("generate", "--from-file", "m.csv", "--target", "y", "--scale", "1000", cwd=tmp_path, env=env)
    text = _text(out)
    assert out.returncode == 1 and "target 'y' has 30 non-finite values (inf, -inf or NaN)" in text, text
    assert "fix or remove those rows" in text and "Traceback" not in text and len(out.stderr.splitlines()) == 1
    assert not (tmp_path / "d/file-m/source.json").exists()  # a refused file is not remembered
    # a dataset an older oocbench wrote from such a file (no seal; inf kept): the case refuses to measure it
    from oocbench.datasets.bundled import FileSource

    _inf_csv(tmp_path / "m.csv", every=10**9)
    src = FileSource(tmp_path / "m.csv", "y")
    src.remember(tmp_path / "d")
    root = _root(tmp_path / "d", name="file-m", rows=1000)
    src.build(root, 1000)
    table = pq.read_table(root / "train-00000.parquet")
    y = table.column("y").to_numpy().copy()
    y[49::50] = np.inf
    _forge(root, "train-00000.parquet", table.set_column(table.schema.get_field_index("y"), "y",
                                                          pa.array(y, pa.float32())), unseal=True)
    with pytest.MonkeyPatch.context() as mp:  # where the case's child finds the file's source.json
        mp.setenv("OOCBENCH_DATA_DIR", str(tmp_path / "d"))
        with pytest.raises(DatasetError, match=r"target 'y' has 20 non-finite values \(inf or NaN\) in the first "
                                               "1,000 training rows"):
            _run_case(tmp_path / "d", dataset="file-m", scale=1000)


# ----- 4. the task of a user's file: from the whole column, shown, multi-class and constant refused ---------------
def test_the_task_of_a_users_file_is_inferred_from_the_whole_column_and_shown(tmp_path):
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    rng = np.random.default_rng(0)
    x = rng.normal(size=1400)

    def gen(name: str, y, *extra: str) -> subprocess.CompletedProcess:
        pq.write_table(pa.table({"x": x, "y": y}), tmp_path / f"{name}.parquet")
        return oocbench_cli("generate", "--from-file", f"{name}.parquet", "--target", "y", "--scale", "1000",
                            *extra, cwd=tmp_path, env=env)

    def refused(name: str, y) -> str:  # the same check in this process (no interpreter start per file)
        from oocbench.datasets.bundled import FileSource, TargetError

        pq.write_table(pa.table({"x": x[:len(y)], "y": y}), tmp_path / f"{name}.parquet")
        with pytest.raises(TargetError) as exc:
            FileSource(tmp_path / f"{name}.parquet", "y").inspect()
        return str(exc.value)

    # was: a 7-class target became regression
    out = gen("seven", rng.integers(0, 7, 1400))
    text = _text(out)
    assert out.returncode == 2 and "target 'y' has 7 distinct whole-number values (0 to 6)" in text, text
    assert "look like class labels" in text and "--task regression" in text and "Traceback" not in text
    out = gen("seven", rng.integers(0, 7, 1400), "--task", "regression")
    assert out.returncode == 0, out.stderr
    assert "task: regression (numeric target, 7 distinct values from 0 to 6; given by --task)" in _text(out)
    assert "7 distinct text values ('a', 'b', 'c', 'd', 'e', ...)" in refused("words", rng.choice(list("abcdefg"), 1400))
    # was: a constant target became regression (RMSE 0.0001)
    assert "target 'y' has one value (3.5) in all 1,400 rows" in refused("const", np.full(1400, 3.5))
    # a sorted file: the first 65,536 rows (the block the task was inferred from) all of one class
    y = np.r_[np.zeros(66_000), np.ones(4_000)]
    x = rng.normal(size=y.size)
    out = gen("sorted", y)
    assert out.returncode == 0, out.stderr
    assert "task: binary (2 classes: 0.0 -> 0, 1.0 -> 1; inferred from all 70,000 target values)" in _text(out)
    assert json.loads((tmp_path / "d/file-sorted/source.json").read_text())["task"] == "binary"


# ----- 5. a loss below the known optimum ---------------------------------------------------------------------
def _leaky_site(tmp_path: Path) -> Path:
    """A third-party adapter ``leaky.sgd`` (installed by hand: a package and its dist-info entry point) that
    reads the holdout in ``prepare`` and predicts its labels from memory: a holdout leaked into the fit."""
    site = tmp_path / "site"
    (site / "leaky_adapter").mkdir(parents=True)
    (site / "leaky_adapter" / "__init__.py").write_text(
        "import numpy as np\n"
        "from oocbench.adapters.sklearn import SGD\n\n\n"
        "class Leaky(SGD):\n"
        "    name = 'leaky.sgd'\n\n"
        "    def prepare(self, stream):\n"
        "        self.seen = {x.tobytes(): t for X, y in stream.holdout() for x, t in zip(X, y)}\n\n"
        "    def predict_proba(self, X):\n"
        "        return np.array([0.01 + 0.98 * self.seen.get(x.tobytes(), 0.5) for x in X])\n")
    meta = site / "leaky_adapter-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky-adapter\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[oocbench.adapters]\nleaky.sgd = leaky_adapter:Leaky\n")
    return site


def test_a_loss_below_the_known_optimum_is_suspect_never_ok(tmp_path, data):
    env = _installed(_leaky_site(tmp_path))
    out, records = _run(tmp_path, data, adapter="leaky.sgd", env=env)
    text = _text(out)
    assert out.returncode == 0 and "SUSPECT" in text and "below the known optimum" in text, text
    (rec,) = records
    flag = rec["extra"]["below_optimum"]
    assert rec["status"] == "suspect" and flag["loss"] == "log_loss" and flag["value"] < 0.995 * flag["optimum"]
    assert "the holdout leaked into the fit or the optimum is wrong" in rec["reason"]
    # the report shows it as a failed case with its reason, never as a result
    rep = oocbench_cli("report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "1 case(s) suspect" in html and 'class="status st-suspect"' in html
    # a rerun does not keep it (it is no result): it runs again
    from oocbench.harness.suites import recorded

    assert recorded(tmp_path / "r" / "records.jsonl") == {}


# ----- 6. random edits of a valid manifest ----------------------------------------------------------------------
def _leaves(obj, path=()):
    """Every (path, value) of a JSON document, containers included (an edit may replace a whole dict)."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _leaves(v, (*path, i))


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.integers(0, 3), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sealed")
    datasets.generate("synth-binary", ROWS, base=base)
    return base


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draw=st.data())
def test_random_manifest_edits_give_a_clear_error_or_a_true_record(sealed, draw):
    """An edited field of a valid manifest.json never yields an `ok` record that claims something the data is
    not: the runner refuses it in one line (DatasetError), or the record is what an unedited run records."""
    from oocbench.harness.runner import run_case
    from oocbench.records import CaseSpec

    root = _root(sealed)
    original = (root / "manifest.json").read_text()
    raw = json.loads(original)
    paths = [p for p, _ in _leaves(raw) if p]
    path = draw.draw(st.sampled_from(paths), label="field")
    delete = draw.draw(st.booleans(), label="delete")
    parent = raw
    for k in path[:-1]:
        parent = parent[k]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        new = draw.draw(_VALUES, label="value")
        if new == parent[path[-1]]:
            event("no edit")
            return
        parent[path[-1]] = new
    edited = json.dumps(raw)
    (root / "manifest.json").write_text(edited)
    try:
        record = run_case(CaseSpec("sklearn.sgd", "synth-binary", ROWS, batch_size=500), memray=False,
                          data_base=sealed)
    except DatasetError as exc:
        message = str(exc)
        assert "\n" not in message and str(root) in message, message
        event(f"refused: {message.split(': ', 1)[1][:40]}")
        return
    finally:
        # an edit that is not refused is kept, or regenerated (an older generator version): restore the original
        if (root / "manifest.json").read_text() == edited:
            (root / "manifest.json").write_text(original)
    event(f"recorded {record.status}")
    truth = json.loads(original)
    assert record.status == "ok", (path, record.status, record.reason)
    assert record.rows == ROWS and record.task == truth["task"] and record.optimum == truth["optimum"], path
    assert np.isfinite(record.metrics["log_loss"]) and record.metrics["log_loss"] > truth["optimum"]["log_loss"]
