from __future__ import annotations

import pytest

from oocbench.records import CaseRecord, CaseSpec, append_record, read_records


def _record(i: int) -> CaseRecord:
    return CaseRecord(case=CaseSpec("sklearn.sgd", "synth-binary", 1000 * (i + 1), params=(("alpha", 0.1),)),
                      metrics={"log_loss": 0.5}, rows_per_s=1e6)


def test_roundtrip(tmp_path):
    path = tmp_path / "r.jsonl"
    for i in range(3):
        append_record(path, _record(i))
    back = read_records(path)
    assert [r.case for r in back] == [_record(i).case for i in range(3)]
    assert back[0].to_dict() == _record(0).to_dict()


def test_half_written_line_is_skipped_and_next_record_is_intact(tmp_path):
    path = tmp_path / "r.jsonl"
    append_record(path, _record(0))
    with open(path, "a") as fh:
        fh.write('{"case": {"adapter": "sklearn.sg')  # a writer killed mid-line
    append_record(path, _record(1))
    assert [r.case.scale for r in read_records(path)] == [1000, 2000]


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError):
        CaseRecord(case=CaseSpec("a", "b", 1), status="fine")


def test_case_key_depends_on_identity():
    assert CaseSpec("a", "b", 1).key() == CaseSpec("a", "b", 1).key()
    assert CaseSpec("a", "b", 1).key() != CaseSpec("a", "b", 2).key()


SHORT_WRITE = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.test_records import _record
from oocbench.records import RecordNotSavedError, append_record

path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() returns short instead of killing us
limit = path.stat().st_size + 100  # room for 100 bytes of a ~1 KB record: the kernel writes a part of it
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    append_record(path, _record(1))
except RecordNotSavedError as exc:
    print("refused:", exc)
"""


def test_a_record_that_cannot_be_written_whole_leaves_nothing_and_raises(tmp_path):
    # a real short write from the kernel (RLIMIT_FSIZE), as on a nearly full disk: the old code wrote 100 bytes,
    # said nothing, and readers then dropped the broken line without a word
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "r.jsonl"
    append_record(path, _record(0))
    before = path.read_bytes()
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", SHORT_WRITE, str(path), repo], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "was not saved" in out.stdout and "sklearn.sgd" in out.stdout
    assert path.read_bytes() == before  # the partial line was cut away: the file is as it was
    assert [r.case.scale for r in read_records(path)] == [1000]


def test_overrides_are_identity_setting_and_label_and_survive_a_roundtrip(tmp_path):
    plain = CaseSpec("sklearn.sgd", "synth-ctr", 3000)
    tuned = CaseSpec("sklearn.sgd", "synth-ctr", 3000, params=(("average", True), ("eta0", 0.1), ("penalty", None),
                                                                ("tag", "x")))
    assert plain.key() != tuned.key() and plain.setting() == ""
    assert tuned.setting() == "average=True, eta0=0.1, penalty=None, tag=x"  # summaries keep grid points apart
    assert "eta0=0.1" in tuned.label()
    append_record(tmp_path / "r.jsonl", CaseRecord(case=tuned))
    back = read_records(tmp_path / "r.jsonl")[0].case
    assert back == tuned and back.key() == tuned.key()  # the rerun of a grid finds its cases by key
