"""Assemble the report directory: ``index.html``, ``plots/*.png``, ``results.csv`` and ``results.json``."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oocbench.fmt import fmt_num
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports import html as H
from oocbench.reports import plots as P
from oocbench.reports.load import latest_per_case
from oocbench.reports.model import case_groups, flatten, sections
from oocbench.reports.verdict import data_helps, verdicts


def _json_safe(obj: Any) -> Any:
    """NaN / inf become ``null`` so results.json is strict JSON any tool can read."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_raw(out: Path, current: list[CaseRecord], superseded: list[CaseRecord]) -> None:
    """Every record read, as ``results.json`` (a list of records) and ``results.csv`` (one flat row each)."""
    everything = [(r, False) for r in current] + [(r, True) for r in superseded]
    (out / "results.json").write_text(json.dumps([_json_safe(r.to_dict()) for r, _ in everything], indent=1,
                                                 default=str, allow_nan=False) + "\n")
    rows = [flatten(r, superseded=s) for r, s in everything]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def _section_title(dataset: str, profile: str, threads: str, setting: str = "") -> str:
    return f"{dataset}, {profile} profile, threads={threads}" + (f", {setting}" if setting else "")


def _dataset_line(records: list[CaseRecord], task: str) -> str:
    key, label = get_task(task).loss.key, get_task(task).loss.label
    opt = sorted({r.optimum[key] for r in records if key in r.optimum})
    base = sorted({r.baseline[key] for r in records if key in r.baseline})
    parts = [f"task: {task or 'unknown'}"]
    if opt:
        parts.append(f"known optimum {label}: {', '.join(fmt_num(v) for v in opt)}")
    if base:
        parts.append(f"constant predictor {label}: {', '.join(fmt_num(v) for v in base)}")
    return "; ".join(parts)


def build_report(records: list[CaseRecord], out: str | Path, source: str = "") -> Path:
    """Write the report for ``records`` into ``out`` and return the path of its ``index.html``.

    Parameters
    ----------
    records : list of CaseRecord
        Everything to report, failures included; a case recorded twice (``--force``) is plotted from its
        latest record and both are published in the raw files.
    out : str or Path
        The report directory (created; its ``plots/*.png`` are replaced).
    source : str
        Where the records came from, shown in the header.
    """
    final = Path(out).resolve()
    if final.is_dir() and (other := sorted(p.name for p in final.iterdir() if p.name not in REPORT_ENTRIES)):
        # the whole directory is replaced: never one that holds anything but a report
        raise ValueError(f"{final} holds files that are not part of a report ({', '.join(other[:5])}); give "
                         "--out a new directory or a previous report's")
    # written into a fresh directory beside ``out`` and renamed into place when complete: a full disk or a
    # crash half way leaves the previous report whole (and no old figure lingers next to new ones)
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        (out / "plots").mkdir()
        _write(records, out, source)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    _replace_dir(out, final)
    return final / "index.html"


#: what a report directory holds; a directory with anything else in it is not replaced
REPORT_ENTRIES = ("index.html", "plots", "results.csv", "results.json")


def _replace_dir(new: Path, final: Path) -> None:
    """Put the complete directory ``new`` at ``final``; the old one is kept until the new one is in place."""
    os.chmod(new, 0o755)  # mkdtemp makes it private; a report is for reading
    if not final.exists():
        os.replace(new, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.replace(final, old / final.name)  # two renames: not atomic, but the old report is never overwritten
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old / final.name, final)
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)


