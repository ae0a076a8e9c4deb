"""Issue 14, ``oocbench run``: records that must not block a rerun, data damaged inside a case, scales a dataset
cannot fill, a results directory that cannot take records, a disk too small for ``generate``, and a property
test of every option's values - each through the real command line on tiny data."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import oocbench_cli

ROWS = 2000
RUN = ("run", "--dataset", "synth-binary", "--scale", str(ROWS), "--batch-size", "500", "--no-memray")


def _records(results: Path) -> list[dict]:
    path = results / "records.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def _text(out: subprocess.CompletedProcess) -> str:
    return " ".join((out.stdout + out.stderr).split())  # rich wraps long lines


def _installed(site: Path) -> dict[str, str]:
    """The environment in which the adapter in ``site`` is installed (added to any ``PYTHONPATH`` already set)."""
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}


def _site(tmp_path: Path) -> Path:
    """A third-party adapter ``hostile.sgd`` installed by hand (a package and its dist-info with an entry
    point) into a directory that ``PYTHONPATH`` adds or leaves out: installed, then uninstalled.

    It is scikit-learn's SGD adapter; with ``HOSTILE_DAMAGE`` set its ``prepare`` cuts the first shard in half,
    inside the case's child process, after the runner verified the dataset.
    """
    site = tmp_path / "site"
    (site / "hostile_adapter").mkdir(parents=True)
    (site / "hostile_adapter" / "__init__.py").write_text(
        "import os\n"
        "from oocbench.adapters.sklearn import SGD\n\n\n"
        "class Damaging(SGD):\n"
        "    name = 'hostile.sgd'\n\n"
        "    def prepare(self, stream):\n"
        "        if os.environ.get('HOSTILE_DAMAGE'):\n"
        "            shard = stream.dataset.shard_paths()[0]\n"
        "            os.truncate(shard, os.path.getsize(shard) // 2)\n"
        "        super().prepare(stream)\n")
    meta = site / "hostile_adapter-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-adapter\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[oocbench.adapters]\nhostile.sgd = hostile_adapter:Damaging\n")
    return site


# ----- 1. a record of an adapter no longer installed -------------------------------------------------------
def test_a_record_of_an_uninstalled_adapter_blocks_no_later_run(tmp_path, data):
    # was: every later run into the results directory exited 2 ("unknown adapter 'hostile.sgd'")
    env = _installed(_site(tmp_path))
    args = (*RUN, "--data", str(data), "--results", str(tmp_path / "r"))
    out = oocbench_cli(*args, "--adapter", "hostile.sgd", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    again = oocbench_cli(*args, "--adapter", "hostile.sgd", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "1 already recorded, kept" in again.stdout  # still matched while installed
    out = oocbench_cli(*args, "--adapter", "sklearn.sgd", cwd=tmp_path)  # uninstalled: PYTHONPATH left out
    assert out.returncode == 0, out.stderr
    assert [(r["case"]["adapter"], r["status"]) for r in _records(tmp_path / "r")] == [
        ("hostile.sgd", "ok"), ("sklearn.sgd", "ok")]


# ----- 3. a dataset damaged inside the case's child process ------------------------------------------------
def test_data_damaged_inside_the_case_is_a_harness_failure_not_a_record(tmp_path, data):
    # was: recorded as `error`, so the rerun after regenerating the data said "already recorded, kept"
    env = {**_installed(_site(tmp_path)), "HOSTILE_DAMAGE": "1"}
    out = oocbench_cli(*RUN, "--adapter", "hostile.sgd", "--data", str(data), "--results", str(tmp_path / "r"),
                       cwd=tmp_path, env=env)
    text = _text(out)
    assert out.returncode == 1, text
    assert _records(tmp_path / "r") == []
    shard = data / f"synth-binary/seed-0/rows-{ROWS}/train-00000.parquet"
    assert "HARNESS FAILURE" in text and "DatasetError" in text and str(shard) in text, text
    assert "manifest says" in text and "oocbench generate synth-binary" in text and "Traceback" not in text


# ----- 2. limits: a timeout / oom under smaller limits is retried ------------------------------------------
def test_a_failure_under_smaller_limits_is_retried_with_larger_ones(tmp_path, data):
    # was: "1 timeout (1 already recorded, kept)" when rerun with --timeout 600 after --timeout 0.3
    res = tmp_path / "r"
    args = (*RUN, "--adapter", "sklearn.sgd", "--data", str(data), "--results", str(res))
    out = oocbench_cli(*args, "--timeout", "0.3", "--grace", "0.2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (first,) = _records(res)
    assert first["status"] == "timeout" and first["provenance"]["limits"]["timeout_s"] == 0.3, first
    # a record from before limits were stored: its reason ("no result after 0.3 s") still says them
    del first["provenance"]["limits"]
    (res / "records.jsonl").write_text(json.dumps(first) + "\n")
    out = oocbench_cli(*args, cwd=tmp_path)  # the default 600 s
    assert out.returncode == 0 and "already recorded" not in out.stdout, out.stdout
    assert [r["status"] for r in _records(res)] == ["timeout", "ok"]
    out = oocbench_cli(*args, "--timeout", "0.3", cwd=tmp_path)  # the `ok` stands, whatever the limit
    assert out.returncode == 0 and "1 already recorded, kept" in out.stdout, out.stdout

    res2 = tmp_path / "r2"
    args = (*RUN, "--adapter", "sklearn.sgd", "--data", str(data), "--results", str(res2))
    out = oocbench_cli(*args, "--memory-limit", "0.01", cwd=tmp_path)  # 10 MiB: below an interpreter's RSS
    assert out.returncode == 0, out.stderr
    (oom,) = _records(res2)
    assert oom["status"] == "oom" and oom["provenance"]["limits"]["memory_bytes"] == int(0.01 * 2**30), oom
    out = oocbench_cli(*args, "--memory-limit", "0.005", cwd=tmp_path)  # smaller still: the oom stands
    assert out.returncode == 0 and "1 already recorded, kept" in out.stdout, out.stdout
    out = oocbench_cli(*args, "--memory-limit", "4", cwd=tmp_path)
    assert out.returncode == 0 and [r["status"] for r in _records(res2)] == ["oom", "ok"], out.stdout


# ----- 4. a scale the dataset cannot fill ------------------------------------------------------------------
def test_a_scale_beyond_a_fixed_size_dataset_is_refused_at_run(tmp_path):
    # was: recorded `ok` at scale 100,000 with 456 rows (bundled), or a harness failure, exit 1 (user file)
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    res = tmp_path / "r"
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "sklearn-breast-cancer", "--scale", "100000",
                       "--no-memray", "--results", str(res), cwd=tmp_path, env=env)
    text = _text(out)
    assert out.returncode == 2 and "--scale 100,000" in text and "only 456 training rows" in text, text
    assert "--scale 456 or less" in text and "Traceback" not in text
    assert _records(res) == [] and not (tmp_path / "d/sklearn-breast-cancer/seed-0/rows-100000").exists()

    (tmp_path / "small.csv").write_text("\n".join(["x,label"] + [f"{i},{i % 2}" for i in range(450)]) + "\n")
    gen = oocbench_cli("generate", "--from-file", "small.csv", "--target", "label", "--scale", "300",
                       cwd=tmp_path, env=env)
    assert gen.returncode == 0, gen.stderr
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "file-small", "--scale", "100000",
                       "--no-memray", "--results", str(res), cwd=tmp_path, env=env)
    text = _text(out)
    assert out.returncode == 2 and "--scale 100,000" in text and "gives only" in text, text
    assert _records(res) == [] and "Traceback" not in text
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "sklearn-breast-cancer", "--scale", "400",
                       "--no-memray", "--results", str(res), cwd=tmp_path, env=env)
    assert out.returncode == 0 and [(r["case"]["scale"], r["rows"]) for r in _records(res)] == [(400, 400)]


def test_run_case_records_a_scale_capped_by_the_data(tmp_path):
    # the Python API (run_case without the CLI's check) says so in the record instead: `skipped`, never `ok` at an
    # n it did not have (issue 27: it was `ok` with rows 456 and extra.scale_capped_to)
    from oocbench.harness.runner import run_case
    from oocbench.records import CaseSpec

    rec = run_case(CaseSpec("sklearn.sgd", "sklearn-breast-cancer", 100_000), memray=False, data_base=tmp_path)
    assert rec.status == "skipped" and rec.rows is None and "only 456 training rows" in rec.reason, rec.reason
    assert rec.provenance["limits"]["timeout_s"] == 600.0


# ----- 5. duplicate scales ---------------------------------------------------------------------------------
def test_duplicate_scales_run_once(tmp_path, data):
    # was: exit 2 (a list was only read with --suite); with --suite the duplicates were already one case
    res = tmp_path / "r"
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "2e3,2000,2000.0",
                       "--no-memray", "--data", str(data), "--results", str(res), cwd=tmp_path)
    assert out.returncode == 0 and "1 case(s): 1 ok" in out.stdout, (out.stdout, out.stderr)
    out = oocbench_cli("run", "--suite", "smoke", "--adapter", "sklearn.sgd", "--scale", "2000,2e3", "--no-memray",
                       "--data", str(data), "--results", str(res), cwd=tmp_path)
    assert out.returncode == 0 and "1 case(s)" in out.stdout and len(_records(res)) == 1, out.stdout


# ----- 6. record lines skipped on resume -------------------------------------------------------------------
def test_lines_skipped_on_resume_are_reported(tmp_path, data):
    # was: dropped without a word (the case of a cut-short line silently ran again)
    res = tmp_path / "r"
    args = (*RUN, "--adapter", "sklearn.sgd", "--data", str(data), "--results", str(res))
    assert oocbench_cli(*args, cwd=tmp_path).returncode == 0
    with open(res / "records.jsonl", "a") as fh:
        fh.write('{"case": {"adapter": "sklearn.sg\n' + json.dumps({**_records(res)[0], "schema_version": 99}) + "\n")
    out = oocbench_cli(*args, cwd=tmp_path)
    assert out.returncode == 0 and "1 already recorded, kept" in out.stdout, out.stdout
    (line,) = [ln for ln in out.stderr.splitlines() if "skipped" in ln]
    assert "skipped 2 line(s)" in line and "records.jsonl:2: not valid JSON" in line, line
    assert "records.jsonl:3: schema_version 99" in line and "Traceback" not in out.stderr


# ----- 7. a results directory that cannot take records; a disk too small for generate ----------------------
@contextlib.contextmanager
def _tmpfs(path: Path, size: str, read_only: bool = False):
    """A tiny tmpfs at ``path`` (skips the test where this process may not mount one)."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def _refused_before_any_case(out, tmp_path: Path, *needles: str) -> None:
    text = _text(out)
    assert out.returncode == 1, text
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in text, out.stderr
    for needle in needles:
        assert needle in text, (needle, text)
    assert "HARNESS FAILURE" not in text and not (tmp_path / "d").exists()  # no case ran: no data generated


