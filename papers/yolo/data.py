"""YOLO's data pipeline: detection sets resized to the network's square input, the §2.2 augmentation,
and an embedded generated set when no data is present.

- Any COCO json / VOC xml / YOLO txt set through :func:`shared.data.detection.load_detection`
  (``--set dataset=/path``); the registered ``raccoon`` (VOC xml, its published 160/40 split) and
  ``coco128`` (YOLO txt, train2017 / val2017) are found under the data roots.
- Images are resized to ``size x size`` (the paper resizes to 448 x 448, ignoring the aspect ratio);
  boxes are kept in image-normalised xyxy coordinates, so they do not change with the resize.
- §2.2 augmentation: "random scaling and translations of up to 20% of the original image size ...
  randomly adjust the exposure and saturation of the image by up to a factor of 1.5 in the HSV color
  space" (:func:`augment`), run on a batch in the main process (the Trainer's RNG is checkpointed).
- :func:`generate_shapes`: filled circles, squares and triangles on noisy canvases with COCO-format
  annotations, the default when no real set is found.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shared.data import registry
from shared.data.detection import DetectionSet, load_detection


@dataclass
class Split:
    """A detection split in memory: images resized to ``size``, boxes normalised to [0, 1]."""
    images: torch.Tensor              # uint8 [N, 3, size, size]
    boxes: list[torch.Tensor]         # per image, float [n, 4] xyxy in [0, 1]
    labels: list[torch.Tensor]        # per image, int64 [n]
    sizes: list[tuple[int, int]]      # original (width, height), to report boxes in pixels
    names: list[str]                  # image file names (or generated ids)
    classes: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> "Split":
        """The images at ``indices`` (in that order), as a new split of the same classes."""
        idx = [int(i) for i in indices]
        return Split(self.images[idx], [self.boxes[i] for i in idx], [self.labels[i] for i in idx],
                     [self.sizes[i] for i in idx], [self.names[i] for i in idx], self.classes)

    def ground_truth(self, pixels: bool = True) -> list[dict]:
        """For :func:`shared.metrics.coco_map`: image ids 1..N, boxes in original pixels."""
        out = []
        for i, (b, lab, (w, h)) in enumerate(zip(self.boxes, self.labels, self.sizes)):
            scale = torch.tensor([w, h, w, h], dtype=torch.float32) if pixels else torch.ones(4)
            out.append({"image_id": i + 1, "boxes": (b * scale).tolist(), "labels": lab.tolist(), "width": w,
                        "height": h})
        return out


class IndexedImages(torch.utils.data.Dataset):
    """``(image uint8 [3, H, W], index)``: the loss function looks the boxes up by index."""

    def __init__(self, split: Split):
        self.split = split

    def __len__(self):
        return len(self.split)

    def __getitem__(self, i):
        return self.split.images[i], i


def to_split(ds: DetectionSet, size: int, names: list[str] | None = None) -> Split:
    from PIL import Image

    recs = ds.subset(names).records if names is not None else ds.records
    imgs, boxes, labels, sizes = [], [], [], []
    for r in recs:
        with Image.open(r.image) as im:
            imgs.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8))
        scale = np.array([r.width, r.height, r.width, r.height], np.float32)
        b = np.clip(r.boxes / scale, 0, 1) if len(r.boxes) else np.zeros((0, 4), np.float32)
        boxes.append(torch.from_numpy(b.astype(np.float32)))
        labels.append(torch.from_numpy(r.labels.astype(np.int64)))
        sizes.append((r.width, r.height))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous() if imgs else torch.zeros(0, 3, size, size,
                                                                                                    dtype=torch.uint8)
    return Split(x, boxes, labels, sizes, [r.image.name for r in recs], ds.classes)


def _csv_names(path: Path) -> list[str]:
    with open(path) as f:
        return sorted({row["filename"] for row in csv.DictReader(f)}, key=lambda n: [int(t) if t.isdigit() else t
                                                                                     for t in n.replace(".", "-").split("-")])


def load_splits(dataset: str, size: int, data_dir=None, train_split: str = "", test_split: str = "",
                test_fraction: float = 0.2, seed: int = 0, max_train: int = 0, max_test: int = 0
                ) -> tuple[Split, Split, str]:
    """``(train, test, source)`` for ``dataset``: ``raccoon``, ``coco128``, ``shapes`` (generated), ``auto``
    (raccoon if present, else shapes) or a path to a COCO / VOC / YOLO set (``path1,path2`` joins train sets)."""
    if dataset == "auto":
        dataset = "raccoon" if registry.available("raccoon", "SHA256SUMS", data_dir) else "shapes"
    if dataset == "shapes":
        tr = generate_shapes(max_train or 256, size, seed=seed)
        te = generate_shapes(max_test or 64, size, seed=seed + 1)
        return tr, te, "shapes"
    if dataset == "raccoon":
        root = registry.find("raccoon", "SHA256SUMS", data_dir)
        if root is None:
            raise FileNotFoundError(registry._missing_message("raccoon", registry.DataFile("SHA256SUMS"), data_dir,
                                                              "it is not in the data roots"))
        root = root.parent
        ds = load_detection(root)
        for f in ("train_labels.csv", "test_labels.csv"):
            registry.require("raccoon", f, data_dir, download=False)
        tr_names, te_names = _csv_names(root / "train_labels.csv"), _csv_names(root / "test_labels.csv")
        _record(ds, "raccoon", data_dir)
        return (to_split(ds, size, _cap(tr_names, max_train)), to_split(ds, size, _cap(te_names, max_test)),
                "raccoon")
    if dataset == "coco128":
        root = registry.find("coco128", "SHA256SUMS", data_dir)
        if root is None:
            raise FileNotFoundError("coco128 is not in the data roots (--data-dir, $PAPERS_DATA_DIR, ./data)")
        root = root.parent
        tr, te = load_detection(root, "train2017"), load_detection(root, "val2017")
        _record(tr, "coco128", data_dir)
        _record(te, "coco128", data_dir)
        return (to_split(tr, size, _cap([r.image.name for r in tr.records], max_train)),
                to_split(te, size, _cap([r.image.name for r in te.records], max_test)), "coco128")
    # a user's path: explicit splits, or a seeded random hold-out
    paths = [Path(p) for p in dataset.split(",")]
    sets = [load_detection(p, train_split or None) for p in paths]
    for p in paths:
        registry.record_local(f"detection set {p}", p)
    if test_split:
        te = load_detection(paths[0], test_split)
        return _join(sets, size, max_train), to_split(te, size, _cap([r.image.name for r in te.records], max_test)), \
            str(dataset)
    ds = sets[0]
    g = np.random.default_rng(seed)
    order = g.permutation(len(ds))
    n_te = max(1, int(round(test_fraction * len(ds))))
    names = [ds.records[i].image.name for i in order]
    return (to_split(ds, size, _cap(names[n_te:], max_train)), to_split(ds, size, _cap(names[:n_te], max_test)),
            str(dataset))


def holdout(train: Split, n: int, seed: int = 0) -> tuple[Split, Split]:
    """``(rest, held_out)``: ``n`` images drawn at random (seeded) from the *training* split, so that
    hyper-parameters are chosen without looking at the test split (e.g. raccoon's 160 training images
    -> 128 to train on, 32 to score). The paper chose its own on VOC's separate validation data; no
    counterpart in the paper beyond that."""
    if not 0 < n < len(train):
        raise ValueError(f"a hold-out of {n} images needs a training split of more than {n} (it has {len(train)})")
    order = np.random.default_rng(seed).permutation(len(train)).tolist()
    return train.subset(sorted(order[n:])), train.subset(sorted(order[:n]))


def _cap(names, n):
    return list(names)[:n] if n else list(names)


def _join(sets: list[DetectionSet], size: int, max_train: int) -> Split:
    parts = [to_split(s, size) for s in sets]
    cat = Split(torch.cat([p.images for p in parts]), sum((p.boxes for p in parts), []),
                sum((p.labels for p in parts), []), sum((p.sizes for p in parts), []),
                sum((p.names for p in parts), []), parts[0].classes)
    if max_train:
        cat = Split(cat.images[:max_train], cat.boxes[:max_train], cat.labels[:max_train], cat.sizes[:max_train],
                    cat.names[:max_train], cat.classes)
    return cat


def _record(ds: DetectionSet, name: str, data_dir) -> None:
    """Checksum every image and annotation file the run reads (registry.USED, for the report)."""
    root = ds.root
    for r in ds.records:
        rel = r.image.relative_to(root)
        registry.require(name, str(rel), data_dir, download=False)
        for ann in (root / "annotations" / (r.image.stem + ".xml"),
                    root / "labels" / rel.parent.name / (r.image.stem + ".txt")):
            if ann.is_file():
                registry.require(name, str(ann.relative_to(root)), data_dir, download=False)


# -- §2.2 augmentation ------------------------------------------------------------------------------

def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """``[..., 3, H, W]`` RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of the circle)."""
    r, g, b = rgb.unbind(-3)
    maxc, _ = rgb.max(-3)
    minc, _ = rgb.min(-3)
    v = maxc
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, v], -3)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = hsv.unbind(-3)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = [torch.zeros_like(v) for _ in range(3)]
    for k, ch in enumerate(choices):
        m = i == k
        for c in range(3):
            out[c] = torch.where(m, ch[c], out[c])
    return torch.stack(out, -3)


def _rand_scale(n: int, s: float, g: torch.Generator | None) -> torch.Tensor:
    """Factors in [1/s, s], a factor in [1, s] inverted with probability 1/2 (as darknet's rand_scale)."""
    f = 1 + (s - 1) * torch.rand(n, generator=g)
    return torch.where(torch.rand(n, generator=g) < 0.5, f, 1 / f)


def augment(images: torch.Tensor, boxes: list[torch.Tensor], labels: list[torch.Tensor], jitter: float = 0.2,
            exposure: float = 1.5, saturation: float = 1.5, generator: torch.Generator | None = None,
            params: dict | None = None) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """§2.2: random scale and translation up to ``jitter`` of the image size, exposure (V) and saturation
    (S) scaled by up to ``exposure`` / ``saturation`` in HSV. ``images`` float [N, 3, H, W] in [0, 1];
    boxes xyxy in [0, 1] are moved with the image, clipped, and dropped when less than 1% of the image
    side remains. ``params`` (``scale``, ``tx``, ``ty``, ``exp``, ``sat``; tensors [N]) fixes the draw."""
    N = images.shape[0]
    g = generator
    p = params or {
        "scale": 1 + jitter * (2 * torch.rand(N, generator=g) - 1),        # s in [1 - j, 1 + j]
        "tx": jitter * (2 * torch.rand(N, generator=g) - 1),               # shift in [-j, j] of the size
        "ty": jitter * (2 * torch.rand(N, generator=g) - 1),
        "exp": _rand_scale(N, exposure, g), "sat": _rand_scale(N, saturation, g)}
    s, tx, ty = p["scale"].to(images), p["tx"].to(images), p["ty"].to(images)
    # output point u (normalised [-1, 1]) samples the input at (u - 2t) / s: the image is scaled about its
    # centre by s and moved by t (in units of the image size)
    theta = torch.zeros(N, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 1, 1] = 1 / s, 1 / s
    theta[:, 0, 2], theta[:, 1, 2] = -2 * tx / s, -2 * ty / s
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5
    hsv = rgb_to_hsv(out.clamp(0, 1))
    hsv[:, 1] = (hsv[:, 1] * p["sat"].to(images).view(N, 1, 1)).clamp(0, 1)
    hsv[:, 2] = (hsv[:, 2] * p["exp"].to(images).view(N, 1, 1)).clamp(0, 1)
    out = hsv_to_rgb(hsv)
    new_boxes, new_labels = [], []
    for n in range(N):
        b = boxes[n].to(images)
        if len(b):
            sn = s[n]
            shift = torch.stack([tx[n], ty[n], tx[n], ty[n]])
            b = ((b - 0.5) * sn + 0.5 + shift).clamp(0, 1)
            keep = ((b[:, 2] - b[:, 0]) > 0.01) & ((b[:, 3] - b[:, 1]) > 0.01)
            new_boxes.append(b[keep])
            new_labels.append(labels[n][keep.to(labels[n].device)])
        else:
            new_boxes.append(b)
            new_labels.append(labels[n])
    return out, new_boxes, new_labels


# -- the embedded generated set -------------------------------------------------------------------------

SHAPES = ("circle", "square", "triangle")


def generate_shapes(n: int, size: int, seed: int = 0, max_objects: int = 3) -> Split:
    """``n`` canvases of ``size x size`` with 1..``max_objects`` filled shapes (circle, square, triangle)
    of random colour on a noisy background; boxes are the shapes' tight bounding boxes."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    imgs, boxes, labels = [], [], []
    for _ in range(n):
        img = (g.uniform(0.3, 0.6, 3)[:, None, None] + g.normal(0, 0.05, (3, size, size))).clip(0, 1)
        bs, ls = [], []
        for _ in range(g.integers(1, max_objects + 1)):
            c = int(g.integers(0, 3))
            r = g.uniform(0.08, 0.25) * size
            cx, cy = g.uniform(r, size - r, 2)
            if c == 0:
                m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2
            elif c == 1:
                m = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
            else:  # apex up: inside when below the two slanted edges and above the base
                m = (yy <= cy + r) & (yy >= cy - r + 2 * abs(xx - cx))
            color = g.uniform(0, 1, 3)
            while np.abs(color - img.mean((1, 2))).max() < 0.3:
                color = g.uniform(0, 1, 3)
            img[:, m] = color[:, None]
            ys, xs = np.nonzero(m)
            bs.append([xs.min() / size, ys.min() / size, (xs.max() + 1) / size, (ys.max() + 1) / size])
            ls.append(c)
        imgs.append((img * 255).round().astype(np.uint8))
        boxes.append(torch.tensor(bs, dtype=torch.float32))
        labels.append(torch.tensor(ls, dtype=torch.int64))
    return Split(torch.from_numpy(np.stack(imgs)), boxes, labels, [(size, size)] * n,
                 [f"shapes-{seed}-{i}" for i in range(n)], list(SHAPES))


def shapes_coco(split: Split) -> dict:
    """The generated set as a COCO annotation dict (images, annotations with x, y, w, h, categories)."""
    images, anns = [], []
    for i, (b, lab, (w, h)) in enumerate(zip(split.boxes, split.labels, split.sizes)):
        images.append({"id": i + 1, "file_name": f"{split.names[i]}.png", "width": w, "height": h})
        for box, c in zip(b.tolist(), lab.tolist()):
            x1, y1, x2, y2 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(c) + 1,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    return {"images": images, "annotations": anns,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(split.classes)]}

