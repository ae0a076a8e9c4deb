"""One colour and marker per adapter, derived from its name: the same in every figure and in every report.

An adapter's colour is ``PALETTE[sha1(name) % len(PALETTE)]``, so adding or removing other adapters does not
change it. Two names in one report that land on the same colour: the one first in sorted order keeps it, the
other takes the next free colour of the palette (linear probing), so within a report no two adapters share a
colour while the palette has room; past :data:`PALETTE`'s length colours repeat and the marker tells them apart.

The palette was chosen for distinctness on white: 20 colours with CIE L* between 32 and 70 and chroma >= 30
(no greys: black, grey and crimson mark the optimum, failures and the machine's RAM), picked by greedy max-min
CIEDE2000 distance plus local search over a 0x22-step sRGB grid; every pair differs by a CIEDE2000 of at least
16 (``tests/test_report_style.py`` checks it). tab10 + Dark2, used before, had pairs at 7.4 (e.g. the two
oranges that made ``tf.mlp`` and ``dask-ml.incremental`` look alike).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

PALETTE = ("#ee88cc", "#00aa00", "#884400", "#00aaee", "#4400ee", "#aa0044", "#006644", "#0066aa", "#666600",
           "#ee6666", "#8888ee", "#cc22ee", "#aaaa00", "#00aaaa", "#cc0000", "#ee2288", "#444488", "#aa8844",
           "#ee6600", "#882288")
MARKERS = ("o", "s", "^", "D", "v", "P", "*", "X", "<", ">")

# adapter names come from third parties: never let a "$" turn a legend into mathtext
RC = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
      "legend.fontsize": 8, "figure.dpi": 100, "savefig.dpi": 100}


@dataclass(frozen=True)
class Style:
    color: str
    marker: str


def _digest(name: str) -> int:
    # sha1, not hash(): Python salts str hashes per process, and colours must survive a rerun
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big")


def adapter_styles(names: Iterable[str]) -> dict[str, Style]:
    """A colour and marker per name (see the module docstring for the rule).

    >>> s = adapter_styles(["sklearn.sgd", "vw.linear"])
    >>> s["sklearn.sgd"] == adapter_styles(["sklearn.sgd", "tf.mlp", "river.linear"])["sklearn.sgd"]
    True
    """
    from oocbench.adapters.registry import BUILTIN

    taken: set[int] = set()
    out = {}
    # the built-in names choose first: a third party's adapter in a report then never moves a built-in one's
    # colour (with 17 built-ins in 20 colours, alphabetical order let one new name move up to 5 others)
    for name in sorted(set(names), key=lambda n: (n not in BUILTIN, n)):
        digest = _digest(name)
        slot = digest % len(PALETTE)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        out[name] = Style(PALETTE[slot], MARKERS[(digest // len(PALETTE)) % len(MARKERS)])
    return out


def label_styles(pairs: Iterable[tuple[str, str]]) -> dict[str, Style]:
    """A style per figure label (``(adapter, label)`` pairs; a label adds overrides to the name, as tuned cases'
    do): the adapter's colour (:func:`adapter_styles`, over adapter names only, so that labels do not use up the
    palette and make two adapters share a colour), and where one adapter has several labels, one marker each.

    >>> s = label_styles([("vw.linear", "vw.linear"), ("vw.linear", "vw.linear l2=1e-06"), ("tf.mlp", "tf.mlp")])
    >>> s["vw.linear"].color == s["vw.linear l2=1e-06"].color and s["vw.linear"].marker != s["vw.linear l2=1e-06"].marker
    True
    """
    pairs = sorted(set(pairs))
    base = adapter_styles(a for a, _ in pairs)
    out: dict[str, Style] = {}
    for adapter in base:
        labels = [label for a, label in pairs if a == adapter]
        first = MARKERS.index(base[adapter].marker)
        for i, label in enumerate(labels):
            out[label] = Style(base[adapter].color, MARKERS[(first + i) % len(MARKERS)])
    return out

