"""Where oocbench keeps data and results, and the named scales."""

from __future__ import annotations

import math
import os
import re
from decimal import Decimal
from pathlib import Path

#: Named scale tiers (rows of training data). Any positive integer is a valid scale too.
SCALES: dict[str, int] = {
    "xs": 10**3,
    "s": 10**4,
    "m": 10**5,
    "l": 10**6,
    "xl": 10**7,
    "xxl": 10**8,
    # larger than this project's machine's RAM (24 GB) on disk: synth-binary is 84 B/row uncompressed
    # (20 float32 features + float32 target), so 3.4e8 rows = 28.6 GB (scripts/huge_run.py)
    "huge": 340_000_000,
}


def _env_path(name: str, default: str) -> str:
    """``$name``, or ``default`` when it is unset or empty (blank): ``OOCBENCH_DATA_DIR=`` meant the current
    directory (``Path("")`` is ``.``), where datasets then landed without a word; empty is unset, as for XDG_*."""
    return os.environ.get(name, "").strip() or default


def check_url(text: str, what: str = "URL") -> str:
    """``text`` when it is a URL with a bucket (or host) after ``scheme://``, else :class:`ValueError` saying so.

    ``s3://`` alone, or ``s3:///prefix``, made pyarrow take the first path part - the dataset's name - as the
    bucket. ``file://`` URLs have no host and are fine.

    >>> check_url("s3://bucket"), check_url("file:///tmp/x")
    ('s3://bucket', 'file:///tmp/x')
    >>> check_url("s3://", "--data")
    Traceback (most recent call last):
    ...
    ValueError: --data 's3://' names no bucket: give s3://BUCKET or s3://BUCKET/PREFIX
    """
    scheme, _, rest = text.partition("://")
    if scheme != "file" and not re.split(r"[/?#]", rest, maxsplit=1)[0]:
        raise ValueError(f"{what} {text!r} names no bucket: give {scheme}://BUCKET or {scheme}://BUCKET/PREFIX")
    return text


def data_dir() -> Path | str:
    """Root of generated / converted datasets (``$OOCBENCH_DATA_DIR``, default ``./data``; empty is unset).

    A URL (``s3://bucket/prefix``) is returned as the string: ``Path`` would fold its ``//``.
    """
    value = _env_path("OOCBENCH_DATA_DIR", "data")
    return check_url(value, "$OOCBENCH_DATA_DIR") if "://" in value else Path(value)


def results_dir() -> Path:
    """Where case records are appended (``$OOCBENCH_RESULTS_DIR``, default ``./results``; empty is unset)."""
    return Path(_env_path("OOCBENCH_RESULTS_DIR", "results"))


#: the largest scale accepted: 10^12 rows is ~80 TB of synth-binary, far past any disk this runs on
MAX_ROWS = 10**12


#: row-count suffixes as :func:`oocbench.fmt.fmt_rows` prints them (lower-case "m" alone is the named scale 10^5)
_SUFFIXES = {"k": 10**3, "K": 10**3, "M": 10**6, "B": 10**9}


def parse_scale(text: str | int) -> int:
    """Turn ``"m"``, ``"1e5"``, ``"100000"``, ``100000`` or a count as the reports print it (``"10k"``,
    ``"1M"``, ``"2.5M"``, ``"1B"``) into a row count.

    >>> parse_scale("m"), parse_scale("1e4"), parse_scale(1000), parse_scale("10k"), parse_scale("2.5M")
    (100000, 10000, 1000, 10000, 2500000)
    """
    if isinstance(text, int):
        rows = text
    elif text in SCALES:
        rows = SCALES[text]
    else:
        number, factor = text, 1
        if len(text) > 1 and text[-1] in _SUFFIXES and text[-2].isdigit():  # "10k", "1M": the reports' labels
            number, factor = text[:-1], _SUFFIXES[text[-1]]
        try:
            value = float(Decimal(number) * factor) if factor > 1 else float(number)  # exact: "1.1k" is 1100
        except (ValueError, ArithmeticError):
            raise ValueError(
                f"unknown scale {text!r}: use a row count or one of {', '.join(f'{k}={v:g}' for k, v in SCALES.items())}"
            ) from None
        if not math.isfinite(value) or value > MAX_ROWS:  # 1e30 looped over ~10^24 shard indices; inf crashed
            raise ValueError(f"scale must be a finite row count up to {MAX_ROWS:.0e}, got {text!r}")
        if value != int(value):
            raise ValueError(f"scale must be a whole number of rows, got {text!r}")
        rows = int(value)
    if rows < 1 or rows > MAX_ROWS:
        raise ValueError(f"scale must be from 1 to {MAX_ROWS:.0e} rows, got {text!r}")
    return rows


_MEMORY_UNITS = {"": 2**30, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
                 "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_memory(text: str, total_bytes: int) -> int:
    """A memory limit in bytes from ``"12GiB"``, ``"500MB"``, ``"50%"`` (of ``total_bytes``) or ``"12"`` (GiB).

    The one unit every command takes for a memory limit (``oocbench run --memory-limit``,
    ``scripts/huge_run.py --memory-limit``).

    >>> parse_memory("12GiB", 0), parse_memory("1.5", 0), parse_memory("50%", 8 * 2**30) == 4 * 2**30
    (12884901888, 1610612736, True)
    >>> parse_memory("lots", 0)
    Traceback (most recent call last):
    ...
    ValueError: memory limit must be bytes with a unit (12GiB, 500MB), a share of RAM (50%) or GiB (12), got 'lots'
    """
    raw = str(text).strip().replace(" ", "")
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[0-9]+)?)(%|[a-zA-Z]*)", raw)
    unit = match.group(2).lower() if match else None
    if match is None or (unit != "%" and unit not in _MEMORY_UNITS):
        raise ValueError("memory limit must be bytes with a unit (12GiB, 500MB), a share of RAM (50%) or GiB (12), "
                         f"got {text!r}")
    value = float(match.group(1))
    if unit == "%":
        if not 0 < value <= 100:
            raise ValueError(f"a memory limit in % of RAM must be in (0, 100], got {text!r}")
        return max(1, int(total_bytes * value / 100))
    out = value * _MEMORY_UNITS[unit]
    if not math.isfinite(out) or out < 1 or out > 2**60:
        raise ValueError(f"memory limit must be from 1 byte to 1 EiB, got {text!r}")
    return int(out)
