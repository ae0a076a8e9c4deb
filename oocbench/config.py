"""Where oocbench keeps data and results, and the named scales."""

from __future__ import annotations

import math
import os
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


def data_dir() -> Path | str:
    """Root of generated / converted datasets (``$OOCBENCH_DATA_DIR``, default ``./data``).

    A URL (``s3://bucket/prefix``) is returned as the string: ``Path`` would fold its ``//``.
    """
    value = os.environ.get("OOCBENCH_DATA_DIR", "data")
    return value if "://" in value else Path(value)


def results_dir() -> Path:
    """Where case records are appended (``$OOCBENCH_RESULTS_DIR``, default ``./results``)."""
    return Path(os.environ.get("OOCBENCH_RESULTS_DIR", "results"))


#: the largest scale accepted: 10^12 rows is ~80 TB of synth-binary, far past any disk this runs on
MAX_ROWS = 10**12


def parse_scale(text: str | int) -> int:
    """Turn ``"m"``, ``"1e5"``, ``"100000"`` or ``100000`` into a row count.

    >>> parse_scale("m"), parse_scale("1e4"), parse_scale(1000)
    (100000, 10000, 1000)
    """
    if isinstance(text, int):
        rows = text
    elif text in SCALES:
        rows = SCALES[text]
    else:
        try:
            value = float(text)
        except ValueError:
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
