"""The adapters table (Markdown) from the registry, so the table stays true to the code.

The documentation site inserts it into ``docs/adapters.md`` at build time (``scripts/mkdocs_hooks.py``);
``.venv/bin/python scripts/adapter_table.py`` prints it.
Hyperparameters are the declared ones (``params`` merged with each profile's overrides); the effective
values an adapter derives at setup (e.g. ``sklearn.batch``'s C from the row count) are in every record.
"""

from __future__ import annotations

from typing import Any

from oocbench.adapters.registry import discover


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v!r}`" for k, v in params.items()) or "library defaults"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table() -> str:
    """Markdown table: adapter, library, version, API path, update semantics, matched / recommended params."""
    rows = ["| adapter | library | version | memory | input formats | API path | update semantics | matched | "
            "recommended |", "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in discover().items():
        cls = entry.cls
        if cls is None:
            rows.append(f"| `{name}` | ? | not installed | | | {_cell(entry.reason)} | | | |")
            continue
        info = cls.describe()
        prof = {p: {**info["params"], **info["profiles"].get(p, {})} for p in ("matched", "recommended")}
        version = info["version"] or "not installed"
        sparse = {p: info.get("sparse_profiles", {}).get(p) for p in ("matched", "recommended")}
        cells = {p: _fmt(prof[p]) + (f"; on CSR: {_fmt(sparse[p])}" if sparse[p] else "") for p in prof}
        memory = "in memory (holds every row)" if cls.holds_every_row() else "streaming (out of core)"
        rows.append(f"| `{name}` | {info['library']} | {version} | {memory} | {', '.join(info['input_formats'])} | "
                    f"{_cell(info['api_path'])} | {_cell(info['update_semantics'])} | {_cell(cells['matched'])} | "
                    f"{_cell(cells['recommended'])} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
