"""Process measurements shared by the case (child) and the runner (parent): RSS and CPU of a process tree,
the kernel's RSS high-water mark, and a background RSS sampler.

RSS counts file-backed pages mapped into the process (a memory-mapped cache, a mapped Parquet file) as well as
anonymous memory; the sampler therefore also keeps the peak of the anonymous part alone (``rss - shared``:
heap, stacks, anonymous mappings), the figure that stays true for adapters whose caches live in mapped files.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path

import psutil

RSS_COVERS = ("process tree (this process and its children) RSS during fit: the larger of the 10 ms sampled "
              "high-water mark and the kernel's exact high-water mark (VmHWM, reset before fit) of the case process")
HEAP_COVERS = "memray heap peak of fit with native traces, this process only (not child processes)"
KERNEL_COVERS = "kernel VmHWM of the case process only (reset just before fit; exact, but no child processes)"
ANON_COVERS = ("process tree anonymous RSS during fit (RSS minus file-backed and shared pages, 10 ms samples): "
               "excludes memory-mapped files such as an on-disk cache the kernel can drop and re-read")


def tree_rss(proc: psutil.Process) -> int:
    """Sum of the RSS of ``proc`` and all its live descendants, in bytes."""
    total = 0
    for p in [proc, *_descendants(proc)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of ``proc`` and its descendants, reaped ones included.

    A live process contributes its own times plus ``children_user/system`` (the children it has waited for:
    dask workers or helper processes that already exited); a dead, reaped process is no longer listed, and its
    time sits in its parent's ``children_*``, so nothing is counted twice.
    """
    total = 0.0
    for p in [proc, *_descendants(proc)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def kernel_hwm() -> int | None:
    """The kernel's RSS high-water mark of this process (``VmHWM``), bytes; ``None`` off Linux."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) * 1024 if m else None


def reset_kernel_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0: write 5 to clear_refs); ``False`` if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples the process tree's RSS in a background thread; ``peak`` is the high-water mark.

    The thread shares the GIL with the fit it measures, so each 10 ms sample must be cheap: it reads the RSS
    of the processes it already knows (~10 us each), and rescans /proc for new descendants only every
    ``rescan`` seconds (a scan costs ~3 ms: at every sample that was ~30% of a core taken from the fit).
    """

    def __init__(self, interval: float = 0.01, rescan: float = 0.25) -> None:
        self.proc, self.interval, self.rescan = psutil.Process(), interval, rescan
        self.samples = 0
        self._known: list[psutil.Process] = [self.proc, *_descendants(self.proc)]
        self.peak, self.anon_peak = self._sample()
        self.anon_baseline = self.anon_peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> tuple[int, int]:
        total = anon = 0
        for p in self._known:
            with contextlib.suppress(psutil.Error):
                info = p.memory_info()
                total += info.rss
                anon += info.rss - getattr(info, "shared", 0)  # ``shared`` (Linux): file-backed + shmem pages
        return total, anon

    def _run(self) -> None:
        last_scan = time.perf_counter()
        while not self._stop.wait(self.interval):
            if time.perf_counter() - last_scan > self.rescan:
                self._known = [self.proc, *_descendants(self.proc)]
                last_scan = time.perf_counter()
            rss, anon = self._sample()
            self.peak, self.anon_peak = max(self.peak, rss), max(self.anon_peak, anon)
            self.samples += 1

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._known = [self.proc, *_descendants(self.proc)]
        rss, anon = self._sample()
        self.peak, self.anon_peak = max(self.peak, rss), max(self.anon_peak, anon)
