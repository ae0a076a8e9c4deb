"""MkDocs hooks (``mkdocs.yml``): the adapters page's table is generated from the registry at build time
(:func:`adapter_table.table`), so it lists exactly the adapters this checkout registers, with what each says of
itself."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapter_table import table  # noqa: E402 - found beside this file

MARK = "<!-- adapters-table -->"


def on_page_markdown(markdown: str, page, config, files) -> str:  # MkDocs' hook signature
    return markdown.replace(MARK, table()) if MARK in markdown else markdown
