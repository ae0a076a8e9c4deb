"""The report's "What each model learned" section: top features by source column, recovery, agreement.

Reads ``extra.insight`` (written by the harness through :mod:`oocbench.insight`) of the ok records. Per
dataset:

- per adapter, its top features named by source column (and, for a hashing bucket, the raw values that fall
  in it), from one record: the default setting (no overrides), the largest scale, ``matched`` before
  ``recommended``;
- on synthetic data with known coefficients, how many of the informative features are among each adapter's
  top ``n_informative``, at every scale run, and how many of those the scale can detect at all;
- a heatmap of ``|weight|`` or importance (each adapter scaled to its largest) over the union of top features;
- how much the libraries agree on what matters: Spearman's rank correlation of ``|weight|`` / importance over
  the union of two adapters' top features, on the features both cover (numeric columns are in every feature
  space; hashing buckets only where both hash with the same bits; whole categorical columns only where both
  keep them whole). A feature outside an adapter's recorded top 100 counts as 0 for it.

:func:`insight_section` returns an HTML fragment (no ``<html>``), writing its PNGs under ``out_dir/plots``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from oocbench.fmt import fmt_rows
from oocbench.records import CaseRecord
from oocbench.reports.draw import save
from oocbench.reports.html import folded
from oocbench.reports.load import latest_per_case

#: features listed per adapter in the section's table
SHOWN = 10
#: features per adapter taken into the heatmap (their union, at most :data:`HEATMAP_MAX` rows)
HEATMAP_PER_ADAPTER = 8
HEATMAP_MAX = 30
#: features per adapter whose union the agreement is computed over
AGREEMENT_TOP = 20
TRUE_MODEL = "true model"
PROFILE_ORDER = ("matched", "recommended", "tuned")
RC = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 10, "figure.dpi": 100, "savefig.dpi": 100}


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def insight_of(record: CaseRecord) -> dict[str, Any] | None:
    """The record's ``extra.insight`` when it is an ok record that has one."""
    ins = record.extra.get("insight")
    return ins if record.status == "ok" and isinstance(ins, dict) else None


def _default_setting(record: CaseRecord) -> bool:
    return not record.case.params and not record.case.setting()


def representative(records: Iterable[CaseRecord]) -> CaseRecord | None:
    """The record an adapter's insight is shown from: the default setting first, then the largest scale,
    ``matched`` before ``recommended``, one thread, the first repeat."""
    def rank(r: CaseRecord) -> tuple:
        profile = PROFILE_ORDER.index(r.case.profile) if r.case.profile in PROFILE_ORDER else len(PROFILE_ORDER)
        return (not _default_setting(r), -r.case.scale, profile, r.case.threads != "1", r.case.repeat)

    ranked = sorted((r for r in records if insight_of(r) is not None), key=rank)
    return ranked[0] if ranked else None


def feature_vector(ins: dict[str, Any]) -> dict[str, float]:
    """``key -> |value|`` of the recorded top features (``ranked``)."""
    return {k: abs(float(v)) for k, v in ins.get("ranked") or []}


def families(ins: dict[str, Any]) -> set[str]:
    return set(ins.get("families") or [])


def _family(key: str) -> str:
    return key.split(":", 1)[0]


def true_insight(ins: dict[str, Any]) -> dict[str, Any] | None:
    """The true model as a pseudo-adapter's insight (``ranked`` = the non-zero true coefficients), from the
    ``informative`` part of a record of synthetic data."""
    info = ins.get("informative")
    if not info or not info.get("true"):
        return None
    true = sorted(((t[0], float(t[1])) for t in info["true"]), key=lambda kv: -abs(kv[1]))
    return {"ranked": [[k, v] for k, v in true], "families": ["num"], "kind": "weights",
            "top": [{"key": k, "label": k.split(":", 1)[1], "value": v} for k, v in true]}


