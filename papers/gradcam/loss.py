"""Grad-CAM trains nothing of its own: it explains an already trained classifier (§3) without changing or
re-training it. There is no objective to minimise here, only the scores the paper evaluates maps with:

- §4.1, weakly-supervised localisation (the ILSVRC protocol of Zhou et al. 2016): binarise the map at
  15% of its maximum, draw a box around the single largest connected segment, and count the image as
  localised when that box overlaps the ground truth with IoU >= 0.5 (:func:`box_from_map`,
  :func:`iou`). Top-1 localisation error also requires the top-1 class to be right; top-5, that one of
  the five best classes is the true one and its map's box overlaps (:func:`localisation_errors`).
- §4.1 (pointing game, Zhang et al. 2016): a hit when the map's maximum falls inside the annotated
  region, with a tolerance of 15 pixels at ILSVRC resolution (:func:`pointing_hits`).
- Appendix / Adebayo et al. 2018 sanity checks: Spearman rank correlation between two maps
  (:func:`spearman`).

The quick reproduction's stand-in classifier is trained with plain softmax cross-entropy
(:func:`cross_entropy`); that is our set-up, not the paper's contribution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOC_THRESHOLD = 0.15   # §4.1: "binarize ... at 15% of the max intensity"
IOU_THRESHOLD = 0.5    # §4.1: ILSVRC localisation counts IoU >= 0.5 as correct
POINTING_TOLERANCE = 15  # pointing game (Zhang et al. 2016): 15 px at ILSVRC / VOC resolution


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of the stand-in classifier (not the paper's; Grad-CAM trains nothing). No counterpart in the paper."""
    return F.cross_entropy(logits, target)


