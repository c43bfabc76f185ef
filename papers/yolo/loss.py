"""The YOLO objective (§2.2, Eq. (3)), target encoding, decoding, and the §2.2 training recipe.

Eq. (3), a sum-squared error over the S x S grid (i: cell, j: predictor):

    λ_coord Σ_i Σ_j 1^obj_ij [(x_i - x̂_i)² + (y_i - ŷ_i)²]
  + λ_coord Σ_i Σ_j 1^obj_ij [(√w_i - √ŵ_i)² + (√h_i - √ĥ_i)²]
  +         Σ_i Σ_j 1^obj_ij (C_i - Ĉ_i)²
  + λ_noobj Σ_i Σ_j 1^noobj_ij (C_i - Ĉ_i)²
  +         Σ_i 1^obj_i Σ_c (p_i(c) - p̂_i(c))²

1^obj_i: an object's centre falls in cell i; 1^obj_ij: predictor j of that cell is "responsible" for
it, "the predictor [that] has the highest current IOU with the ground truth"; 1^noobj_ij is every
other predictor. λ_coord = 5, λ_noobj = 0.5. The confidence target Ĉ of a responsible predictor is
the IOU between its box and the ground truth ("we want the confidence score to equal the IOU"), 0
elsewhere. The network's w, h outputs are read as √w, √h (§2.2), so Eq. (3)'s second line compares
them with the square roots of the target size directly.

Conventions we chose where the paper is silent (README "Deviations"): the sum over the grid is
averaged over the images of a batch; when two objects fall in one cell, the first keeps the cell
(one class vector per cell, §2); the IoU target is not differentiated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange

from shared.boxes import batched_nms, box_convert, box_iou_aligned

from .model import split_output


@dataclass(frozen=True)
class LossConfig:
    """Eq. (3)'s weights (§2.2: λ_coord = 5, λ_noobj = 0.5) and grid (S, B, C)."""
    lambda_coord: float = 5.0       # §2.2
    lambda_noobj: float = 0.5       # §2.2
    sqrt_wh: bool = True            # §2.2: predict √w, √h (False: the ablation that regresses w, h)
    conf_target: str = "iou"        # "iou" (§2.2) or "one" (a common simplification)


# -- targets (§2) ------------------------------------------------------------------------------

def encode_targets(boxes: list[torch.Tensor], labels: list[torch.Tensor], S: int, C: int) -> torch.Tensor:
    """Ground truth -> the grid ``[N, S, S, 5 + C]``: (x, y, w, h, 1^obj_i, one-hot class).

    ``boxes[n]`` are xyxy in image-normalised coordinates ([0, 1]). "If the center of an object falls
    into a grid cell, that grid cell is responsible for detecting that object" (§2); x, y are the
    centre's offsets within the cell, w, h the size relative to the whole image (§2).
    """
    N = len(boxes)
    device = boxes[0].device if N else torch.device("cpu")
    t = torch.zeros(N, S, S, 5 + C, device=device)
    for n, (b, lab) in enumerate(zip(boxes, labels)):
        if len(b) == 0:
            continue
        cxcywh = box_convert(b.float(), "xyxy", "cxcywh")
        for (cx, cy, w, h), c in zip(cxcywh.tolist(), lab.tolist()):
            j = min(max(int(math.floor(cx * S)), 0), S - 1)   # column
            i = min(max(int(math.floor(cy * S)), 0), S - 1)   # row
            if t[n, i, j, 4] > 0:
                continue                                      # one object per cell: the first keeps it
            t[n, i, j, :5] = torch.tensor([cx * S - j, cy * S - i, w, h, 1.0])
            t[n, i, j, 5 + int(c)] = 1.0
    return t


