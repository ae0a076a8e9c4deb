"""The report as a reader sees it: headless Chromium opens index.html from disk (file://).

Skipped only where Chromium is missing and ``CI`` is not set; under CI a missing browser fails the test
(``.ci/run`` installs Debian's ``chromium`` first).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oocbench.harness.runner import Limits, run_case
from oocbench.records import CaseRecord, CaseSpec, append_record
from oocbench.reports import build_report, load_records
from tests.browser import find_chromium, inspect_page

CHROMIUM = find_chromium()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.skipif(CHROMIUM is None and not IN_CI,
                                reason="chromium is not installed (apt-get install chromium); CI=true requires it")


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_base) -> Path:
    """A report of real runs (two scales, so lines are drawn) plus a timeout and an escaped-name error."""
    results = tmp_path_factory.mktemp("browser-results")
    for scale in (2000, 6000):
        rec = run_case(CaseSpec("sklearn.sgd", "synth-binary", scale, batch_size=500), Limits(timeout_s=120),
                       memray=False, data_base=data_base)
        assert rec.status == "ok", rec.reason
        append_record(results / "records.jsonl", rec)
    append_record(results / "records.jsonl", CaseRecord(
        case=CaseSpec("fault.hang", "synth-binary", 6000), status="timeout", reason="no result after 60 s"))
    append_record(results / "records.jsonl", CaseRecord(
        case=CaseSpec("evil<script>console.error('xss')</script>", "synth-binary", 2000), status="error",
        reason="<img src=x onerror=\"console.error('xss')\">"))
    return build_report(load_records(results), tmp_path_factory.mktemp("browser-report") / "r")


def test_chromium_is_available():
    assert CHROMIUM is not None, "CI requires chromium (apt-get install chromium)"


def test_report_renders_in_chromium(report):
    check = inspect_page(report)
    # a reader may look at it: the artifact stays in pytest's temp dir
    (report.parent / "screenshot.png").write_bytes(check.screenshot)

    assert check.console_errors == []  # also catches the injected <script>/onerror, were they not escaped
    assert check.title == "oocbench comparison report"
    assert all(u.startswith("file://") for u in check.requests), check.requests  # nothing from the network
    pngs = sorted((report.parent / "plots").glob("*.png"))
    assert len(check.images) == len(pngs) >= 5
    for img in check.images:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img
    # the status of each failure is visible as text
    assert "timeout" in check.text and "evil<script>console.error('xss')</script>" in check.text

    shot = np.asarray(Image.open(io.BytesIO(check.screenshot)).convert("L"), dtype=float)
    assert shot.shape[1] >= 1000 and shot.shape[0] > 2000  # the whole page, plots included
    assert shot.std() > 20  # not blank: text, tables and plots


def test_checker_notices_a_missing_plot(report, tmp_path):
    """The browser check is not vacuous: a broken image shows up as naturalWidth 0 and a load error."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.html").write_text(report.read_text())
    check = inspect_page(broken / "index.html")
    assert check.images and all(img["naturalWidth"] == 0 for img in check.images)
    assert check.console_errors
