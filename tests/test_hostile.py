"""Issue 14: tampered data, bad record lines, a full disk under a report, colliding user files, and failures
that must be one line (never a traceback), each through the real ``oocbench`` command line on tiny data."""

from __future__ import annotations

import hashlib
import json
import re
import resource
import signal
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import oocbench_cli

ROWS = 2000
SHARD = f"synth-binary/seed-0/rows-{ROWS}/train-00000.parquet"


def _run(tmp_path: Path, data: Path) -> tuple:
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "synth-binary", "--scale", str(ROWS),
                       "--batch-size", "500", "--no-memray", "--data", str(data), "--results", str(tmp_path / "r"),
                       cwd=tmp_path)
    path = tmp_path / "r" / "records.jsonl"
    records = [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []
    return out, records


def _refused(out, records, *needles: str) -> None:
    """The case is a harness failure naming the problem: exit 1, nothing recorded, no traceback."""
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert records == []  # never an `ok` (nor an `error` that a rerun would keep)
    text = " ".join((out.stdout + out.stderr).split())  # rich wraps long lines
    for needle in needles:
        assert needle in text, (needle, text)
    assert "Traceback" not in text


def _edit_manifest(root: Path, edit) -> None:
    raw = json.loads((root / "manifest.json").read_text())
    edit(raw)
    (root / "manifest.json").write_text(json.dumps(raw))


def test_a_changed_byte_in_a_float_page_is_refused_until_regenerated(tmp_path, data):
    # was: log loss 16.9 recorded `ok` (the stored sha256 was never checked)
    shard = data / SHARD
    raw = bytearray(shard.read_bytes())
    raw[1000] ^= 0x40  # inside the first float column's values (uncompressed, plain encoded)
    shard.write_bytes(bytes(raw))
    out, records = _run(tmp_path, data)
    _refused(out, records, str(shard), "corrupt", "oocbench generate synth-binary --scale 2000")
    # the message's advice works, and the rerun is not blocked by an earlier "error" record
    advice = re.search(r"run `(oocbench generate [^`]+)`", " ".join(out.stderr.split())).group(1)
    regen = oocbench_cli(*advice.split()[1:], cwd=tmp_path)
    assert regen.returncode == 0, regen.stderr
    out, records = _run(tmp_path, data)
    assert out.returncode == 0, out.stderr
    assert [r["status"] for r in records] == ["ok"]


def test_a_manifest_edited_to_fewer_rows_is_refused(tmp_path, data):
    # was: trained on 1,000 rows and labelled the record n=2,000
    root = (data / SHARD).parent

    def half(raw):
        raw["rows"] = raw["shards"][0]["rows"] = ROWS // 2

    _edit_manifest(root, half)
    out, records = _run(tmp_path, data)
    _refused(out, records, str(data / SHARD), "holds 2,000 rows, the manifest says 1,000",
             "oocbench generate synth-binary --scale 2000 --data")


def test_a_shard_with_renamed_columns_names_the_file_and_column(tmp_path, data):
    # a consistent forgery (sha256 and size updated too): only the footer check can see it; was an IndexError
    shard = data / SHARD
    table = pq.read_table(shard)
    pq.write_table(table.rename_columns([f"col{i}" for i in range(table.num_columns - 1)] + ["y"]), shard,
                   compression="none")

    def fix(raw):
        raw["shards"][0].update(bytes=shard.stat().st_size, sha256=hashlib.sha256(shard.read_bytes()).hexdigest())

    _edit_manifest(shard.parent, fix)
    out, records = _run(tmp_path, data)
    _refused(out, records, str(shard), "no column 'f0'", "'col0'")


BAD_LINES = ['{"case": {"adapter": "sklearn.sg',  # cut short
             None,  # future schema: filled in below
             None]  # wrong type: filled in below


def _records_with_bad_lines(tmp_path: Path, data: Path) -> Path:
    out, records = _run(tmp_path, data)
    assert out.returncode == 0, out.stderr
    good = records[0]
    future = {**good, "schema_version": 99}
    wrong = json.loads(json.dumps(good))
    wrong["case"]["scale"], wrong["case"]["repeat"] = "many", 7
    path = tmp_path / "r" / "records.jsonl"
    path.write_text("\n".join([json.dumps(good), BAD_LINES[0], json.dumps(future), json.dumps(wrong)]) + "\n")
    return path


def test_bad_record_lines_are_reported_not_dropped_and_never_a_traceback(tmp_path, data):
    # was: garbage and future-schema lines vanished without a word, and the wrong-type line crashed `report`
    path = _records_with_bad_lines(tmp_path, data)
    out = oocbench_cli("report", "--results", str(path), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    (line,) = [ln for ln in out.stderr.splitlines() if "skipped" in ln]  # one line, however long
    assert "skipped 3 line(s)" in line
    for n, why in ((2, "not valid JSON"), (3, "schema_version 99 is newer"), (4, "case.scale is 'many'")):
        assert f"records.jsonl:{n}: {why}" in line, line
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "3 line(s) skipped as not valid records" in html and "1 case record(s)" in html


def test_a_broken_results_json_is_named(tmp_path, data):
    out, _ = _run(tmp_path, data)
    assert out.returncode == 0, out.stderr
    rep = oocbench_cli("report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    results = tmp_path / "rep" / "results.json"
    results.write_text(results.read_text()[:500])  # cut short, as on a full disk
    out = oocbench_cli("report", "--results", str(results), "--out", str(tmp_path / "rep2"), cwd=tmp_path)
    assert out.returncode == 1 and str(results) in " ".join(out.stderr.split()) and "Traceback" not in out.stderr


def _fsize_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit write() fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_report_rebuilt_on_a_full_disk_leaves_the_old_one_whole(tmp_path, data):
    # was: a new index.html, a truncated results.json and the old results.csv; reading it back failed unnamed
    import subprocess
    import sys

    out, _ = _run(tmp_path, data)
    assert out.returncode == 0, out.stderr
    rep = tmp_path / "rep"
    assert oocbench_cli("report", "--results", str(tmp_path / "r"), "--out", str(rep), cwd=tmp_path).returncode == 0
    before = {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()}
    limit = max(len(b) for b in before.values()) // 2  # the largest file of a report no longer fits
    full = subprocess.run([sys.executable, "-m", "oocbench.cli", "report", "--results", str(tmp_path / "r"),
                           "--out", str(rep)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          preexec_fn=_fsize_limit(limit))
    after = {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()}
    assert sorted(n for n in before if after.get(n) != before[n]) == [] and after.keys() == before.keys()
    assert full.returncode == 1, (full.stdout, full.stderr)
    assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1, full.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rep")) == []  # no debris left


def test_two_users_files_of_the_same_name_never_mix(tmp_path):
    # was: A/data.csv and B/data.csv both became file-data (B's rows read under A's name); NAME was ignored
    for d, sign in (("A", 1), ("B", -1)):
        (tmp_path / d).mkdir()
        rows = ["x,label"] + [f"{sign * i},{i % 2}" for i in range(300)]
        (tmp_path / d / "data.csv").write_text("\n".join(rows) + "\n")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}

    def gen(*args):
        return oocbench_cli("generate", *args, "--target", "label", "--scale", "100", cwd=tmp_path, env=env)

    assert gen("--from-file", "A/data.csv").returncode == 0
    out = gen("--from-file", "B/data.csv")
    assert out.returncode == 2 and "file-data is already" in out.stderr and "A/data.csv" in out.stderr
    assert "Traceback" not in out.stderr
    out = gen("file-b", "--from-file", "B/data.csv")
    assert out.returncode == 0 and "file-b: 100 rows" in out.stdout, out.stderr
    out = gen("synth-binary", "--from-file", "B/data.csv")  # would shadow a built-in dataset
    assert out.returncode == 2 and "file-" in out.stderr and "Traceback" not in out.stderr
    x = pq.read_table(tmp_path / "d/file-b/seed-0/rows-100/train-00000.parquet").column("x").to_pylist()
    assert max(x) <= 0  # B's rows


def test_a_scale_beyond_the_users_file_and_duplicate_columns_are_refused(tmp_path):
    (tmp_path / "small.csv").write_text("\n".join(["x,label"] + [f"{i},{i % 2}" for i in range(450)]) + "\n")
    (tmp_path / "dup.csv").write_text("a,a,label\n1,2,0\n3,4,1\n")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    out = oocbench_cli("generate", "--from-file", "small.csv", "--target", "label", "--scale", "100000",
                       cwd=tmp_path, env=env)
    # was: recorded as scale 100,000
    assert out.returncode == 2 and "--scale 100,000" in out.stderr and "gives only" in out.stderr, out.stderr
    assert not (tmp_path / "d/file-small/seed-0/rows-100000").exists()
    out = oocbench_cli("generate", "--from-file", "dup.csv", "--target", "label", "--scale", "2", cwd=tmp_path,
                       env=env)
    assert out.returncode == 1 and "'a'" in out.stderr and "more than once" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_os_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, data):
    out, _ = _run(tmp_path, data)
    (tmp_path / "a-file").write_text("")
    args = ("report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "a-file" / "report"))
    out = oocbench_cli(*args, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "a-file" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    out = oocbench_cli(*args, "--debug", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" in out.stderr
