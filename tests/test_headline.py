"""The headline tables and answer sentences: printed by `oocbench headline` from published records, the same
verdict as the report's, and the copies in the README and the docs' results page equal to what the command
prints now."""

from __future__ import annotations

import re

import pytest

from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseSpec, append_record
from tests.conftest import REPO, oocbench_cli

BLOCK = re.compile(r"<!-- headline: (?P<args>[^>]+?) -->\n(?P<body>.*?)\n<!-- /headline -->", re.S)


#: the pages that hold headline blocks: the README's answer, the docs' tables
PAGES = ("README.md", "docs/results.md")


def readme_blocks(pages: tuple[str, ...] = PAGES) -> list[tuple[str, str, str]]:
    return [(page, m["args"], m["body"]) for page in pages for m in BLOCK.finditer((REPO / page).read_text())]


def test_the_readme_opens_with_the_answer_and_the_docs_hold_the_tables():
    readme = (REPO / "README.md").read_text()
    assert [args for _, args, _ in readme_blocks(("README.md",))] == [
        "reports/default/results.json --answer", "reports/huge/results.json --answer"]
    assert readme.index("<!-- headline:") < 4000  # the opening, not an appendix
    tables = [args for _, args, _ in readme_blocks(("docs/results.md",))]
    assert "reports/default/results.json" in tables and "reports/huge/results.json --series" in tables


@pytest.mark.parametrize(("page", "args", "body"), readme_blocks())
def test_every_headline_block_is_what_the_command_prints_from_the_published_records(page, args, body):
    out = oocbench_cli("headline", *args.split(), cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == body.strip(), f"{page} is stale: run scripts/update_headlines.py"


def test_the_readme_is_a_front_page():
    """Issue 26: at most 200 lines, the two commands within its first 40, and no dated lab notes."""
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, len(lines)
    opening = "\n".join(lines[:40])
    assert "make bench" in opening and "make test" in opening
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", "\n".join(
        line for line in lines if "<sub>" not in line)), "a dated figure belongs in docs/performance-log.md"


@pytest.mark.parametrize("dataset", ["synth-ctr", "synth-binary"])
def test_out_of_core_rows_never_name_an_adapter_that_holds_every_row(tmp_path, data_base, dataset):
    for adapter in ("sklearn.sgd", "river.linear-many", "sklearn.batch", "lightgbm.gbdt"):
        r = run_case(CaseSpec(adapter, dataset, 20_000), Limits(timeout_s=300), memray=False, data_base=data_base)
        assert r.status == "ok", r.reason
        append_record(tmp_path / "records.jsonl", r)
    out = oocbench_cli("headline", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| 20k")]
    assert len(rows) == 2 and rows[1].startswith("| 20k, out of core |")
    assert "sklearn.batch" not in rows[1] and "lightgbm.gbdt" not in rows[1]
    assert "sklearn.sgd" in rows[1] or "river.linear-many" in rows[1]
    cheapest = rows[0].split(" | ")[4]
    assert "sklearn.batch" not in cheapest and "lightgbm.gbdt" not in cheapest  # no price for in-memory learners
    assert f"**{dataset}**" in out.stdout and f"`oocbench headline {tmp_path}`" in out.stdout


def test_the_series_table_has_a_row_per_adapter_and_a_column_per_scale(tmp_path, data_base):
    from oocbench.records import CaseRecord

    for n in (2000, 20_000):
        r = run_case(CaseSpec("sklearn.sgd", "synth-ctr", n), Limits(timeout_s=300), memray=False, data_base=data_base)
        append_record(tmp_path / "records.jsonl", r)
    append_record(tmp_path / "records.jsonl", CaseRecord(CaseSpec("sklearn.batch", "synth-ctr", 20_000), status="oom",
                                                         reason="passed the cap"))
    out = oocbench_cli("headline", str(tmp_path), "--series", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2] == "| adapter | 2k rows | 20k rows |"
    sgd = next(line for line in lines if line.startswith("| sklearn.sgd |"))
    assert sgd.count("rows/s") == 2 and "known optimum" in lines[0]
    assert "| sklearn.batch | - | **oom** |" in lines and f"`oocbench headline {tmp_path} --series`" in out.stdout
