"""The report's "What is worth tuning" section: how much each knob of a grid moved loss and speed.

A *grid* is the records of one adapter on one dataset, scale, profile, threads and seed whose settings differ:
hyperparameter overrides (``case.params``, from ``--param``) or harness knobs (``batch_size``, ``passes``,
``hash_bits``). A *knob* is a name whose value differs across the grid's settings (a setting without an
override of a parameter has it at the profile's value, shown as ``default``).

Per grid:

- a table of every setting: holdout loss and rows/s (median over repeats, min-max beneath) and the time the
  setting's runs took (``total_s``, summed);
- per knob, its *effect*: the largest change of the median loss (and the largest ratio of median rows/s) across
  the knob's values with every other knob held fixed, compared with the run-to-run *noise*: the largest spread
  (max - min) of the same case's repeats in the grid (relative spread for rows/s). A knob "moved" the loss when
  its effect exceeds that noise; it moved the speed when its ratio exceeds 1 + max(2 x noise,
  :data:`SPEED_FLOOR`), because grid points usually ran once and the spread of one repeated setting
  underestimates the timing noise of single runs on a shared machine (a ratio of 1.06 against a 2% spread of
  two repeats is not an effect); without repeats the noise is unknown and the section says so;
- the best setting found (lowest median loss) against the default (the setting with no override and the
  harness defaults), and what the whole grid cost (``total_s`` of every run, repeats and failures included);
- a sensitivity chart: loss and rows/s against each knob's values, one line per combination of the others.

:func:`tuning_section` returns an HTML fragment ("" when no grid has two settings).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from oocbench.fmt import fmt_num, fmt_rate, fmt_rows, fmt_seconds
from oocbench.metrics import get_task
from oocbench.records import CaseRecord, CaseSpec
from oocbench.reports.draw import save
from oocbench.reports.html import folded
from oocbench.reports.load import latest_per_case
from oocbench.reports.model import loss, task_of
from oocbench.reports.style import RC as STYLE_RC
from oocbench.reports.verdict import TIE_WITHIN

#: the smallest change of rows/s reported as an effect of a knob, whatever the measured spread (see above)
SPEED_FLOOR = 0.10
#: harness knobs a grid may vary besides ``case.params``
HARNESS_KNOBS = ("batch_size", "passes", "hash_bits")
DEFAULT = "default"
RC = {**STYLE_RC, "legend.fontsize": 7}  # the report's plot style; a legend per small panel


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def base_key(spec: CaseSpec) -> tuple:
    """What a grid holds fixed: adapter, dataset, scale, profile, threads, seed."""
    return (spec.adapter, spec.dataset, spec.scale, spec.profile, spec.threads, spec.seed)


def knob_values(spec: CaseSpec) -> dict[str, Any]:
    """Every knob of a case: the harness knobs, then its parameter overrides (an override wins a clash)."""
    return {**{k: getattr(spec, k) for k in HARNESS_KNOBS}, **dict(spec.params)}


def _sort_key(value: Any) -> tuple:
    if isinstance(value, str) and value.startswith(DEFAULT):
        return (0, 0.0, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, _text(value))


@dataclass
class Setting:
    """One point of a grid: its knob values and its records (repeats)."""

    knobs: dict[str, Any]
    records: list[CaseRecord]
    is_default: bool = False

    @property
    def ok(self) -> list[CaseRecord]:
        return [r for r in self.records if r.status == "ok"]

    def losses(self) -> list[float]:
        return [v for r in self.ok if (v := loss(r)) is not None]

    def rates(self) -> list[float]:
        return [r.rows_per_s for r in self.ok if r.rows_per_s]

    @property
    def loss(self) -> float | None:
        vals = self.losses()
        return median(vals) if vals else None

    @property
    def rate(self) -> float | None:
        vals = self.rates()
        return median(vals) if vals else None

    @property
    def cost(self) -> float:
        return sum(r.timings.total_s or 0.0 for r in self.records)

    def label(self, knobs: Iterable[str]) -> str:
        return ", ".join(f"{k}={_text(self.knobs.get(k, DEFAULT))}" for k in knobs)


@dataclass
class Effect:
    """What one knob did: the largest change across its values with the other knobs fixed."""

    knob: str
    loss: float | None = None  # largest max - min of median loss within a slice
    speed: float | None = None  # largest max / min of median rows/s within a slice
    values: list[Any] = field(default_factory=list)


@dataclass
class Grid:
    """The records of one base case (see :func:`base_key`) over two or more settings."""

    key: tuple
    task: str
    settings: list[Setting]
    knobs: list[str]

    @property
    def adapter(self) -> str:
        return self.key[0]

    @property
    def records(self) -> list[CaseRecord]:
        return [r for s in self.settings for r in s.records]

    @property
    def default(self) -> Setting | None:
        return next((s for s in self.settings if s.is_default), None)

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.settings)

    def noise(self) -> tuple[float | None, float | None, int]:
        """``(loss noise, relative rows/s noise, settings with repeats)``: the largest spread of one setting's
        ok repeats; ``None`` when no setting has two."""
        loss_noise = rate_noise = None
        repeated = 0
        for s in self.settings:
            losses, rates = s.losses(), s.rates()
            if len(losses) >= 2:
                repeated += 1
                loss_noise = max(loss_noise or 0.0, max(losses) - min(losses))
            if len(rates) >= 2:
                rel = (max(rates) - min(rates)) / median(rates)
                rate_noise = max(rate_noise or 0.0, rel)
        return loss_noise, rate_noise, repeated

    def effect(self, knob: str) -> Effect:
        out = Effect(knob, values=sorted({_hashable(s.knobs.get(knob, DEFAULT)) for s in self.settings},
                                         key=_sort_key))
        slices: dict[tuple, list[Setting]] = {}
        for s in self.settings:
            others = tuple(_hashable(s.knobs.get(k, DEFAULT)) for k in self.knobs if k != knob)
            slices.setdefault(others, []).append(s)
        for group in slices.values():
            losses = [s.loss for s in group if s.loss is not None]
            rates = [s.rate for s in group if s.rate]
            if len(losses) >= 2:
                out.loss = max(out.loss or 0.0, max(losses) - min(losses))
            if len(rates) >= 2:
                out.speed = max(out.speed or 1.0, max(rates) / min(rates))
        return out

    def best(self) -> Setting | None:
        ranked = [s for s in self.settings if s.loss is not None]
        return min(ranked, key=lambda s: s.loss) if ranked else None


def _profile_value(records: list[CaseRecord], name: str) -> str:
    """``"default (0.1)"``: a parameter left at the profile's value, read from the record's hyperparameters."""
    for r in records:
        hp = r.adapter_info.get("hyperparameters") or {}
        if name in hp:
            return f"{DEFAULT} ({_text(hp[name])})"
    return DEFAULT


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else _text(value)


def grids(records: Iterable[CaseRecord]) -> list[Grid]:
    """Every grid among ``records`` (latest record per case), sorted by dataset, adapter, scale, profile."""
    current, _ = latest_per_case(records)
    by_base: dict[tuple, dict[str, list[CaseRecord]]] = {}
    for r in current:
        point = json.dumps(knob_values(r.case), sort_keys=True, default=str)
        by_base.setdefault(base_key(r.case), {}).setdefault(point, []).append(r)
    out = []
    for key, points in by_base.items():
        if len(points) < 2:
            continue
        settings = [Setting(knob_values(recs[0].case), sorted(recs, key=lambda r: r.case.repeat))
                    for recs in points.values()]
        names: list[str] = []
        for s in settings:
            names += [k for k in s.knobs if k not in names]
        for s in settings:  # a parameter a setting does not override: the profile's value, as the record says
            for k in names:
                if k not in s.knobs:
                    s.knobs[k] = _profile_value(s.records, k)
        knobs = [k for k in names if len({_text(s.knobs.get(k, DEFAULT)) for s in settings}) > 1]
        defaults = {k: CaseSpec.__dataclass_fields__[k].default for k in HARNESS_KNOBS}
        for s in settings:
            s.is_default = (not s.records[0].case.params
                            and all(s.knobs[k] == defaults[k] for k in HARNESS_KNOBS))
        if not any(s.is_default for s in settings):  # one setting without overrides: the default, whatever its knobs
            plain = [s for s in settings if not s.records[0].case.params]
            if len(plain) == 1:
                plain[0].is_default = True
        task = next((t for r in current if base_key(r.case) == key and (t := task_of(r))), "")
        settings.sort(key=lambda s: tuple(_sort_key(s.knobs.get(k, DEFAULT)) for k in knobs))
        out.append(Grid(key, task, settings, knobs))
    return sorted(out, key=lambda g: (g.key[1], g.key[0], g.key[2], g.key[3], g.key[4], g.key[5]))


def _moved_speed(ratio: float, noise: float) -> bool:
    return ratio - 1 > max(2 * noise, SPEED_FLOOR)


def verdicts(grid: Grid) -> list[str]:
    """One plain sentence per knob: how far it moved loss and speed, against the run-to-run noise."""
    label = get_task(grid.task).loss.label
    loss_noise, rate_noise, repeated = grid.noise()
    best = min((s.loss for s in grid.settings if s.loss is not None), default=None)
    # repeats share the seed, so a deterministic learner's loss spread is 0 and any change would "count": a loss
    # effect must also exceed the verdict's tie margin (TIE_WITHIN of the best loss)
    loss_floor = max(loss_noise or 0.0, TIE_WITHIN * abs(best)) if best is not None and loss_noise is not None else None
    out = []
    for knob in grid.knobs:
        e = grid.effect(knob)
        parts = []
        if e.loss is None:
            parts.append(f"{label}: not comparable (fewer than two successful values with the others fixed)")
        elif loss_noise is None:
            parts.append(f"moved {label} by up to {e.loss:.4g} (noise unknown: no repeats)")
        else:
            word = "more than" if loss_floor is not None and e.loss > loss_floor else "within"
            noise = f"{loss_noise:.2g}" if loss_noise else "0: repeats gave the same loss"
            parts.append(f"moved {label} by up to {e.loss:.4g}, {word} the run-to-run noise ({noise}) and the "
                         f"{TIE_WITHIN:.1%} tie margin")
        if e.speed is None:
            parts.append("speed: not comparable")
        elif rate_noise is None:
            parts.append(f"rows/s by up to x{e.speed:.3g} (noise unknown)")
        else:
            word = "more than" if _moved_speed(e.speed, rate_noise) else "within"
            parts.append(f"rows/s by up to x{e.speed:.3g}, {word} the noise ({rate_noise:.0%} between repeats; "
                         f"a speed effect must exceed max(2 x that, {SPEED_FLOOR:.0%}))")
        worth = []
        if e.loss is not None and loss_floor is not None and e.loss > loss_floor:
            worth.append(label)
        if e.speed is not None and rate_noise is not None and _moved_speed(e.speed, rate_noise):
            worth.append("speed")
        head = (f"<b>{_esc(knob)}</b> ({_esc(', '.join(_text(v) for v in e.values))}): "
                + (f"<b>worth tuning for {_esc(' and '.join(worth))}</b>; " if worth else ""))
        out.append(head + _esc("; ".join(parts)))
    if loss_noise is None and rate_noise is None:
        out.append(_esc("Run-to-run noise unknown: no setting was repeated (run with --repeat 3 to measure it)."))
    else:
        out.append(_esc(f"Noise: the largest spread of one setting's repeats ({repeated} setting(s) repeated)."))
    return out


def settings_table(grid: Grid) -> str:
    label = get_task(grid.task).loss.label
    head = ["setting", f"{label} (holdout)", "throughput", "runs", "time (total_s)", "status"]
    rows = []
    best = grid.best()
    for s in grid.settings:
        losses, rates = s.losses(), s.rates()
        loss_cell = fmt_num(s.loss) + (f'<span class="range">{fmt_num(min(losses))} - {fmt_num(max(losses))}</span>'
                                       if len(losses) > 1 else "")
        rate_cell = _esc(fmt_rate(s.rate)) + (
            f'<span class="range">{_esc(fmt_rate(min(rates)))} - {_esc(fmt_rate(max(rates)))}</span>'
            if len(rates) > 1 else "")
        statuses = sorted({r.status for r in s.records})
        tags = [t for t, on in (("default", s.is_default), ("best", s is best)) if on]
        name = _esc(s.label(grid.knobs)) + (f" <b>({_esc(', '.join(tags))})</b>" if tags else "")
        reasons = "; ".join(f"{r.status}: {r.reason}" for r in s.records if r.status != "ok" and r.reason)
        rows.append(f"<tr><td>{name}</td><td class=num>{loss_cell}</td><td class=num>{rate_cell}</td>"
                    f"<td class=num>{len(s.records)}</td><td class=num>{_esc(fmt_seconds(s.cost))}</td>"
                    f"<td>{_esc(', '.join(statuses))}{f'<div class=small>{_esc(reasons)}</div>' if reasons else ''}"
                    "</td></tr>")
    return ("<table class=tuning><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def best_line(grid: Grid) -> str:
    """The best setting against the default, and the grid's cost, in one sentence."""
    label = get_task(grid.task).loss.label
    best, default = grid.best(), grid.default
    n = len(grid.records)
    cost = f"The grid cost {fmt_seconds(grid.cost)} over {n} run(s) (total_s of every run, repeats and failures)."
    if best is None:
        return f"No setting finished. {cost}"
    text = f"Best {label}: {best.label(grid.knobs)} at {fmt_num(best.loss)}"
    if best.rate:
        text += f" ({fmt_rate(best.rate)})"
    if default is None:
        text += ("; no record without overrides at the harness defaults in this grid: run the case without "
                 "--param to compare with the default profile")
    elif default is best:
        text += ": the default setting itself"
    elif default.loss is not None:
        text += f", against {fmt_num(default.loss)} for the default ({best.loss - default.loss:+.4g}"
        if best.rate and default.rate:
            text += f", x{best.rate / default.rate:.3g} the default's rows/s"
        text += ")"
    else:
        text += f"; the default did not finish ({', '.join(sorted({r.status for r in default.records}))})"
    return f"{text}. {cost}"


