"""Public loaders end to end on small files in the original formats, the resumable download against a real
local HTTP server, bundled datasets, and a user's own file."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow.parquet as pq
import pytest

from oocbench.datasets import DatasetError, dataset_names, dataset_root, get_source, load
from oocbench.datasets.download import ChecksumError, fetch
from oocbench.datasets.public import PUBLIC
from oocbench.features import BatchStream

N = 1200  # fixture rows: holdout = every 10th row -> 120


def _rows_higgs(rng):
    return [",".join([f"{float(rng.random() < 0.5):.18e}", *(f"{v:.18e}" for v in rng.normal(size=28))])
            for _ in range(N)]


def _rows_covertype(rng):
    out = []
    for _ in range(N):
        cont = [str(int(v)) for v in rng.integers(0, 3000, 10)]
        onehot = ["0"] * 44
        onehot[rng.integers(0, 4)] = "1"
        onehot[4 + rng.integers(0, 40)] = "1"
        out.append(",".join([*cont, *onehot, str(int(rng.integers(1, 8)))]))
    return out


def _rows_criteo(rng):
    out = []
    for _ in range(N):
        ints = ["" if rng.random() < 0.2 else str(int(rng.integers(0, 50))) for _ in range(13)]
        cats = ["" if rng.random() < 0.1 else f"{int(rng.integers(0, 2**32)):08x}" for _ in range(26)]
        out.append("\t".join([str(int(rng.random() < 0.25)), *ints, *cats]))
    return out


def _rows_avazu(rng):
    head = ("id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,"
            "device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21")
    rows = [head]
    for i in range(N):
        rows.append(",".join([str(10**18 + i), str(int(rng.random() < 0.17)), "14102100", "1005", "0",
                              *(f"{int(rng.integers(0, 99999)):08x}" for _ in range(9)), "1", "0",
                              *(str(int(rng.integers(0, 3000))) for _ in range(8))]))
    return rows


def _rows_airline(rng):
    rows = ["Month,DayofMonth,DayOfWeek,DepTime,UniqueCarrier,Origin,Dest,Distance,dep_delayed_15min"]
    for _ in range(N):
        rows.append(f"c-{rng.integers(1, 13)},c-{rng.integers(1, 32)},c-{rng.integers(1, 8)},"
                    f"{rng.integers(1, 2400)},{rng.choice(['AA', 'UA', 'DL'])},{rng.choice(['ATL', 'ORD'])},"
                    f"{rng.choice(['DFW', 'SFO'])},{rng.integers(50, 3000)},{rng.choice(['Y', 'N'])}")
    return rows


ROWS = {"higgs": _rows_higgs, "covertype": _rows_covertype, "criteo-kaggle": _rows_criteo, "avazu": _rows_avazu,
        "airline-benchm-ml": _rows_airline}
LABEL = {"higgs": lambda r: float(r.split(",")[0]), "covertype": lambda r: float(r.split(",")[-1] == "2"),
         "criteo-kaggle": lambda r: float(r.split("\t")[0]), "avazu": lambda r: float(r.split(",")[1]),
         "airline-benchm-ml": lambda r: float(r.split(",")[-1] == "Y")}


def write_fixture(src, path, lines: list[str]) -> bytes:
    """The file in its original container: .gz, a .tar.gz member, or plain CSV."""
    text = ("\n".join(lines) + "\n").encode()
    if src.member:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo(src.member)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
        data = buf.getvalue()
    elif src.filename.endswith(".gz"):
        data = gzip.compress(text)
    else:
        data = text
    path.write_bytes(data)
    return data


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OOCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_public_loader_end_to_end(name, cache, tmp_path):
    src = get_source(name)
    lines = ROWS[name](np.random.default_rng(0))
    data = write_fixture(src, cache / src.filename, lines)
    src = dataclasses.replace(src, sha256=hashlib.sha256(data).hexdigest())
    body = lines[1:] if src.header else lines
    ds = src.build(dataset_root(name, 500, base=tmp_path), 500)
    m = ds.manifest
    assert ds.rows == 500 and m.holdout.rows == N // 10 and m.features == src.features
    assert set(m.columns) == set(src.categorical)
    # labels, in file order: training rows are the rows not held out (every 10th)
    labels = [LABEL[name](r) for r in body]
    train = [v for i, v in enumerate(labels) if i % 10 != 9][:500]
    hold = [v for i, v in enumerate(labels) if i % 10 == 9]
    np.testing.assert_array_equal(pq.read_table(ds.shard_paths()[0]).column("y").to_numpy(), train)
    np.testing.assert_array_equal(pq.read_table(ds.root / m.holdout.path).column("y").to_numpy(), hold)
    stream = BatchStream(ds, 500, 128, "csr" if src.categorical else "dense")
    X, y = next(iter(stream))
    assert X.shape == (128, stream.n_features) and np.isfinite(X.sum())
    expected_width = len(src.features) - len(src.categorical) + (2**18 if src.categorical else 0)
    assert stream.n_features == expected_width


def test_first_numeric_value_survives_conversion(cache, tmp_path):
    src = get_source("higgs")
    lines = _rows_higgs(np.random.default_rng(1))
    write_fixture(src, cache / src.filename, lines)
    ds = src.build(tmp_path / "h", 100)
    first = float(lines[0].split(",")[1])
    assert pq.read_table(ds.shard_paths()[0]).column("x1")[0].as_py() == pytest.approx(first, rel=1e-6)


def test_wrong_checksum_stops_with_a_clear_error(cache, tmp_path):
    src = get_source("covertype")  # the real published sha256: a fixture cannot match it
    write_fixture(src, cache / src.filename, _rows_covertype(np.random.default_rng(0)))
    with pytest.raises(ChecksumError, match="sha256 .* but expected 614360d0"):
        src.build(tmp_path / "c", 100)
    assert not (tmp_path / "c").exists()


class RangeHandler(BaseHTTPRequestHandler):
    """Serves one payload, honours ``Range: bytes=N-``; the first plain GET is cut half way (a dropped link)."""

    payload = b""
    seen: list[str | None] = []
    cut_first = True

    def do_GET(self):  # noqa: N802 - http.server's naming
        rng = self.headers.get("Range")
        type(self).seen.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = self.payload[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not rng and type(self).cut_first:
            type(self).cut_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    RangeHandler.payload = np.random.default_rng(0).bytes(3 << 20)
    RangeHandler.seen, RangeHandler.cut_first = [], True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()
    httpd.server_close()


def test_download_resumes_with_range_after_a_dropped_connection(server, tmp_path):
    dest = tmp_path / "file.bin"
    sha = hashlib.sha256(RangeHandler.payload).hexdigest()
    with pytest.raises(DatasetError, match="rerun to resume"):
        fetch(server, dest, sha, progress=False)
    part = tmp_path / "file.bin.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(RangeHandler.payload)
    have = part.stat().st_size
    progressed = []
    fetch(server, dest, sha, progress=progressed.append)
    assert RangeHandler.seen == [None, f"bytes={have}-"]
    assert dest.read_bytes() == RangeHandler.payload and sum(progressed) == len(RangeHandler.payload)
    fetch(server, dest, sha, progress=False)  # cached and verified: no new request
    assert len(RangeHandler.seen) == 2


def test_download_with_wrong_checksum_is_kept_aside(server, tmp_path):
    RangeHandler.cut_first = False
    with pytest.raises(ChecksumError, match="expected 0000"):
        fetch(server, tmp_path / "f.bin", "0" * 64, progress=False)
    assert not (tmp_path / "f.bin").exists() and (tmp_path / "f.bin.bad").exists()


def test_unreachable_source_says_where_to_put_the_file(tmp_path):
    with pytest.raises(DatasetError, match="(?i)put the file at"):
        fetch("http://127.0.0.1:9/none.gz", tmp_path / "none.gz", progress=False, timeout=2)


@pytest.mark.parametrize(("name", "task", "rows"), [("sklearn-breast-cancer", "binary", 569),
                                                   ("sklearn-diabetes", "regression", 442),
                                                   ("river-phishing", "binary", 1250),
                                                   ("river-bananas", "binary", 5300)])
def test_bundled_datasets_offline(name, task, rows, tmp_path):
    ds = load(name, 10**6, base=tmp_path)
    assert ds.task == task
    assert ds.rows + ds.manifest.holdout.rows == rows and ds.manifest.holdout.rows == rows // 5
    X, y = next(iter(BatchStream(ds, ds.rows, 10_000)))
    assert X.shape == (ds.rows, ds.n_features) and abs(float(X.mean())) < 0.1  # standardised


def test_public_names_are_listed_and_uncached_data_fails_clearly(tmp_path, monkeypatch):
    assert {p.name for p in PUBLIC} <= set(dataset_names())
    monkeypatch.setenv("OOCBENCH_CACHE_DIR", str(tmp_path))
    src = dataclasses.replace(get_source("avazu"), url="http://127.0.0.1:9/avazu.gz")
    with pytest.raises(DatasetError, match="avazu-train.gz"):
        src.build(tmp_path / "a", 10)


def test_user_csv_and_parquet(tmp_path):
    from oocbench.datasets.bundled import FileSource

    rng = np.random.default_rng(0)
    lines = ["a,b,colour,label"] + [f"{rng.normal():.6f},{'' if i % 7 == 0 else i},{rng.choice(['red', 'blue'])},"
                                    f"{rng.choice(['yes', 'no'])}" for i in range(400)]
    csv = tmp_path / "mine.csv"
    csv.write_text("\n".join(lines) + "\n")
    src = FileSource(csv, "label")
    assert src.name == "file-mine" and src.task == "binary"
    ds = src.build(tmp_path / "out", 300)
    assert ds.manifest.columns == {"colour": "categorical"} and ds.rows == 300
    # a string categorical column takes the same sparse path as synth-ctr: what a CSR adapter gets
    from oocbench.adapters.sklearn import SGD

    stream = BatchStream.for_adapter(ds, 300, 300, SGD)
    X, y = next(iter(stream))
    assert stream.input_format == "csr" and X.format == "csr" and X.shape == (300, 2 + 2**18)
    assert X.nnz == 300 * 3 and np.isfinite(X.data).all() and set(np.unique(y)) == {0.0, 1.0}
    assert set(np.unique(X[:, 2:].nonzero()[1])).__len__() == 2  # 'red' and 'blue': two buckets
    import pyarrow.csv as pacsv

    pq.write_table(pacsv.read_csv(csv), tmp_path / "mine.parquet")
    assert FileSource(tmp_path / "mine.parquet", "a").task == "regression"


@pytest.mark.parametrize(("content", "message"), [
    ("a,b\n1,2\n3\n", "cannot read it as CSV"),
    ("a,b\n1,2\n", "no column 'label'"),
    ("a,label\n1,x\n2,y\n3,z\n", "distinct text values"),
])
def test_malformed_user_files_give_clear_messages(tmp_path, content, message):
    from oocbench.datasets.bundled import FileSource

    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(DatasetError, match=message):
        FileSource(p, "label").build(tmp_path / "o", 10)
