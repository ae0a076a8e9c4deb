"""What ``oocbench datasets`` shows: every dataset, its task and tiers, what is on disk, the known optimum."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from oocbench import config
from oocbench.datasets.manifest import MANIFEST, DatasetError, Manifest
from oocbench.storage import Location, resolve

_INSTANCE = re.compile(rf"/seed-[^/]+/rows-[^/]+/{re.escape(MANIFEST)}$")


def on_disk(name: str, base: Path | str | None = None) -> list[dict[str, Any]]:
    """Complete instances of ``name`` under the data directory (or URL): seed, rows, bytes, optimum, path.

    An instance whose manifest does not read, or whose data files are missing or not the size the manifest
    says (a shard deleted or cut), is listed with ``error``: why, and what to run (checksums are left to the
    reader: they would read every byte).
    """
    out = []
    # one recursive listing, with sizes (cheap on object stores, where there are no directories to glob)
    top = resolve(base or config.data_dir()) / name
    sizes = {info.path: info.size for info in top.fs.get_file_info(
        pafs.FileSelector(top.path, allow_not_found=True, recursive=True)) if info.type == pafs.FileType.File}
    found = [Location(top.fs, p, top._base) for p in sizes if _INSTANCE.search(p)]
    for man_path in sorted(found, key=lambda p: p.path):
        try:
            m = Manifest.load(man_path)
        except DatasetError as exc:
            out.append({"path": str(man_path.parent), "error": str(exc)})
            continue
        if why := _damage(m, man_path.parent, sizes):
            out.append({"path": str(man_path.parent), "error": why})
            continue
        size = sum(s.bytes for s in m.shards) + m.holdout.bytes
        out.append({"seed": m.seed, "rows": m.rows, "bytes": size, "optimum": m.optimum, "path": str(man_path.parent)})
    return sorted(out, key=lambda d: (d.get("seed", 0), d.get("rows", 0)))


def _damage(m: Manifest, root: Location, sizes: dict[str, int]) -> str:
    """Why the instance at ``root`` is damaged (a data file missing or of another size than its manifest
    says), with what to run; ``""`` when every file is there at its size."""
    for info in [*m.shards, m.holdout]:
        size = sizes.get(f"{root.path}/{info.path}")
        if size != info.bytes:
            state = "missing" if size is None else f"{size:,} bytes, the manifest says {info.bytes:,}"
            from oocbench.datasets.reader import ShardedDataset

            try:
                hint = ShardedDataset(root, verify=False).hint()
            except (DatasetError, OSError, ValueError):
                hint = f"delete {root} and generate it again"
            return f"{root}/{info.path} is {state}; {hint}"
    return ""


def catalog(base: Path | None = None) -> list[dict[str, Any]]:
    from oocbench.datasets import SOURCES
    from oocbench.datasets.source import describe

    rows = []
    for name, src in SOURCES.items():
        rows.append({"name": name, "task": src.task, "kind": src.kind, "tiers": list(src.tiers),
                     "on_disk": on_disk(name, base), "note": describe(src)})
    return rows
