"""The asv suite end to end, the way a user runs it from a fresh clone.

- **Plain ``asv run``** in a copy of the checkout: the ``virtualenv`` environment ``asv.conf.json`` builds
  (oocbench's wheel plus its backends, :mod:`benchmarks.install_backends`), ``HOME`` isolated, the ``tiny``
  profile. Zero failed benchmarks; every n/a has its reason in the output; ``asv check`` passes; the published
  site, made offline, loads nothing from the network (headless Chromium). The environment gets the backends in
  ``OOCBENCH_TEST_ASV_EXTRAS`` (default ``river,vw,lightgbm``: every input format, both tasks, and the
  not-installed path for the rest, in a few minutes on 2 cores); ``asv.conf.json`` itself installs ``all``,
  which this test runs with ``OOCBENCH_TEST_ASV_EXTRAS=all``.
- **``make asv``'s path** (``existing`` environment): a case ``oocbench run`` recorded for the same commit is
  reused, not fitted again; a second asv run fits nothing.

The copy holds the working tree's files (tracked and untracked, not ignored) committed in a temp clone: asv
builds and measures commits. In CI that is the committed tree.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from oocbench import datasets
from oocbench.asv_results import TrackedValue, read_asv_records, remote_assets, tracked_values
from oocbench.records import RECORDS_FILE, read_records

REPO = Path(__file__).resolve().parent.parent
EXTRAS = os.environ.get("OOCBENCH_TEST_ASV_EXTRAS", "river,vw,lightgbm")
#: adapter name prefix -> the extra that installs its library (sklearn is a core dependency)
EXTRA_OF = {"sklearn": None, "river": "river", "vw": "vw", "tf": "tensorflow", "dask-ml": "dask",
            "xgboost": "xgboost", "lightgbm": "lightgbm"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def snapshot_clone(dest: Path) -> tuple[Path, str]:
    """A clone of this repository whose HEAD holds the working tree as it is; returns (clone, HEAD)."""
    _git("clone", "--quiet", str(REPO), str(dest), cwd=REPO)
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO).split("\0")
    for rel in filter(None, listed):
        src, dst = REPO / rel, dest / rel
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.exists():  # deleted in the working tree
            dst.unlink()
    _git("add", "-A", cwd=dest)
    if _git("status", "--porcelain", cwd=dest):
        _git("-c", "user.name=oocbench-test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false",
             "commit", "--quiet", "--no-verify", "-m", "working tree snapshot", cwd=dest)
    return dest, _git("rev-parse", "HEAD", cwd=dest)


def asv_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for asv: HOME isolated (``asv machine`` writes ``~/.asv-machine.json``), tiny profile;
    pip keeps the user's cache (wheels already downloaded by ``make``)."""
    env = {**os.environ, "HOME": str(home), "OOCBENCH_ASV_PROFILE": "tiny", "COLUMNS": "200", **extra}
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    for var in ("OOCBENCH_ASV_RECORDS_DIR", "OOCBENCH_DATA_DIR", "OOCBENCH_ASV_MEMRAY", "OOCBENCH_RESULTS_DIR",
                "OOCBENCH_ASV_REUSE", "OOCBENCH_ASV_EXTRAS", "PYTHONPATH", "ASV_PYTHONPATH"):
        if var not in extra:
            env.pop(var, None)
    return env


def asv(*args: str, cwd: Path, env: dict[str, str], timeout: int = 1500) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "asv", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"asv {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n"
                                  f"{proc.stderr[-4000:]}")
    return proc


def results_file(clone: Path, head: str) -> Path:
    found = sorted((clone / ".asv" / "results").glob(f"*/{head[:8]}-*.json"))
    assert len(found) == 1, f"expected one asv results file for {head[:8]}, got {found}"
    return found[0]


_BENCH_LINE = re.compile(r"^\[\s*[\d.]+%\] ··· (?P<name>[\w.]+)\s")
# the first "For parameters:" of a benchmark follows the progress prefix, the next ones are indented
_PARAMS_LINE = re.compile(r"^(?:\[\s*[\d.]+%\] ···· |\s+)For parameters: (?P<params>.*)$")


