"""`oocbench datasets` and `oocbench generate` (names, --from-file, exit codes), through the real entry point."""

from __future__ import annotations

from tests.conftest import oocbench_cli


def test_generate_then_datasets_lists_it_with_its_optimum(tmp_path):
    out = oocbench_cli("generate", "synth-regression", "--scale", "2000", "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "known optimum on the holdout: rmse" in out.stdout
    out = oocbench_cli("datasets", "--out", str(tmp_path / "d"), cwd=tmp_path)
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
