"""Box utilities for detection: format conversions, areas, IoU and (batched) non-maximum suppression.

Paper-agnostic plumbing shared by the detectors (YOLO, Faster R-CNN). Written in plain torch so a
reader sees every step; each function is checked against ``torchvision.ops`` on random inputs in
``tests/shared/test_boxes.py``.

Formats (the names torchvision uses):
- ``xyxy``   corners ``(x1, y1, x2, y2)``;
- ``xywh``   top-left corner and size ``(x1, y1, w, h)`` (COCO json);
- ``cxcywh`` centre and size ``(cx, cy, w, h)`` (YOLO txt, normalised by the image).
Boxes are ``[..., 4]`` tensors; areas are ``w * h`` (continuous coordinates, no "+1").
"""
from __future__ import annotations

import torch

FORMATS = ("xyxy", "xywh", "cxcywh")


def box_convert(boxes: torch.Tensor, in_fmt: str, out_fmt: str) -> torch.Tensor:
    """Convert ``[..., 4]`` boxes between ``xyxy``, ``xywh`` and ``cxcywh``."""
    for f in (in_fmt, out_fmt):
        if f not in FORMATS:
            raise ValueError(f"unknown box format {f!r}; use one of {FORMATS}")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x1, y1, x2, y2 = a, b, c, d
    if out_fmt == "xyxy":
        out = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    else:
        out = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return torch.stack(out, dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area of ``[..., 4]`` xyxy boxes (degenerate boxes have area 0 or less, as in torchvision)."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _inter(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection over union of xyxy boxes: ``[N, 4] x [M, 4] -> [N, M]``."""
    inter = _inter(boxes1[:, None, :], boxes2[None, :, :])                   # [N, M]
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return inter / union


def box_iou_aligned(boxes1: torch.Tensor, boxes2: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Element-wise IoU of two equally shaped ``[..., 4]`` xyxy tensors (``[...]``).

    ``eps`` is added to the union, so that two empty boxes give 0 instead of NaN when it is > 0.
    """
    inter = _inter(boxes1, boxes2)
    return inter / (box_area(boxes1) + box_area(boxes2) - inter + eps)


def clip_boxes_to_image(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Clip xyxy boxes to an image of ``size = (height, width)``."""
    h, w = size
    x = boxes[..., 0::2].clamp(0, w)
    y = boxes[..., 1::2].clamp(0, h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1)


def remove_small_boxes(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """Indices of xyxy boxes whose width and height are both at least ``min_size``."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((w >= min_size) & (h >= min_size))[0]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, by decreasing score.

    Take the highest-scoring remaining box, drop every remaining box whose IoU with it is greater
    than ``iou_threshold``, repeat. Ties in score keep the lower index first (a stable sort).
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])                                # [N, N], in score order
    n = len(order)
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
                ) -> torch.Tensor:
    """NMS done independently per category ``idxs``: boxes of different categories never suppress
    each other. Same trick as torchvision: shift each category's boxes by an offset larger than every
    coordinate so that boxes of different categories cannot overlap, then run one NMS."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