def test_a_results_path_that_cannot_be_a_directory_is_refused_before_any_case(tmp_path):
    # was: the case ran (data generated, seconds to hours) and then its record could not be written
    (tmp_path / "a-file").write_text("")
    res = tmp_path / "a-file" / "results"
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
                       "--no-memray", "--results", str(res), cwd=tmp_path, env={"OOCBENCH_DATA_DIR": str(tmp_path / "d")})
    _refused_before_any_case(out, tmp_path, f"{res}: cannot write records there", "Not a directory")


@pytest.mark.parametrize("size, read_only, needle", [("512k", False, "free, the records of 1 case(s) need about"),
                                                     ("1m", True, "cannot write records there (Read-only")])
def test_a_full_or_read_only_results_disk_is_refused_before_any_case(tmp_path, size, read_only, needle):
    # was: a 512 KiB disk ran the case (the next records would not fit); a read-only one ran it, then failed
    with _tmpfs(tmp_path / "mnt", size, read_only) as mnt:
        out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
                           "--no-memray", "--results", str(mnt), cwd=tmp_path,
                           env={"OOCBENCH_DATA_DIR": str(tmp_path / "d")})
        _refused_before_any_case(out, tmp_path, str(mnt), needle)
        assert list(mnt.iterdir()) == []  # not even the probe is left


