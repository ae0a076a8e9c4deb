"""Writing a synthetic dataset: shards generated in parallel (one process per core), resumable.

Shard ``i`` holds training rows ``[i * rows_per_shard, (i + 1) * rows_per_shard)``; it is built from the
blocks that overlap it, each block drawn whole from its own seeded stream, so shards are independent and a
worker writes its shard's Parquet file itself (the encoding is the costly part, so it is parallel too).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from oocbench.datasets.manifest import (
    FORMAT_VERSION,
    HOLDOUT,
    NUMERIC_KINDS,
    DatasetError,
    Manifest,
    ShardInfo,
)
from oocbench.datasets.reader import ShardedDataset
from oocbench.datasets.synthetic import BLOCK_ROWS, STREAM_VERSION, TRAIN
from oocbench.datasets.synthetic import HOLDOUT as HOLDOUT_SPLIT
from oocbench.datasets.writer import PartialDir, finished_shard, shard_name, write_parquet
from oocbench.signals import signals_held
from oocbench.storage import Location, client_env, resolve, to_str, write_via_buffer

#: keys of ``truth`` kept out of the manifest (derived, or stored in truth.npz)
PRIVATE_TRUTH = ("chol", "effects")


def _start_forkserver() -> None:
    """Start multiprocessing's forkserver with SIGINT ignored (a no-op once it runs).

    A terminal's Ctrl-C reaches the whole process group: the forkserver, still importing its preload, and
    each worker printed a traceback of their own under the command's one line. Started with SIGINT ignored (an
    ignored signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler), the
    forkserver and the workers it forks leave Ctrl-C to this process, which stops them.
    """
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the pool's pending shards and end its workers (SIGTERM, then wait for each)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown, which forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(10)


def workers_default() -> int:
    """Processes used for generation: ``$OOCBENCH_GEN_WORKERS``, else the cores we may use (at most 2 per
    default, the machine type this project measures on)."""
    cores = max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 2))
    env = os.environ.get("OOCBENCH_GEN_WORKERS", "").strip()
    if not env:  # unset or empty
        return cores
    if not re.fullmatch(r"[0-9]+", env) or int(env) < 1:  # int() alone said "invalid literal" without the name
        raise ValueError(f"OOCBENCH_GEN_WORKERS={env!r}: not a whole number of processes >= 1; set it to e.g. "
                         f"{cores}, or unset it (default: {cores} here)")
    return int(env)


#: what ``$OOCBENCH_PARQUET_COMPRESSION`` may name: pyarrow's codecs, or ``plain`` (no codec and no dictionary
#: encoding: a file as large as its decoded Arrow columns, which is what the past-RAM series writes)
CODECS = ("none", "snappy", "zstd", "gzip", "lz4", "brotli", "plain")


def _env_codec() -> str:
    env = os.environ.get("OOCBENCH_PARQUET_COMPRESSION", "").strip().lower()
    if env and env not in CODECS:
        raise DatasetError(f"OOCBENCH_PARQUET_COMPRESSION={env!r}: not a codec; valid: {', '.join(CODECS)}")
    return env


def _dictionary() -> bool:
    return _env_codec() != "plain"


def _compression(gen) -> str:
    """The codec shards are written with: ``$OOCBENCH_PARQUET_COMPRESSION`` when set, else the generator's."""
    env = _env_codec()
    if env:
        return "none" if env == "plain" else env
    # random float32 does not compress: "none" read back 1.2-3x faster than snappy in our runs at equal size
    return "snappy" if gen.columns else "none"


def _numeric(gen) -> list[tuple[str, str]]:
    if not gen.feature_spec.get("standardize"):
        return []
    return [(c, gen.columns.get(c, "numeric")) for c in gen.features if gen.columns.get(c, "numeric") in NUMERIC_KINDS]


