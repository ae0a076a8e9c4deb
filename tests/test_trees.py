"""The boosted-tree adapters (XGBoost out of core and in memory, scikit-learn's HistGradientBoosting, LightGBM):
what conformance does not check. Real libraries on tiny data; categorical data reaches them as integer codes
(tests/test_categorical_trees.py), the hashed CSR in 2^14 buckets where a test asks for it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oocbench.adapters.registry import discover, get_adapter
from oocbench.curve import Monitor, holdout_subset
from oocbench.features import BatchStream, UnsupportedInputError
from oocbench.harness.runner import Limits, run_case
from oocbench.metrics import constant_baseline, task_metrics
from oocbench.records import CaseSpec

TREES = ["xgboost.external-memory", "xgboost.in-memory", "sklearn.hist-gbdt", "lightgbm.gbdt"]
ROUNDS = {"xgboost.external-memory": "num_boost_round", "xgboost.in-memory": "num_boost_round",
          "sklearn.hist-gbdt": "max_iter", "lightgbm.gbdt": "num_iterations"}
ROWS = {"synth-binary": 4000, "synth-ctr": 20_000}  # ctr: ~4% positives


def _cls(name: str):
    entry = discover()[name]
    if not entry.installed:
        pytest.skip(entry.reason)
    return entry.cls


def _stream(tiny, name: str, data: str, rows: int | None = None) -> BatchStream:
    ds = tiny(data, rows=rows or ROWS[data])
    try:
        return BatchStream.for_adapter(ds, ds.rows, 1000, _cls(name), hash_bits=14)
    except UnsupportedInputError as exc:
        pytest.skip(f"{name} on {data}: {exc}")


def _adapter(name: str, stream: BatchStream, rounds: int = 20, **kw):
    return _cls(name)(stream.task, stream.n_features, input_format=stream.input_format,
                      params={ROUNDS[name]: rounds}, **kw)


@pytest.mark.parametrize("data", ["synth-binary", "synth-ctr"])
@pytest.mark.parametrize("name", TREES)
def test_learns_and_beats_the_constant_predictor(name, data, tiny):
    stream = _stream(tiny, name, data)
    with _adapter(name, stream) as adapter:
        adapter.prepare(stream)
        adapter.fit(stream)
        X, y = holdout_subset(stream, 5000)
        pred = adapter.predict_batch(X)
        weights = adapter.explain()
    assert np.all((pred > 0) & (pred < 1))
    assert task_metrics("binary", y, pred)["log_loss"] < constant_baseline("binary", float(y.mean()), y)["log_loss"]
    if weights is not None:  # gain per feature: as wide as X, non-negative, some feature used
        assert weights.shape == (stream.n_features,) and np.all(weights >= 0) and weights.sum() > 0


def test_xgboost_still_takes_the_hashed_csr_when_asked(tiny):
    """The hashed one-hot path stays available (the comparison in benchmarks/trees_codes.py)."""
    ds = tiny("synth-ctr", rows=ROWS["synth-ctr"])
    stream = BatchStream(ds, ds.rows, 1000, "csr", hash_bits=14)
    with _adapter("xgboost.in-memory", stream, rounds=5) as adapter:
        adapter.fit(stream)
        X, y = holdout_subset(stream, 2000)
        assert np.all((adapter.predict_batch(X) > 0) & (adapter.predict_batch(X) < 1))
        assert "categorical" not in adapter.effective_hyperparameters()


@pytest.mark.parametrize("data", ["synth-binary", "synth-ctr"])
def test_external_memory_cache_lives_in_workdir_and_goes_away(data, tiny, tmp_path):
    stream = _stream(tiny, "xgboost.external-memory", data)
    # pages of 1,500 rows: several cache pages even on tiny data
    adapter = get_adapter("xgboost.external-memory")(stream.task, stream.n_features, workdir=tmp_path,
                                                     input_format=stream.input_format,
                                                     params={"num_boost_round": 5, "page_rows": 1500})
    adapter.fit(stream)
    facts = adapter.fit_facts()
    assert facts["cache_disk_bytes"] > 0 and facts["cache_files"] >= 1  # found under the workdir prefix
    assert facts["pages"] == -(-stream.rows // 2000) and facts["stream_reads"] >= 2  # 2 batches of 1000 per page
    assert facts["dmatrix_build_s"] > 0 and facts["train_s"] > 0
    adapter.close()
    assert not list(tmp_path.glob("xgb-cache*"))
    # in memory, the same iterator: no cache, the same trees
    control = get_adapter("xgboost.in-memory")(stream.task, stream.n_features, input_format=stream.input_format,
                                               params={"num_boost_round": 5, "page_rows": 1500})
    control.fit(stream)
    assert "cache_disk_bytes" not in control.fit_facts()
    control.close()


def test_in_memory_and_external_memory_grow_the_same_trees(tiny):
    stream = _stream(tiny, "xgboost.in-memory", "synth-binary")
    X, _ = holdout_subset(stream, 2000)
    preds = []
    for name in ("xgboost.external-memory", "xgboost.in-memory"):
        with _adapter(name, stream, rounds=10) as adapter:
            adapter.fit(stream)
            preds.append(adapter.predict_batch(X))
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["xgboost.external-memory", "xgboost.in-memory", "lightgbm.gbdt"])
def test_log_spaced_rounds_are_scored_in_order_while_fitting(name, tiny):
    stream = _stream(tiny, name, "synth-binary")
    with _adapter(name, stream, rounds=8) as adapter:
        monitor = adapter.monitor = Monitor(adapter, holdout_subset(stream, 2000))
        monitor.begin()
        adapter.fit(stream)
        final = task_metrics("binary", monitor.y, adapter.predict_batch(monitor.X))["log_loss"]
    points = monitor.points
    assert [p["round"] for p in points] == [1, 2, 4, 6, 8]  # log-spaced, the last round always
    assert all(a["fit_s"] < b["fit_s"] for a, b in zip(points, points[1:]))
    assert points[-1]["holdout_log_loss"] < points[0]["holdout_log_loss"]
    assert points[-1]["holdout_log_loss"] == pytest.approx(final, rel=1e-6)  # the last round is the model
    assert monitor.describe()["by"] == ["round"]


def test_hist_gbdt_reports_staged_losses_untimed(tiny):
    stream = _stream(tiny, "sklearn.hist-gbdt", "synth-binary")
    with _adapter("sklearn.hist-gbdt", stream, rounds=8) as adapter:
        adapter.monitor = Monitor(adapter, holdout_subset(stream, 2000))
        adapter.fit(stream)
        monitor, adapter.monitor = adapter.monitor, None  # the harness detaches it before fit_facts
        staged = adapter.fit_facts()["staged_holdout"]
        final = task_metrics("binary", monitor.y, adapter.predict_batch(monitor.X))["log_loss"]
    assert not monitor.points  # no invented times
    assert len(staged["by_round"]) == 8 and staged["by_round"][-1] == pytest.approx(final, rel=1e-9)
    assert "no times" in staged["what"]


@pytest.mark.parametrize("name", TREES)
def test_no_incremental_update_and_one_pass_only(name):
    cls = _cls(name)
    assert cls.multi_pass() == "" and "rounds, not passes" in cls.update_semantics
    with cls("binary", 3) as adapter, pytest.raises(NotImplementedError, match="no incremental update"):
        adapter.partial_fit(np.zeros((2, 3), np.float32), np.array([0.0, 1.0], np.float32))
    with pytest.raises(ValueError, match="one pass only"):
        cls("binary", 3, passes=2)


@pytest.mark.parametrize("name", TREES)
def test_published_extra_version_and_profiles(name):
    import xgboost

    cls = _cls(name)
    assert cls.extra == {"xgboost": "xgboost", "lightgbm": "lightgbm"}.get(cls.library, "")
    assert cls.library_version()
    if cls.library == "xgboost":
        assert cls.library_version() == xgboost.__version__  # xgboost-cpu, or plain xgboost
    json.dumps(cls.describe())
    matched, recommended = cls("binary", 5), cls("binary", 5, profile="recommended")
    assert matched.hyperparameters != recommended.hyperparameters
    json.dumps(matched.hyperparameters)


def test_matched_profile_is_the_same_trees_everywhere():
    hp = {name: _cls(name)("binary", 5).hyperparameters for name in TREES}
    xgb, hgb, lgb = hp["xgboost.in-memory"], hp["sklearn.hist-gbdt"], hp["lightgbm.gbdt"]
    assert hp["xgboost.external-memory"] == xgb
    assert xgb["num_boost_round"] == hgb["max_iter"] == lgb["num_iterations"] == 100
    assert xgb["max_depth"] == hgb["max_depth"] == lgb["max_depth"] == 6 and xgb["grow_policy"] == "depthwise"
    assert hgb["max_leaf_nodes"] == lgb["num_leaves"] == 2 ** 6
    assert xgb["eta"] == hgb["learning_rate"] == lgb["learning_rate"] == 0.1
    assert xgb["max_bin"] == hgb["max_bins"] == lgb["max_bin"] == 255
    assert xgb["lambda"] == hgb["l2_regularization"] == lgb["lambda_l2"] == 1.0
    assert hgb["early_stopping"] is False


def test_missing_library_is_not_installed_with_the_pip_hint():
    from oocbench.adapters.xgboost import ExternalMemory

    class Absent(ExternalMemory):
        library = "xgboost_not_here_oocbench"

    assert "pip install 'oocbench[xgboost]'" in Absent.skip()


def test_run_case_records_rounds_cache_and_skips_passes(tiny, data_base):
    tiny("synth-binary", rows=3000)
    params = (("num_boost_round", 6), ("page_rows", 1000))
    rec = run_case(CaseSpec("xgboost.external-memory", "synth-binary", 3000, batch_size=500, params=params),
                   Limits(timeout_s=300), memray=False, data_base=data_base)
    assert rec.status == "ok", rec.reason + rec.extra.get("traceback", "")
    points = rec.extra["checkpoints"]["points"]
    assert [p["round"] for p in points] == [1, 2, 4, 6] and rec.extra["checkpoints"]["by"] == ["round"]
    assert points[-1]["fit_s"] <= rec.timings.fit_s
    assert rec.extra["cache_disk_bytes"] > 0 and rec.extra["pages"] == 3
    assert rec.extra["dmatrix_build_s"] + rec.extra["train_s"] <= rec.timings.fit_s + 1e-6
    assert rec.memory.rss_anon_fit_bytes is not None
    assert rec.metrics["log_loss"] < rec.baseline["log_loss"]
    assert rec.adapter_info["hyperparameters"]["num_boost_round"] == 6
    skipped = run_case(CaseSpec("xgboost.in-memory", "synth-binary", 3000, passes=2), Limits(timeout_s=60),
                       memray=False, data_base=data_base)
    assert skipped.status == "skipped" and "one pass only" in skipped.reason


@pytest.mark.parametrize("data", ["synth-binary", "synth-ctr"])
def test_lightgbm_gathered_sample_is_the_sequence_paths_own(data, tiny):
    """The Dataset that gathers LightGBM's bin sample a row group at a time gets the rows the plain Sequence
    sampler gets, row for row, and trains the same model."""
    lightgbm = pytest.importorskip("lightgbm")
    from oocbench.adapters.lightgbm import gathering_dataset, part_sequence

    stream = _stream(tiny, "lightgbm.gbdt", data)
    assert stream.input_format == ("codes" if data == "synth-ctr" else "dense")
    gathering = gathering_dataset()
    assert gathering is not lightgbm.Dataset  # this LightGBM has the hook: the fast path is the one measured
    seq = part_sequence(stream)
    indices = np.sort(np.random.default_rng(0).choice(len(seq), 700, replace=False))
    plain = np.array(list(lightgbm.Dataset._yield_row_from_seqlist([part_sequence(stream)], indices)))
    np.testing.assert_array_equal(np.array(list(gathering._yield_row_from_seqlist([seq], indices))), plain)
    y = np.concatenate([y for _, y in stream])
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "bin_construct_sample_cnt": 500, "seed": 3}
    X = holdout_subset(stream, 500)[0]
    preds = [lightgbm.train(params, cls(part_sequence(stream), label=y, params=params), num_boost_round=5).predict(X)
             for cls in (lightgbm.Dataset, gathering)]
    np.testing.assert_array_equal(preds[0], preds[1])
