"""What ``oocbench datasets`` shows: every dataset, its task and tiers, what is on disk, the known optimum."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from oocbench import config
from oocbench.datasets.manifest import MANIFEST, DatasetError, Manifest
from oocbench.storage import resolve

_INSTANCE = re.compile(rf"/seed-[^/]+/rows-[^/]+/{re.escape(MANIFEST)}$")


def on_disk(name: str, base: Path | str | None = None) -> list[dict[str, Any]]:
    """Complete instances of ``name`` under the data directory (or URL): seed, rows, bytes, optimum, path."""
    out = []
    # one recursive listing (cheap on object stores, where there are no directories to glob)
    found = [p for p in (resolve(base or config.data_dir()) / name).walk_files() if _INSTANCE.search(p.path)]
    for man_path in sorted(found, key=lambda p: p.path):
        try:
            m = Manifest.load(man_path)
        except DatasetError as exc:
            out.append({"path": str(man_path.parent), "error": str(exc)})
            continue
        size = sum(s.bytes for s in m.shards) + m.holdout.bytes
        out.append({"seed": m.seed, "rows": m.rows, "bytes": size, "optimum": m.optimum, "path": str(man_path.parent)})
    return sorted(out, key=lambda d: (d.get("seed", 0), d.get("rows", 0)))


def catalog(base: Path | None = None) -> list[dict[str, Any]]:
    from oocbench.datasets import SOURCES
    from oocbench.datasets.source import describe

    rows = []
    for name, src in SOURCES.items():
        rows.append({"name": name, "task": src.task, "kind": src.kind, "tiers": list(src.tiers),
                     "on_disk": on_disk(name, base), "note": describe(src)})
    return rows
