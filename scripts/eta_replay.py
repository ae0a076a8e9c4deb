"""Replay a finished run's records through the ETA (:class:`oocbench.harness.eta.Eta`): what it would have shown.

Usage: ``.venv/bin/python scripts/eta_replay.py RESULTS_DIR [RESULTS_DIR ...]``. The cases are fed to the ETA in
the order they finished (repeats planned when their first run ends, as ``oocbench run`` does); after each, the
time it gives is compared with the time the run really had left. Prints, from 25% of the run on (and while more
than 30 s were left), the median, min and max ratio and how many were within 2x. A quick check of a change to the
ETA on earlier runs; ``scripts/bench_terminal.py`` measures what a real terminal showed.
"""

from __future__ import annotations

import statistics
import sys
from datetime import datetime
from pathlib import Path

from oocbench.harness.eta import Eta
from oocbench.records import read_records


def replay(results: Path) -> list[tuple[float, float]]:
    recs = sorted(read_records(results / "records.jsonl"), key=lambda r: r.finished_at)

    def ts(s: str) -> float:
        return datetime.fromisoformat(s).timestamp()

    t0, t1 = ts(recs[0].started_at), ts(recs[-1].finished_at)
    eta = Eta([r.case for r in recs if not r.case.repeat])
    out = []
    for r in recs:
        eta.finished(r.case, r.timings.total_s, r)
        if not r.case.repeat:
            same = (r.case.adapter, r.case.dataset, r.case.scale, r.case.profile, r.case.params)
            eta.plan([x.case for x in recs if x.case.repeat
                      and (x.case.adapter, x.case.dataset, x.case.scale, x.case.profile, x.case.params) == same])
        now = ts(r.finished_at)
        left, est = t1 - now, eta.remaining()
        if (now - t0) / (t1 - t0) >= 0.25 and left > 30 and est:
            out.append(((now - t0) / (t1 - t0), est / left))
    return out


def main(argv: list[str]) -> int:
    for d in argv:
        ratios = [x for _, x in replay(Path(d))]
        if not ratios:
            print(f"{d}: no point from 25% of the run with more than 30 s left")
            continue
        print(f"{d}: {len(ratios)} points from 25%: ETA/true median {statistics.median(ratios):.2f}, "
              f"min {min(ratios):.2f}, max {max(ratios):.2f}; within 2x: "
              f"{sum(0.5 <= x <= 2 for x in ratios)}/{len(ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["results"]))
