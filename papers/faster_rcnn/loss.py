"""Faster R-CNN's objectives and training recipe.

- §3.1.2: anchor labels (positive: the highest-IoU anchor of a ground-truth box, or IoU > 0.7 with any;
  negative: IoU < 0.3 with all; the rest ignored), 256-anchor mini-batches up to 1:1, and the RPN loss of
  Eq. (1) with N_cls = 256, N_reg ~ the number of anchor locations and lambda = 10;
- §3.2 (the Fast R-CNN detector, Girshick 2015 §2.2-2.3): RoI sampling (25% foreground at IoU >= 0.5,
  background in [0.1, 0.5)) and the multi-task loss (softmax + smooth-L1 on the true class's box);
- §3.1.3 / §4.1: the VOC schedule (lr 0.001 for 60k mini-batches, then 0.0001 for 20k; momentum 0.9,
  weight decay 0.0005).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from shared.boxes import box_iou

from .model import encode


@dataclass
class RPNLossConfig:
    """§3.1.2: the RPN's anchor labels, mini-batch and Eq. (1) weights."""
    pos_iou: float = 0.7           # §3.1.2: "IoU overlap higher than 0.7 with any ground-truth box"
    neg_iou: float = 0.3           # "lower than 0.3 for all ground-truth boxes"
    batch_size: int = 256          # "we randomly sample 256 anchors in an image"
    pos_fraction: float = 0.5      # "ratio of up to 1:1"
    lam: float = 10.0              # Eq. (1): lambda = 10
    n_reg: int | None = None       # Eq. (1): N_reg ~ 2,400 "the number of anchor locations"; None: H x W
    ignore_cross_boundary: bool = True   # §3.3: cross-boundary anchors are ignored during training
    beta: float = 1.0              # smooth-L1 transition point (the Fast R-CNN definition, sigma = 1)


@dataclass
class DetLossConfig:
    """§3.2: the Fast R-CNN detector's RoI sampling and loss (Girshick 2015 §2.2-2.3)."""
    rois_per_image: int = 128      # Fast R-CNN §2.3: mini-batches of R = 128 RoIs (64 from each of 2 images)
    fg_fraction: float = 0.25      # "25% of the RoIs ... IoU overlap of at least 0.5"
    fg_iou: float = 0.5
    bg_iou_lo: float = 0.1         # background: max IoU in [0.1, 0.5)
    lam: float = 1.0               # Fast R-CNN Eq. (1): lambda = 1
    beta: float = 1.0


