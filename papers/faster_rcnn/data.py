"""Faster R-CNN's data: detection splits at the network's scale, mini-batches with horizontal flips.

- §3.3 / §4.1: "we re-scale the images such that their shorter side is s = 600 pixels" (the authors' code
  also caps the longer side at 1,000); one image per mini-batch (§3.1.3 "each mini-batch arises from a
  single image"). :func:`from_detection_set` builds such a split, read lazily from the image files (VOC
  2007+2012 does not fit in memory at 600 pixels).
- The quick preset uses YOLO's in-memory split (:func:`papers.yolo.data.load_splits`: the same images, the
  same 160/40 raccoon split, resized to a square) through :func:`from_yolo_split`, so both detectors are
  trained and tested on identical pixels.
- Fast R-CNN §2.3 (the detector the paper builds on): "images are horizontally flipped with probability
  0.5"; :class:`Batches` draws a fresh permutation and fresh flips every epoch, from its own seeded
  generator, and gives each torchrun rank its own share of the images.

Labels are 1..C (0 is the background class of the detector, §3.2); ground truth for
:func:`shared.metrics.coco_map` is in original pixels with 0-based labels, as YOLO's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shared.data.detection import DetectionSet


@dataclass
class Item:
    """One image of a split (no counterpart in the paper)."""
    source: torch.Tensor | Path       # uint8 [3, h, w] at network scale, or the image file (read lazily)
    boxes: torch.Tensor               # float [n, 4] xyxy in ORIGINAL pixels
    labels: torch.Tensor              # int64 [n], 0-based
    size: tuple[int, int]             # original (width, height)
    name: str


class DetSplit:
    """A detection split at the network's scale (no counterpart in the paper): ``square > 0`` resizes to
    ``square x square`` (YOLO's input form); otherwise the short side becomes ``short_side`` (§3.3, s = 600)
    and the long side is capped at ``max_side``."""

    def __init__(self, items: list[Item], classes: list[str], square: int = 0, short_side: int = 600,
                 max_side: int = 1000):
        self.items, self.classes = items, classes
        self.square, self.short_side, self.max_side = square, short_side, max_side

    def __len__(self) -> int:
        return len(self.items)

    def scale(self, i: int) -> tuple[float, float]:
        """(sx, sy): network pixels per original pixel."""
        w, h = self.items[i].size
        if self.square:
            return self.square / w, self.square / h
        s = self.short_side / min(w, h)
        if round(s * max(w, h)) > self.max_side:
            s = self.max_side / max(w, h)
        return s, s

    def net_size(self, i: int) -> tuple[int, int]:
        """(height, width) of image ``i`` at network scale."""
        w, h = self.items[i].size
        sx, sy = self.scale(i)
        return (self.square, self.square) if self.square else (round(h * sy), round(w * sx))

    def image(self, i: int) -> torch.Tensor:
        """uint8 ``[3, H, W]`` at network scale."""
        src = self.items[i].source
        if isinstance(src, torch.Tensor):
            return src
        from PIL import Image
        H, W = self.net_size(i)
        with Image.open(src) as im:
            arr = np.asarray(im.convert("RGB").resize((W, H), Image.BILINEAR), dtype=np.uint8)
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous()

    def target(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(boxes ``[n, 4]`` in network pixels, labels ``[n]`` in 1..C)."""
        it = self.items[i]
        sx, sy = self.scale(i)
        return it.boxes * torch.tensor([sx, sy, sx, sy]), it.labels + 1

    def ground_truth(self) -> list[dict]:
        """For :func:`shared.metrics.coco_map`: image ids 1..N, original pixels, 0-based labels."""
        return [{"image_id": i + 1, "boxes": it.boxes.tolist(), "labels": it.labels.tolist(), "width": it.size[0],
                 "height": it.size[1]} for i, it in enumerate(self.items)]

    def to_original(self, i: int, boxes: torch.Tensor) -> torch.Tensor:
        """Boxes of image ``i`` from network pixels back to original pixels."""
        sx, sy = self.scale(i)
        return boxes / torch.tensor([sx, sy, sx, sy], dtype=boxes.dtype)


def from_yolo_split(split) -> DetSplit:
    """YOLO's in-memory split (square images, boxes normalised to [0, 1]) as a :class:`DetSplit`."""
    size = split.images.shape[-1]
    items = [Item(split.images[i], split.boxes[i] * torch.tensor([w, h, w, h], dtype=torch.float32),
                  split.labels[i], (w, h), split.names[i]) for i, (w, h) in enumerate(split.sizes)]
    return DetSplit(items, list(split.classes), square=size)


def from_detection_set(ds: DetectionSet, short_side: int = 600, max_side: int = 1000, square: int = 0,
                       names: list[str] | None = None) -> DetSplit:
    """A :class:`shared.data.detection.DetectionSet` (COCO json, VOC xml, YOLO txt) read lazily at
    network scale; ``names`` selects and orders images."""
    recs = ds.subset(names).records if names is not None else ds.records
    items = [Item(r.image, torch.as_tensor(r.boxes, dtype=torch.float32).reshape(-1, 4),
                  torch.as_tensor(r.labels, dtype=torch.int64).reshape(-1), (r.width, r.height), r.image.name)
             for r in recs]
    return DetSplit(items, list(ds.classes), square=square, short_side=short_side, max_side=max_side)


def flip_boxes(boxes: torch.Tensor, width: int) -> torch.Tensor:
    """Horizontal flip of xyxy boxes in an image ``width`` pixels wide (Fast R-CNN §2.3)."""
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)