def sensitivity_plot(grid: Grid, out_dir: Path, stem: str) -> str:
    """Loss (top row) and rows/s (bottom row) against each knob's values, one line per combination of the
    other knobs; the default's loss and rows/s dashed. Returns the PNG's path relative to ``out_dir``."""
    import matplotlib

    label = get_task(grid.task).loss.label
    default = grid.default
    with matplotlib.rc_context(RC):
        n = len(grid.knobs)
        fig = Figure(figsize=(max(5.0, 4.4 * n), 6.0), layout="constrained")
        axes = fig.subplots(2, n, squeeze=False)
        for j, knob in enumerate(grid.knobs):
            values = grid.effect(knob).values
            pos = {_text(v): i for i, v in enumerate(values)}
            slices: dict[str, list[Setting]] = {}
            for s in grid.settings:
                others = ", ".join(f"{k}={_text(s.knobs.get(k, DEFAULT))}" for k in grid.knobs if k != knob)
                slices.setdefault(others, []).append(s)
            for row, (getter, ylabel) in enumerate(((lambda s: s.loss, f"{label} (holdout)"),
                                                    (lambda s: s.rate, "rows/s"))):
                ax = axes[row][j]
                for others, group in slices.items():
                    pts = sorted((pos[_text(s.knobs.get(knob, DEFAULT))], getter(s)) for s in group
                                 if getter(s) is not None)
                    if pts:
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=others or None)
                if default is not None and getter(default) is not None:
                    ax.axhline(getter(default), color="0.3", linestyle="--", linewidth=1, label="default")
                ax.set_xticks(range(len(values)), [_text(v) for v in values])
                ax.set_xlabel(knob)
                ax.set_ylabel(ylabel)
                if row == 1:  # linear from 0: a ratio of speeds reads as a ratio of heights
                    ax.set_ylim(bottom=0)
                    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rows(v)))
                if ax.get_legend_handles_labels()[0] and (len(slices) > 1 or default is not None):
                    ax.legend(loc="best")
        adapter, dataset, scale, profile, threads, _ = grid.key
        fig.suptitle(f"Sensitivity: {adapter} on {dataset}, {fmt_rows(scale)} rows, {profile}, threads={threads}")
        rel = save(fig, Path(out_dir), stem)
    return rel


