"""``$OOCBENCH_PARQUET_COMPRESSION``: the codec synthetic shards are written with (``plain``: no codec and no
dictionary, a file as large as its decoded columns, as the past-RAM series writes synth-ctr)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from oocbench import datasets
from oocbench.datasets import DatasetError


@pytest.mark.parametrize("name", ["synth-ctr", "synth-binary"])
def test_plain_writes_no_codec_and_no_dictionary_and_reads_back_the_same_rows(tmp_path, monkeypatch, name):
    default = datasets.generate(name, 20_000, base=tmp_path / "default")
    monkeypatch.setenv("OOCBENCH_PARQUET_COMPRESSION", "plain")
    plain = datasets.generate(name, 20_000, base=tmp_path / "plain")
    meta = pq.ParquetFile(plain.root / plain.manifest.shards[0].path).metadata.row_group(0)
    for j in range(meta.num_columns):
        col = meta.column(j)
        assert col.compression == "UNCOMPRESSED" and not any("DICTIONARY" in e for e in col.encodings)
    assert pq.read_table(plain.root / plain.manifest.shards[0].path).equals(
        pq.read_table(default.root / default.manifest.shards[0].path))  # same data, other bytes
    if name == "synth-ctr":  # categoricals: dictionary-encoded and snappy by default, 2x+ smaller
        assert plain.manifest.shards[0].bytes > 2 * default.manifest.shards[0].bytes


def test_an_unknown_codec_is_refused_with_the_valid_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("OOCBENCH_PARQUET_COMPRESSION", "zip")
    with pytest.raises(DatasetError, match="valid: none, snappy, zstd"):
        datasets.generate("synth-ctr", 2_000, base=tmp_path)
