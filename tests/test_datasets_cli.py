"""`oocbench datasets` and `oocbench generate` (names, --from-file, exit codes), through the real entry point."""

from __future__ import annotations

from tests.conftest import oocbench_cli


def test_generate_then_datasets_lists_it_with_its_optimum(tmp_path):
    out = oocbench_cli("generate", "synth-regression", "--scale", "2000", "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "known optimum on the holdout: rmse" in out.stdout
    out = oocbench_cli("datasets", "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if "synth-regression" in ln)
    assert "2,000" in line and "rmse" in line and "regression" in line
    for name in ("synth-ctr", "synth-drift", "higgs", "criteo-kaggle", "river-phishing", "sklearn-diabetes"):
        assert name in out.stdout


def test_unknown_dataset_exits_2_listing_valid_names(tmp_path):
    out = oocbench_cli("generate", "nope", "--scale", "xs", "--out", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and "synth-binary" in out.stderr and "synth-regression" in out.stderr


def test_generate_from_a_users_file(tmp_path):
    lines = ["x,colour,label"] + [f"{i},{'red' if i % 3 else 'blue'},{i % 2}" for i in range(200)]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    out = oocbench_cli("generate", "--from-file", "mine.csv", "--target", "label", "--scale", "100",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "file-mine: 100 rows" in out.stdout
    (tmp_path / "bad.csv").write_text("x,label\n1,0\n2\n")
    out = oocbench_cli("generate", "--from-file", "bad.csv", "--target", "label", "--scale", "10",
                       "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 1 and "cannot read it as CSV" in out.stderr and "Traceback" not in out.stderr


def test_a_users_csv_with_string_categoricals_runs_on_the_sparse_path(tmp_path):
    # flight-like rows: string codes (one with a space, one with VW's separators, some missing) drive the label
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    carriers = ["AA", "UA", "W N", "B|6:x", ""]
    effect = {"AA": -1.0, "UA": 0.0, "W N": 1.0, "B|6:x": 2.0, "": 0.5}
    lines = ["distance,carrier,origin,delayed"]
    for _ in range(6000):
        c, o = carriers[rng.integers(5)], f"O{rng.integers(40)}"
        p = 1 / (1 + np.exp(-(effect[c] + (0.8 if o < "O2" else -0.3))))
        lines.append(f"{rng.gamma(2.0, 300.0):.1f},{c},{o},{'yes' if rng.random() < p else 'no'}")
    (tmp_path / "flights.csv").write_text("\n".join(lines) + "\n")
    env = {"OOCBENCH_DATA_DIR": str(tmp_path / "d")}
    out = oocbench_cli("generate", "--from-file", "flights.csv", "--target", "delayed", "--scale", "5000",
                       cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    for adapter in ("sklearn.sgd", "vw.linear"):
        out = oocbench_cli("run", "--adapter", adapter, "--dataset", "file-flights", "--scale", "5000",
                           "--batch-size", "500", "--no-memray", "--results", str(tmp_path / "r"), cwd=tmp_path,
                           env=env)
        assert out.returncode == 0, out.stderr
    records = [json.loads(ln) for ln in (tmp_path / "r/records.jsonl").read_text().splitlines()]
    for r, fmt in zip(records, ("csr", "arrow"), strict=True):
        assert r["status"] == "ok", r.get("reason")
        feats = r["extra"]["features"]
        assert feats["input_format"] == fmt and feats["categorical"] == ["carrier", "origin"]
        assert r["metrics"]["log_loss"] < r["baseline"]["log_loss"], (r["case"]["adapter"], r["metrics"])
    assert records[0]["extra"]["features"]["width"] == 1 + 2**18  # one numeric column + the hashed buckets