def reasons_by_case(output: str) -> dict[tuple[str, str], str]:
    """``{(benchmark, "param reprs joined by ', '"): output}`` from ``asv run -e``: what each benchmark printed
    per parameter set (asv's ``asv: skipped: ...`` and the suite's ``asv: n/a: ...`` among it)."""
    out: dict[tuple[str, str], str] = {}
    bench, params = None, None
    for line in output.splitlines():
        if m := _PARAMS_LINE.match(line):
            params = m.group("params").strip()
            out[(bench or "", params)] = ""
        elif m := _BENCH_LINE.match(line):
            bench, params = m.group("name"), None
        elif line.startswith("["):
            params = None
        elif params is not None:
            out[(bench or "", params)] += line.strip() + "\n"
    return out


def na_without_reason(values: list[TrackedValue], output: str) -> list[str]:
    """The n/a values (NaN) whose benchmark printed no reason for that parameter set."""
    reasons = reasons_by_case(output)
    missing = []
    for v in values:
        if v.value is not None and math.isnan(v.value):
            text = reasons.get((v.benchmark, ", ".join(v.params)), "")
            if "asv: skipped:" not in text and "asv: n/a:" not in text:
                missing.append(f"{v.benchmark}{v.params}")
    return missing


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> dict:
    """``asv machine --yes``, plain ``asv run`` (virtualenv), ``asv check``, ``asv publish``, offline-site."""
    t0 = time.monotonic()
    clone, head = snapshot_clone(tmp_path_factory.mktemp("asv-venv") / "clone")
    env = asv_env(tmp_path_factory.mktemp("home"), OOCBENCH_ASV_EXTRAS=EXTRAS)
    asv("machine", "--yes", cwd=clone, env=env)
    run = asv("run", "--show-stderr", cwd=clone, env=env)
    check = asv("check", cwd=clone, env=env)
    asv("publish", cwd=clone, env=env)
    site = subprocess.run([sys.executable, "-m", "oocbench.asv_results", "offline-site", ".asv/html"], cwd=clone,
                          env={**env, "PYTHONPATH": str(clone)}, capture_output=True, text=True, timeout=120)
    assert site.returncode == 0, site.stdout + site.stderr
    path = results_file(clone, head)
    print(f"plain asv run + check + publish: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return {"clone": clone, "head": head, "run": run, "check": check, "results": path,
            "values": tracked_values(path), "records": read_asv_records(clone / ".asv" / "results")}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_plain_asv_run_has_no_failed_benchmark(plain_run) -> None:
    values = plain_run["values"]
    assert len({v.benchmark for v in values}) > 100, f"only {len(values)} values in {plain_run['results'].name}"
    failed = sorted({f"{v.benchmark}{v.params}" for v in values if v.value is None})
    assert not failed, f"{len(failed)} failed benchmark(s), e.g. {failed[:5]}\n{plain_run['run'].stdout[-3000:]}"
    missing = na_without_reason(values, plain_run["run"].stdout)
    assert not missing, f"{len(missing)} n/a without a reason, e.g. {missing[:5]}"
    assert "inprocess." in {v.benchmark[:10] for v in values}, "no in-process benchmark ran"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_asv_check_passes(plain_run) -> None:
    assert plain_run["check"].returncode == 0


