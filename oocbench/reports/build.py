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

from oocbench.cost import DEFAULT_PRICES, Prices
from oocbench.fmt import fmt_bytes, fmt_num, fmt_rows
from oocbench.metrics import get_task
from oocbench.records import CaseRecord
from oocbench.reports import html as H
from oocbench.reports import tables as T
from oocbench.reports.answer import answer_html, leads
from oocbench.reports.insight import insight_section
from oocbench.reports.load import latest_per_case
from oocbench.reports.model import case_groups, flatten, sections
from oocbench.reports.registry import PLOTS
from oocbench.reports.section import PROJECT_ROWS, Section
from oocbench.reports.style import label_styles
from oocbench.reports.tuning import tuning_section
from oocbench.signals import signals_held


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


def _nav_title(dataset: str, profile: str, threads: str, setting: str = "") -> str:
    """The section's name in the page's navigation: short enough for the links to take a line or two."""
    return " ".join(p for p in (dataset, profile, "" if threads == "1" else f"threads={threads}", setting) if p)


def _dataset_line(records: list[CaseRecord], task: str) -> str:
    key, label = get_task(task).loss.key, get_task(task).loss.label
    opt = sorted({r.optimum[key] for r in records if key in r.optimum})
    base = sorted({r.baseline[key] for r in records if key in r.baseline})
    parts = [f"task: {task or 'unknown'}"]
    if opt:
        parts.append(f"known optimum {label}: {', '.join(fmt_num(v) for v in opt)}")
    if base:
        parts.append(f"constant predictor {label}: {', '.join(fmt_num(v) for v in base)}")
    if sizes := _data_sizes(records):
        parts.append(f"training Parquet: {sizes}")
    return "; ".join(parts)


def _data_sizes(records: list[CaseRecord]) -> str:
    """Per scale, the training data's bytes on disk against the machine's RAM (records that carry both)."""
    sizes: dict[int, tuple[int, int]] = {}
    for r in records:
        data, ram = r.extra.get("dataset") or {}, (r.provenance.get("machine") or {}).get("ram_bytes")
        if data.get("train_bytes") and ram:
            sizes[r.case.scale] = (int(data["train_bytes"]), int(ram))
    return ", ".join(f"{fmt_rows(n)} rows {fmt_bytes(b)} ({b / ram:.2f}x RAM{', larger than RAM' if b > ram else ''})"
                     for n, (b, ram) in sorted(sizes.items()))


