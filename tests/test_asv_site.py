"""The asv site offline: asv's page loads its scripts from CDNs; ``offline-site`` points it at vendored copies.

The page under test is the installed asv's own ``www/index.html`` (what ``asv publish`` copies into
``html_dir``); the end-to-end check in a browser is in ``tests/test_asv.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import asv
import pytest

from oocbench.asv_results import (
    ASSETS_MANIFEST,
    OfflineSiteError,
    localize_html,
    main,
    make_site_offline,
    remote_assets,
    vendored_assets,
)

VENDOR = Path(__file__).resolve().parent.parent / "benchmarks" / "asv_www"
ASV_WWW = Path(asv.__file__).resolve().parent / "www"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of asv's page files, as ``asv publish`` leaves them in html_dir."""
    html = tmp_path / "html"
    shutil.copytree(ASV_WWW, html)
    return html


def _sri(tag_integrity: str, data: bytes) -> bool:
    algo, _, digest = tag_integrity.partition("-")
    return base64.b64encode(hashlib.new(algo, data).digest()).decode() == digest


def test_asv_page_needs_the_network() -> None:
    """Why this exists: asv 0.6's page loads jQuery, flot, bootstrap... from CDNs (asv PR #1149)."""
    assert len(remote_assets((ASV_WWW / "index.html").read_text())) >= 5


def test_every_remote_asset_of_asv_has_a_vendored_copy() -> None:
    assets = vendored_assets(VENDOR)  # raises when a copy differs from its recorded sha256
    missing = [u for u in remote_assets((ASV_WWW / "index.html").read_text()) if u not in assets]
    assert not missing, f"this asv loads {missing}: vendor them into {VENDOR} ({ASSETS_MANIFEST})"


def test_copies_are_the_files_asv_pins() -> None:
    """Where asv's tag carries a subresource-integrity hash of the very file vendored, the copy satisfies it
    (jQuery, bootstrap, md5, orderBars); the rest are the same releases unminified (flot) or the nearest
    release npm has (stupidtable), as the manifest says."""
    html = (ASV_WWW / "index.html").read_text()
    manifest = {a["url"]: a for a in json.loads((VENDOR / ASSETS_MANIFEST).read_text())["assets"]}
    exact = 0
    for url, entry in manifest.items():
        integrity = html.split(url, 1)[1].split('integrity="', 1)[1].split('"', 1)[0]
        data = (VENDOR / entry["file"]).read_bytes()
        if _sri(integrity, data):
            exact += 1
        else:
            assert "unminified" in entry["source"] or "not on npm" in entry["source"], entry
    assert exact >= 5


def test_make_site_offline_rewrites_every_remote_asset(site: Path) -> None:
    before = remote_assets((site / "index.html").read_text())
    replaced = make_site_offline(site, VENDOR)
    page = (site / "index.html").read_text()
    assert sorted(replaced) == sorted(before)
    assert remote_assets(page) == []
    for entry in vendored_assets(VENDOR).values():
        assert f'"vendor/{entry.file}"' in page
        assert (site / "vendor" / entry.file).read_bytes() == (VENDOR / entry.file).read_bytes()
    assert "integrity=" not in page and "crossorigin=" not in page  # same-origin copies, checked by sha256
    assert "https://github.com/airspeed-velocity/asv/" in page  # a link to follow is not a load
    assert (site / "vendor" / "LICENSES" / "jquery.txt").is_file()
    assert make_site_offline(site, VENDOR) == []  # twice: nothing left to do
    assert (site / "index.html").read_text() == page


def test_unknown_remote_asset_leaves_the_pages_alone(site: Path) -> None:
    index = site / "index.html"
    text = index.read_text().replace("</head>", '<script src="https://cdn.example.org/new.js"></script></head>')
    index.write_text(text)
    with pytest.raises(OfflineSiteError, match="cdn.example.org/new.js"):
        make_site_offline(site, VENDOR)
    assert index.read_text() == text
    assert main(["offline-site", str(site), "--vendor", str(VENDOR)]) == 1


def test_a_tampered_copy_is_refused(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    (vendor / "md5.min.js").write_text("/* not md5 */")
    with pytest.raises(OfflineSiteError, match="sha256"):
        vendored_assets(vendor)


def test_localize_html_keeps_other_attributes() -> None:
    assets = vendored_assets(VENDOR)
    url = next(iter(assets))
    html = f'<script src="{url}" integrity="sha256-x" crossorigin="anonymous" onerror="f()"></script>'
    out, unknown = localize_html(html, assets)
    assert unknown == [] and out == f'<script src="vendor/{assets[url].file}" onerror="f()"></script>'


def test_cli_reports_what_it_did(site: Path, capsys) -> None:
    assert main(["offline-site", str(site), "--vendor", str(VENDOR)]) == 0
    assert "remote asset(s) now served from" in capsys.readouterr().out
    assert main(["offline-site", str(site.parent / "nothing"), "--vendor", str(VENDOR)]) == 1