def test_generate_refuses_a_disk_too_small_before_writing(tmp_path):
    # was: "No space left on device" part way, leaving a half-written .partial directory
    with _tmpfs(tmp_path / "mnt", "16m") as mnt:  # 2,000 rows fit (+ the 50,000 holdout rows: ~4.4 MB)
        out = oocbench_cli("generate", "synth-binary", "--scale", "1000000", "--out", str(mnt), cwd=tmp_path)
        text = _text(out)
        assert out.returncode == 1 and "not enough disk for synth-binary at 1,000,000 rows" in text, text
        assert "MiB free" in text and "Traceback" not in text and len(out.stderr.strip().splitlines()) == 1
        assert [p.name for p in mnt.rglob("*") if p.is_dir() and p.name.endswith(".partial")] == []
        out = oocbench_cli("generate", "synth-binary", "--scale", "2000", "--out", str(mnt), cwd=tmp_path)
        assert out.returncode == 0, out.stderr  # what fits is written


# ----- 8. every option's values: runs, or exit 2 naming an option ------------------------------------------
#: option -> (valid values, invalid values); None: the option left out (its default, or missing)
OPTION_VALUES: dict[str, tuple[list[str | None], list[str | None]]] = {
    "adapter": (["sklearn.sgd"], ["no.such-adapter", "", None]),
    "dataset": (["synth-binary"], ["no-such-data", "", None]),
    "scale": (["1500", "xs", "1e3,1000"], ["0", "-1", "1e30", "inf", "nan", "abc", "1.5", "", None]),
    "timeout": ([None, "60", "0.2"], ["0", "-1", "nan", "inf", "abc", "1e308"]),
    "memory-limit": ([None, "4", "0.005"], ["0", "-1", "inf", "abc", "1e308"]),
    "batch-size": ([None, "500", "100000"], ["0", "-5", "abc", "1.5", "1e3"]),
    "passes": ([None, "1", "2", "1,1"], ["0", "101", "x", ""]),
    "hash-bits": ([None, "18"], ["0", "31", "abc"]),
    "repeat": ([None, "1"], ["0", "-1", "abc", "1000000000"]),
    "seed": ([None, "0", "3"], ["-1", "abc", "1e3", str(2**32)]),
    "threads": ([None, "1", "all"], ["2", ""]),
    "profile": ([None, "matched", "recommended"], ["fast"]),
}


