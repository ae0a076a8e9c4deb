"""Issue 27 (reliability, round 3): a report that replaced a user's file, special files as records or data, inputs
that hung, Ctrl-C, and errors that did not say what to do - each bad input made here, through the real command
line, plus a property test of the option parsing (random argument lists: exit 0, 1 or 2, never a traceback)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oocbench.records import CaseRecord, CaseSpec, append_record
from tests.conftest import REPO, oocbench_cli


def _text(out: subprocess.CompletedProcess) -> str:
    return " ".join((out.stdout + out.stderr).split())  # rich wraps long lines


def _one_line(out: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The command failed with ``code`` in one line on stderr naming every needle, without a traceback."""
    err = out.stderr.strip()
    assert out.returncode == code, (out.returncode, out.stdout, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _records(tmp_path: Path) -> Path:
    """A results folder with one record written by hand (no case run: the report tests need only a record)."""
    results = tmp_path / "results"
    append_record(results / "records.jsonl", CaseRecord(
        CaseSpec("sklearn.sgd", "synth-binary", 1000), status="error", reason="written by the test", task="binary",
        started_at="2024-01-01T00:00:00", finished_at="2024-01-01T00:00:01"))
    return results


def _csv(path: Path, header: str, rows: int = 300) -> Path:
    cols = header.split(",")
    path.write_text(header + "\n" + "".join(",".join(str((i * (j + 3)) % 7 if c != "label" else i % 2)
                                                     for j, c in enumerate(cols)) + "\n" for i in range(rows)))
    return path


# ----- item 3: output paths ---------------------------------------------------------------------------------
def test_report_out_never_replaces_a_file_the_records_or_the_results_folder(tmp_path):
    # was: exit 0, notes.txt deleted and replaced by a report folder; --out results/records.jsonl made the
    # records file a folder
    results = _records(tmp_path)
    records = (results / "records.jsonl").read_bytes()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for out, needle in ((notes, "an existing file"), (results / "records.jsonl", "a records file"),
                        (results, "holds the records this report reads"), (tmp_path, "holds the records"),
                        (results / "mine", "inside the results folder")):
        run = oocbench_cli("report", "--results", str(results), "--out", str(out), cwd=tmp_path)
        _one_line(run, 2, f"--out {out}", needle, "give --out")
    assert notes.read_text() == "my notes\n" and (results / "records.jsonl").read_bytes() == records
    assert sorted(p.name for p in results.iterdir()) == ["records.jsonl"]
    # the default, RESULTS/report, is the one place inside the results folder a report goes
    run = oocbench_cli("report", "--results", str(results), cwd=tmp_path)
    assert run.returncode == 0 and (results / "report" / "index.html").is_file(), run.stderr


PROGRAM = """
import os, signal, sys, threading
{patch}
from oocbench.cli import main
sys.exit(main({argv!r}))
"""


def _interrupted(tmp_path: Path, patch: str, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in a process that sends itself a real SIGINT (as Ctrl-C does) at the point ``patch`` picks."""
    return subprocess.run([sys.executable, "-c", PROGRAM.format(patch=patch, argv=list(argv))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_ctrl_c_during_a_report_is_one_line_and_leaves_no_temporary_folder(tmp_path):
    # was: a 40-line traceback, and an interrupted report could leave a hidden .report.tmp-* folder behind
    results = _records(tmp_path)
    rep = tmp_path / "rep"
    assert oocbench_cli("report", "--results", str(results), "--out", str(rep), cwd=tmp_path).returncode == 0
    before = {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()}
    patch = ("import oocbench.reports.build as b\n_write = b._write\n"
             "def write(*a, **k):\n    os.kill(os.getpid(), signal.SIGINT)\n    return _write(*a, **k)\n"
             "b._write = write")
    out = _interrupted(tmp_path, patch, "report", "--results", str(results), "--out", str(rep))
    _one_line(out, 130, "oocbench report: interrupted (Ctrl-C)", "no temporary folder is left")
    assert {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_during_run_keeps_the_records_and_a_rerun_goes_on(tmp_path, data):
    # was: a 40-line traceback (the records stayed intact)
    results = _records(tmp_path)
    records = (results / "records.jsonl").read_bytes()
    args = ("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "2000", "--no-memray",
            "--data", str(data), "--results", str(results))
    patch = ("import oocbench.harness.runner as r\n_child = r.run_child\n"
             "def child(*a, **k):  # Ctrl-C while the case's process runs\n"
             "    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\n    return _child(*a, **k)\n"
             "r.run_child = child")
    out = _interrupted(tmp_path, patch, *args)
    _one_line(out, 130, "oocbench run: interrupted (Ctrl-C)", "records of finished cases are kept")
    assert (results / "records.jsonl").read_bytes() == records
    again = oocbench_cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "1 case(s): 1 ok" in again.stdout, again.stderr


def test_ctrl_c_at_the_terminal_during_generate_is_one_line(tmp_path):
    # a terminal's Ctrl-C goes to the whole process group: the command and its generation workers
    out_dir = tmp_path / "d"
    proc = subprocess.Popen([sys.executable, "-m", "oocbench.cli", "generate", "synth-binary", "--scale", "3e6",
                             "--out", str(out_dir)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out_dir.glob("synth-binary/seed-0/*.partial")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    _one_line(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), 130,
              "oocbench generate: interrupted (Ctrl-C)", "run the same command again to resume")
    assert not (out_dir / "synth-binary/seed-0/rows-3000000/manifest.json").exists()


# ----- item 4: special files and sizes ----------------------------------------------------------------------
def test_device_files_as_records_are_refused_not_read_without_bound(tmp_path):
    # was: /dev/full read until 23.8 GB RSS and the kernel's out-of-memory killer
    results = tmp_path / "results"
    results.mkdir()
    (results / "records.jsonl").symlink_to("/dev/full")
    out = oocbench_cli("report", "--results", str(results), "--out", str(tmp_path / "rep"), cwd=tmp_path, timeout=60)
    _one_line(out, 1, "records.jsonl: the records file is a character device, not a regular file")
    out = oocbench_cli("report", "--results", "/dev/zero", "--out", str(tmp_path / "rep"), cwd=tmp_path, timeout=60)
    _one_line(out, 1, "/dev/zero: the results path is a character device")
    out = oocbench_cli("generate", "--from-file", "/dev/zero", "--target", "y", "--scale", "10",
                       "--out", str(tmp_path / "d"), cwd=tmp_path, timeout=60)
    _one_line(out, 1, "/dev/zero: a character device, not a regular file", "give --from-file a CSV or Parquet")


def test_a_fifo_hangs_neither_run_nor_report_nor_generate(tmp_path):
    # was: `run` and `report` waited forever, without a word, for someone to write to the FIFO
    results = tmp_path / "results"
    results.mkdir()
    os.mkfifo(results / "records.jsonl")
    os.mkfifo(tmp_path / "data.csv")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000",
                       "--no-memray", "--results", str(results), cwd=tmp_path, env=env, timeout=60)
    _one_line(out, 1, "records.jsonl: the records file is a FIFO (named pipe)", "remove it")
    assert not (tmp_path / "d").exists()  # refused before any case
    out = oocbench_cli("report", "--results", str(results), "--out", str(tmp_path / "rep"), cwd=tmp_path, timeout=60)
    _one_line(out, 1, "the records file is a FIFO")
    out = oocbench_cli("report", "--results", str(results / "records.jsonl"), "--out", str(tmp_path / "rep"),
                       cwd=tmp_path, timeout=60)
    _one_line(out, 1, "the results path is a FIFO")
    out = oocbench_cli("generate", "--from-file", "data.csv", "--target", "y", "--scale", "10", cwd=tmp_path,
                       env=env, timeout=60)
    _one_line(out, 1, "data.csv: a FIFO (named pipe), not a regular file")


def test_a_manifest_that_is_a_fifo_hangs_nothing(tmp_path, data):
    root = data / "synth-binary/seed-0/rows-2000"
    (root / "manifest.json").unlink()
    os.mkfifo(root / "manifest.json")
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "2000",
                       "--no-memray", "--data", str(data), "--results", str(tmp_path / "r"), cwd=tmp_path, timeout=120)
    assert out.returncode == 1 and "manifest.json" in _text(out) and "Traceback" not in _text(out), _text(out)


def test_records_results_and_manifests_are_read_with_a_bound(tmp_path, monkeypatch):
    from oocbench import records
    from oocbench.datasets import DatasetError, Manifest, manifest
    from oocbench.files import NotRegularFileError
    from oocbench.fmt import fmt_bytes
    from oocbench.reports import load

    results = _records(tmp_path)
    good = (results / "records.jsonl").read_bytes()
    (results / "records.jsonl").write_bytes(b"x" * 3 * len(good) + b"\n" + good)  # a line no record is
    monkeypatch.setattr(records, "MAX_LINE", 2 * len(good))
    skipped: list = []
    assert len(records.read_records(results / "records.jsonl", skipped)) == 1
    assert [(s.line, s.why) for s in skipped] == [(1, f"longer than {fmt_bytes(2 * len(good))}: not a record")]
    big = tmp_path / "results.json"
    big.write_text(json.dumps([json.loads(good)] * 20))
    monkeypatch.setattr(load, "MAX_JSON_BYTES", 1000)
    with pytest.raises(NotRegularFileError, match="results file is larger than 1000 B"):
        load.load_records(big)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.json").write_text(" " * 2000)
    monkeypatch.setattr(manifest, "MAX_MANIFEST_BYTES", 1000)
    with pytest.raises(DatasetError, match="more than a manifest can be"):
        Manifest.load(tmp_path / "m" / "manifest.json")


# ----- hangs --------------------------------------------------------------------------------------------------
def test_a_csv_of_100000_columns_is_checked_for_duplicate_names_in_linear_time(tmp_path):
    # was: > 120 s without a word (names.count(c) per name: 10^10 comparisons; 24 s at 3 x 10^4 columns)
    names = [f"c{i}" for i in range(100_000)] + ["c7", "label"]
    (tmp_path / "wide.csv").write_text(",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n")
    t0 = time.monotonic()
    out = oocbench_cli("generate", "--from-file", "wide.csv", "--target", "label", "--scale", "1",
                       "--out", str(tmp_path / "d"), cwd=tmp_path, timeout=120)
    _one_line(out, 1, "'c7' appear more than once")
    assert time.monotonic() - t0 < 60
    assert "file-wide: reading wide.csv" in out.stdout  # said at once: a wide file takes a while to read


def test_a_very_large_param_grid_asks_for_yes(tmp_path):
    # was: 99 x 99 values started 9,801 cases (~5 h) without a word
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    grid = ("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "1000", "--no-memray",
            "--param", "eta0=" + ",".join(f"0.{i:02d}" for i in range(1, 100)),
            "--param", "alpha=" + ",".join(f"{i}e-5" for i in range(1, 100)))
    (tmp_path / "a-file").write_text("")
    out = oocbench_cli(*grid, "--results", str(tmp_path / "r"), cwd=tmp_path, env=env)
    _one_line(out, 2, "make 9,801 cases (more than 2,000", "add --yes")
    assert not (tmp_path / "d").exists() and not (tmp_path / "r").exists()
    # with --yes the count is no obstacle: this run stops at its unwritable results folder, before any case
    out = oocbench_cli(*grid, "--yes", "--results", str(tmp_path / "a-file" / "r"), cwd=tmp_path, env=env)
    _one_line(out, 1, "cannot write records there")


# ----- errors that were not clear ---------------------------------------------------------------------------
def test_run_data_finds_a_users_file_dataset(tmp_path):
    # was: "unknown dataset 'file-t'" with --data (it worked with OOCBENCH_DATA_DIR)
    _csv(tmp_path / "t.csv", "a,b,label")
    gen = oocbench_cli("generate", "--from-file", "t.csv", "--target", "label", "--scale", "100",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "file-t", "--scale", "100", "--no-memray",
                       "--data", str(tmp_path / "d"), "--results", str(tmp_path / "r"), cwd=tmp_path)
    assert out.returncode == 0 and "1 case(s): 1 ok" in out.stdout, _text(out)


def test_a_target_typo_names_the_way_out_and_replace_takes_it(tmp_path):
    # was: fixing the target was refused ("already ... target 'b'") with no way out named
    (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{i % 7},{i % 3 == 0:d},{i % 2}\n" for i in range(300)))
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    gen = ("generate", "--from-file", "t.csv", "--scale", "100")
    typo = oocbench_cli(*gen, "--target", "b", cwd=tmp_path, env=env)  # the typo: another 2-valued column
    assert typo.returncode == 0, typo.stderr
    out = oocbench_cli(*gen, "--target", "label", cwd=tmp_path, env=env)
    _one_line(out, 2, "file-t is already", "target 'b'", "add --replace", "file-t-2")
    out = oocbench_cli(*gen, "--target", "label", "--replace", cwd=tmp_path, env=env)
    assert out.returncode == 0 and "replaced file-t (was" in out.stderr, _text(out)
    assert json.loads((tmp_path / "d/file-t/source.json").read_text())["target"] == "label"
    assert pq.read_table(tmp_path / "d/file-t/seed-0/rows-100/train-00000.parquet").column_names == ["a", "b", "y"]


def test_a_parquet_file_with_list_and_struct_columns_names_them(tmp_path):
    # was: "unexpected ArrowNotImplementedError: Unsupported cast ... (a bug in oocbench?)"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0] * 50, "tags": [[1, 2], [3], []] * 50,
                             "where": [{"a": 1}, {"a": 2}, {"a": 3}] * 50, "label": [0, 1, 1] * 50}),
                   tmp_path / "nested.parquet")
    out = oocbench_cli("generate", "--from-file", "nested.parquet", "--target", "label", "--scale", "10",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    _one_line(out, 1, "'tags' (list<", "'where' (struct<", "not supported", "drop or flatten them")


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 40,  # random bytes: Arrow quotes the row it cannot parse
    b"\x1b[2J\x1b[31mred\xff\xfe,col\n1,2\n3,4\n",  # a header that is not UTF-8
    b"\x1b[2J\x1b[31mred,col\n1,2\n3,4\n",  # a header of escape sequences: its names are quoted in the error
])
def test_a_binary_file_never_echoes_raw_bytes(tmp_path, content):
    # was: the raw bytes (escape sequences among them) printed on the terminal
    (tmp_path / "junk.csv").write_bytes(content)
    out = oocbench_cli("generate", "--from-file", "junk.csv", "--target", "label", "--scale", "10",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    err = _one_line(out, 1, "junk.csv")
    assert all(c.isprintable() and c != "\ufffd" for c in err), repr(err)


def test_a_file_of_only_the_target_is_refused_at_generate(tmp_path):
    # was: accepted by generate, failing later in every case
    _csv(tmp_path / "one.csv", "label")
    out = oocbench_cli("generate", "--from-file", "one.csv", "--target", "label", "--scale", "10",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    _one_line(out, 1, "only the target column 'label', no feature column")
    assert not list((tmp_path / "d").glob("*/seed-0"))


def test_environment_variables_are_named_or_read_as_documented(tmp_path):
    # was: OOCBENCH_GEN_WORKERS=abc failed without naming the variable; OOCBENCH_DATA_DIR= wrote into the
    # current directory
    out = oocbench_cli("generate", "synth-binary", "--scale", "1000", "--out", str(tmp_path / "d"), cwd=tmp_path,
                       env={"OOCBENCH_GEN_WORKERS": "abc"})
    _one_line(out, 2, "OOCBENCH_GEN_WORKERS='abc': not a whole number")
    out = oocbench_cli("generate", "synth-binary", "--scale", "1000", cwd=tmp_path, env={"OOCBENCH_DATA_DIR": ""})
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # empty is unset: ./data, as documented


def test_a_url_without_a_bucket_is_refused_and_a_bucket_alone_is_kept(tmp_path, monkeypatch):
    # was: `--data s3://` took the dataset's name for the bucket
    for args in (("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "10", "--data", "s3://"),
                 ("generate", "synth-binary", "--scale", "10", "--out", "s3:///prefix")):
        out = oocbench_cli(*args, cwd=tmp_path)
        assert out.returncode == 2 and "names no bucket: give s3://BUCKET or s3://BUCKET/PREFIX" in out.stderr
        assert "Traceback" not in out.stderr
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", "10",
                       cwd=tmp_path, env={"OOCBENCH_DATA_DIR": "s3://"})
    _one_line(out, 2, "$OOCBENCH_DATA_DIR 's3://' names no bucket")
    from oocbench import datasets

    # an endpoint that is never asked: resolving a URL names its filesystem, it does not connect
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    root = datasets.dataset_root("synth-binary", 10, base="s3://bucket")
    assert str(root) == "s3://bucket/synth-binary/seed-0/rows-10" and root.path.startswith("bucket/")


def test_datasets_lists_a_dataset_with_a_deleted_or_cut_shard_as_damaged(tmp_path, data):
    # was: listed as healthy (rows and bytes from its manifest)
    root = data / "synth-binary/seed-0/rows-2000"
    shard = root / "train-00000.parquet"
    size = shard.stat().st_size
    shard.unlink()
    out = oocbench_cli("datasets", "--out", str(data), cwd=tmp_path)
    text = _text(out)
    assert out.returncode == 0 and f"damaged: {shard} is missing" in text, text
    assert f"oocbench generate synth-binary --scale 2000 --data {data}" in text
    shard.write_bytes(b"x" * 100)
    (row,) = [r for r in json.loads(oocbench_cli("datasets", "--json", "--out", str(data), cwd=tmp_path).stdout)
              if r["name"] == "synth-binary"]
    (entry,) = row["on_disk"]
    assert entry["error"].startswith(f"{shard} is 100 bytes, the manifest says {size:,}"), entry


# ----- property: the option parsing never ends in a traceback -----------------------------------------------
#: words a careless or hostile command line is made of
WORDS = ["list", "datasets", "generate", "run", "report", "headline", "check-adapter", "--suite", "smoke", "full",
         "--adapter", "sklearn.sgd", "no.such", "--dataset", "synth-binary", "file-x", "--scale", "1e3", "xs", "0",
         "-1", "nan", "1e400", "--param", "eta0=0.1,0.2", "=", "x=", "batch_size=0", "alpha=inf", "--passes", "1,2",
         "--seed", "--repeat", "auto", "--timeout", "--memory-limit", "50%", "--data", "s3://", "s3://b/p", "",
         "--out", "--results", "--from-file", "--target", "--yes", "--force", "--json", "--debug", "--version", "-h",
         "--", "-", "--threads", "all", "--profile", "tuned", "--tune", "--tune-scale", "--budget", "--project-rows",
         "--core-hour", "--hash-bits", "31", "--batch-size", "1.5", "\x1b[2J", "é", "a" * 300]


def _stub(args) -> int:
    """Every command's check of its options, without its work (no case runs, nothing is written)."""
    from oocbench import cli

    if args.command == "run" and cli._cases(args) is None:
        cli.err.print(f"oocbench run: give --suite NAME, or {' '.join(cli._missing(args))}")
        return 2
    return 0


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["", "list", "datasets", "generate", "run", "report", "headline", "check-adapter"]),
       argv=st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=8))
def test_random_argument_lists_exit_0_1_or_2_in_one_line(monkeypatch, tmp_path, command, argv):
    from oocbench import cli

    argv = [command, *argv] if command else argv

    monkeypatch.setenv("OOCBENCH_DATA_DIR", str(tmp_path / "d"))
    parser = cli.build_parser

    def build() -> object:
        p = parser()
        for action in p._subparsers._group_actions[0].choices.values():
            action.set_defaults(func=_stub)
        return p

    monkeypatch.setattr(cli, "build_parser", build)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(cli, "err", cli.Console(file=err, width=100_000))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: -h / --version (0) or a usage error (2)
            code = exc.code
    text = err.getvalue()
    assert code in (0, 1, 2), (argv, code, text)
    assert "Traceback" not in text, (argv, text)
    if code:
        last = text.strip().splitlines()[-1]
        assert last.startswith("oocbench"), (argv, text)


def test_the_docs_list_what_is_defended():
    readme = (REPO / "docs" / "getting-started.md").read_text()
    for needle in ("report --out", "FIFO", "/dev/full", "--yes", "OOCBENCH_DATA_DIR=", "Ctrl-C", "--replace"):
        assert needle in readme.split("### Reliability")[1].split("\n## ")[0], needle
