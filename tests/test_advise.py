"""``oocbench advise FILE``: a ladder of prefixes of the user's own file, each adapter projected to the full size
with ranges, a recommendation and a page (issue 30). Real adapters on a CSV the tests write: string columns
of thousands of values and a numeric target."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from oocbench.advice import Range, advise, extrapolate
from oocbench.records import CaseRecord, CaseSpec, Memory, Timings
from tests.conftest import oocbench_cli

ROWS = 30_000


def trips_csv(path, n: int = ROWS, ids: int = 3000, seed: int = 0) -> None:
    """Taxi-trip-like rows: a 3,000-value driver id (Zipf-like) with its own effect on the fare, a 50-value zone,
    a payment type and a distance; the target is the fare (a number)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, ids + 1) ** 0.8
    driver = rng.choice(ids, n, p=weights / weights.sum())
    effect = rng.normal(0.0, 2.0, ids)
    zone = rng.integers(0, 50, n)
    pay = rng.choice(np.array(["card", "cash", "app"]), n)
    dist = rng.gamma(2.0, 2.0, n)
    fare = 3.0 + 2.5 * dist + effect[driver] + 0.1 * zone + (pay == "cash") * 1.5 + rng.normal(0, 1.0, n)
    pacsv.write_csv(pa.table({"distance": dist, "driver": np.array([f"D{v:05d}" for v in driver]),
                              "zone": np.array([f"Z{v:02d}" for v in zone]), "payment": pay, "fare": fare}), path)


@pytest.fixture(scope="module")
def trips(tmp_path_factory):
    path = tmp_path_factory.mktemp("advise") / "trips.csv"
    trips_csv(path)
    return path


