"""Dataset performance, measured side by side in one run (issue 3's targets in brackets).

- generation of synth-binary (``--features`` wide) as Parquet, MB/s on all generation workers [>= 200 MB/s],
  and its ratio to writing the same number of bytes with numpy ``tofile``;
- reading it back through the shared feature layer as float32 batches of ``--batch`` rows: GB/s of X and
  rows/s [>= 1 GB/s; >= 10x the fastest adapter's rows/s];
- peak RSS of a fresh process reading all rows vs only ``--small`` rows [ratio <= 1.2].

Usage: ``python scripts/bench_datasets.py [--rows 1e7] [--features 32] [--dir DIR]`` (needs ~1.3 GB of disk
per 10^7 rows x 32 features; the directory is removed afterwards unless ``--keep``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from oocbench.datasets.build import build_synthetic, workers_default
from oocbench.datasets.synthetic import SynthBinary

READ_RSS = """
import resource, sys
from oocbench.datasets import ShardedDataset
from oocbench.features import BatchStream
ds = ShardedDataset(sys.argv[1])
n = 0
for X, y in BatchStream(ds, int(sys.argv[2]), int(sys.argv[3])):
    n += len(y)
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def tofile_rate(nbytes: int, directory: Path, chunk_rows: int, features: int) -> float:
    """MB/s of writing ``nbytes`` of float32 with ndarray.tofile, in chunks like a generator would."""
    chunk = np.random.default_rng(0).standard_normal((chunk_rows, features)).astype(np.float32)
    path = directory / "tofile.bin"
    written = 0
    t = time.perf_counter()
    with open(path, "wb") as fh:
        while written < nbytes:
            part = chunk[: max(1, min(chunk_rows, (nbytes - written) // (4 * features)))]
            part.tofile(fh)
            written += part.nbytes
        fh.flush()
        os.fsync(fh.fileno())
    elapsed = time.perf_counter() - t
    path.unlink()
    return written / elapsed / 1e6


def peak_rss(root: Path, rows: int, batch: int) -> int:
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
    out = subprocess.run([sys.executable, "-c", READ_RSS, str(root), str(rows), str(batch)], capture_output=True,
                         text=True, check=True, env=env)
    got, rss = out.stdout.split()
    assert int(got) == rows, (got, rows)
    return int(rss)


def fastest_adapter(names: list[str], stream, rows: int, batch: int) -> tuple[str, float]:
    """The highest learning speed among ``names``: fit on batches already in memory (no I/O), best of 3."""
    from oocbench.adapters.registry import get_adapter

    batches = [b for _, b in zip(range(max(1, rows // batch)), stream.dataset.batches(batch))]
    n = sum(len(y) for _, y in batches)
    rates = {}
    for name in names:
        cls = get_adapter(name)
        times = []
        for _ in range(3):
            adapter = cls("binary", stream.n_features)
            t = time.perf_counter()
            for X, y in batches:
                adapter.partial_fit(X, y)
            times.append(time.perf_counter() - t)
            adapter.close()
        rates[name] = n / min(times)
    name = max(rates, key=rates.get)
    return name, rates[name]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=float, default=1e7)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--adapters", default="river.linear-many,sklearn.sgd,sklearn.passive-aggressive",
                   help="adapters whose learning speed (fit on in-memory batches) reading is compared with")
    args = p.parse_args()
    rows = int(args.rows)
    base = Path(tempfile.mkdtemp(prefix="bench-datasets-", dir=args.dir))
    gen = SynthBinary(n_features=args.features, n_informative=min(10, args.features))
    try:
        root = base / "synth-binary"
        t = time.perf_counter()
        ds = build_synthetic(gen, root, rows, seed=0)
        gen_s = time.perf_counter() - t
        parquet_bytes = sum(s.bytes for s in ds.manifest.shards)
        gen_rate = parquet_bytes / gen_s / 1e6
        tf_rate = tofile_rate(parquet_bytes, base, 1 << 14, args.features)
        print(f"generate synth-binary {rows:,} rows x {args.features} features on {workers_default()} worker(s): "
              f"{parquet_bytes / 1e6:,.0f} MB of Parquet in {gen_s:.2f} s = {gen_rate:,.0f} MB/s "
              f"[target >= 200]; numpy tofile of the same bytes {tf_rate:,.0f} MB/s; ratio {gen_rate / tf_rate:.2f}")

        from oocbench.features import BatchStream

        stream = BatchStream(ds, rows, args.batch)
        for _ in zip(range(3), stream):  # warm the page cache on the first shard's reader (imports, etc.)
            pass
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            n = sum(len(y) for _, y in stream)
            best = min(best, time.perf_counter() - t)
        x_bytes = n * args.features * 4
        name, fastest = fastest_adapter(args.adapters.split(","), stream, min(rows, 1_000_000), args.batch)
        print(f"read {n:,} rows as float32 batches of {args.batch:,}: {x_bytes / best / 1e9:.2f} GB/s of X "
              f"[target >= 1], {n / best / 1e6:.1f}M rows/s = {n / best / fastest:.1f}x the fastest adapter "
              f"({name}: {fastest / 1e6:.2f}M rows/s learning from in-memory batches, measured in this run) "
              "[target >= 10x] (best of 2, page cache warm)")

        big, small = peak_rss(root, rows, args.batch), peak_rss(root, min(args.small, rows), args.batch)
        print(f"peak RSS reading {rows:,} rows {big / 2**20:,.0f} MiB vs {min(args.small, rows):,} rows "
              f"{small / 2**20:,.0f} MiB: ratio {big / small:.2f} [target <= 1.2] (fresh process each, whole-process "
              "max RSS incl. imports, ARROW_DEFAULT_MEMORY_POOL=system)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
