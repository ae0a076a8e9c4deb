"""Adapter colours: derived from the name (stable across reports), perceptually distinct, never shared in a
report while the palette has room; and tick labels that do not overlap."""

from __future__ import annotations

import itertools
import math

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from oocbench.adapters.registry import adapter_names
from oocbench.fmt import fmt_seconds
from oocbench.reports.draw import log_ticks
from oocbench.reports.style import PALETTE, adapter_styles


def lab(color: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(color))
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e2000(c1: str, c2: str) -> float:
    """CIEDE2000 difference of two sRGB colours."""
    return de2000(lab(c1), lab(c2))


def de2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference of two CIELAB colours (Sharma, Wu and Dalal's formulation)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cb = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cb**7 / (cb**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dh = h2p - h1p
    dh = 0 if c1p * c2p == 0 else dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    lbp, cbp = (l1 + l2) / 2, (c1p + c2p) / 2
    hbp = (h1p + h2p) / 2 + (180 if abs(h1p - h2p) > 180 else 0) if c1p * c2p else h1p + h2p
    t = (1 - 0.17 * math.cos(math.radians(hbp - 30)) + 0.24 * math.cos(math.radians(2 * hbp))
         + 0.32 * math.cos(math.radians(3 * hbp + 6)) - 0.20 * math.cos(math.radians(4 * hbp - 63)))
    rt = -math.sin(math.radians(60 * math.exp(-(((hbp - 275) / 25) ** 2)))) * 2 * math.sqrt(cbp**7 / (cbp**7 + 25**7))
    sl = 1 + 0.015 * (lbp - 50) ** 2 / math.sqrt(20 + (lbp - 50) ** 2)
    sc, sh = 1 + 0.045 * cbp, 1 + 0.015 * cbp * t
    return math.sqrt(((l2 - l1) / sl) ** 2 + ((c2p - c1p) / sc) ** 2 + (d_h / sh) ** 2
                     + rt * ((c2p - c1p) / sc) * (d_h / sh))


@pytest.mark.parametrize(("lab1", "lab2", "expected"), [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),  # Sharma, Wu and Dalal (2005), test pairs 1, 17, 25
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644)])
def test_delta_e2000_matches_the_published_test_pairs(lab1, lab2, expected):
    assert de2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert delta_e2000("#000000", "#ffffff") == pytest.approx(100.0, abs=0.01)


def test_palette_colours_are_distinct_and_visible_on_white():
    worst = min(delta_e2000(a, b) for a, b in itertools.combinations(PALETTE, 2))
    assert worst >= 16, worst
    # the two oranges of the old palette (tab10 + Dark2) that made tf.mlp and dask-ml.incremental look alike
    old = [matplotlib.colors.to_hex(matplotlib.colormaps[m](i)) for m, i in (("tab10", 1), ("Dark2", 1))]
    assert delta_e2000(*old) < 11 < worst
    for c in PALETTE:
        assert 30 <= lab(c)[0] <= 72, c  # neither washed out on white nor near the black of the optimum line


def test_colours_follow_the_name_not_the_company_it_keeps():
    names = adapter_names()
    alone = {n: adapter_styles([n])[n] for n in names}
    everyone = adapter_styles(names)
    # every adapter keeps its own colour in a report with everyone, except where two collided (then one moved)
    moved = [n for n in names if everyone[n] != alone[n]]
    assert len(moved) <= len(names) // 2
    assert len({s.color for s in everyone.values()}) == len(names)  # no two share a colour in one report
    assert delta_e2000(everyone["tf.mlp"].color, everyone["dask-ml.incremental"].color) >= 16
    # adding a third-party adapter moves nobody who did not collide with it
    more = adapter_styles([*names, "acme.streaming"])
    assert sum(more[n] != everyone[n] for n in names) <= 1


def test_the_collision_rule_gives_distinct_colours_in_sorted_order():
    names = [f"adapter-{i}" for i in range(len(PALETTE))]
    styles = adapter_styles(names)
    assert len({s.color for s in styles.values()}) == len(PALETTE)
    first = sorted(names)[0]
    assert styles[first] == adapter_styles([first])[first]  # the first in name order keeps its own colour


def test_time_ticks_do_not_overlap_in_a_narrow_panel():
    for lo, hi in ((0.005, 1.0), (0.03, 5.0), (0.2, 0.9), (0.001, 300.0), (0.0105, 0.0225), (0.38, 0.83)):
        fig = Figure(figsize=(3.6, 3.0))
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        log_ticks(ax.xaxis, fmt_seconds, lo, hi)
        canvas.draw()
        boxes = sorted((t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()), key=lambda b: b.x0)
        assert len(boxes) >= 2, (lo, hi)
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 < b.x0, (lo, hi, [t.get_text() for t in ax.get_xticklabels()])


def test_tuned_labels_keep_their_adapters_colour_and_use_up_no_colour_of_another():
    """Tuned cases' labels ("vw.linear l2=1e-06") take their adapter's colour with a marker of their own: 15
    adapters with 3 labels each kept 15 colours (by label, 60 names wrapped the palette and two adapters in one
    legend came out alike)."""
    from oocbench.reports.style import label_styles

    names = adapter_names()
    pairs = [(n, n) for n in names] + [(n, f"{n} p={v}") for n in names for v in (1, 2)]
    styles = label_styles(pairs)
    colour = {n: styles[n].color for n in names}
    assert len(set(colour.values())) == len(names) and colour == {n: s.color for n, s in adapter_styles(names).items()}
    for n in names:
        mine = [styles[label] for a, label in pairs if a == n]
        assert {s.color for s in mine} == {colour[n]} and len({s.marker for s in mine}) == 3