def _by_case(values: list[TrackedValue], benchmark: str) -> dict[tuple[str, int], float | None]:
    """{(dataset, rows): value} of one benchmark (asv stores params as reprs: "'synth-binary'", "1000")."""
    return {(v.params[0].strip("'"), int(v.params[1])): v.value for v in values if v.benchmark == benchmark}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_environment_has_the_requested_backends(plain_run) -> None:
    """The extras asked for installed (their adapters ran); the others are n/a because not installed."""
    wanted = None if EXTRAS == "all" else set(EXTRAS.split(","))
    statuses = {r.case.adapter: r.status for r in plain_run["records"]}
    assert statuses, "no records"
    for adapter, status in statuses.items():
        extra = EXTRA_OF[adapter.split(".")[0]]
        if extra is None or wanted is None or extra in wanted:
            assert status != "not-installed", f"{adapter}: not installed although {extra or 'core'} was asked for"
        else:
            assert status == "not-installed", f"{adapter} ({extra}) installed though not asked for: {status}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_tracked_values_are_the_records(plain_run) -> None:
    """Every installed adapter's numbers in asv's JSON are its record's: one fit read by every track_."""
    values, records = plain_run["values"], plain_run["records"]
    by_key = {(r.case.adapter, r.case.dataset, r.case.scale): r for r in records}
    for (adapter, dataset, rows), record in by_key.items():
        bench = "cases." + re.sub(r"\W", "_", adapter)
        rate = _by_case(values, f"{bench}.track_rows_per_s")[(dataset, rows)]
        assert rows == 1_000  # the tiny profile
        if record.status in ("not-installed", "skipped"):
            assert rate is not None and math.isnan(rate) and record.reason, f"{adapter} {dataset}: {rate}"
            continue
        assert record.status == "ok", f"{adapter} {dataset}: {record.status} {record.reason}"
        assert rate == pytest.approx(record.rows_per_s, rel=1e-12) and rate > 0
        task = datasets.get_source(dataset).task
        metric, other = ("log_loss", "rmse") if task == "binary" else ("rmse", "log_loss")
        score = _by_case(values, f"{bench}.track_{metric}")[(dataset, rows)]
        assert score == pytest.approx(record.metrics[metric], rel=1e-12), f"{adapter} {dataset}: {metric}"
        assert math.isnan(_by_case(values, f"{bench}.track_{other}")[(dataset, rows)])  # n/a, not failed
        assert math.isnan(_by_case(values, f"{bench}.track_heap_peak_bytes")[(dataset, rows)])  # tiny: no memray
        assert _by_case(values, f"{bench}.track_rss_peak_bytes")[(dataset, rows)] > 2**20
    keys = [(r.case.adapter, r.case.dataset, r.case.scale) for r in records]
    assert len(keys) == len(set(keys)), "a case was fitted more than once"
    for kind in ("time_fit", "peakmem_fit"):  # asv's own measurements, in its process
        ran = [v for v in values if v.benchmark.endswith(f".{kind}") and v.value is not None
               and math.isfinite(v.value)]
        assert ran and all(v.value > 0 for v in ran), f"no {kind} measured"


