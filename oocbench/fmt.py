"""Number formatting shared by the CLI, the plots and the HTML tables (plain text; the HTML layer escapes it).

>>> fmt_rows(100_000), fmt_rows(2_500_000), fmt_bytes(13.7 * 2**20), fmt_rate(1.18e6), fmt_seconds(0.0412)
('100k', '2.5M', '13.7 MiB', '1.18M rows/s', '41.2 ms')
"""

from __future__ import annotations

import math


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_rows(n: float | None) -> str:
    """Row counts with k / M / B suffixes, no trailing zeros."""
    if _missing(n):
        return "-"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"


def fmt_bytes(n: float | None) -> str:
    """Binary units, three significant digits, never exponent notation (1000-1023 of a unit stay whole).

    >>> fmt_bytes(1020 * 1024), fmt_bytes(1.5 * 2**30), fmt_bytes(512)
    ('1020 KiB', '1.5 GiB', '512 B')
    """
    if _missing(n):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" or abs(n) >= 100 else f"{n:.3g} {unit}"
        n /= 1024
    return str(n)


def fmt_rate(r: float | None) -> str:
    if _missing(r):
        return "-"
    return f"{fmt_rows(r)} rows/s"


def fmt_seconds(s: float | None) -> str:
    if _missing(s):
        return "-"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s" if s < 600 else f"{s / 60:.3g} min"


def fmt_num(x: float | None, digits: int = 4) -> str:
    if _missing(x):
        return "-"
    return f"{x:.{digits}f}"


def printable(text: str, limit: int = 2000) -> str:
    """``text`` safe to print on a terminal: control characters (an escape sequence from a file of random bytes
    would drive the terminal) and U+FFFD (a byte that was not UTF-8) written as escapes, cut to ``limit``
    characters.

    >>> printable("a\\x1b[2Jb\\ufffdc")
    'a\\\\x1b[2Jb\\\\ufffdc'
    >>> printable("x" * 10, limit=4)
    'xxxx...'
    """
    out = "".join(c if c.isprintable() and c != "\ufffd" else c.encode("unicode_escape").decode("ascii")
                  for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


def elide_binary(text: str) -> str:
    """``text`` cut before the first character that is not printable text (a control character, or U+FFFD for a
    byte that was not UTF-8), with what was cut named: an error that quotes a line of a binary file.

    >>> elide_binary("CSV parse error: Expected 1 columns, got 3: \\x00\\ufffd\\x1b")
    'CSV parse error: Expected 1 columns, got 3: (bytes that are not text, not shown)'
    """
    bad = next((i for i, c in enumerate(text) if not c.isprintable() or c == "\ufffd"), None)
    if bad is None:
        return text
    head = text[:bad]
    cut = head.rfind(": ")
    return (head[:cut] if cut >= 0 else head).rstrip() + ": (bytes that are not text, not shown)"
