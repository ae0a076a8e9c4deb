"""Rewrite every ``<!-- headline: ARGS -->`` block of the README and docs/results.md with what
``oocbench headline ARGS`` prints now (``tests/test_headline.py`` fails while a block is stale).

Usage: ``.venv/bin/python scripts/update_headlines.py`` from the repository root, after republishing a report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "docs/results.md")
BLOCK = re.compile(r"(<!-- headline: (?P<args>[^>]+?) -->\n)(?P<body>.*?)(<!-- /headline -->)", re.S)


def printed(args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "oocbench.cli", "headline", *args.split()], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip() + "\n"


def main() -> int:
    for page in PAGES:
        path = ROOT / page
        text = path.read_text()
        new = BLOCK.sub(lambda m: m[1] + printed(m["args"]) + m[4], text)
        if new != text:
            path.write_text(new)
            print(f"updated {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
