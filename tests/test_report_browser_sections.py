"""The report's tuning and insight sections as a reader sees them (headless Chromium, file://)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseSpec, append_record
from oocbench.reports import build_report, load_records
from tests.browser import find_chromium, inspect_page

CHROMIUM = find_chromium()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not IN_CI,
                                reason="chromium is not installed (apt-get install chromium); CI=true requires it")

SECTIONS_JS = """(() => {
  const section = id => {  // the text from the section's h2 to the next h2
    let el = document.getElementById(id), out = '';
    if (!el) return null;
    for (el = el.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) out += el.innerText + '\\n';
    return out;
  };
  return {tuning: section('tuning'), insight: section('insight'),
          nav: Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))};
})()"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_base) -> Path:
    """A real eta0 grid of sklearn.sgd on synth-binary (with the default case twice: the noise), and
    river.linear on synth-ctr (hashed categoricals, whose insight must name columns and values)."""
    out = tmp_path_factory.mktemp("sections")
    specs = [CaseSpec("sklearn.sgd", "synth-binary", 5000, batch_size=500, params=(("eta0", e),))
             for e in (0.001, 1.0)]
    specs += [CaseSpec("sklearn.sgd", "synth-binary", 5000, batch_size=500, repeat=k) for k in (0, 1)]
    specs += [CaseSpec("river.linear", "synth-ctr", 5000, batch_size=1000)]
    for spec in specs:
        rec = run_case(spec, Limits(timeout_s=300), memray=False, data_base=data_base)
        assert rec.status == "ok", rec.reason
        append_record(out / "records.jsonl", rec)
    return build_report(load_records(out), out / "report")


def test_both_sections_render_with_their_figures(report):
    page = inspect_page(report, evaluate=SECTIONS_JS)
    assert not page.console_errors, page.console_errors
    assert all(r.startswith("file://") for r in page.requests), page.requests  # nothing from the network
    tuning, insight = page.value["tuning"], page.value["insight"]
    assert tuning and insight
    assert "#tuning" in page.value["nav"] and "#insight" in page.value["nav"]
    broken = [i["src"] for i in page.images if not i["naturalWidth"]]
    assert not broken, broken
    assert "eta0" in tuning and "noise" in tuning
    assert "informative" in insight  # synth-binary's true model: features recovered
    # synth-ctr's hashed buckets are named by their source column and a raw value ("C3=1234"), not bucket ids
    assert any(f"C{j}=" in insight for j in range(1, 11)), insight[:2000]