def smooth_l1(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Fast R-CNN Eq. (3), used by Eq. (1)'s L_reg: 0.5 x² / beta if |x| < beta, else |x| - 0.5 beta (elementwise)."""
    ax = x.abs()
    return torch.where(ax < beta, 0.5 * ax * ax / beta, ax - 0.5 * beta)


def label_anchors(anchors: torch.Tensor, gt: torch.Tensor, image_size: tuple[int, int] | None,
                  cfg: RPNLossConfig = RPNLossConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """§3.1.2: labels ``[A]`` (1 positive, 0 negative, -1 ignored) and the matched ground truth ``[A]``.

    Positive: (i) the anchor(s) with the highest IoU for a ground-truth box (ties all count), or (ii) IoU
    > 0.7 with any ground-truth box. Negative: not positive and IoU < 0.3 with all. Anchors that cross the
    image boundary are ignored (§3.3) when ``image_size`` is given and ``cfg.ignore_cross_boundary``."""
    A = len(anchors)
    labels = torch.full((A,), -1, dtype=torch.long, device=anchors.device)
    inside = torch.ones(A, dtype=torch.bool, device=anchors.device)
    if image_size is not None and cfg.ignore_cross_boundary:
        h, w = image_size
        inside = (anchors[:, 0] >= 0) & (anchors[:, 1] >= 0) & (anchors[:, 2] <= w) & (anchors[:, 3] <= h)
    if len(gt) == 0:
        labels[inside] = 0
        return labels, torch.zeros(A, dtype=torch.long, device=anchors.device)
    iou = box_iou(anchors, gt)                                  # [A, G]
    iou[~inside] = -1.0
    best, matched = iou.max(dim=1)                              # per anchor
    labels[inside & (best < cfg.neg_iou)] = 0
    gt_best = iou.max(dim=0).values                             # per ground truth
    is_best = ((iou == gt_best[None, :]) & (gt_best[None, :] > 0)).any(dim=1)   # condition (i)
    labels[is_best & inside] = 1
    labels[inside & (best > cfg.pos_iou)] = 1                   # condition (ii)
    return labels, matched


def sample_anchors(labels: torch.Tensor, batch_size: int = 256, pos_fraction: float = 0.5,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """§3.1.2: a random mini-batch of ``batch_size`` anchors with up to ``pos_fraction`` positives, padded
    with negatives; returns labels with the unsampled set to -1."""
    out = torch.full_like(labels, -1)
    pos = torch.where(labels == 1)[0]
    neg = torch.where(labels == 0)[0]
    n_pos = min(len(pos), int(batch_size * pos_fraction))
    n_neg = min(len(neg), batch_size - n_pos)
    pos = pos[torch.randperm(len(pos), generator=generator)[:n_pos].to(pos.device)]
    neg = neg[torch.randperm(len(neg), generator=generator)[:n_neg].to(neg.device)]
    out[pos], out[neg] = 1, 0
    return out


def rpn_loss(cls: torch.Tensor, reg: torch.Tensor, anchors: torch.Tensor, gt_boxes: list[torch.Tensor],
             image_size: tuple[int, int], n_locations: int, cfg: RPNLossConfig = RPNLossConfig(),
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Eq. (1): L = (1/N_cls) Σ_i L_cls(p_i, p_i*) + λ (1/N_reg) Σ_i p_i* L_reg(t_i, t_i*), per image.

    ``cls`` ``[N, A, 2]`` (softmax) or ``[N, A]`` (logistic), ``reg`` ``[N, A, 4]``. N_cls is the mini-batch
    size (256), N_reg the number of anchor locations (``cfg.n_reg`` or ``n_locations``), λ = 10: "the cls and
    reg terms are roughly equally weighted". The paper's mini-batch is one image; with several, the loss is
    averaged over them. Returns ``{"rpn_cls", "rpn_reg"}`` (λ applied to rpn_reg)."""
    n_reg = cfg.n_reg or n_locations
    l_cls, l_reg = cls.new_zeros(()), cls.new_zeros(())
    for i, gt in enumerate(gt_boxes):
        labels, matched = label_anchors(anchors, gt, image_size, cfg)
        labels = sample_anchors(labels, cfg.batch_size, cfg.pos_fraction, generator)
        sampled = labels >= 0
        if cls.dim() == 3:
            l_cls = l_cls + F.cross_entropy(cls[i][sampled], labels[sampled], reduction="sum") / cfg.batch_size
        else:
            l_cls = l_cls + F.binary_cross_entropy_with_logits(cls[i][sampled], labels[sampled].float(),
                                                               reduction="sum") / cfg.batch_size
        pos = labels == 1
        if pos.any():
            target = encode(gt[matched[pos]], anchors[pos])                  # t_i*, Eq. (2)
            l_reg = l_reg + smooth_l1(reg[i][pos] - target, cfg.beta).sum() / n_reg
    n = max(len(gt_boxes), 1)
    return {"rpn_cls": l_cls / n, "rpn_reg": cfg.lam * l_reg / n}


def sample_rois(proposals: torch.Tensor, gt: torch.Tensor, gt_labels: torch.Tensor,
                cfg: DetLossConfig = DetLossConfig(), generator: torch.Generator | None = None):
    """Fast R-CNN §2.3 RoI sampling: the ground-truth boxes join the proposals; 25% foreground (IoU >= 0.5,
    labelled with the matched class), the rest background (IoU in [0.1, 0.5), label 0).

    Returns (rois ``[R, 4]``, labels ``[R]``, regression targets ``[R, 4]`` (zero for background))."""
    boxes = torch.cat([proposals, gt]) if len(gt) else proposals
    if len(gt):
        iou = box_iou(boxes, gt)
        best, matched = iou.max(dim=1)
    else:
        best = boxes.new_zeros(len(boxes))
        matched = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
    fg = torch.where(best >= cfg.fg_iou)[0]
    bg = torch.where((best < cfg.fg_iou) & (best >= cfg.bg_iou_lo))[0]
    n_fg = min(len(fg), int(round(cfg.rois_per_image * cfg.fg_fraction)))
    n_bg = min(len(bg), cfg.rois_per_image - n_fg)
    fg = fg[torch.randperm(len(fg), generator=generator)[:n_fg].to(fg.device)]
    bg = bg[torch.randperm(len(bg), generator=generator)[:n_bg].to(bg.device)]
    keep = torch.cat([fg, bg])
    rois = boxes[keep]
    labels = torch.zeros(len(keep), dtype=torch.long, device=boxes.device)
    targets = torch.zeros(len(keep), 4, device=boxes.device)
    if len(gt) and n_fg:
        labels[:n_fg] = gt_labels[matched[fg]]
        targets[:n_fg] = encode(gt[matched[fg]], rois[:n_fg])
    return rois, labels, targets


def detector_loss(logits: torch.Tensor, offsets: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
                  weights=(1.0, 1.0, 1.0, 1.0), cfg: DetLossConfig = DetLossConfig()) -> dict[str, torch.Tensor]:
    """Fast R-CNN Eq. (1): L = L_cls(p, u) + λ [u >= 1] L_loc(t^u, v), averaged over the sampled RoIs.

    ``offsets [R, C+1, 4]``: only the true class's box u is regressed; background RoIs have no L_loc."""
    l_cls = F.cross_entropy(logits, labels)
    fg = labels > 0
    w = targets.new_tensor(weights)
    if fg.any():
        t_u = offsets[fg, labels[fg]]                                          # [F, 4]
        l_loc = smooth_l1(t_u - targets[fg] * w, cfg.beta).sum() / max(len(labels), 1)
    else:
        l_loc = offsets.sum() * 0.0
    return {"det_cls": l_cls, "det_reg": cfg.lam * l_loc}


# ------------------------------------------------------------------------------------------------ recipe
@dataclass
class Recipe:
    """§4.1 (PASCAL VOC): "a learning rate of 0.001 for 60k mini-batches, and 0.0001 for the next 20k
    mini-batches", "a momentum of 0.9 and a weight decay of 0.0005"; images rescaled so that the shorter
    side is s = 600 pixels (§3.3); one image per mini-batch."""
    lr: float = 0.001
    lr_steps: tuple[int, ...] = (60_000,)
    lr_decay: float = 0.1
    max_iters: int = 80_000
    momentum: float = 0.9
    weight_decay: float = 0.0005
    short_side: int = 600
    images_per_batch: int = 1


def optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD with momentum and weight decay (§4.1), over the parameters that train (frozen ones excluded)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def lr_at(step: int, recipe: Recipe) -> float:
    """The step schedule of §4.1: lr x 0.1 after each step in ``lr_steps``."""
    return recipe.lr * recipe.lr_decay ** sum(step >= s for s in recipe.lr_steps)