class Batches:
    """Mini-batches ``(images float [N, 3, H, W] in [0, 1], boxes, labels)`` for ``train.py``'s loops.

    Each ``iter()`` is one epoch: a fresh permutation and fresh flips (probability ``flip``) from the
    batches' own generator, so runs with the same seed see the same images in the same order whatever
    else draws random numbers. ``mean``/``std`` normalise the pixels (ImageNet statistics for pre-trained
    VGG-16). Images of one batch of different sizes are zero-padded at the bottom and
    right (as the authors' code); with torchrun, rank r takes every world-th batch. No counterpart in the
    paper beyond Fast R-CNN §2.3's flips."""

    def __init__(self, split: DetSplit, batch_size: int, seed: int, flip: float = 0.5, device="cpu",
                 rank: int = 0, world: int = 1, channels_last: bool = False, mean=None, std=None):
        self.split, self.batch_size, self.flip, self.device = split, batch_size, flip, torch.device(device)
        self.rank, self.world, self.channels_last = rank, world, channels_last
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1).to(self.device)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1).to(self.device)
        self.g = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return max(1, len(self.split) // (self.batch_size * self.world))

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, skip: int):
        """One epoch from the generator's current state, without its first ``skip`` batches (of this rank):
        with the generator set back to the epoch's start, a resumed run sees the batches it would have seen.
        Lazy: nothing is drawn before the first batch is asked for."""
        order = torch.randperm(len(self.split), generator=self.g).tolist()
        flips = (torch.rand(len(self.split), generator=self.g) < self.flip).tolist()
        n = len(self) * self.world
        for b in list(range(self.rank, n, self.world))[skip:]:
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if not idx:
                continue
            yield self.collate(idx, [flips[i] for i in idx])

    def collate(self, idx: list[int], flips: list[bool]):
        imgs, boxes, labels = [], [], []
        for i, f in zip(idx, flips):
            x = self.split.image(i)
            b, lab = self.split.target(i)
            if f:
                x = x.flip(-1)
                b = flip_boxes(b, x.shape[-1])
            imgs.append(x)
            boxes.append(b.to(self.device))
            labels.append(lab.to(self.device))
        H, W = max(x.shape[1] for x in imgs), max(x.shape[2] for x in imgs)
        batch = torch.stack([F.pad(x, (0, W - x.shape[2], 0, H - x.shape[1])) for x in imgs])
        batch = batch.to(self.device).float() / 255
        if self.mean is not None:
            batch = (batch - self.mean) / self.std
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch, boxes, labels
