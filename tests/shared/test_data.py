"""The dataset registry (lookup order, checksums, download, offline message) and the format readers,
all on tiny fixtures built here: no test reads ../shared/data."""
import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from shared.data import formats, registry
from shared.data.__main__ import main as data_cli
from shared.data.registry import DataError, DataFile, DatasetSpec


@pytest.fixture
def toy_registry(monkeypatch, no_data_env):
    """A registered dataset whose canonical URL is a local file:// path."""
    src = no_data_env / "upstream"
    src.mkdir()
    payload = b"hello, world\n" * 100
    (src / "a.txt").write_bytes(payload)
    f = DataFile("a.txt", (f"file://{src / 'a.txt'}",), sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    monkeypatch.setitem(registry.REGISTRY, "toy", DatasetSpec("toy", "a toy", "here", (f,)))
    monkeypatch.setattr(registry, "USED", {})
    return no_data_env, payload


def test_lookup_order(toy_registry, monkeypatch, tmp_path):
    root, payload = toy_registry
    for name in ("cli", "env", "data"):
        (root / name / "toy").mkdir(parents=True)
        (root / name / "toy" / "a.txt").write_bytes(payload)
    monkeypatch.setenv("PAPERS_DATA_DIR", str(root / "env"))
    assert registry.roots(root / "cli") == [root / "cli", root / "env", registry.Path("data")]
    assert registry.find("toy", "a.txt", root / "cli") == root / "cli" / "toy" / "a.txt"
    assert registry.find("toy", "a.txt") == root / "env" / "toy" / "a.txt"
    monkeypatch.delenv("PAPERS_DATA_DIR")
    assert registry.find("toy", "a.txt") == registry.Path("data/toy/a.txt")


def test_download_verifies_and_records(toy_registry):
    root, payload = toy_registry
    path = registry.require("toy", "a.txt", root / "dl")
    assert path.read_bytes() == payload and path == root / "dl" / "toy" / "a.txt"
    assert registry.USED == {"toy/a.txt": hashlib.sha256(payload).hexdigest()}
    assert not list((root / "dl" / "toy").glob("*.part"))


def test_checksum_mismatch_refuses_the_file(toy_registry):
    root, _ = toy_registry
    (root / "d" / "toy").mkdir(parents=True)
    (root / "d" / "toy" / "a.txt").write_bytes(b"tampered")
    with pytest.raises(DataError, match="fails its checksum.*Delete it and fetch it again"):
        registry.require("toy", "a.txt", root / "d")


def test_download_with_wrong_checksum_keeps_nothing(toy_registry, monkeypatch):
    root, _ = toy_registry
    spec = registry.REGISTRY["toy"]
    bad = DatasetSpec("toy", "", "", (DataFile("a.txt", spec.files[0].urls, sha256="0" * 64),))
    monkeypatch.setitem(registry.REGISTRY, "toy", bad)
    with pytest.raises(DataError, match="fails its checksum"):
        registry.require("toy", "a.txt", root / "dl")
    assert not (root / "dl" / "toy" / "a.txt").exists()


def test_offline_message_names_file_place_and_command(toy_registry, monkeypatch):
    root, _ = toy_registry
    spec = registry.REGISTRY["toy"]
    gone = DatasetSpec("toy", "", "", (DataFile("a.txt", ("file:///nonexistent/a.txt",), sha256=spec.files[0].sha256),))
    monkeypatch.setitem(registry.REGISTRY, "toy", gone)
    with pytest.raises(DataError) as e:
        registry.require("toy", "a.txt", root / "mine")
    msg = str(e.value)
    assert "toy/a.txt is missing and downloading it failed" in msg
    assert f"put the file (sha256 {spec.files[0].sha256}) at {root / 'mine' / 'toy' / 'a.txt'}" in msg
    assert f"python -m shared.data fetch toy --data-dir {root / 'mine'}" in msg


def test_unknown_names_are_clear(no_data_env):
    with pytest.raises(DataError, match="unknown dataset 'cifar100'.*registered: .*cifar10"):
        registry.require("cifar100", "x")
    with pytest.raises(DataError, match="not a file of the registered dataset"):
        registry.require("multi30k", "train.fr.gz")


def test_manifest_datasets(monkeypatch, no_data_env):
    folder = no_data_env / "data" / "gutenberg"
    folder.mkdir(parents=True)
    (folder / "book.txt").write_text("call me ishmael")
    digest = hashlib.sha256(b"call me ishmael").hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  book.txt\n")
    monkeypatch.setattr(registry, "USED", {})
    assert registry.require("gutenberg", "book.txt").read_text() == "call me ishmael"
    assert registry.USED["gutenberg/book.txt"] == digest


def test_registry_entries_are_complete():
    for s in registry.REGISTRY.values():
        assert s.manifest or s.files, s.name
        for f in s.files:
            assert f.sha256 or f.md5, (s.name, f.path)
            assert f.size or "sizes are unknown" in s.description, (s.name, f.path)  # an unknown size is said


def test_cli_fetch_and_list(toy_registry, capsys):
    root, _ = toy_registry
    assert data_cli(["verify", "toy", "--data-dir", str(root / "c")]) == 1  # verify never downloads
    assert "downloading was not allowed" in capsys.readouterr().err
    assert data_cli(["fetch", "toy", "--data-dir", str(root / "c")]) == 0
    assert data_cli(["verify", "toy", "--data-dir", str(root / "c")]) == 0
    assert data_cli(["list", "--data-dir", str(root / "c")]) == 0
    assert "toy" in capsys.readouterr().out


# -- formats -----------------------------------------------------------------------------

def test_cifar_batches_from_folder_and_tar(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    expect = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        y = list(rng.integers(0, 10, 3))
        (folder / name).write_bytes(pickle.dumps({b"data": x, b"labels": y}))
        expect[name] = (x, y)
    x, y = formats.read_cifar_batches(folder, "train")
    assert x.shape == (15, 32, 32, 3) and y.shape == (15,)
    # channel-major rows -> HWC: pixel (0, 0) of image 0 is (R, G, B) = row[0], row[1024], row[2048]
    r0 = expect["data_batch_1"][0][0]
    assert tuple(x[0, 0, 0]) == (r0[0], r0[1024], r0[2048])
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    xt, yt = formats.read_cifar_batches(tmp_path / "c.tar.gz", "test")
    assert xt.shape == (3, 32, 32, 3) and list(yt) == expect["test_batch"][1]


def _png(color):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, format="PNG")
    return buf.getvalue()


def test_image_folder_dir_and_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for split in ("train", "test"):
            for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
                for i in range(2):
                    zf.writestr(f"{split}/{cls}/{i}.png", _png(color))
                    (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
                    (tmp_path / split / cls / f"{i}.png").write_bytes(_png(color))
    for src, kw in ((tmp_path / "imgs.zip", {"prefix": "train/"}), (tmp_path / "train", {})):
        x, y, classes = formats.read_image_folder(src, **kw)
        assert classes == ["cat", "dog"] and x.shape == (4, 4, 4, 3) and list(y) == [0, 0, 1, 1]
        assert tuple(x[0, 0, 0]) == (255, 0, 0) and tuple(x[3, 0, 0]) == (0, 0, 255)
    with pytest.raises(FileNotFoundError, match="no images"):
        formats.read_image_folder(tmp_path / "imgs.zip", prefix="val/")


def test_idx(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", 2, 3, 4) + arr.tobytes()
    (tmp_path / "x.idx").write_bytes(raw)
    with gzip.open(tmp_path / "x.idx.gz", "wb") as f:
        f.write(raw)
    assert np.array_equal(formats.read_idx(tmp_path / "x.idx"), arr)
    assert np.array_equal(formats.read_idx(tmp_path / "x.idx.gz"), arr)
    (tmp_path / "bad").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="truncated"):
        formats.read_idx(tmp_path / "bad")


def test_text_formats(tmp_path):
    with gzip.open(tmp_path / "s.gz", "wt", encoding="utf-8") as f:
        f.write("ein Hund\nzwei Katzen\n")
    (tmp_path / "t.txt").write_text("a dog\ntwo cats\n")
    assert formats.read_parallel_text(tmp_path / "s.gz", tmp_path / "t.txt") == [
        ("ein Hund", "a dog"), ("zwei Katzen", "two cats")]
    (tmp_path / "u.txt").write_text("one line\n")
    with pytest.raises(ValueError, match="not aligned"):
        formats.read_parallel_text(tmp_path / "s.gz", tmp_path / "u.txt")
    assert formats.read_text(tmp_path / "s.gz") == "ein Hund\nzwei Katzen\n"
    (tmp_path / "g.tsv").write_text("sentence\tlabel\nit 's good \t1\nbad \t0\n")
    assert formats.read_tsv(tmp_path / "g.tsv") == [{"sentence": "it 's good", "label": "1"},
                                                     {"sentence": "bad", "label": "0"}]


def test_detection_formats(tmp_path):
    (tmp_path / "a.xml").write_text(
        "<annotation><filename>r.jpg</filename><size><width>640</width><height>480</height><depth>3</depth></size>"
        "<object><name>raccoon</name><difficult>0</difficult><bndbox><xmin>10</xmin><ymin>20</ymin>"
        "<xmax>110</xmax><ymax>220</ymax></bndbox></object></annotation>")
    v = formats.read_voc_xml(tmp_path / "a.xml")
    assert v == {"filename": "r.jpg", "width": 640, "height": 480,
                 "objects": [{"name": "raccoon", "bbox": [10.0, 20.0, 110.0, 220.0], "difficult": 0}]}
    (tmp_path / "a.txt").write_text("3 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.05 0.05\n")
    y = formats.read_yolo_txt(tmp_path / "a.txt")
    assert y.shape == (2, 5) and y[0, 0] == 3 and y[1, 3] == pytest.approx(0.05)
    (tmp_path / "c.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert formats.read_coco_json(tmp_path / "c.json")["images"] == []
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        formats.read_coco_json(tmp_path / "d.json")


def test_record_local(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "USED", {})
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jpg").write_bytes(b"x")
    (tmp_path / "f.bin").write_bytes(b"abc")
    assert registry.record_local("imagenet", tmp_path / "d") == f"local folder {tmp_path / 'd'} (1 files, not checksummed)"
    assert registry.record_local("weights", tmp_path / "f.bin") == hashlib.sha256(b"abc").hexdigest()
    assert set(registry.USED) == {"imagenet", "weights"}