def write_shard(gen, directory: Path | str | Location, i: int, rows: int, rows_per_shard: int, seed: int,
                truth: dict[str, Any], plan: str, progress: Callable[[int], None] | None = None,
                env: dict[str, str] | None = None) -> ShardInfo:
    """Generate and write shard ``i`` (runs in a worker process or in-process).

    ``env``: the caller's object-store settings (:func:`oocbench.storage.client_env`), applied before the
    directory URL is resolved: a forkserver worker has the environment of when the forkserver started.
    """
    if env:
        os.environ.update(env)
    start, end = i * rows_per_shard, min((i + 1) * rows_per_shard, rows)

    def tables():
        for k in range(start // BLOCK_ROWS, (end - 1) // BLOCK_ROWS + 1):
            lo, hi = max(start, k * BLOCK_ROWS), min(end, (k + 1) * BLOCK_ROWS)
            t = gen.table(seed, TRAIN, k, BLOCK_ROWS, truth)  # always the whole block: see module doc
            yield t.slice(lo - k * BLOCK_ROWS, hi - lo)
            if progress is not None:
                progress(hi - lo)

    from threadpoolctl import threadpool_limits

    path = resolve(directory) / shard_name(i)
    # one BLAS thread per generating process: the processes already use the cores, more threads only contend
    with threadpool_limits(1):
        n, stats = write_parquet(path, tables(), gen.schema, _compression(gen), _numeric(gen), _dictionary())
    return finished_shard(path, n, stats, plan)


def holdout_table(gen, seed: int, truth: dict[str, Any]) -> pa.Table:
    n = gen.holdout_rows
    return pa.concat_tables([gen.table(seed, HOLDOUT_SPLIT, k, min(BLOCK_ROWS, n - k * BLOCK_ROWS), truth)
                             for k in range(math.ceil(n / BLOCK_ROWS))])


class NotEnoughDiskError(DatasetError):
    """Less free space where a dataset is to be written than it needs (estimated); nothing was written."""


#: on-disk bytes per value that no synthetic column reaches (float32: 4; a categorical id as text, compressed:
#: fewer than 20): when even this bound fits, no sample is drawn to estimate the size
_BOUND_BYTES_PER_VALUE = 64


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def check_free_disk(gen, root: Path | str | Location, rows: int, seed: int, truth: dict[str, Any]) -> None:
    """Refuse to start writing ``gen`` at ``rows`` rows into a local ``root`` whose disk cannot hold it.

    The size is estimated from one block of :data:`BLOCK_ROWS` rows written to memory with the writer's own
    settings (compression, dictionary columns), scaled to the training and holdout rows, plus 5% and 1 MiB;
    an unfinished ``.partial`` copy counts as free (it is kept or replaced). The sample is drawn only when
    an upper bound (:data:`_BOUND_BYTES_PER_VALUE`) does not fit: a free disk costs one ``statvfs``. Object
    storage has no free-space figure and is not checked.

    Raises
    ------
    NotEnoughDiskError
        Naming the directory, the estimate and the free space: a full disk would otherwise be found hours
        into the writing, with a half-written ``.partial`` directory left behind.
    """
    loc = resolve(root)
    if not loc.local:
        return
    path = loc.as_path().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free + _dir_bytes(path.with_name(path.name + ".partial"))
    total = rows + gen.holdout_rows
    if free > total * len(gen.schema) * _BOUND_BYTES_PER_VALUE * 1.05 + (1 << 20):
        return
    sample = gen.table(seed, TRAIN, 0, BLOCK_ROWS, truth)
    buf = pa.BufferOutputStream()
    dict_cols = [f.name for f in gen.schema if not pa.types.is_floating(f.type)] if _dictionary() else []
    pq.write_table(sample, buf, compression=_compression(gen), use_dictionary=dict_cols or False,
                   write_statistics=False)
    per_row = buf.getvalue().size / sample.num_rows
    need = per_row * total * 1.05 + (1 << 20)
    if need > free:
        raise NotEnoughDiskError(
            f"{path}: not enough disk for {gen.name} at {rows:,} rows: about {need / 2**20:,.1f} MiB needed "
            f"({per_row:.0f} B/row, estimated from {sample.num_rows:,} rows, + 5%), {free / 2**20:,.1f} MiB free "
            f"at {existing}; free space, or write the data elsewhere (--data), or use a smaller --scale")


def build_synthetic(gen, root: Path | str | Location, rows: int, seed: int = 0, rows_per_shard: int = 1 << 20,
                    progress: Callable[[int], None] | None = None, workers: int | None = None) -> ShardedDataset:
    """Write ``gen`` at ``rows`` rows into ``root``; a rerun after a kill keeps the shards already finished."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    truth = gen.truth(seed)
    check_free_disk(gen, root, rows, seed, truth)
    plan = json.dumps({"name": gen.name, "seed": seed, "rows": rows, "rows_per_shard": rows_per_shard,
                       "params": gen.params, "block_rows": BLOCK_ROWS, "format_version": FORMAT_VERSION,
                       "stream_version": STREAM_VERSION},
                      sort_keys=True)
    n_shards = math.ceil(rows / rows_per_shard)
    workers = workers or workers_default()
    with PartialDir(root, plan) as part:
        infos: list[ShardInfo | None] = [part.done(i) for i in range(n_shards)]
        todo = [i for i, info in enumerate(infos) if info is None]
        if progress is not None and len(todo) < n_shards:
            progress(sum(info.rows for info in infos if info is not None))  # resumed shards count as done
        if workers > 1 and len(todo) > 1:
            # forkserver: a fresh interpreter per worker, safe even if this process has Arrow threads running
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["oocbench.datasets.build"])
            _start_forkserver()
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx) as pool:
                try:
                    # Ctrl-C waits until the workers are spawned (one half-spawned, its parent gone, printed a
                    # traceback); the directory as text (resolved in the worker after ``env`` is applied)
                    with signals_held():
                        futures = {pool.submit(write_shard, gen, to_str(part.path), i, rows, rows_per_shard, seed,
                                               truth, plan, None, client_env()): i for i in todo}
                    for fut in as_completed(futures):
                        infos[futures[fut]] = info = fut.result()
                        if progress is not None:
                            progress(info.rows)
                except BaseException:
                    # Ctrl-C or a failed shard: no shard more (leaving the pool would wait for all of them);
                    # the workers ignore SIGINT, so they are stopped here. Finished shards are kept (.done)
                    with signals_held():
                        _stop(pool)
                    raise
        else:
            for i in todo:
                infos[i] = write_shard(gen, part.path, i, rows, rows_per_shard, seed, truth, plan, progress)
        hold = holdout_table(gen, seed, truth)
        write_parquet(part.path / HOLDOUT, [hold], gen.schema, _compression(gen), dictionary=_dictionary())
        arrays = gen.truth_arrays(truth)
        if arrays:
            write_via_buffer(part.path / truth.get("effects_file", "truth.npz"),
                             lambda fh: np.savez_compressed(fh, **arrays))
        manifest = Manifest(
            name=gen.name, task=gen.task, rows=rows, seed=seed, features=gen.features, target=gen.target,
            shards=[info for info in infos if info is not None],
            holdout=finished_shard(part.path / HOLDOUT, hold.num_rows, None, plan),
            generator={"name": gen.name, "block_rows": BLOCK_ROWS, "params": gen.params, "stream_version": STREAM_VERSION,
                       **gen.manifest_extra(rows)},
            optimum=gen.optimum_table(hold, truth),
            truth={k: v for k, v in truth.items() if k not in PRIVATE_TRUTH},
            columns={c: k for c, k in gen.columns.items() if k != "numeric"},
            feature_spec=dict(gen.feature_spec),
            source={"kind": "synthetic"},
        )
        part.commit(manifest)
    # every file was hashed as written (finished_shard): no second full read to verify it in this run
    return ShardedDataset(root, verify=False).trust_written()
