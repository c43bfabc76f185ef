"""Readers for the file formats users have, each returning plain numpy / python data.

CIFAR-10 python batches (folder or the .tar.gz), class-per-folder images (folder or zip),
MNIST idx (optionally gzipped), COCO json, VOC xml, YOLO txt, parallel text, plain text
and GLUE-style tsv. Files ending in ``.gz`` are decompressed on the fly.
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays, dicts, lists and scalars only: a pickle given by path (unchecksummed,
    e.g. ``--set data_path=...``) cannot run code."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def safe_unpickle(blob: bytes, source="") -> object:
    """``pickle.loads`` restricted to numpy arrays and plain python data (CIFAR-10's python batches)."""
    try:
        return _ArraysOnly(io.BytesIO(blob), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        from .registry import DataError
        raise DataError(f"{source} holds python objects other than arrays and plain data ({e}); it is not the "
                        f"CIFAR-10 python batches and is not loaded (it could run code)") from None


IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def open_text(path, encoding: str = "utf-8"):
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


def read_text(path, encoding: str = "utf-8") -> str:
    """A plain text corpus (``.gz`` allowed)."""
    with open_text(path, encoding) as f:
        return f.read()


def read_lines(path, encoding: str = "utf-8") -> list[str]:
    with open_text(path, encoding) as f:
        return [ln.rstrip("\n").rstrip("\r") for ln in f]


def read_parallel_text(src_path, tgt_path, encoding: str = "utf-8") -> list[tuple[str, str]]:
    """Line-aligned parallel text; the two files must have the same number of lines."""
    src, tgt = read_lines(src_path, encoding), read_lines(tgt_path, encoding)
    if len(src) != len(tgt):
        raise ValueError(f"parallel files are not aligned: {src_path} has {len(src)} lines, "
                         f"{tgt_path} has {len(tgt)}")
    return list(zip(src, tgt))


def read_tsv(path, header: bool = True, encoding: str = "utf-8") -> list[dict[str, str]] | list[list[str]]:
    """GLUE-style tab-separated values: a list of dicts keyed by the header (stripped cells)."""
    rows = [ln.split("\t") for ln in read_lines(path, encoding) if ln.strip()]
    if not header:
        return [[c.strip() for c in r] for r in rows]
    keys = [k.strip() for k in rows[0]]
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(keys):
            raise ValueError(f"{path}:{i} has {len(r)} columns, the header has {len(keys)}")
        out.append({k: c.strip() for k, c in zip(keys, r)})
    return out


# -- images ------------------------------------------------------------------------------

TREC_CLASSES = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")  # Li & Roth (2002) coarse classes


def read_trec(path, encoding: str = "utf-8") -> tuple[list[str], list[int]]:
    """TREC question classification: ``COARSE:fine question ...`` lines -> (questions, coarse label ids into
    :data:`TREC_CLASSES`). TREC's train.txt is latin-1."""
    texts, labels = [], []
    for n, line in enumerate(Path(path).read_text(encoding=encoding).splitlines(), start=1):
        if not line.strip():
            continue
        head, _, q = line.partition(" ")
        coarse = head.split(":")[0]
        if coarse not in TREC_CLASSES or not q:
            raise ValueError(f"{path}:{n}: expected 'COARSE:fine question', got {line[:60]!r}")
        texts.append(q.strip())
        labels.append(TREC_CLASSES.index(coarse))
    return texts, labels


def read_cifar_batches(path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 python batches from a folder or ``cifar-10-python.tar.gz``.

    Returns ``x`` uint8 [N, 32, 32, 3] and ``y`` int64 [N].
    """
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    path = Path(path)
    blobs = []
    if path.is_file():
        with tarfile.open(path) as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for n in names:
                blobs.append(tar.extractfile(members[n]).read())
    else:
        for n in names:
            hits = list(path.rglob(n))
            if not hits:
                raise FileNotFoundError(f"no CIFAR-10 batch {n!r} under {path}")
            blobs.append(hits[0].read_bytes())
    xs, ys = [], []
    for b in blobs:
        d = safe_unpickle(b, path)  # the official format is a pickle of arrays and lists; nothing else is loaded
        xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(d[b"labels"], dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def read_image_folder(path, prefix: str = "", size: tuple[int, int] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Class-per-folder images ``<prefix><class>/<image>`` from a folder or a zip.

    Classes are the sorted folder names. Returns ``x`` uint8 [N, H, W, 3], ``y`` int64 and the
    class names. All images must have one size unless ``size=(H, W)`` resizes them.
    """
    from PIL import Image

    path = Path(path)
    items: list[tuple[str, str]] = []  # (class, member)
    if path.suffix == ".zip":
        zf = zipfile.ZipFile(path)
        for n in zf.namelist():
            rel = n[len(prefix):] if n.startswith(prefix) else None
            if rel and rel.lower().endswith(IMAGE_EXTS) and rel.count("/") == 1:
                items.append((rel.split("/")[0], n))
        read = zf.read
    else:
        base = path / prefix if prefix else path
        for p in sorted(base.glob("*/*")):
            if p.suffix.lower() in IMAGE_EXTS:
                items.append((p.parent.name, str(p)))
        read = lambda n: Path(n).read_bytes()  # noqa: E731
    if not items:
        raise FileNotFoundError(f"no images of the form {prefix}<class>/<file> in {path}")
    items.sort()
    classes = sorted({c for c, _ in items})
    index = {c: i for i, c in enumerate(classes)}
    xs = []
    for _, member in items:
        img = Image.open(io.BytesIO(read(member))).convert("RGB")
        if size is not None:
            img = img.resize((size[1], size[0]))
        xs.append(np.asarray(img, dtype=np.uint8))
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"images in {path} have different sizes {sorted(shapes)[:3]}...; pass size=(H, W)")
    return np.stack(xs), np.array([index[c] for c, _ in items], dtype=np.int64), classes


def read_idx(path) -> np.ndarray:
    """An MNIST idx file (``.gz`` allowed) as a numpy array of its stored dtype and shape."""
    path = Path(path)
    data = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: {arr.size} values for shape {shape}")
    return arr.reshape(shape).astype(dtypes[dtype_code][1:])


# -- detection ---------------------------------------------------------------------------

def read_coco_json(path) -> dict:
    """A COCO annotation file: ``images``, ``annotations`` (bbox as x, y, w, h) and ``categories``."""
    d = json.loads(Path(path).read_text())
    for k in ("images", "annotations", "categories"):
        if k not in d:
            raise ValueError(f"{path} is not a COCO annotation file: no {k!r} key")
    return d


def read_voc_xml(path) -> dict:
    """A PASCAL VOC annotation: filename, width, height and objects with ``bbox`` = x1, y1, x2, y2."""
    root = ET.parse(path).getroot()
    size = root.find("size")
    objects = []
    for o in root.iter("object"):
        bb = o.find("bndbox")
        objects.append({
            "name": o.findtext("name").strip(),
            "bbox": [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")],
            "difficult": int(o.findtext("difficult") or 0),
        })
    return {"filename": root.findtext("filename"), "width": int(size.findtext("width")),
            "height": int(size.findtext("height")), "objects": objects}


def read_yolo_txt(path) -> np.ndarray:
    """YOLO labels: one ``class cx cy w h`` line per box (normalised); float array [n, 5]."""
    rows = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if any(len(r) != 5 for r in rows):
        raise ValueError(f"{path}: every line must be 'class cx cy w h'")
    return np.array(rows, dtype=np.float64).reshape(-1, 5)
