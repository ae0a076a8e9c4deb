"""Model insight: the top features of real fits named by source column and value, and the report section.

Every record here comes from a real run of the library (``run_case`` or the ``oocbench`` CLI) on tiny data.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from oocbench.features import FeatureSpec, hash_column
from oocbench.harness.runner import Limits, run_case
from oocbench.insight import feature_space, model_insight, stream_insight
from oocbench.records import CaseRecord, CaseSpec
from tests.conftest import oocbench_cli

#: synth-binary (seed 0) at 10^5 rows: the acceptance scale of issue 18
BINARY_ROWS = 100_000
CTR_ROWS = 5_000


def _run(adapter: str, dataset: str, scale: int, data_base: Path, **kw) -> CaseRecord:
    rec = run_case(CaseSpec(adapter, dataset, scale, **kw), Limits(timeout_s=300), memray=False, data_base=data_base)
    assert rec.status == "ok", (adapter, dataset, rec.reason)
    return rec


@pytest.fixture(scope="module")
def binary_records(data_base) -> list[CaseRecord]:
    return [_run("sklearn.sgd", "synth-binary", BINARY_ROWS, data_base),
            _run("sklearn.batch", "synth-binary", 20_000, data_base),
            _run("xgboost.in-memory", "synth-binary", 20_000, data_base)]


@pytest.fixture(scope="module")
def ctr_records(data_base) -> list[CaseRecord]:
    return [_run(a, "synth-ctr", CTR_ROWS, data_base, batch_size=1000)
            for a in ("sklearn.sgd", "vw.linear", "lightgbm.gbdt")]


# ----- the record ----------------------------------------------------------------------------------------
def test_sgd_recovers_every_detectable_informative_feature_at_1e5_rows(binary_records, tiny):
    """The acceptance: at 10^5 rows sklearn.sgd's top n_informative features hold every informative feature
    the scale can tell from zero; the features are named by column, the true coefficients recorded."""
    ins = binary_records[0].extra["insight"]
    truth = np.asarray(tiny("synth-binary", BINARY_ROWS).manifest.truth["coef"])
    info = ins["informative"]
    assert info["of"] == np.count_nonzero(truth) == info["top_n"]
    det = info["detectable"]
    assert det["rows"] == BINARY_ROWS and det["of"] >= info["of"] - 1  # seed 0: one true coefficient is ~0.01
    assert det["recovered"] == det["of"] and det["missed"] == []
    # an informative feature missed is one the scale cannot detect (|coef| < 3 standard errors)
    undetectable = {k for k, c, se in info["true"] if abs(c) < det["z"] * se}
    assert set(info["missed"]) <= undetectable
    assert info["recovered"] == info["of"] - len(info["missed"])
    names = [f"f{j}" for j in range(len(truth))]
    assert ins["layout"] == "columns" and ins["families"] == ["num"]
    assert [t["label"] for t in ins["top"]][:3] == [names[j] for j in np.argsort(-np.abs(truth))[:3]]
    assert all(t["label"] in names and t["source"] == "numeric" for t in ins["top"])


def test_importances_of_trees_are_ranked_too(binary_records):
    ins = binary_records[2].extra["insight"]
    assert ins["kind"] == "importance" and all(t["value"] >= 0 for t in ins["top"])
    assert ins["informative"]["recovered"] >= ins["informative"]["detectable"]["recovered"] - 1


def test_hashed_buckets_are_named_by_column_and_raw_value(ctr_records, tiny):
    """synth-ctr through CSR: each top bucket is named by values that really hash into it (checked with the
    feature layer's own hash), counted on the first training rows."""
    ins = ctr_records[0].extra["insight"]
    assert ins["layout"] == "hashed" and ins["families"] == ["num", "b18"] and ins["hash_bits"] == 18
    assert ins["sample_rows"] == CTR_ROWS  # the stream's rows, fewer than SAMPLE_ROWS
    buckets = [t for t in ins["top"] if t["source"] == "hashed bucket"]
    assert buckets, "no categorical value among sklearn.sgd's top features on synth-ctr"
    table = tiny("synth-ctr", CTR_ROWS).manifest  # categorical ids are integers: hash them as the data is typed
    for t in buckets:
        assert t["values"], t
        assert not t["label"].startswith("bucket ")
        for v in t["values"]:
            assert table.kind(v["column"]) == "categorical" and t["label"].count("=") >= 1
            raw = pa.array([None if v["value"] == "(missing)" else int(v["value"])], pa.int64())
            assert hash_column(raw, v["column"], 18)[0] == t["bucket"]
        assert t["sample_rows_in_bucket"] >= sum(v["rows"] for v in t["values"])
    assert len(ins["ranked"]) == 100 and len(ins["top"]) == 20


def test_each_adapter_maps_what_its_explain_gives(ctr_records):
    vw, lgbm = ctr_records[1].extra["insight"], ctr_records[2].extra["insight"]
    # VW hashes categorical values itself: explain() gives the numeric columns only, and the record says so
    assert vw["layout"] == "numeric-only" and "categorical columns (C1" in vw["unavailable"]
    assert {t["source"] for t in vw["top"]} == {"numeric"} and len(vw["ranked"]) == 13
    # LightGBM on Arrow: one importance per column, categoricals as whole columns
    assert lgbm["layout"] == "columns" and lgbm["families"] == ["num", "col"] and lgbm["width"] == 23
    assert any(t["source"] == "categorical column" and t["label"] == f"{t['column']} (all values)"
               for t in lgbm["top"])


def test_a_model_without_weights_says_so(tiny):
    from oocbench.features import BatchStream

    ds = tiny("synth-binary", 2000)
    out = stream_insight(None, "weights", BatchStream(ds, 2000, 500))
    assert "explain() returns None" in out["unavailable"] and "top" not in out


def test_a_weight_vector_of_the_wrong_length_is_not_mapped():
    spec = FeatureSpec(["x"], {}, ["c"], "y", hash_bits=4, standardize=False)
    space, why = feature_space(spec, "csr", 5)
    assert space is None and "cannot be mapped" in why
    assert "cannot be mapped" in model_insight(np.ones(5), "weights", spec, "csr")["unavailable"]


def test_csv_string_columns_are_named_by_column_and_value(tmp_path):
    """A user's CSV through `generate --from-file` and `run`: the insight names carrier=DL, not a bucket."""
    rng = np.random.default_rng(1)
    n = 8000
    carrier = rng.choice(["AA", "DL", "UA", "WN", "B6"], n)
    origin = rng.choice([f"P{i:02d}" for i in range(30)], n)
    dist = rng.gamma(2.0, 300.0, n)
    logit = -1.0 + 3.0 * (carrier == "DL") - 2.0 * (carrier == "UA") + 0.0005 * dist
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")  # "yes" sorts last: it is 1
    lines = ["distance,carrier,origin,delayed"] + [f"{d:.1f},{c},{o},{y}" for d, c, o, y in
                                                   zip(dist, carrier, origin, label, strict=True)]
    (tmp_path / "flights.csv").write_text("\n".join(lines) + "\n")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    out = oocbench_cli("generate", "--from-file", "flights.csv", "--target", "delayed", "--scale", "6000",
                       cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    out = oocbench_cli("run", "--adapter", "sklearn.sgd", "--dataset", "file-flights", "--scale", "6000",
                       "--batch-size", "500", "--no-memray", "--results", str(tmp_path / "r"), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "r/records.jsonl").read_text().splitlines()[0])
    ins = rec["extra"]["insight"]
    assert rec["status"] == "ok" and ins["layout"] == "hashed"
    labels = [t["label"] for t in ins["top"]]
    assert not any(lb.startswith("bucket ") for lb in labels), labels
    top = {t["label"]: t["value"] for t in ins["top"][:4]}
    assert "carrier=DL" in top and top["carrier=DL"] > 0, labels
    assert "carrier=UA" in labels and dict((t["label"], t["value"]) for t in ins["top"])["carrier=UA"] < 0
    dl = next(t for t in ins["top"] if t["label"] == "carrier=DL")
    assert dl["columns"] == ["carrier"] and dl["values"][0]["value"] == "DL"
    # about a fifth of the sampled training rows fly DL
    assert 0.15 < dl["values"][0]["rows"] / ins["sample_rows"] < 0.25 and ins["sample_rows"] == 6000
    assert "distance" in labels  # the numeric column by its name


# ----- the report section -----------------------------------------------------------------------------
def test_insight_section_renders_recovery_top_features_and_agreement(binary_records, ctr_records, tmp_path):
    from oocbench.reports.insight import insight_section

    page = insight_section(binary_records + ctr_records, tmp_path)
    assert page.startswith('<h2 id="insight">')
    for r in binary_records + ctr_records:
        assert r.case.adapter in page
    sgd = binary_records[0].extra["insight"]["informative"]
    det = sgd["detectable"]
    assert f"{sgd['recovered']} / {sgd['of']}" in page and f"{det['recovered']} / {det['of']} detectable" in page
    assert "Agreement on what matters" in page and "true model" in page
    for t in ctr_records[0].extra["insight"]["top"][:10]:
        assert f"<b>{html.escape(t['label'])}</b>" in page  # bucket names by value, not bucket numbers
    assert "Not covered" in page and "(all values)" in page  # VW's categoricals, LightGBM's whole columns
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert pngs == ["insight-synth-binary.png", "insight-synth-ctr.png"]
    for name in pngs:
        assert f'src="plots/{name}"' in page


def test_agreement_is_spearman_on_features_both_spaces_hold(binary_records, ctr_records):
    from scipy.stats import spearmanr

    from oocbench.reports.insight import families, feature_vector, spearman

    a, b = (r.extra["insight"] for r in binary_records[:2])
    rho, n = spearman(feature_vector(a), feature_vector(b), families(a), families(b))
    keys = sorted(k for k, _ in a["ranked"])  # 20 numeric columns: every one is in both top lists
    expect = spearmanr([abs(dict(a["ranked"])[k]) for k in keys], [abs(dict(b["ranked"])[k]) for k in keys])
    assert n == 20 and rho == pytest.approx(expect.statistic)
    # hashed buckets and LightGBM's whole columns share only the numeric columns
    sgd, lgbm = (r.extra["insight"] for r in (ctr_records[0], ctr_records[2]))
    _, n = spearman(feature_vector(sgd), feature_vector(lgbm), families(sgd), families(lgbm))
    top = lambda ins: [k for k, _ in sorted(feature_vector(ins).items(), key=lambda kv: -kv[1])[:20]]  # noqa: E731
    assert n == len({k for k in top(sgd) + top(lgbm) if k.startswith("num:")})


def test_no_insight_no_section(tmp_path):
    from oocbench.reports.insight import insight_section

    assert insight_section([CaseRecord(case=CaseSpec("x", "d", 1), status="error")], tmp_path) == ""