@st.composite
def command_lines(draw) -> tuple[list[str], set[str]]:
    """``oocbench run`` options, at most two of them invalid (often none: a line that must run), and which."""
    bad = draw(st.sets(st.sampled_from(sorted(OPTION_VALUES)), max_size=2))
    argv = []
    for option, (valid, invalid) in OPTION_VALUES.items():
        value = draw(st.sampled_from(invalid if option in bad else valid))
        if value is not None:
            argv.append(f"--{option}={value}")  # "=": a value such as "-1" is never read as an option
    return argv, bad


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hypothesis-data")


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=command_lines())
def test_any_option_values_run_or_exit_2_naming_an_option(shared_data, line):
    """Never a traceback, never a hang: a valid line runs (and records), an invalid one is a usage error that
    names one of the invalid options."""
    argv, bad = line
    with tempfile.TemporaryDirectory() as tmp:
        out = oocbench_cli("run", "--no-memray", "--grace=0.2", *argv, "--results", str(Path(tmp) / "r"),
                           cwd=Path(tmp), env={"OOCBENCH_DATA_DIR": str(shared_data)}, timeout=120)
        text = _text(out)
        assert "Traceback" not in text, text
        if not bad:
            assert out.returncode == 0, (argv, text)
            assert _records(Path(tmp) / "r"), (argv, text)
        else:
            assert out.returncode == 2, (argv, text)
            # the error is the last line (argparse prints its usage, naming every option, above it): argparse
            # names the option ("argument --seed: ..."), the later checks name it in words ("unknown scale")
            last = out.stderr.strip().splitlines()[-1]
            assert any(n in last for o in bad for n in (f"--{o}", o.split("-")[0])), (bad, out.stderr)
