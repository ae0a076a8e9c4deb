"""``make bench`` as a reader sees it in an 80x24 terminal: the pane's screens, and the time left it showed.

Usage: ``.venv/bin/python scripts/bench_terminal.py [--out DIR] [--every 10]``. Clones this repository (its
committed HEAD) into ``DIR/clone``, runs ``make bench`` there in a detached ``tmux new -x 80 -y 24`` session, and
captures the pane every ``--every`` seconds into ``DIR/caps/<unix time>.txt`` (the last screen into
``final.txt``, the whole scrollback into ``scrollback.txt``). Then, for every capture from 25% of the run on, it
compares the ``~N left`` the progress line showed with the time the run really had left, and prints the ratios
(median, min, max, how many within 2x; issue 26's target), the widest line of the scrollback, and how many
screens showed more than one progress line. Takes as long as ``make bench`` (~18 min on 2 cores): run it on a
quiet machine. ``--check DIR`` only re-reads the captures of an earlier run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNITS = {"s": 1, "min": 60, "h": 3600}
LEFT = re.compile(r"~([\d.]+) (s|min|h) left")
BAR = re.compile(r"[━╸╺]{3,}")


def record(out: Path, every: float) -> None:
    clone, caps = out / "clone", out / "caps"
    shutil.rmtree(out, ignore_errors=True)
    caps.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    session = f"oocbench-bench-{int(time.time())}"
    end = caps / "end"
    shell = (f"cd {clone} && date +%s > {caps / 'start'} && make bench; echo EXIT $?; date +%s > {end}; "
             "sleep 100000")
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "80", "-y", "24", shell], check=True)
    try:
        while not end.exists():
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True)
            (caps / f"{int(time.time())}.txt").write_text(screen.stdout)
            time.sleep(every)
        for name, extra in (("final.txt", []), ("scrollback.txt", ["-S", "-5000"])):
            screen = subprocess.run(["tmux", "capture-pane", "-p", *extra, "-t", session], capture_output=True,
                                    text=True)
            (caps / name).write_text(screen.stdout)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def check(out: Path) -> int:
    caps = out / "caps"
    start, end = int((caps / "start").read_text()), int((caps / "end").read_text())
    total = end - start
    shown, multi = [], 0
    for f in sorted(caps.glob("[0-9]*.txt")):
        text = f.read_text()
        multi += len(BAR.findall(text)) > 1
        if m := LEFT.findall(text):
            value, unit = m[-1]
            t = int(f.stem)
            shown.append(((t - start) / total, float(value) * UNITS[unit], end - t))
    later = [(f, e, left) for f, e, left in shown if f >= 0.25 and left > 0]
    ratios = [e / left for _, e, left in later]
    print(f"make bench: {total} s ({total / 60:.1f} min); {len(shown)} screens showed a time left")
    if ratios:
        within = sum(0.5 <= r <= 2 for r in ratios)
        print(f"from 25% of the run: {len(ratios)} screens, shown/true median {statistics.median(ratios):.2f}, "
              f"min {min(ratios):.2f}, max {max(ratios):.2f}; within 2x: {within}/{len(ratios)}")
        for q in (0.25, 0.5, 0.75, 0.9):
            f, e, left = min(later, key=lambda r: abs(r[0] - q))
            print(f"  at {f:.0%}: shown {e:.0f} s, true {left} s (x{e / left:.2f})")
    lines = (caps / "scrollback.txt").read_text().splitlines() if (caps / "scrollback.txt").exists() else []
    print(f"widest line: {max((len(x) for x in lines), default=0)} characters; screens with more than one "
          f"progress bar: {multi}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("build/bench-terminal"))
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--check", action="store_true", help="only read the captures of an earlier run in --out")
    args = ap.parse_args(argv)
    if shutil.which("tmux") is None:
        print("bench_terminal: tmux is not installed (apt install tmux)", file=sys.stderr)
        return 2
    if not args.check:
        record(args.out, args.every)
    return check(args.out)


if __name__ == "__main__":
    sys.exit(main())
