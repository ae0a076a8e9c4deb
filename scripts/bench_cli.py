"""How long the CLI takes to start: `oocbench --help` and `oocbench run --help`, each a fresh process.

Usage: ``.venv/bin/python scripts/bench_cli.py [--runs 5]``. Prints min / median / max wall seconds per
command and the median against the 1 s target (issue 26). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("oocbench"))
    wall([exe, "--help"])  # one warm-up: the page cache, not the code, is what a first run measures
    print(f"{'command':<24} {'min':>7} {'median':>7} {'max':>7}  target")
    for argv in (["--help"], ["run", "--help"]):
        times = [wall([exe, *argv]) for _ in range(args.runs)]
        med = statistics.median(times)
        print(f"{'oocbench ' + ' '.join(argv):<24} {min(times):>6.2f}s {med:>6.2f}s {max(times):>6.2f}s  "
              f"< {TARGET_S:g} s: {'met' if med < TARGET_S else 'MISSED'} ({med / TARGET_S:.2f}x the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