def tuning_section(records: list[CaseRecord], out_dir: str | Path) -> str:
    """The "What is worth tuning" HTML fragment for ``records`` ("" when no grid has two settings).

    Parameters
    ----------
    records : list of CaseRecord
        Every record of the report (a case recorded twice counts from its latest record).
    out_dir : str or Path
        The report directory: sensitivity charts go to ``out_dir/plots/tuning-NN.png``, referenced relatively.
    """
    found = grids(records)
    if not found:
        return ""
    parts = ['<h2 id="tuning">What is worth tuning</h2>',
             "<p class=muted>Cases that differ only in hyperparameter overrides (--param) or harness knobs (batch "
             "size, passes, hash bits). A knob's effect: the largest change of the median holdout loss (and ratio of "
             "median rows/s) across its values with every other knob fixed; noise: the largest spread of one "
             "setting's repeats. The grid's cost is the wall time of every run in it.</p>"]
    shown = len(parts)  # the heading and what the section is: above the fold
    for i, grid in enumerate(found, start=1):
        adapter, dataset, scale, profile, threads, seed = grid.key
        title = (f"{adapter} on {dataset}, {fmt_rows(scale)} rows, {profile}, threads={threads}"
                 + (f", seed {seed}" if seed else ""))
        parts.append(f'<h3 id="tuning-{i}">{_esc(title)}</h3>')
        parts.append("<ul>" + "".join(f"<li>{v}</li>" for v in verdicts(grid)) + "</ul>")
        parts.append(f"<p>{_esc(best_line(grid))}</p>")
        plot = sensitivity_plot(grid, Path(out_dir), f"tuning-{i:02d}")
        parts.append(f'<figure><img src="{_esc(plot)}" alt="{_esc("Sensitivity of " + title)}" loading="eager">'
                     f"<figcaption><b>Sensitivity: {_esc(title)}.</b> Holdout loss (top) and rows/s (bottom) "
                     "against each knob's values, one line per combination of the other knobs; dashed: the "
                     "default setting.</figcaption></figure>")
        parts.append(settings_table(grid))
    return "".join(parts[:shown]) + folded(f"{len(found)} grid(s): each knob's effect, its noise and the sensitivity charts", "".join(parts[shown:]))
