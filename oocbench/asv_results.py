"""Where asv runs keep their oocbench records, and how to read asv's own results JSON.

An ``asv run`` of ``benchmarks/`` fits every case once through :func:`oocbench.harness.runner.run_case` (the same
isolated runner as ``oocbench run``) and appends the full :class:`~oocbench.records.CaseRecord` to
``<asv results_dir>/oocbench-records/records.jsonl``; asv's results JSON holds only the numbers the ``track_``
benchmarks return. So a report reads the records file (``oocbench report --results .asv/results/oocbench-records``)
and asv's JSON is needed only to check what asv itself saved (:func:`tracked_values`).

Two more jobs live here, both for ``make asv``:

- **Reuse** (:func:`find_reusable`): a case already recorded for the same commit, library versions, adapter
  source and machine (by ``oocbench run`` into ``results/``, or by an earlier asv run) is not fitted again.
- **An offline site** (:func:`make_site_offline`): asv 0.6's ``asv publish`` page loads jQuery, flot and
  bootstrap from CDNs; this points it at the copies vendored in ``benchmarks/asv_www`` (``python -m
  oocbench.asv_results offline-site .asv/html``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oocbench.harness.runner import Limits
from oocbench.harness.suites import hit_smaller_limit, versions_match
from oocbench.provenance import CORE_DISTS, git_commit, machine_info, provenance
from oocbench.records import RECORDS_FILE, CaseRecord, CaseSpec, read_records

#: Sub-directory of asv's ``results_dir`` holding the records. asv only reads ``*.json`` files under
#: ``results_dir``, so a ``.jsonl`` file there is ignored by ``asv publish`` / ``compare``.
RECORDS_SUBDIR = "oocbench-records"
DEFAULT_RESULTS_DIR = ".asv/results"


def records_dir(repo: Path) -> Path:
    """Directory of the records of asv runs of the suite in ``repo`` (the directory holding ``asv.conf.json``
    and ``benchmarks/``): ``$OOCBENCH_ASV_RECORDS_DIR``, else ``<repo>/.asv/results/oocbench-records`` (the
    ``results_dir`` of every ``asv*.json`` in this repository).

    The benchmarks pass their own checkout: asv runs them in a temporary working directory, and with an
    ``existing`` environment asv sets none of its ``ASV_*`` variables.
    """
    env = os.environ.get("OOCBENCH_ASV_RECORDS_DIR")
    if env:
        return Path(env).resolve()
    return Path(repo).resolve() / DEFAULT_RESULTS_DIR / RECORDS_SUBDIR


def read_asv_records(results_dir: Path) -> list[CaseRecord]:
    """The records written by asv runs whose asv ``results_dir`` is ``results_dir``."""
    return read_records(Path(results_dir) / RECORDS_SUBDIR / RECORDS_FILE)


@dataclass(frozen=True)
class TrackedValue:
    """One value asv saved: benchmark name (``cases.sklearn_sgd.track_log_loss``), its params, unit."""

    benchmark: str
    params: tuple[str, ...]  # asv's repr of each parameter value, e.g. ("'synth-binary'", "1000", ...)
    value: float | None  # None: the benchmark failed; nan: skipped (n/a)
    unit: str


def _product(lists: list[list[str]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for values in lists:
        out = [(*head, v) for head in out for v in values]
    return out


def tracked_values(results_file: Path, benchmarks_file: Path | None = None) -> list[TrackedValue]:
    """Every value in one asv results file (format version 2), one per benchmark x parameter combination.

    ``benchmarks_file`` (asv's ``benchmarks.json`` next to the machine directories) supplies the units; by
    default the one two levels up from ``results_file``.
    """
    raw = json.loads(Path(results_file).read_text())
    columns = raw["result_columns"]
    bench_meta: dict[str, Any] = {}
    bfile = benchmarks_file or Path(results_file).parent.parent / "benchmarks.json"
    if bfile.exists():
        bench_meta = json.loads(bfile.read_text())
    out = []
    for name, row in raw["results"].items():
        entry = dict(zip(columns, row))
        params = entry.get("params") or []
        values = entry.get("result")
        if values is None:
            values = [None] * max(1, len(_product(params)))
        combos = _product(params) if params else [()]
        unit = bench_meta.get(name, {}).get("unit", "")
        for combo, value in zip(combos, values):
            out.append(TrackedValue(name, combo, None if value is None else float(value), unit))
    return out


def is_sane(value: float | None) -> bool:
    """A finite number (not a failure, not n/a)."""
    return value is not None and math.isfinite(value)


# --- reuse: a case recorded for the same commit and versions is not fitted again ---------------------------

#: The machine fields that must agree for a record to stand for a run here (a records file copied from
#: another machine is not reused).
MACHINE_KEYS = ("hostname", "cpu", "cores_logical", "ram_bytes")


def run_commit() -> str | None:
    """The commit an asv run measures: asv's ``ASV_COMMIT`` in the environments it builds, else the checkout
    the imported oocbench comes from (an ``existing`` environment; ``+dirty`` when it has changes)."""
    return os.environ.get("ASV_COMMIT") or git_commit()


def record_commit(record: CaseRecord) -> str | None:
    """The commit ``record`` measured: the asv run's (``extra.asv.commit``), else its provenance's."""
    asv = record.extra.get("asv") or {}
    return asv.get("commit") or record.provenance.get("git_commit")


@functools.cache
def _here() -> dict[str, Any]:
    """This process's versions, Python and machine (read once: a records file may hold thousands of records)."""
    return {**provenance(), "machine": machine_info()}


def reuse_refusal(record: CaseRecord, commit: str | None, limits: Limits, need_heap: bool) -> str | None:
    """Why ``record`` cannot stand for a new fit of its case at ``commit`` here, or ``None`` when it can.

    Parameters
    ----------
    record : CaseRecord
        A record of the case (its key already matched).
    commit : str or None
        The commit being measured (:func:`run_commit`). A dirty tree (``+dirty``) or an unknown commit reuses
        nothing: its code is not pinned by a hash.
    limits : Limits
        The run's limits: a ``timeout`` / ``oom`` under smaller ones is fitted again (as ``oocbench run`` does).
    need_heap : bool
        Whether this run measures the memray heap peak: an ``ok`` record without one is fitted again.
    """
    if not commit or commit.endswith("+dirty"):
        return f"the measured tree is not a clean commit ({commit})"
    if record_commit(record) != commit:
        return f"made at commit {record_commit(record)}, not {commit}"
    if not versions_match(record):  # the adapter's library version and source hash, oocbench's version
        return "other library / adapter / oocbench version"
    here = _here()
    versions = record.provenance.get("versions") or {}
    if any(versions.get(d) != here["versions"].get(d) for d in CORE_DISTS):
        return "other core library versions (numpy, pyarrow, ...)"
    if record.provenance.get("python") != here["python"]:
        return "other Python version"
    machine = record.provenance.get("machine") or {}
    if any(machine.get(k) != here["machine"][k] for k in MACHINE_KEYS):
        return "made on another machine"
    if hit_smaller_limit(record, limits):
        return f"{record.status} under a smaller limit than this run's"
    if need_heap and record.status == "ok" and record.memory.heap_peak_bytes is None:
        return "made without memray, and this run measures the heap peak"
    return None


def find_reusable(specs: Iterable[CaseSpec], sources: Iterable[Path], limits: Limits,
                  need_heap: bool) -> dict[str, tuple[CaseRecord, Path]]:
    """Records that can stand for new fits of ``specs`` (see :func:`reuse_refusal`), by case key.

    Parameters
    ----------
    specs : iterable of CaseSpec
        The cases about to run.
    sources : iterable of Path
        ``records.jsonl`` files in order of preference (a missing one is empty); within a file, the last
        reusable record of a case wins.
    limits, need_heap
        As for :func:`reuse_refusal`.

    Returns
    -------
    dict
        ``{case key: (record, the file it came from)}`` for the cases that need no new fit.
    """
    wanted = {spec.key() for spec in specs}
    commit = run_commit()
    found: dict[str, tuple[CaseRecord, Path]] = {}
    for path in sources:
        latest: dict[str, CaseRecord] = {}
        for record in read_records(Path(path)):
            key = record.case.key()
            if key in wanted and key not in found and reuse_refusal(record, commit, limits, need_heap) is None:
                latest[key] = record
        found.update({key: (record, Path(path)) for key, record in latest.items()})
    return found


# --- an asv site that works offline -------------------------------------------------------------------------

#: The manifest in the vendored-assets directory: CDN URL -> local file, its npm source and sha256.
ASSETS_MANIFEST = "assets.json"
#: Where the published site gets its copies (relative to the html directory).
SITE_VENDOR_SUBDIR = "vendor"
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_REMOTE = re.compile(r"""\b(src|href)\s*=\s*["'](https?://[^"']+)["']""", re.IGNORECASE)
# attributes that only make sense for a cross-origin load: a same-origin copy is checked by sha256 instead
_CROSS_ORIGIN_ATTRS = re.compile(r"""\s+(?:integrity|crossorigin|referrerpolicy)\s*=\s*["'][^"']*["']""",
                                 re.IGNORECASE)


class OfflineSiteError(RuntimeError):
    """The site still needs the network (an asset nobody vendored) or a vendored copy is not the recorded one."""


@dataclass(frozen=True)
class VendoredAsset:
    url: str  # what asv's page loads
    file: str  # the copy, relative to the vendored-assets directory
    sha256: str  # hex digest of the copy


def vendored_assets(vendor_dir: Path) -> dict[str, VendoredAsset]:
    """The manifest of ``vendor_dir`` by URL, each copy checked against its recorded sha256.

    Raises
    ------
    OfflineSiteError
        A copy is missing or differs from the manifest.
    """
    vendor_dir = Path(vendor_dir)
    raw = json.loads((vendor_dir / ASSETS_MANIFEST).read_text())
    out = {}
    for entry in raw["assets"]:
        asset = VendoredAsset(entry["url"], entry["file"], entry["sha256"])
        path = vendor_dir / asset.file
        if not path.is_file():
            raise OfflineSiteError(f"{path}: missing (listed in {vendor_dir / ASSETS_MANIFEST})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != asset.sha256:
            raise OfflineSiteError(f"{path}: sha256 {digest}, the manifest says {asset.sha256}")
        out[asset.url] = asset
    return out


def remote_assets(html: str) -> list[str]:
    """URLs of the scripts and stylesheets ``html`` loads from the network (links to follow do not count)."""
    return [m.group(2) for tag in _TAG.findall(html) if (m := _REMOTE.search(tag))]


def localize_html(html: str, assets: dict[str, VendoredAsset], prefix: str = SITE_VENDOR_SUBDIR) -> tuple[str, list[str]]:
    """``html`` with every vendored remote script / stylesheet loaded from ``prefix/<file>`` instead.

    Returns
    -------
    (html, unknown) : tuple
        The rewritten page, and the remote assets it still loads (none vendored for them).
    """
    unknown: list[str] = []

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        remote = _REMOTE.search(text)
        if remote is None:
            return text
        asset = assets.get(remote.group(2))
        if asset is None:
            unknown.append(remote.group(2))
            return text
        text = _CROSS_ORIGIN_ATTRS.sub("", text)
        return _REMOTE.sub(lambda m: f'{m.group(1)}="{prefix}/{asset.file}"', text, count=1)

    return _TAG.sub(tag, html), unknown


def make_site_offline(html_dir: Path, vendor_dir: Path) -> list[str]:
    """Make the site ``asv publish`` wrote to ``html_dir`` load no asset from the network.

    The vendored copies (checked against ``vendor_dir``'s manifest) are copied to ``html_dir/vendor`` with
    their licences, and every top-level page's remote ``<script>`` / stylesheet ``<link>`` is pointed at them.
    Run it after every ``asv publish`` (which rewrites ``index.html``); running it twice changes nothing.
    The page still needs a web server (``asv preview``): it loads its JSON data with XHR, which browsers
    refuse on ``file://``.

    Returns
    -------
    list of str
        The URLs replaced, over all pages.

    Raises
    ------
    OfflineSiteError
        A page loads a remote asset with no vendored copy (a newer asv): the pages are left as they were.
    """
    html_dir, vendor_dir = Path(html_dir), Path(vendor_dir)
    assets = vendored_assets(vendor_dir)
    pages = sorted(html_dir.glob("*.html"))
    if not pages:
        raise OfflineSiteError(f"no *.html in {html_dir}: run `asv publish` first")
    rewritten, replaced, unknown = {}, [], []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        replaced += [u for u in remote_assets(text) if u in assets]
        rewritten[page], missing = localize_html(text, assets)
        unknown += [f"{page.name}: {u}" for u in missing]
    if unknown:
        raise OfflineSiteError("no vendored copy of " + ", ".join(unknown) + f" (add it to {vendor_dir})")
    dest = html_dir / SITE_VENDOR_SUBDIR
    dest.mkdir(exist_ok=True)
    for asset in assets.values():
        shutil.copyfile(vendor_dir / asset.file, dest / asset.file)
    if (vendor_dir / "LICENSES").is_dir():
        shutil.copytree(vendor_dir / "LICENSES", dest / "LICENSES", dirs_exist_ok=True)
    for page, text in rewritten.items():
        page.write_text(text, encoding="utf-8")
    return replaced


def main(argv: list[str] | None = None) -> int:
    """``python -m oocbench.asv_results offline-site [HTML_DIR] [--vendor DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m oocbench.asv_results")
    sub = parser.add_subparsers(dest="command", required=True)
    site = sub.add_parser("offline-site", help="point the page `asv publish` wrote at local copies of its "
                                               "scripts and stylesheet, so `asv preview` works offline")
    site.add_argument("html_dir", nargs="?", type=Path, default=Path(".asv/html"),
                      help="asv's html_dir (default .asv/html)")
    site.add_argument("--vendor", type=Path, default=Path("benchmarks/asv_www"),
                      help="the vendored assets and their assets.json (default benchmarks/asv_www)")
    args = parser.parse_args(argv)
    try:
        replaced = make_site_offline(args.html_dir, args.vendor)
    except (OfflineSiteError, OSError) as exc:
        print(f"offline-site: {exc}", file=sys.stderr)
        return 1
    print(f"offline-site: {args.html_dir}: {len(replaced)} remote asset(s) now served from "
          f"{args.html_dir / SITE_VENDOR_SUBDIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