def _serve(directory: Path):
    from tests.servers import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_published_site_loads_nothing_from_the_network(plain_run) -> None:
    """``asv publish`` + offline-site: the page and a graph render from local files only (asv's own page
    loads jQuery / flot / bootstrap from CDNs and, offline, shows its error page)."""
    from tests.browser import Chromium, find_chromium

    html = plain_run["clone"] / ".asv" / "html"
    assert not remote_assets((html / "index.html").read_text()), "index.html still loads remote assets"
    if find_chromium() is None:
        assert not IN_CI, "CI requires chromium (apt-get install chromium)"
        pytest.skip("chromium is not installed")
    server, base = _serve(html)
    try:
        with Chromium() as browser:
            index = browser.inspect(f"{base}/index.html", settle_s=2)
            graph = browser.inspect(f"{base}/index.html#cases.sklearn_sgd.track_rows_per_s", settle_s=2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    for page in (index, graph):
        remote = [u for u in page.requests if not u.startswith(base) and not u.startswith("data:")]
        assert not remote, f"requests left the machine: {remote}"
        assert not [e for e in page.console_errors if "Failed to load" in e or "load failed" in e], page.console_errors
        assert "unladen oocbench" in page.title, f"error page: {page.title!r} {page.text[:300]!r}"
    assert not index.console_errors, index.console_errors
    assert "sklearn_sgd.track_rows_per_s" in index.text
    assert "synth-binary" in graph.text and re.search(r"\d\.\d+e\+\d", graph.text), graph.text[:500]  # y ticks


# --- make asv: records of the same commit are reused -----------------------------------------------------------


@pytest.fixture(scope="module")
def reuse_runs(tmp_path_factory) -> dict:
    """``oocbench run`` of one case, then twice the ``make asv`` command (``existing`` environment) on
    sklearn.sgd's three tiny cases, in a clean clone (its oocbench imported: ``+dirty`` reuses nothing)."""
    clone, head = snapshot_clone(tmp_path_factory.mktemp("asv-reuse") / "clone")
    env = asv_env(tmp_path_factory.mktemp("home"), PYTHONPATH=str(clone), ASV_PYTHONPATH=str(clone))
    cli = subprocess.run([sys.executable, "-m", "oocbench.cli", "run", "--adapter", "sklearn.sgd", "--dataset",
                          "synth-binary", "--scale", "1000", "--no-memray"], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    asv("machine", "--yes", cwd=clone, env=env)
    args = ("run", "--environment", f"existing:{sys.executable}", "--set-commit-hash", head, "--show-stderr",
            "--bench", r"^cases\.sklearn_sgd\.")
    path = clone / ".asv" / "results" / "oocbench-records" / RECORDS_FILE
    first = asv(*args, cwd=clone, env=env)
    after_first = read_records(path)
    first_values = tracked_values(results_file(clone, head))
    second = asv(*args, cwd=clone, env=env)
    return {"clone": clone, "cli": read_records(clone / "results" / RECORDS_FILE), "first": first,
            "second": second, "after_first": after_first, "after_second": read_records(path),
            "first_values": first_values, "second_values": tracked_values(results_file(clone, head))}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_make_asv_reuses_the_cli_record(reuse_runs) -> None:
    cli = [r for r in reuse_runs["cli"] if r.case.repeat == 0]
    assert len(cli) == 1 and cli[0].status == "ok", [(r.case.label(), r.status, r.reason) for r in cli]
    records = reuse_runs["after_first"]
    assert sorted(r.case.dataset for r in records) == ["synth-binary", "synth-ctr", "synth-regression"]
    reused = [r for r in records if r.extra["asv"].get("reused_from")]
    assert [r.case.dataset for r in reused] == ["synth-binary"], "the CLI's case was fitted again"
    assert reused[0].case.key() == cli[0].case.key() and reused[0].started_at == cli[0].started_at
    rate = _by_case(reuse_runs["first_values"], "cases.sklearn_sgd.track_rows_per_s")[("synth-binary", 1000)]
    assert rate == cli[0].rows_per_s  # asv reports the CLI's measurement


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_second_asv_run_fits_nothing(reuse_runs) -> None:
    assert len(reuse_runs["after_second"]) == len(reuse_runs["after_first"]), "the second run fitted cases again"
    first = {(v.benchmark, v.params): v.value for v in reuse_runs["first_values"]}
    second = {(v.benchmark, v.params): v.value for v in reuse_runs["second_values"]}
    assert first.keys() == second.keys()
    for key, value in first.items():
        assert value == second[key] or (math.isnan(value) and math.isnan(second[key])), key


def test_asv_conf_installs_every_backend() -> None:
    """asv.conf.json: a virtualenv with the project's wheel and every backend (install_backends: ``all``)."""
    from benchmarks.install_backends import NOT_BACKENDS

    conf = json.loads((REPO / "asv.conf.json").read_text())
    assert conf["environment_type"] == "virtualenv"
    assert conf["install_command"] == [
        "in-dir={env_dir} python {conf_dir}/benchmarks/install_backends.py {wheel_file}"]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    in_all = {name for req in extras["all"] for name in req.split("[", 1)[1].rstrip("]").split(",")}
    assert in_all == set(extras) - set(NOT_BACKENDS), "`all` (what asv installs) misses a backend extra"