def spearman(a: dict[str, float], b: dict[str, float], fa: set[str], fb: set[str],
             top: int = AGREEMENT_TOP) -> tuple[float | None, int]:
    """Spearman's rho of two ``key -> |value|`` maps over the union of their ``top`` keys that both feature
    spaces cover (families ``fa`` and ``fb``); a key absent from a map counts as 0. ``(None, n)`` when fewer
    than 3 keys are shared or a side is constant.

    >>> spearman({"num:a": 3, "num:b": 2, "num:c": 1}, {"num:a": 30, "num:b": 20, "num:c": 1}, {"num"}, {"num"})
    (1.0, 3)
    """
    from scipy.stats import spearmanr

    common = fa & fb

    def head(m: dict[str, float]) -> list[str]:
        return [k for k in sorted(m, key=lambda k: -m[k])[:top] if _family(k) in common]

    keys = sorted(set(head(a)) | set(head(b)))
    if len(keys) < 3:
        return None, len(keys)
    x, y = [a.get(k, 0.0) for k in keys], [b.get(k, 0.0) for k in keys]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None, len(keys)
    rho = float(spearmanr(x, y).statistic)
    return (None if math.isnan(rho) else rho), len(keys)


def _label_map(insights: Iterable[dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for ins in insights:
        for t in ins.get("top") or []:
            labels.setdefault(t["key"], str(t.get("label") or t["key"]))
    return labels


def _fmt_value(v: float, kind: str | None) -> str:
    """A signed weight with its sign (``+0.41``), an importance without one."""
    return f"{v:+.3g}" if kind == "weights" else f"{v:.3g}"


def _what(ins: dict[str, Any]) -> str:
    if not ins.get("top"):
        return "-"
    return "signed weight" if ins.get("kind") == "weights" else "importance (gain)"


def _values_title(t: dict[str, Any]) -> str:
    """Hover text of a hashing bucket: every recorded raw value with its sample count."""
    if not t.get("values"):
        return ""
    parts = [f"{v['column']}={v['value']} ({v['rows']:,} rows)" for v in t["values"]]
    return f"bucket {t.get('bucket')}: " + "; ".join(parts) + f" of {t.get('sample_rows_in_bucket', 0):,} sampled"


def top_table(chosen: dict[str, CaseRecord], dataset_note: str = "") -> str:
    """One row per adapter: the record used, what is ranked, recovery, and the top features in order."""
    head = ["adapter", "record", "ranked by", "informative recovered", f"top {SHOWN} features (source column = value)"]
    rows = []
    for adapter, r in chosen.items():
        ins = insight_of(r) or {}
        items = []
        for t in (ins.get("top") or [])[:SHOWN]:
            title = _values_title(t)
            attr = f' title="{_esc(title)}"' if title else ""
            items.append(f"<span{attr}>{t['rank']}. <b>{_esc(t.get('label'))}</b> <span class=muted>"
                         f"{_esc(_fmt_value(t['value'], ins.get('kind')))}</span></span>")
        listing = " &middot; ".join(items)
        if ins.get("unavailable"):
            listing += f"<div class='small muted'>{'Not covered' if items else 'No insight'}: {_esc(ins['unavailable'])}</div>"
        record = f"{r.case.profile}, {fmt_rows(r.rows or r.case.scale)} rows" + (
            f", {r.case.setting()}" if r.case.setting() else "")
        rows.append(f"<tr><td>{_esc(adapter)}</td><td>{_esc(record)}</td><td>{_esc(_what(ins))}</td>"
                    f"<td class=num>{_recovery_cell(ins)}</td><td>{listing}</td></tr>")
    note = f"<p class='small muted'>{_esc(dataset_note)}</p>" if dataset_note else ""
    return (note + "<table class=insight><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _recovery_cell(ins: dict[str, Any]) -> str:
    info = ins.get("informative")
    if not info:
        return "-"
    text = f"{info['recovered']} / {info['of']}"
    det = info.get("detectable")
    sub = ""
    if det and det["of"] != info["of"]:
        sub = f"{det['recovered']} / {det['of']} detectable"
    missed = ", ".join(k.split(":", 1)[1] for k in info.get("missed") or [])
    if missed:
        sub += ("; " if sub else "") + f"missed {missed}"
    return _esc(text) + (f'<span class="range">{_esc(sub)}</span>' if sub else "")


def recovery_table(records: list[CaseRecord]) -> str:
    """Adapter x scale: informative features recovered (and detectable ones), default setting only."""
    cells: dict[str, dict[int, dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: (r.case.repeat, r.case.profile != "matched")):
        ins = insight_of(r)
        if ins is None or not ins.get("informative") or not _default_setting(r):
            continue
        cells.setdefault(r.case.adapter, {}).setdefault(r.case.scale, ins)
    if not cells:
        return ""
    scales = sorted({s for per in cells.values() for s in per})
    head = "".join(f"<th>{_esc(fmt_rows(s))} rows</th>" for s in scales)
    body = []
    for adapter in sorted(cells):
        tds = "".join(f"<td class=num>{_recovery_cell(cells[adapter][s])}</td>" if s in cells[adapter]
                      else "<td class=num>-</td>" for s in scales)
        body.append(f"<tr><td>{_esc(adapter)}</td>{tds}</tr>")
    return (f"<table class=recovery><thead><tr><th>adapter</th>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table>")


def agreement_table(named: dict[str, dict[str, Any]]) -> str:
    """The Spearman matrix of every pair (``rho`` and, beneath, the number of features compared)."""
    names = list(named)
    vecs = {n: feature_vector(ins) for n, ins in named.items()}
    fams = {n: families(ins) for n, ins in named.items()}
    head = "".join(f"<th>{_esc(n)}</th>" for n in names)
    body = []
    for a in names:
        tds = []
        for b in names:
            if a == b:
                tds.append("<td class=num>1</td>")
                continue
            rho, n = spearman(vecs[a], vecs[b], fams[a], fams[b])
            if rho is None:
                why = "no common feature space" if not fams[a] & fams[b] else f"{n} feature(s) in common"
                tds.append(f'<td class=num title="{_esc(why)}">-</td>')
            else:
                tds.append(f'<td class=num>{rho:+.2f}<span class="range">n={n}</span></td>')
        body.append(f"<tr><th>{_esc(a)}</th>{''.join(tds)}</tr>")
    return (f"<table class=agreement><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table>")


def heatmap(named: dict[str, dict[str, Any]], out_dir: Path, stem: str, title: str) -> str | None:
    """A PNG of ``|value| / max`` per adapter over the union of their top features; returns its relative path."""
    keys: list[str] = []
    for ins in named.values():
        for k, _ in (ins.get("ranked") or [])[:HEATMAP_PER_ADAPTER]:
            if k not in keys:
                keys.append(k)
    keys = keys[:HEATMAP_MAX]
    if not keys or len(named) < 1:
        return None
    labels = _label_map(named.values())
    M = np.full((len(keys), len(named)), np.nan)
    for j, ins in enumerate(named.values()):
        vec, fams = feature_vector(ins), families(ins)
        top = max(vec.values(), default=0.0)
        for i, k in enumerate(keys):
            if _family(k) in fams and top > 0:
                M[i, j] = vec.get(k, 0.0) / top  # NaN: the feature is outside this adapter's feature space
    with _rc():
        fig = Figure(figsize=(max(4.5, 1.1 * len(named) + 3.5), max(2.5, 0.28 * len(keys) + 1.4)))
        ax = fig.add_subplot()
        cmap = _cmap()
        im = ax.imshow(np.ma.masked_invalid(M), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(named)), list(named), rotation=30, ha="right")
        ax.set_yticks(range(len(keys)), [_short(labels.get(k, k.split(":", 1)[1])) for k in keys])
        ax.set_title(f"What matters: {title}")
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="|weight| or importance / the adapter's largest")
        rel = save(fig, Path(out_dir), stem)
    return rel


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _cmap():
    import matplotlib

    # grey: the adapter's feature space does not hold this feature
    return matplotlib.colormaps["viridis"].with_extremes(bad="0.85")


def _rc():
    import matplotlib

    return matplotlib.rc_context(RC)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()[:40] or "data"


def insight_section(records: list[CaseRecord], out_dir: str | Path) -> str:
    """The "What each model learned" HTML fragment for ``records`` ("" when no record has an insight).

    Parameters
    ----------
    records : list of CaseRecord
        Every record of the report (a case recorded twice counts from its latest record).
    out_dir : str or Path
        The report directory: heatmaps go to ``out_dir/plots/insight-<dataset>.png``, referenced relatively.
    """
    current, _ = latest_per_case(records)
    by_dataset: dict[str, list[CaseRecord]] = {}
    for r in current:
        if r.extra.get("insight") is not None:
            by_dataset.setdefault(r.case.dataset, []).append(r)
    if not by_dataset:
        return ""
    parts = ['<h2 id="insight">What each model learned</h2>',
             "<p class=muted>Each adapter's largest weights (linear models: signed, on the features it learnt from) "
             "or gain importances (trees), named by source column; a hashing bucket is named by the raw values "
             "that fall in it among the first training rows (several columns' values may share a bucket: hover "
             "a feature for its counts). Agreement: Spearman's rank correlation of |weight| / importance over "
             "the union of two adapters' top features that both feature spaces hold.</p>"]
    shown = len(parts)  # the heading and what the section is: above the fold
    for dataset, recs in sorted(by_dataset.items()):
        adapters = sorted({r.case.adapter for r in recs})
        chosen = {a: rep for a in adapters if (rep := representative(r for r in recs if r.case.adapter == a))}
        if not chosen:
            continue
        anchor = f"insight-{_slug(dataset)}"
        parts.append(f'<h3 id="{_esc(anchor)}">{_esc(dataset)}</h3>')
        sample = sorted({int(s) for r in chosen.values() if (s := (insight_of(r) or {}).get("sample_rows"))})
        note = (f"Hashing buckets named from the first {', '.join(fmt_rows(s) for s in sample)} training rows."
                if sample else "")
        parts.append(top_table(chosen, note))
        rec_table = recovery_table(recs)
        if rec_table:
            parts.append("<p>Informative features recovered (of the features with a non-zero true coefficient, how "
                         "many are among the adapter's top n by |weight| or importance; beneath: of those the scale "
                         "can tell from zero, at least 3 standard errors of the maximum-likelihood estimate), "
                         "default setting, by training rows:</p>" + rec_table)
        named = {a: ins for a, r in chosen.items() if (ins := insight_of(r)) and ins.get("ranked")}
        truth = next((t for r in chosen.values() if (t := true_insight(insight_of(r) or {}))), None)
        if truth is not None:
            named[TRUE_MODEL] = truth
        plot = heatmap(named, out_dir, f"insight-{_slug(dataset)}", dataset) if named else None
        if plot:
            parts.append(f'<figure><img src="{_esc(plot)}" alt="{_esc(f"Top features per adapter on {dataset}")}" '
                         f'loading="eager"><figcaption><b>What matters on {_esc(dataset)}.</b> |weight| or '
                         "importance of each adapter's top features, scaled to its largest; grey: a feature outside "
                         "that adapter's feature space.</figcaption></figure>")
        if len(named) >= 2:
            parts.append("<p>Agreement on what matters (Spearman's rho; n: features compared):</p>"
                         + agreement_table(named))
    return "".join(parts[:shown]) + folded(f"{len(by_dataset)} dataset(s): top features, recovery and agreement", "".join(parts[shown:]))
