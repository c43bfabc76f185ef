"""Detection sets in the formats users have, read into one in-memory form.

``load_detection(path, split=None)`` accepts
- a COCO annotation file (``*.json``: images, annotations with ``bbox = x, y, w, h``, categories),
  images found beside it, under ``images/``, ``images/<split>`` or ``image_dir``;
- a VOC-style folder: ``Annotations/`` or ``annotations/`` of ``*.xml`` (or the xml files directly),
  images under ``JPEGImages/`` or ``images/`` (or beside the xml); ``ImageSets/Main/<split>.txt``
  selects a split when present;
- a YOLO-txt folder: ``images/<split>/*.jpg`` and ``labels/<split>/*.txt`` (``class cx cy w h``,
  normalised), class names from ``classes.txt``, ``*.names`` or a ``names:`` block of a ``*.yaml``.

and returns a :class:`DetectionSet`: one :class:`DetectionRecord` per image (xyxy boxes in pixels,
0-based contiguous labels) and the class names. Images without boxes are kept (they count for
false positives). The readers themselves are in :mod:`shared.data.formats`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .formats import IMAGE_EXTS, read_coco_json, read_voc_xml, read_yolo_txt


@dataclass
class DetectionRecord:
    image: Path                      # the image file
    width: int
    height: int
    boxes: np.ndarray                # float32 [n, 4], xyxy in pixels
    labels: np.ndarray               # int64 [n], 0-based index into DetectionSet.classes
    difficult: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # VOC "difficult" flags
    image_id: int = 0


@dataclass
class DetectionSet:
    records: list[DetectionRecord]
    classes: list[str]
    format: str                      # "coco" | "voc" | "yolo"
    root: Path

    def __len__(self) -> int:
        return len(self.records)

    def subset(self, names) -> "DetectionSet":
        """The records whose image file name is in ``names`` (order of ``names``)."""
        by = {r.image.name: r for r in self.records}
        missing = [n for n in names if n not in by]
        if missing:
            raise ValueError(f"{len(missing)} requested images are not in {self.root}: {missing[:3]}")
        return DetectionSet([by[n] for n in names], self.classes, self.format, self.root)

    def to_coco_ground_truth(self) -> list[dict]:
        """The ground truth as :func:`shared.metrics.coco_map` takes it (labels stay 0-based)."""
        return [{"image_id": r.image_id, "boxes": r.boxes.tolist(), "labels": r.labels.tolist(),
                 "width": r.width, "height": r.height} for r in self.records]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image
    with Image.open(path) as im:
        return im.size  # (width, height)


def _find_image(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        p = d / name
        if p.is_file():
            return p
    stem = Path(name).stem
    for d in dirs:
        for ext in IMAGE_EXTS:
            p = d / (stem + ext)
            if p.is_file():
                return p
    return None


def load_detection(path, split: str | None = None, image_dir=None, classes: list[str] | None = None
                   ) -> DetectionSet:
    """Read a COCO json, VOC xml or YOLO txt detection set (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no detection set at {path}: give a COCO .json file or a VOC / YOLO folder")
    if path.is_file() and path.suffix == ".json":
        return _load_coco(path, split, image_dir)
    if path.is_dir():
        if (path / "labels").is_dir():
            return _load_yolo(path, split, classes)
        for sub in ("Annotations", "annotations", "."):
            if any((path / sub).glob("*.xml")):
                return _load_voc(path, path / sub, split, image_dir, classes)
        jsons = sorted(path.glob("*.json")) + sorted((path / "annotations").glob("*.json"))
        if jsons:
            want = [j for j in jsons if split and split in j.stem] or jsons
            return _load_coco(want[0], split, image_dir)
    raise ValueError(f"{path} is not a detection set: expected a COCO .json, a folder with labels/ (YOLO txt) "
                     f"or with Annotations/*.xml (VOC)")


def _load_coco(path: Path, split, image_dir) -> DetectionSet:
    d = read_coco_json(path)
    cats = sorted(d["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}
    base = path.parent.parent if path.parent.name == "annotations" else path.parent
    dirs = [Path(image_dir)] if image_dir else []
    dirs += [base / "images" / split] if split else []
    dirs += [base / "images", base, path.parent]
    anns: dict[int, list] = {}
    for a in d["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    records = []
    for im in sorted(d["images"], key=lambda i: i["id"]):
        img = _find_image(im["file_name"], dirs)
        if img is None:
            raise FileNotFoundError(f"image {im['file_name']} of {path} not found under {[str(x) for x in dirs]}")
        boxes, labels = [], []
        for a in anns.get(im["id"], []):
            if a.get("iscrowd", 0):
                continue
            x, y, w, h = a["bbox"]
            boxes.append([x, y, x + w, y + h])
            labels.append(index[a["category_id"]])
        w, h = (im.get("width"), im.get("height")) if im.get("width") else _image_size(img)
        records.append(DetectionRecord(img, int(w), int(h), np.array(boxes, np.float32).reshape(-1, 4),
                                       np.array(labels, np.int64), np.zeros(len(labels), bool), int(im["id"])))
    return DetectionSet(records, [c["name"] for c in cats], "coco", path)


def _load_voc(root: Path, ann_dir: Path, split, image_dir, classes) -> DetectionSet:
    xmls = sorted(ann_dir.glob("*.xml"), key=lambda p: _natural(p.stem))
    ids_file = root / "ImageSets" / "Main" / f"{split}.txt"
    if split and ids_file.is_file():
        keep = {ln.split()[0] for ln in ids_file.read_text().splitlines() if ln.strip()}
        xmls = [x for x in xmls if x.stem in keep]
    dirs = [Path(image_dir)] if image_dir else []
    dirs += [root / "JPEGImages", root / "images", ann_dir, root]
    parsed = [read_voc_xml(x) for x in xmls]
    names = list(classes) if classes else sorted({o["name"] for p in parsed for o in p["objects"]})
    index = {n: i for i, n in enumerate(names)}
    records = []
    for i, (x, p) in enumerate(zip(xmls, parsed)):
        img = _find_image(p["filename"] or x.stem, dirs) or _find_image(x.stem, dirs)
        if img is None:
            raise FileNotFoundError(f"image {p['filename']} of {x} not found under {[str(d) for d in dirs]}")
        objs = [o for o in p["objects"] if o["name"] in index]
        w, h = (p["width"], p["height"]) if p["width"] > 0 else _image_size(img)
        records.append(DetectionRecord(img, w, h, np.array([o["bbox"] for o in objs], np.float32).reshape(-1, 4),
                                       np.array([index[o["name"]] for o in objs], np.int64),
                                       np.array([bool(o["difficult"]) for o in objs], bool), i + 1))
    return DetectionSet(records, names, "voc", root)


def _yolo_names(root: Path) -> list[str] | None:
    for f in [root / "classes.txt", *sorted(root.glob("*.names"))]:
        if f.is_file():
            return [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
    for f in sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml")):
        names, inside = {}, False
        for ln in f.read_text().splitlines():
            if re.match(r"^names\s*:\s*$", ln):
                inside = True
                continue
            m = re.match(r"^\s+(\d+)\s*:\s*['\"]?(.*?)['\"]?\s*$", ln)
            if inside and m:
                names[int(m.group(1))] = m.group(2)
            elif inside and ln.strip() and not ln.startswith((" ", "\t")):
                break
        if names:
            return [names[i] for i in range(max(names) + 1)]
        m = re.search(r"^names\s*:\s*\[(.*)\]", f.read_text(), re.M)
        if m:
            return [n.strip().strip("'\"") for n in m.group(1).split(",")]
    return None


def _load_yolo(root: Path, split, classes) -> DetectionSet:
    img_dir = root / "images" / split if split else root / "images"
    lab_dir = root / "labels" / split if split else root / "labels"
    if not img_dir.is_dir():
        splits = sorted(p.name for p in (root / "images").iterdir() if p.is_dir()) if (root / "images").is_dir() else []
        raise FileNotFoundError(f"no images folder {img_dir}" + (f"; splits here: {splits}" if splits else ""))
    imgs = sorted((p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS), key=lambda p: _natural(p.stem))
    names = list(classes) if classes else _yolo_names(root)
    records, max_label = [], -1
    for i, img in enumerate(imgs):  # label files without an image are skipped
        w, h = _image_size(img)
        lab = lab_dir / (img.stem + ".txt")
        rows = read_yolo_txt(lab) if lab.is_file() else np.zeros((0, 5))   # no file: an image without objects
        cx, cy, bw, bh = rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float32).reshape(-1, 4)
        labels = rows[:, 0].astype(np.int64)
        max_label = max(max_label, int(labels.max(initial=-1)))
        records.append(DetectionRecord(img, w, h, boxes, labels, np.zeros(len(labels), bool), i + 1))
    if names is None:
        names = [str(i) for i in range(max_label + 1)]
    if max_label >= len(names):
        raise ValueError(f"{lab_dir} has label {max_label} but only {len(names)} class names were found")
    return DetectionSet(records, names, "yolo", root)


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
