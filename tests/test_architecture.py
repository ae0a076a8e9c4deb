"""The house's layout: datasets -> features -> adapters -> harness -> records -> reports, with no import circle.

Every ``import`` in the package (module level and inside functions) is read with :mod:`ast`; a module may import
only from its own stage or an earlier one. ``records`` is the schema the harness writes and the reports read,
so it sits with the foundations (it imports only ``oocbench.files``, how a user's path is opened); ``analysis`` reads records and sits with them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "oocbench"

# (stage rank, module prefixes), in the order of the data flow; the longest matching prefix wins
STAGES: list[tuple[int, tuple[str, ...]]] = [
    (0, ("oocbench", "oocbench.config", "oocbench.fmt", "oocbench.files", "oocbench.signals", "oocbench.storage", "oocbench.metrics",
         "oocbench.provenance", "oocbench.records")),
    (1, ("oocbench.datasets",)),
    (2, ("oocbench.features", "oocbench.insight")),
    (3, ("oocbench.curve", "oocbench.adapters")),
    (4, ("oocbench.harness", "oocbench.adapters.checks")),  # runs the harness: it sits with it
    (5, ("oocbench.analysis", "oocbench.asv_results", "oocbench.cost", "oocbench.advice")),
    (6, ("oocbench.reports",)),
    (7, ("oocbench.cli", "oocbench.cli_advise", "oocbench.__main__", "oocbench.api")),
]


#: (importer, imported) pairs allowed against the flow, each with why
ALLOWED = {
    ("oocbench", "oocbench.api"): "the package's public API, imported lazily on first use (PEP 562 __getattr__)",
}


def stage(module: str) -> int:
    best, rank = -1, None
    for r, prefixes in STAGES:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), r
    assert rank is not None, f"{module} has no stage in tests/test_architecture.py"
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """oocbench modules imported by ``path`` (``from oocbench import x`` counts as ``oocbench.x`` if x is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "oocbench"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "oocbench":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / sub.replace(".", "/") / "__init__.py").exists()
                found.add(sub if is_module else node.module)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(graph()))
def test_no_import_from_a_later_stage(module: str) -> None:
    later = sorted(m for m in graph()[module] if stage(m) > stage(module) and (module, m) not in ALLOWED)
    assert not later, f"{module} (stage {stage(module)}) imports from a later stage: {later}"


def test_no_module_level_import_circle() -> None:
    level: dict[str, set[str]] = {}
    for p in PACKAGE.rglob("*.py"):
        tree = ast.parse(p.read_text())
        deps = set()
        for node in tree.body:  # module level only: imports inside functions cannot deadlock an import
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("oocbench"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("oocbench")}
        level[module_name(p)] = deps
    seen: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if seen.get(m) == 2:
            return
        assert seen.get(m) != 1, f"import circle: {' -> '.join(path + [m])}"
        seen[m] = 1
        for d in sorted(level.get(m, ())):
            if d in level and d != m and not m.startswith(d + "."):  # a package's own __init__ is not a circle
                visit(d, path + [m])
        seen[m] = 2

    for m in sorted(level):
        visit(m, [])


def test_the_stage_map_catches_a_backward_import() -> None:
    assert stage("oocbench.harness.runner") > stage("oocbench.adapters.vw") > stage("oocbench.features")
    assert stage("oocbench.reports.plots") > stage("oocbench.records")
