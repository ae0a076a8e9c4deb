"""Trees on wide categorical data take integer codes (the ``codes`` format), not hashed one-hot columns.

The acceptance of issue 24 on a user's file: a ``--from-file`` CSV with a 4,000-value string id column that carries
signal; every tree adapter is ``ok`` through the real CLI and within 2% of a ``HistGradientBoostingClassifier``
the test fits itself on the same training rows, encoded by scikit-learn's own ``OrdinalEncoder`` (not by
oocbench). Plus the codebook's invariants, and HistGradientBoosting's 255-category limit as a clear error.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oocbench.adapters.registry import discover
from oocbench.datasets.public import HOLDOUT_EVERY
from oocbench.features import BatchStream, Codebook
from tests.conftest import oocbench_cli

TREES = ["xgboost.external-memory", "xgboost.in-memory", "sklearn.hist-gbdt", "lightgbm.gbdt"]
ROWS = 40_000


def _installed(name: str):
    entry = discover()[name]
    if not entry.installed:
        pytest.skip(entry.reason)
    return entry.cls


def planes_csv(path, n: int = ROWS, ids: int = 4000, seed: int = 0) -> None:
    """Flights-like rows: a 4,000-value tail-number id drawn Zipf-like (a few hundred ids carry most rows), each
    with its own effect on the label; a carrier, 40 origins and a numeric delay."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, ids + 1) ** 0.8
    idx = rng.choice(ids, n, p=weights / weights.sum())
    effect = rng.normal(0.0, 1.0, ids)
    names = np.array([f"N{v:05d}" for v in rng.permutation(ids)])
    carrier = rng.choice(np.array(["AA", "DL", "UA", "WN", "B6"]), n)
    origin = rng.choice(np.array([f"A{i:02d}" for i in range(40)]), n)
    delay = rng.gamma(2.0, 10.0, n)
    logit = (-1.5 + effect[idx] + 0.8 * (carrier == "DL") + 0.03 * delay
             + np.where(np.char.endswith(origin, "7"), 0.7, 0.0))
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    pacsv.write_csv(pa.table({"delay": delay, "carrier": carrier, "origin": origin, "tail": names[idx],
                              "label": label}), path)


def reference_loss(root) -> float:
    """HistGradientBoosting fitted here on the dataset's training shards, scored on its holdout: the strings
    encoded by OrdinalEncoder(max_categories=255) (infrequent values grouped, unknown ones one more code)."""
    import pyarrow.parquet as pq
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import OrdinalEncoder

    manifest = json.loads((root / "manifest.json").read_text())
    train = pa.concat_tables(pq.read_table(root / s["path"]) for s in manifest["shards"])
    hold = pq.read_table(root / manifest["holdout"]["path"])
    cats = ["carrier", "origin", "tail"]

    def frame(t):
        return np.column_stack([t.column(c).to_numpy(zero_copy_only=False).astype(object) for c in cats])

    enc = OrdinalEncoder(max_categories=254, handle_unknown="use_encoded_value", unknown_value=254)
    Xc = enc.fit_transform(frame(train))
    X = np.column_stack([train.column("delay").to_numpy(), Xc])
    Xh = np.column_stack([hold.column("delay").to_numpy(), enc.transform(frame(hold))])
    y = train.column(manifest["target"]).to_numpy(zero_copy_only=False).astype(float)
    model = HistGradientBoostingClassifier(categorical_features=[False, True, True, True], early_stopping=False,
                                           random_state=0).fit(X, y)
    yh = hold.column(manifest["target"]).to_numpy(zero_copy_only=False).astype(float)
    return float(log_loss(yh, model.predict_proba(Xh)[:, 1]))


