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