def _write(records: list[CaseRecord], out: Path, source: str) -> Path:
    """Write the whole report into the (new, empty) directory ``out``."""
    current, superseded = latest_per_case(records)
    groups = case_groups(current)
    by_section = sections(groups)
    adapters = sorted({r.case.adapter for r in current})
    styles = P.adapter_styles(adapters)

    verdict_html, section_html, nav = [], [], []
    for i, ((dataset, profile, threads, setting), sgroups) in enumerate(by_section.items(), start=1):
        title = _section_title(dataset, profile, threads, setting)
        recs = [r for g in sgroups for r in g.records]
        task = next((g.task for g in sgroups if g.task), "")
        anchor = f"s{i}"
        nav.append(f'<a href="#{anchor}">{H.esc(title)}</a>')
        verdict_html.append(f"<h3>{H.esc(title)}</h3>" + H.verdict_table(verdicts(sgroups), task))
        stem = f"s{i:02d}"
        figs = [P.throughput_plot(sgroups, styles, out, stem, title),
                P.memory_plot(sgroups, recs, styles, out, stem, title),
                P.accuracy_plot(sgroups, recs, styles, out, stem, title, task)]
        body = [f'<h2 id="{anchor}">{H.esc(title)}</h2>',
                f"<p class=muted>{H.esc(_dataset_line(recs, task))}</p>"]
        body += [H.figure(f) for f in figs]
        gap = P.gap_plot(sgroups, styles, out, stem, title, task)
        if gap is not None:
            body.append(H.figure(gap))
        if (helps := data_helps(sgroups, task)) is not None:
            body.append(f"<p class=note>{H.esc(helps)}</p>")
        curve = P.learning_curve_plot(sgroups, styles, out, stem, title, task)
        if curve is not None:
            body.append(H.figure(curve))
        missing: dict[str, str] = {}  # adapter -> why it has no curve (first reason recorded)
        for r in recs:
            if r.status == "ok" and r.extra.get("learning_curve_missing"):
                missing.setdefault(r.case.adapter, str(r.extra["learning_curve_missing"]))
        by_reason: dict[str, list[str]] = {}  # one line per reason, naming every adapter it applies to
        for a, m in sorted(missing.items()):
            by_reason.setdefault(m, []).append(a)
        why = "".join(f"<li><b>{H.esc(', '.join(names))}</b>: {H.esc(m)}</li>" for m, names in by_reason.items())
        if curve is None:
            body.append(H.not_recorded("Prequential learning curves",
                                       "" if why else "no record here has extra['learning_curve']."))
        if why:
            body.append(f"<div class='small muted'>No learning curve recorded for:<ul>{why}</ul></div>")
        passes = P.checkpoints_plot(sgroups, styles, out, stem, title, task)
        if passes is not None:
            body.append(H.figure(passes))
        body.append(H.figure(P.pareto_plot(sgroups, styles, out, stem, title, task)))
        body.append("<h3>Every case</h3>" + H.cases_table(sgroups, task))
        section_html.append("".join(body))

    counts = Counter(r.status for r in current)
    failures = [r for r in current if r.status != "ok"]
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    header = (
        "<header><h1>oocbench comparison report</h1>"
        "<p>Which library should I use at my scale, and what will it cost? Throughput, peak memory and accuracy of "
        "each library's streaming API on the same data, as the data grows.</p>"
        f"<p class=muted>Generated {H.esc(generated)} from {H.esc(source or 'records')}: {len(current)} case "
        f"record(s) ({H.esc(', '.join(f'{v} {k}' for k, v in sorted(counts.items())))})"
        + (f", {len(superseded)} older record(s) superseded by reruns (kept in the raw data)" if superseded else "")
        + ". Raw data: <a href=\"results.csv\">results.csv</a>, <a href=\"results.json\">results.json</a>.</p>"
        "<nav><a href=\"#verdict\">Verdict</a>" + "".join(nav)
        + "<a href=\"#adapters\">Adapters</a><a href=\"#machine\">Machine</a></nav></header>")
    fail_note = ""
    if failures:
        fail_note = ("<div class=note><b>" + H.esc(f"{len(failures)} case(s) did not produce a result")
                     + "</b> - shown as status cells in the tables and as x marks on the plots: "
                     + H.esc(", ".join(f"{k} {v}" for k, v in sorted(Counter(r.status for r in failures).items())))
                     + "</div>")
    body = [fail_note, '<h2 id="verdict">Verdict</h2>', *verdict_html, *section_html,
            '<h2 id="adapters">Adapters</h2>', H.adapters_table(current),
            '<h2 id="machine">Machine and software</h2>', H.machine_table(current),
            "<h3>What the memory figures cover</h3>", H.memory_notes(current)]
    index = out / "index.html"
    index.write_text(H.page("oocbench comparison report", header, body))
    write_raw(out, current, superseded)
    return index
