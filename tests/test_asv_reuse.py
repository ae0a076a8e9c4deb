"""``make asv`` reuses a case recorded for the same commit, versions and machine (:func:`find_reusable`).

One real record (sklearn.sgd on 1,000 rows, through the isolated runner) is varied one field at a time; the
end-to-end check (``oocbench run`` then ``asv run``) is in ``tests/test_asv.py``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest

from oocbench.asv_results import find_reusable, record_commit, reuse_refusal, run_commit
from oocbench.harness.runner import Limits, run_case
from oocbench.records import RECORDS_FILE, CaseRecord, CaseSpec, append_record

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SPEC = CaseSpec("sklearn.sgd", "synth-binary", 1_000)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> CaseRecord:
    record = run_case(SPEC, Limits(timeout_s=300), memray=False, data_base=tmp_path_factory.mktemp("data"))
    assert record.status == "ok", record.reason
    record.provenance["git_commit"] = COMMIT
    return record


@pytest.fixture
def record(made: CaseRecord, monkeypatch) -> CaseRecord:
    monkeypatch.setenv("ASV_COMMIT", COMMIT)  # the commit asv measures
    return copy.deepcopy(made)


def _store(tmp_path: Path, *records: CaseRecord, name: str = "a") -> Path:
    path = tmp_path / name / RECORDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    for r in records:
        append_record(path, r)
    return path


def test_same_commit_versions_and_machine_is_reused(record: CaseRecord, tmp_path: Path) -> None:
    assert run_commit() == COMMIT and record_commit(record) == COMMIT
    assert reuse_refusal(record, COMMIT, Limits(), need_heap=False) is None
    found = find_reusable([SPEC], [_store(tmp_path, record)], Limits(), need_heap=False)
    assert list(found) == [SPEC.key()]
    assert found[SPEC.key()][0].rows_per_s == record.rows_per_s


@pytest.mark.parametrize("change, why", [
    (lambda r: r.provenance.update(git_commit="f" * 40), "made at commit"),
    (lambda r: r.extra.update(asv={"commit": "e" * 40}), "made at commit"),  # an asv run's commit wins
    (lambda r: r.adapter_info.update(source_sha256="0" * 64), "adapter"),
    (lambda r: r.adapter_info.update(version="0.0.1"), "library"),
    (lambda r: r.provenance["versions"].update(numpy="1.0.0"), "core library versions"),
    (lambda r: r.provenance.update(python="3.10.0"), "Python"),
    (lambda r: r.provenance["machine"].update(hostname="elsewhere"), "another machine"),
])
def test_any_difference_refits(record: CaseRecord, tmp_path: Path, change, why: str) -> None:
    change(record)
    assert why in (reuse_refusal(record, COMMIT, Limits(), need_heap=False) or "")
    assert find_reusable([SPEC], [_store(tmp_path, record)], Limits(), need_heap=False) == {}


def test_a_dirty_or_unknown_tree_reuses_nothing(record: CaseRecord, monkeypatch) -> None:
    record.provenance["git_commit"] = COMMIT + "+dirty"
    assert "not a clean commit" in reuse_refusal(record, COMMIT + "+dirty", Limits(), need_heap=False)
    assert "not a clean commit" in reuse_refusal(record, None, Limits(), need_heap=False)


def test_memray_and_limits(record: CaseRecord) -> None:
    assert record.memory.heap_peak_bytes is None
    assert "memray" in reuse_refusal(record, COMMIT, Limits(), need_heap=True)
    timed_out = replace(record, status="timeout", reason="no result after 5 s")
    timed_out.provenance = {**record.provenance, "limits": {"timeout_s": 5.0, "memory_bytes": None}}
    assert "smaller limit" in reuse_refusal(timed_out, COMMIT, Limits(timeout_s=600), need_heap=False)
    assert reuse_refusal(timed_out, COMMIT, Limits(timeout_s=5), need_heap=False) is None


def test_sources_in_order_last_record_of_a_file_wins(record: CaseRecord, tmp_path: Path) -> None:
    older, newer, other = copy.deepcopy(record), copy.deepcopy(record), copy.deepcopy(record)
    older.rows_per_s, newer.rows_per_s, other.rows_per_s = 1.0, 2.0, 3.0
    first = _store(tmp_path, older, newer, name="asv")
    second = _store(tmp_path, other, name="cli")
    found = find_reusable([SPEC], [first, second], Limits(), need_heap=False)
    assert found[SPEC.key()][0].rows_per_s == 2.0 and found[SPEC.key()][1] == first
    # a case the run does not ask for is not returned; a missing file is empty
    assert find_reusable([replace(SPEC, dataset="synth-ctr")], [first, tmp_path / "none.jsonl"], Limits(),
                         need_heap=False) == {}