def build_report(records: list[CaseRecord], out: str | Path, source: str = "",
                 project_rows: float = PROJECT_ROWS, prices: Prices = DEFAULT_PRICES) -> Path:
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
    project_rows : float
        The row count each adapter's fit memory is projected to (where its scales allow a projection).
    prices : Prices
        Per core-hour and per GB-hour: what the cost of 10^9 rows (cases table, "cheapest" verdict) is priced at.
    """
    if not (isinstance(project_rows, (int, float)) and math.isfinite(project_rows) and project_rows >= 1):
        raise ValueError(f"project_rows must be a row count >= 1, not {project_rows!r}")
    final = Path(out).resolve()
    if final.is_dir() and (other := sorted(p.name for p in final.iterdir() if p.name not in REPORT_ENTRIES)):
        # the whole directory is replaced: never one that holds anything but a report
        raise ValueError(f"{final} holds files that are not part of a report ({', '.join(other[:5])}); give "
                         "--out a new directory or a previous report's")
    # written into a fresh directory beside ``out`` and renamed into place when complete: a full disk or a
    # crash half way leaves the previous report whole (and no old figure lingers next to new ones)
    final.parent.mkdir(parents=True, exist_ok=True)
    out = None
    try:
        with signals_held():  # Ctrl-C between making the folder and naming it would leave it behind
            out = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        (out / "plots").mkdir()
        _write(records, out, source, float(project_rows), prices)
    except BaseException:
        if out is not None:
            with signals_held():  # a second Ctrl-C must not stop the cleanup half way
                shutil.rmtree(out, ignore_errors=True)
        raise
    with signals_held():  # the old report out, the new one in, the old one deleted: all or nothing
        try:
            _replace_dir(out, final)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
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


def _section_html(s: Section, anchor: str) -> str:
    """One section: its heading, dataset line, every figure of the registry that applies, the tables."""
    head = [f'<h2 id="{anchor}">{H.esc(s.title)}</h2>', f"<p class=muted>{H.esc(_dataset_line(s.records, s.task))}</p>"]
    body = []
    if not any(g.ok for g in s.groups):
        body.append(H.not_recorded("Figures", "no case here produced a result (see the table below)."))
        entries: list = []
    else:
        entries = PLOTS
    shown = []
    for entry in entries:
        plot = entry.build(s) if entry.applies(s) else None
        if plot is not None:
            body.append(H.figure(plot))
            shown.append(plot.title.lower())
        elif entry.absent is not None:
            body.append(H.absent(entry.absent(s)))
        if entry.after is not None:
            body.append(entry.after(s))
    body.append("<h3>Every case</h3>" + T.cases_table(s.groups, s.task, s.prices))
    # folded: the page opens on the answer, and a section is one click from its figures, not a screen apart
    summary = (f"{len(shown)} figures ({', '.join(shown)}) and every case ({len(s.groups)})" if shown
               else f"every case ({len(s.groups)})")
    return "".join(head) + H.folded(summary, "".join(body))


def _write(records: list[CaseRecord], out: Path, source: str, project_rows: float,
           prices: Prices = DEFAULT_PRICES) -> Path:
    """Write the whole report into the (new, empty) directory ``out``."""
    current, superseded = latest_per_case(records)
    groups = case_groups(current, prices)
    styles = label_styles((g.adapter, g.label()) for g in groups)

    verdict_html, section_html, nav, placed = [], [], [], []
    for i, ((dataset, profile, threads, setting), sgroups) in enumerate(sections(groups).items(), start=1):
        s = Section(_section_title(dataset, profile, threads, setting), f"s{i:02d}", out, sgroups, styles,
                    project_rows, prices)
        anchor = f"s{i}"
        placed.append((s, anchor))
        nav.append(f'<a href="#{anchor}">{H.esc(_nav_title(dataset, profile, threads, setting))}</a>')
        # the answer in sentences, the table behind them one click away: nine sections of tables were 14,000 px
        answers = T.answer_sentences(s.verdicts, s.out_of_core_verdicts, get_task(s.task).loss.label)
        verdict_html.append(
            f"<h3>{H.esc(s.title)}</h3>"
            + (f"<p class=answer-line>{' '.join(H.esc(a) for a in answers)}</p>" if answers else "")
            + H.folded(f"the verdict at {len(s.verdicts)} scale(s): fastest, leanest, most accurate, cheapest, "
                       "Pareto front, learned nothing, failed",
                       T.verdict_table(s.verdicts, s.task, s.out_of_core_verdicts, caption=False, section=s.title)))
        section_html.append(_section_html(s, anchor))
    answer = answer_html(leads(placed), out, styles)

    # grids of settings (--param) and what each model learned: sections of their own, shown when they have data
    tuning_html, insight_html = tuning_section(current, out), insight_section(current, out)
    extra_nav = (('<a href="#tuning">What is worth tuning</a>' if tuning_html else "")
                 + ('<a href="#insight">What each model learned</a>' if insight_html else ""))
    counts = Counter(r.status for r in current)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    header = (
        "<header><h1>oocbench comparison report</h1>"
        "<p>Which library should I use at my scale, and what will it cost? Throughput, peak memory and accuracy of "
        "each library's streaming API on the same data, as the data grows.</p>"
        f"<p class=muted>Generated {H.esc(generated)} from {H.esc(source or 'records')}: {len(current)} case "
        f"record(s) ({H.esc(', '.join(f'{v} {k}' for k, v in sorted(counts.items())))})"
        + (f", {len(superseded)} older record(s) superseded by reruns (kept in the raw data)" if superseded else "")
        + ". Raw data: <a href=\"results.csv\">results.csv</a>, <a href=\"results.json\">results.json</a>.</p>"
        "<nav>" + ("<a href=\"#answer\">Answer</a>" if answer else "") + "<a href=\"#verdict\">Verdict</a>"
        + "".join(nav) + extra_nav + "<a href=\"#adapters\">Adapters</a><a href=\"#machine\">Machine</a></nav></header>")
    body = [H.status_notes(current), answer, '<h2 id="verdict">Verdict</h2>', T.verdict_rules(g.task for g in groups),
            *verdict_html, *section_html, tuning_html, insight_html,
            '<h2 id="adapters">Adapters</h2>', H.folded(f"what each of the {len({r.case.adapter for r in current})} "
                                                        "adapters is, its update semantics and settings",
                                                        T.adapters_table(current)),
            '<h2 id="machine">Machine and software</h2>',
            H.folded("the machine, the libraries' versions and what the memory figures cover",
                     T.machine_table(current) + "<h3>What the memory figures cover</h3>" + H.memory_notes(current))]
    index = out / "index.html"
    index.write_text(H.page("oocbench comparison report", header, body))
    write_raw(out, current, superseded)
    return index