@pytest.mark.slow
def test_every_tree_is_ok_on_a_4000_value_id_column_and_close_to_histgradientboosting(tmp_path):
    for name in TREES:
        _installed(name)
    planes_csv(tmp_path / "planes.csv")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    train = ROWS - ROWS // HOLDOUT_EVERY  # every training row of the file
    out = oocbench_cli("generate", "--from-file", "planes.csv", "--target", "label", "--scale", str(train),
                       cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    for name in TREES:
        out = oocbench_cli("run", "--adapter", name, "--dataset", "file-planes", "--scale", str(train),
                           "--no-memray", "--results", str(tmp_path / "r"), cwd=tmp_path, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
    records = {r["case"]["adapter"]: r for r in map(json.loads, (tmp_path / "r/records.jsonl").read_text().splitlines())}
    assert set(records) == set(TREES)
    best = reference_loss(next((tmp_path / "d").rglob("manifest.json")).parent)
    for name, r in records.items():
        assert r["status"] == "ok", (name, r.get("reason"))
        feats = r["extra"]["features"]
        assert feats["input_format"] == "codes" and feats["width"] == 4, (name, feats)
        tail = feats["codes"]["columns"]["tail"]
        assert tail["kept"] == 254 and tail["distinct"] > 3000 and 0 < tail["other_share"] < 1
        loss = r["metrics"]["log_loss"]
        assert loss < r["baseline"]["log_loss"], (name, loss)
        assert loss <= 1.02 * best, f"{name}: log loss {loss:.4f} against HistGradientBoosting's {best:.4f}"


def test_trees_take_codes_on_categorical_data_and_hist_gbdt_runs_there(tiny):
    ds = tiny("synth-ctr", rows=5000)
    for name in TREES:
        stream = BatchStream.for_adapter(ds, ds.rows, 1000, _installed(name))
        assert stream.input_format == "codes" and stream.n_features == 23
    stream = BatchStream.for_adapter(ds, ds.rows, 1000, _installed("sklearn.hist-gbdt"))
    cls = _installed("sklearn.hist-gbdt")
    with cls(stream.task, stream.n_features, input_format="codes", params={"max_iter": 10}) as model:
        model.fit(stream)
        X, y = next(iter(stream.holdout()))
        assert np.all((model.predict_batch(X) > 0) & (model.predict_batch(X) < 1))
    wide = BatchStream(ds, ds.rows, 1000, "codes", category_cap=300)
    with cls(wide.task, wide.n_features, input_format="codes") as model, \
            pytest.raises(ValueError, match="category_cap <= 254"):
        model.fit(wide)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", None]), min_size=1, max_size=60),
       st.integers(min_value=1, max_value=6))
def test_codebook_keeps_the_most_frequent_values_first_and_codes_every_other_as_other(values, cap):
    counts: dict[str, int] = {}
    for v in values:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    book = Codebook.from_counts(cap, {"c": counts}, {"c": values.count(None)}, rows=len(values))
    kept = book.values["c"].to_pylist()
    assert len(kept) == min(cap, len(counts))
    assert [counts[v] for v in kept] == sorted((counts[v] for v in kept), reverse=True)
    assert all(counts[v] <= min(counts[k] for k in kept) for v in counts if v not in kept)
    codes = book.codes(pa.array(values + ["never-seen"]), "c")
    for v, code in zip(values + ["never-seen"], codes, strict=True):
        if v is None:
            assert np.isnan(code)
        else:
            assert code == (kept.index(v) if v in kept else len(kept))
    info = book.describe()["columns"]["c"]
    other = sum(counts[v] for v in counts if v not in kept)
    assert info["other_share"] == pytest.approx(other / len(values), abs=1e-6)


def test_codebook_of_a_stream_comes_from_its_training_rows_only(tiny):
    ds = tiny("synth-ctr", rows=5000)
    half = BatchStream(ds, 2500, 500, "codes")
    whole = BatchStream(ds, 5000, 500, "codes")
    assert half.spec.codebook.rows == 2500 and whole.spec.codebook.rows == 5000
    assert half.describe()["codes"]["columns"]["C10"]["distinct"] < whole.describe()["codes"]["columns"]["C10"]["distinct"]
    X, _ = next(iter(whole))
    assert X.dtype == np.float32 and X.shape == (500, 23)
    codes = X[:, 13:]
    assert np.all(np.isnan(codes) | ((codes >= 0) & (codes <= 254) & (codes == np.round(codes))))