def test_advise_on_a_users_csv_ends_with_a_recommendation_a_table_and_a_page(trips, tmp_path):
    out = oocbench_cli("advise", str(trips), "--target", "fare", "--adapters", "sklearn.sgd,lightgbm.gbdt",
                       "--ladder", "1000,4000,16000", "--rows", "10000000", "--ram", "16G", "--cores", "8",
                       "--data", str(tmp_path / "data"), "--results", str(tmp_path / "results"),
                       "--out", str(tmp_path / "page"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "ladder: 1,000, 4,000, 16,000 rows" in text
    assert "For 10,000,000 rows on 8 core(s) with 16 GiB of RAM:" in text and "projects the lowest rmse" in text
    for name in ("sklearn.sgd", "lightgbm.gbdt"):
        assert name in text
    page = (tmp_path / "page" / "index.html").read_text()
    assert "<img src=\"plots/advice.png\"" in page and "Caveats" in page and "records.jsonl" in page
    assert (tmp_path / "page" / "plots" / "advice.png").stat().st_size > 10_000
    lines = (tmp_path / "page" / "records.jsonl").read_text().splitlines()
    assert len(lines) == 6  # 2 adapters x 3 rungs, each a real case
    assert (tmp_path / "results" / "records.jsonl").exists()  # --results, not the shared results/
    # every figure is a range at the full size, never one number: the fit-time cells of the table
    table = page.split("<h2>Each adapter at")[1].split("</table>")[0]
    cells = [row.split("<td>")[4].split("</td>")[0] for row in table.split("<tr>")[2:]]
    assert len(cells) == 2 and all(" to " in c for c in cells), cells
    assert "The trade-off:" in text or "projects the lowest rmse" in text  # one adapter may be best and fastest


def test_a_second_run_keeps_the_ladders_records(trips, tmp_path):
    args = ("advise", str(trips), "--target", "fare", "--adapters", "sklearn.sgd", "--ladder", "1000,4000",
            "--data", str(tmp_path / "data"), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "p"))
    assert oocbench_cli(*args, cwd=tmp_path).returncode == 0
    again = oocbench_cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "at 1,000 rows" not in again.stdout  # kept, not run again


@pytest.mark.parametrize(("setup", "args", "message"), [
    (lambda p: p.write_bytes(bytes(range(256)) * 40), ("--target", "fare"), "cannot read it as CSV"),
    (trips_csv, ("--target", "price"), "no column 'price'"),
    (trips_csv, ("--target", "fare", "--hours", "0.0001"), "no adapter finished the first rung (1,000 rows)"),
    (trips_csv, ("--target", "fare", "--ladder", "1000,x"), "--ladder '1000,x': give rungs in rows"),
])
def test_bad_input_is_one_line_and_exit_1_or_2(tmp_path, setup, args, message):
    path = tmp_path / "f.csv"
    setup(path)
    extra = () if "--ladder" in args else ("--ladder", "1000,4000")
    out = oocbench_cli("advise", str(path), *args, *extra, "--adapters", "sklearn.sgd",
                       "--data", str(tmp_path / "data"), "--results", str(tmp_path / "r"), cwd=tmp_path)
    assert out.returncode in (1, 2), out.stdout
    assert message in " ".join(out.stderr.split()) and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2


def test_the_ladder_stops_before_a_rung_projected_past_the_time_left_and_says_how_far_it_got(trips, tmp_path,
                                                                                           monkeypatch):
    """The budget is checked against each rung's projection (the suite's budget rule): with 1.5 s left after
    the first rung, the second (projected from the first's real seconds) is not started."""
    from oocbench import config, datasets
    from oocbench.datasets.bundled import FileSource
    from oocbench.harness.ladder import run_ladder
    from oocbench.harness.runner import Limits

    monkeypatch.setenv("OOCBENCH_DATA_DIR", str(tmp_path / "data"))
    src = FileSource(trips, "fare")
    src.remember(config.data_dir())
    monkeypatch.setitem(datasets.SOURCES, src.name, src)  # registered for this test only
    budget = 600.0
    ticks = iter([0.0, 0.0, 0.0])  # start, the first rung, its one case; then 1.5 s are left
    ladder = run_ladder(["sklearn.sgd"], src.name, [1000, 16000], tmp_path / "r", budget, Limits(timeout_s=120),
                        clock=lambda: next(ticks, budget - 1.5))
    assert ladder.rungs == [1000] and [r.status for r in ladder.records] == ["ok"]
    assert "stopped after 1,000 rows: the next rung (16,000 rows, 1 adapter(s)) is projected at" in ladder.stopped
    assert "over the 2 s left" in ladder.stopped


def test_the_rungs_stop_at_the_files_rows_and_a_small_file_gets_one_at_its_size():
    from oocbench.cli_advise import rungs_for, training_rows

    assert training_rows(30_000) == 27_000 and training_rows(10**7) == 10**7 - 50_000
    assert rungs_for(None, 27_000) == [10_000, 27_000]
    assert rungs_for(None, 10**7) == [10_000, 100_000, 1_000_000]
    assert rungs_for("50000", 27_000) == [27_000]
    assert rungs_for("1000,4000,16000", 27_000) == [1000, 4000, 16000]
    with pytest.raises(ValueError, match="at least 100 rows"):
        rungs_for("10", 27_000)


def _rec(adapter: str, n: int, fit: float, peak: float, loss: float, in_memory: bool = False) -> CaseRecord:
    return CaseRecord(CaseSpec(adapter, "file-x", n), status="ok", task="binary", rows=n, rows_per_s=n / fit,
                      timings=Timings(fit_s=fit, fit_cpu_s=fit, total_s=fit + 3), metrics={"log_loss": loss},
                      baseline={"log_loss": 0.5}, memory=Memory(rss_peak_bytes=int(peak)),
                      adapter_info={"in_memory": in_memory})


def test_projections_are_ranges_and_the_recommendation_names_the_trade_off():
    mib = 2**20
    records = [*(_rec("stream", n, 0.5 + n / 1e6, 200 * mib, 0.40 + 10 / n ** 0.5) for n in (10**4, 10**5, 10**6)),
               *(_rec("trees", n, 1 + n / 1e5, 100 * mib + n * 2000, 0.35 + 10 / n ** 0.5, True)
                 for n in (10**4, 10**5, 10**6))]
    a = advise(records, 10**8, 64 * 2**30, 2, 2)
    by = {p.adapter: p for p in a.projections}
    stream, trees = by["stream"], by["trees"]
    assert stream.memory_flat and stream.ram == "fits" and stream.peak_rss.high == pytest.approx(200 * mib)
    # trees hold 2 kB per row: 200 GB at 10^8 rows, more than 64 GiB, and it stops near 3.4x10^7 rows
    assert trees.ram == "exceeds" and 2e7 < trees.stops_near < 4e7
    # time: the truth (fixed + per row) lies in the range projected from the rungs
    assert stream.fit_s.contains(0.5 + 1e8 / 1e6) and trees.fit_s.contains(1 + 1e8 / 1e5)
    assert stream.loss.contains(0.40 + 10 / 1e4, slack=0.01) and stream.loss.low < stream.loss.high
    assert stream.cost.low < stream.cost.high
    # the trees are out of RAM: the recommendation is the streaming learner, and the trees are named as out
    assert "stream projects the lowest log_loss" in a.sentences[0]
    assert any("Projected not to fit in RAM: trees" in s for s in a.sentences)
    assert "2.0 decade(s) beyond" in a.caveats[0]


def test_an_adapter_that_failed_a_rung_is_not_recommended_and_an_oom_is_out_of_ram():
    mib = 2**20
    fast = [_rec("fast", n, 0.1 + n / 1e7, 100 * mib, 0.45) for n in (10**4, 10**5)]
    oom = [_rec("big", 10**4, 1.0, 300 * mib, 0.30), _rec("big", 10**5, 5.0, 900 * mib, 0.29)]
    oom.append(CaseRecord(CaseSpec("big", "file-x", 10**6), status="oom", task="binary"))
    slow = [_rec("slow", 10**4, 2.0, 100 * mib, 0.31)]
    slow.append(CaseRecord(CaseSpec("slow", "file-x", 10**5), status="timeout", task="binary",
                           provenance={"limits": {"timeout_s": 600.0}}))
    a = advise(fast + oom + slow, 10**7, 64 * 2**30, 2, 2, candidates=["fast", "big", "slow", "unrun"])
    by = {p.adapter: p for p in a.projections}
    assert by["big"].ram == "exceeds" and by["big"].stops_near <= 10**6 and by["big"].failed == "oom at 1,000,000 rows"
    assert by["slow"].fit_s.low >= 600.0 and by["slow"].failed.startswith("timeout")
    assert by["unrun"].failed == "not run: the ladder's time was up" and not by["unrun"].measured
    assert a.sentences[0].startswith("For 10,000,000 rows") and "fast projects the lowest" in a.sentences[0]


def test_extrapolate_brackets_a_fixed_cost_plus_a_cost_per_row_and_a_power_law():
    for truth in (lambda n: 5 + n / 1e5, lambda n: 1e-7 * n ** 1.3):
        pts = [(n, truth(n)) for n in (10**4, 10**5)]
        r = extrapolate(pts, 10**7, 0.5, 2.0)
        assert r.low <= truth(10**7) * 1.001 and truth(10**7) <= max(r.high, pts[-1][1] * 100) * 1.001
    assert Range(None, 3.0).show(str) == "<= 3.0" and Range(1.0, 1.0).show(str) == "1.0"
    assert math.isinf(Range(None, math.inf).high)