def cell_boxes_to_image(xywh: torch.Tensor, S: int, sqrt_wh: bool) -> torch.Tensor:
    """Predicted ``[N, S, S, B, 4]`` (x, y in the cell; w, h or √w, √h) -> xyxy in image-normalised units. §2: x, y are relative to the grid cell, w, h to the whole image."""
    S_ = xywh.shape[1]
    assert S_ == S, (S_, S)
    rows = torch.arange(S, device=xywh.device, dtype=xywh.dtype).view(1, S, 1, 1)
    cols = torch.arange(S, device=xywh.device, dtype=xywh.dtype).view(1, 1, S, 1)
    cx = (xywh[..., 0] + cols) / S
    cy = (xywh[..., 1] + rows) / S
    w, h = (xywh[..., 2] ** 2, xywh[..., 3] ** 2) if sqrt_wh else (xywh[..., 2].clamp(min=0), xywh[..., 3].clamp(min=0))
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


# -- Eq. (3) -----------------------------------------------------------------------------------

def responsible(pred_xyxy: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """1^obj_ij: in each object cell, the predictor with the highest IoU with the ground truth (§2.2).

    Returns the mask ``[N, S, S, B]`` (bool) and the IoUs ``[N, S, S, B]`` of every predictor.
    """
    S = target.shape[1]
    gt = target[..., :4]
    rows = torch.arange(S, device=target.device, dtype=target.dtype).view(1, S, 1)
    cols = torch.arange(S, device=target.device, dtype=target.dtype).view(1, 1, S)
    cx, cy = (gt[..., 0] + cols) / S, (gt[..., 1] + rows) / S
    gt_xyxy = torch.stack([cx - gt[..., 2] / 2, cy - gt[..., 3] / 2, cx + gt[..., 2] / 2, cy + gt[..., 3] / 2], -1)
    iou = box_iou_aligned(pred_xyxy, gt_xyxy.unsqueeze(3).expand_as(pred_xyxy), eps=1e-9)  # [N, S, S, B]
    best = iou.argmax(-1, keepdim=True)                                                   # ties: first predictor
    mask = torch.zeros_like(iou, dtype=torch.bool).scatter_(-1, best, True) & (target[..., 4:5] > 0)
    return mask, iou


def yolo_loss(out: torch.Tensor, target: torch.Tensor, B: int = 2, cfg: LossConfig = LossConfig()
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. (3) for a batch: ``out`` ``[N, S, S, B*5+C]``, ``target`` from :func:`encode_targets`.

    Returns the loss (sum over the grid, mean over the N images) and its five terms (floats).
    """
    N, S = out.shape[0], out.shape[1]
    xywh, conf, probs = split_output(out, B)          # [N,S,S,B,4], [N,S,S,B], [N,S,S,C]
    pred_xyxy = cell_boxes_to_image(xywh, S, cfg.sqrt_wh)
    with torch.no_grad():
        obj_ij, iou = responsible(pred_xyxy, target)   # 1^obj_ij [N,S,S,B]
    noobj_ij = ~obj_ij                                 # 1^noobj_ij
    obj_i = target[..., 4] > 0                         # 1^obj_i [N,S,S]
    m = obj_ij.to(out.dtype)
    gt = target[..., :4].unsqueeze(3)                  # [N,S,S,1,4]
    # line 1: centre offsets of the responsible predictor
    xy = (((xywh[..., :2] - gt[..., :2]) ** 2).sum(-1) * m).sum()
    # line 2: √w, √h (or w, h in the ablation)
    gt_wh = gt[..., 2:].sqrt() if cfg.sqrt_wh else gt[..., 2:]
    wh = (((xywh[..., 2:] - gt_wh) ** 2).sum(-1) * m).sum()
    # lines 3-4: confidence; target IoU(pred, truth) for responsible predictors, 0 for the rest
    c_hat = iou.detach() if cfg.conf_target == "iou" else torch.ones_like(iou)
    obj = (((conf - c_hat) ** 2) * m).sum()
    noobj = ((conf ** 2) * noobj_ij.to(out.dtype)).sum()
    # line 5: class probabilities, only in cells that contain an object
    cls = (((probs - target[..., 5:]) ** 2).sum(-1) * obj_i.to(out.dtype)).sum()
    terms = {"coord_xy": cfg.lambda_coord * xy, "coord_wh": cfg.lambda_coord * wh, "conf_obj": obj,
             "conf_noobj": cfg.lambda_noobj * noobj, "class": cls}
    loss = sum(terms.values()) / N
    return loss, {k: float(v.detach()) / N for k, v in terms.items()}


# -- inference (§2, §2.2 "At test time") ---------------------------------------------------------

@torch.no_grad()
def decode(out: torch.Tensor, B: int, sqrt_wh: bool = True, score_threshold: float = 0.005,
           iou_threshold: float = 0.5, max_detections: int = 100) -> list[dict[str, torch.Tensor]]:
    """The grid -> detections per image: class-specific confidence Pr(class_i|Object) * Pr(Object) * IOU
    = p(c) * C for each of the S*S*B boxes and C classes (Eq. (2)), thresholded, then non-maximum
    suppression per class ("adds 2-3% in mAP", §2.2). Boxes are xyxy in image-normalised units, clipped."""
    N, S = out.shape[0], out.shape[1]
    xywh, conf, probs = split_output(out.float(), B)
    boxes = cell_boxes_to_image(xywh, S, sqrt_wh).clamp(0, 1)                   # [N,S,S,B,4]
    scores = conf.unsqueeze(-1) * probs.unsqueeze(-2)                          # [N,S,S,B,C]  Eq. (2)
    C = probs.shape[-1]
    boxes = rearrange(boxes, "n s1 s2 b k -> n (s1 s2 b) k")
    scores = rearrange(scores, "n s1 s2 b c -> n (s1 s2 b) c")
    dets = []
    for n in range(N):
        keep = (scores[n] > score_threshold).nonzero()                         # [K, 2] (box, class)
        b, c = keep[:, 0], keep[:, 1]
        bx, sc = boxes[n][b], scores[n][b, c]
        ok = (bx[:, 2] > bx[:, 0]) & (bx[:, 3] > bx[:, 1])
        bx, sc, c = bx[ok], sc[ok], c[ok]
        k = batched_nms(bx, sc, c, iou_threshold)[:max_detections]
        dets.append({"boxes": bx[k], "scores": sc[k], "labels": c[k]})
    return dets


# -- the §2.2 training recipe ---------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """§2.2: "about 135 epochs ... batch size of 64, a momentum of 0.9 and a decay of 0.0005. ... For the
    first epochs we slowly raise the learning rate from 10^-3 to 10^-2 ... continue training with 10^-2
    for 75 epochs, then 10^-3 for 30 epochs, and finally 10^-4 for 30 epochs." """
    epochs: int = 135
    batch_size: int = 64
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_start: float = 1e-3          # the ramp's start
    lr: float = 1e-2                # ... and its end, kept for 75 epochs (ramp included)
    warmup_epochs: float = 1.0      # "the first epochs": not given; 1 epoch here (README "Deviations")
    steps: tuple[tuple[int, float], ...] = ((75, 1e-3), (105, 1e-4))   # epoch -> lr: 75 + 30 + 30 = 135


PAPER_RECIPE = Recipe()


def sgd(model: torch.nn.Module, recipe: Recipe = PAPER_RECIPE) -> torch.optim.SGD:
    """SGD with momentum 0.9 and weight decay 5e-4 (§2.2); the lr is set by :func:`lr_at`."""
    return torch.optim.SGD(model.parameters(), lr=recipe.lr_start, momentum=recipe.momentum,
                           weight_decay=recipe.weight_decay)


def lr_at(epoch: float, recipe: Recipe = PAPER_RECIPE) -> float:
    """The §2.2 learning rate at a (fractional) epoch: a linear ramp 1e-3 -> 1e-2, then steps."""
    if epoch < recipe.warmup_epochs:
        return recipe.lr_start + (recipe.lr - recipe.lr_start) * epoch / recipe.warmup_epochs
    lr = recipe.lr
    for e, v in recipe.steps:
        if epoch >= e:
            lr = v
    return lr


def schedule(optimizer: torch.optim.Optimizer, steps_per_epoch: int, recipe: Recipe = PAPER_RECIPE):
    """A ``LambdaLR`` stepping once per batch through :func:`lr_at` (factors of the optimizer's base lr). §2.2's learning-rate schedule."""
    base = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step / steps_per_epoch, recipe) / base)