def topk_error(logits: torch.Tensor, target: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Per-image 0/1 classification error at top-k [B] (Table 1's "cls error")."""
    top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices
    return (~(top == target[:, None]).any(-1)).float()


# -- the §4.1 box: threshold at 15%, largest connected segment ---------------------------------------

def connected_components(mask: torch.Tensor) -> torch.Tensor:
    """8-connected components of boolean masks [B, H, W]: labels [B, H, W] (0 background, else a
    component id). Each foreground pixel starts with a unique id and takes the largest id among its
    neighbours until nothing changes (a batched label propagation, exact for any shape). Plumbing for §4's box-from-map step; no counterpart in the paper."""
    B, H, W = mask.shape
    ids = torch.arange(1, H * W + 1, dtype=torch.float32, device=mask.device).view(1, H, W)
    m = mask.float()
    lab = ids * m                                                       # [B, H, W]
    while True:
        new = F.max_pool2d(lab[:, None], 3, stride=1, padding=1)[:, 0] * m
        if torch.equal(new, lab):
            return lab.long()
        lab = new


def largest_component(mask: torch.Tensor) -> torch.Tensor:
    """The largest 8-connected segment of each mask [B, H, W] (ties: the one with the largest id). §4.1: the box is drawn around the largest segment."""
    lab = connected_components(mask)
    B = lab.shape[0]
    n = lab.shape[1] * lab.shape[2] + 1
    flat = lab.flatten(1)                                               # [B, HW]
    counts = torch.zeros(B, n, dtype=torch.long, device=lab.device)
    counts.scatter_add_(1, flat, torch.ones_like(flat))
    counts[:, 0] = -1                                                   # background never wins
    best = counts.argmax(1)                                             # [B]
    return (lab == best.view(B, 1, 1)) & mask


def mask_box(mask: torch.Tensor) -> torch.Tensor:
    """Tight boxes (x0, y0, x1, y1), x1/y1 exclusive, of masks [B, H, W]; an empty mask gives the image. Plumbing for §4.1's bounding boxes; no counterpart in the paper."""
    B, H, W = mask.shape
    rows, cols = mask.any(2), mask.any(1)                               # [B, H], [B, W]
    ar_h = torch.arange(H, device=mask.device)
    ar_w = torch.arange(W, device=mask.device)
    big = max(H, W) + 1
    y0 = torch.where(rows, ar_h, big).min(1).values
    y1 = torch.where(rows, ar_h, -1).max(1).values + 1
    x0 = torch.where(cols, ar_w, big).min(1).values
    x1 = torch.where(cols, ar_w, -1).max(1).values + 1
    empty = ~rows.any(1)
    box = torch.stack([x0, y0, x1, y1], 1)
    box[empty] = torch.tensor([0, 0, W, H], device=mask.device)
    return box


def box_from_map(maps: torch.Tensor, threshold: float = LOC_THRESHOLD) -> torch.Tensor:
    """§4.1: binarise each map [B, H, W] at ``threshold`` x its maximum, box the largest segment; [B, 4].

    A map with no positive value (Grad-CAM's ReLU can zero it) keeps every pixel: the whole image."""
    peak = maps.flatten(1).max(1).values.view(-1, 1, 1)
    mask = maps >= threshold * peak.clamp(min=0)
    return mask_box(largest_component(mask))


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of pixel boxes [B, 4] (x0, y0, x1, y1; x1/y1 exclusive); [B]. §4.1: a box counts as localised at IoU >= 0.5 (ILSVRC's rule)."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = (iw * ih).float()
    area = lambda t: ((t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])).float()  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


def box_correct(pred: torch.Tensor, gt: torch.Tensor, threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """IoU >= 0.5 per image [B] (bool). §4.1: ILSVRC's IoU >= 0.5 rule."""
    return iou(pred, gt) >= threshold


def localisation_errors(logits: torch.Tensor, target: torch.Tensor, box_ok: torch.Tensor,
                        box_ok_top5: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-image 0/1 errors of Table 1: top-1 cls, top-5 cls, top-1 loc (top-1 class right AND its
    box IoU >= 0.5), top-5 loc (the true class among the top 5 AND the true class's box IoU >= 0.5;
    ``box_ok_top5``, defaulting to ``box_ok`` when the boxes of the true and top-1 class coincide)."""
    top1 = topk_error(logits, target, 1)
    top5 = topk_error(logits, target, 5)
    ok5 = box_ok if box_ok_top5 is None else box_ok_top5
    return {"top1_cls": top1, "top5_cls": top5,
            "top1_loc": 1 - (1 - top1) * box_ok.float(), "top5_loc": 1 - (1 - top5) * ok5.float()}


# -- the pointing game -----------------------------------------------------------------------------

def argmax_point(maps: torch.Tensor) -> torch.Tensor:
    """(x, y) pixel of each map's maximum [B, 2] (the first, in raster order, on ties). The pointing game's point (Zhang et al., used in §4); plumbing otherwise."""
    B, H, W = maps.shape
    idx = maps.flatten(1).argmax(1)
    return torch.stack([idx % W, idx // W], 1)


def point_in_box(points: torch.Tensor, boxes: torch.Tensor, tolerance: float = 0.0) -> torch.Tensor:
    """Whether each pixel (x, y) [B, 2] lies within ``tolerance`` pixels (Euclidean) of its box [B, 4]. The pointing game's hit test (Zhang et al., used in §4)."""
    x, y = points[:, 0].float(), points[:, 1].float()
    dx = torch.maximum(torch.maximum(boxes[:, 0] - x, x - (boxes[:, 2] - 1)), torch.zeros_like(x))
    dy = torch.maximum(torch.maximum(boxes[:, 1] - y, y - (boxes[:, 3] - 1)), torch.zeros_like(y))
    return dx ** 2 + dy ** 2 <= tolerance ** 2


def pointing_hits(maps: torch.Tensor, boxes: torch.Tensor, tolerance: float = 0.0) -> torch.Tensor:
    """Pointing game: the map's maximum falls in the object's box (within ``tolerance`` px); [B] bool. As used in the paper's localisation evaluation (§4)."""
    return point_in_box(argmax_point(maps), boxes, tolerance)


# -- baselines ---------------------------------------------------------------------------------------

def centre_box(size: tuple[int, int], wh: tuple[float, float], n: int) -> torch.Tensor:
    """``n`` copies of a w x h box centred in an H x W image (the centre baseline); [n, 4]. A baseline of ours for §4.1's localisation; no counterpart in the paper."""
    H, W = size
    w, h = min(round(wh[0]), W), min(round(wh[1]), H)
    x0, y0 = (W - w) // 2, (H - h) // 2
    return torch.tensor([[x0, y0, x0 + w, y0 + h]]).repeat(n, 1)


def random_boxes(size: tuple[int, int], wh: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One box per row of ``wh`` [n, 2] (sizes drawn from the training boxes) at a uniform position; [n, 4]. A baseline of ours for §4.1's localisation; no counterpart in the paper."""
    H, W = size
    w, h = wh[:, 0].clamp(1, W), wh[:, 1].clamp(1, H)
    x0 = (torch.rand(len(wh), generator=generator) * (W - w + 1)).floor().long()
    y0 = (torch.rand(len(wh), generator=generator) * (H - h + 1)).floor().long()
    return torch.stack([x0, y0, x0 + w, y0 + h], 1).long()


def random_points(size: tuple[int, int], n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` uniform pixels (x, y) [n, 2] (the random pointing baseline). A baseline of ours for the pointing game (§4); no counterpart in the paper."""
    H, W = size
    return torch.stack([torch.randint(0, W, (n,), generator=generator),
                        torch.randint(0, H, (n,), generator=generator)], 1)


# -- sanity checks (Adebayo et al. 2018) ----------------------------------------------------------------

def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean rank) of each row of x [B, N], as float64."""
    x = x.double()
    B, N = x.shape
    order = x.argsort(dim=1, stable=True)
    sorted_x = x.gather(1, order)
    pos = torch.arange(N, dtype=torch.float64, device=x.device).expand(B, N)
    # tie groups: start of each run of equal values
    new_group = torch.ones(B, N, dtype=torch.bool, device=x.device)
    new_group[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    group = new_group.long().cumsum(1) - 1                                # [B, N] group index
    first = torch.zeros(B, N, dtype=torch.float64, device=x.device).scatter_reduce(
        1, group, pos, "amin", include_self=False)
    last = torch.zeros(B, N, dtype=torch.float64, device=x.device).scatter_reduce(
        1, group, pos, "amax", include_self=False)
    mean_rank = (first.gather(1, group) + last.gather(1, group)) / 2      # [B, N] in sorted order
    ranks = torch.empty_like(mean_rank)
    ranks.scatter_(1, order, mean_rank)
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between paired maps a, b [B, ...] (ties: average ranks); [B].
    A constant map has no ranking: its correlation is 0. For the sanity checks (Adebayo et al. 2018); no counterpart in the paper."""
    ra, rb = _ranks(a.flatten(1)), _ranks(b.flatten(1))
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    den = (ra.norm(dim=1) * rb.norm(dim=1))
    return torch.where(den > 0, (ra * rb).sum(1) / den.clamp(min=1e-300), torch.zeros_like(den)).float()
