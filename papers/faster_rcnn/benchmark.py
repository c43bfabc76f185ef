"""``make bench`` cases for Faster R-CNN (``shared.bench``): our RPN head (§3.1), RoI pooling and Fast R-CNN
head (§3.2) against torchvision's Faster R-CNN components at the same shapes: ``rpn.RPNHead``,
``ops.roi_pool``, ``TwoMLPHead`` and ``FastRCNNPredictor``, weights ported (``interop.RPN_KEYS`` for the RPN;
fc6/fc7/cls/bbox by name). Ours uses k logistic objectness scores here (torchvision's form; the paper's 2k
softmax has twice the cls outputs) and no dropout (torchvision's TwoMLPHead has none). Not a test."""
from __future__ import annotations

import torch
from torch import nn

from .interop import load_rpn_head
from .model import FastRCNNHead, RPNHead, roi_pool


class Heads(nn.Module):
    """The RPN head and the RoI head on a shared feature map (§3.1, §3.2; benchmark plumbing)."""

    def __init__(self, rpn: nn.Module, head: nn.Module | None = None, mlp: nn.Module | None = None,
                 predictor: nn.Module | None = None):
        super().__init__()
        self.rpn, self.head, self.mlp, self.predictor = rpn, head, mlp, predictor


def _ours(m, inputs):
    feats, rois = inputs
    cls, reg = m.rpn(feats)
    logits, boxes = m.head(roi_pool(feats, rois, 7, 1 / 16))
    return cls, reg, logits, boxes


def _theirs(m, inputs):
    import torchvision
    feats, rois = inputs
    cls, reg = m.rpn([feats])
    logits, boxes = m.predictor(m.mlp(torchvision.ops.roi_pool(feats, rois, 7, 1 / 16)))
    return cls[0], reg[0], logits, boxes


def _loss(out):
    return sum(o.float().pow(2).mean() for o in out)


def _pair(channels: int, rpn_mid: int, fc: int, classes: int):
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import RPNHead as TVRPNHead
    k = 9
    tv_rpn = TVRPNHead(channels, k)
    if rpn_mid != channels:
        raise ValueError("torchvision's RPNHead keeps the input width in its 3x3 conv")
    ours_rpn = load_rpn_head(RPNHead(channels, rpn_mid, k, softmax=False), tv_rpn.state_dict())
    mlp, pred = TwoMLPHead(channels * 49, fc), FastRCNNPredictor(fc, classes + 1)
    head = FastRCNNHead(channels, 7, fc, classes, dropout=0.0)
    head.load_state_dict({"fc6.weight": mlp.fc6.weight, "fc6.bias": mlp.fc6.bias, "fc7.weight": mlp.fc7.weight,
                          "fc7.bias": mlp.fc7.bias, "cls.weight": pred.cls_score.weight, "cls.bias": pred.cls_score.bias,
                          "bbox.weight": pred.bbox_pred.weight, "bbox.bias": pred.bbox_pred.bias})
    return Heads(ours_rpn, head=head), Heads(tv_rpn, mlp=mlp, predictor=pred)


def _rois(n_images: int, per_image: int, height: int, width: int, g) -> torch.Tensor:
    xy = torch.rand(n_images * per_image, 2, generator=g) * torch.tensor([width * 0.7, height * 0.7])
    wh = torch.rand(n_images * per_image, 2, generator=g) * torch.tensor([width * 0.3, height * 0.3]) + 16
    b = torch.arange(n_images).repeat_interleave(per_image).float()[:, None]
    return torch.cat([b, xy, xy + wh], 1)


def bench_cases() -> list:
    from shared.bench import Case

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    cases = []
    for name, (n, c, h, w, per, fc, classes, iters) in {
        "CPU configuration heads: 8 images of 112 x 112 (7 x 7 x 128 map), 32 RoIs each, fc 256":
            (8, 128, 7, 7, 32, 256, 1, 5),
        "VGG-16 heads: one 600 x 800 image (38 x 50 x 512 map), 300 RoIs, fc 4096, 20 classes":
            (1, 512, 38, 50, 300, 4096, 20, 2),
    }.items():
        ours, theirs = _pair(c, c, fc, classes)
        feats = torch.randn(n, c, h, w, generator=g).relu()
        rois = _rois(n, per, h * 16, w * 16, g)
        cases.append(Case(
            paper="faster_rcnn", name=name, oracle="torchvision RPNHead + ops.roi_pool + TwoMLPHead + FastRCNNPredictor",
            ours=ours, theirs=theirs, inputs=(feats, rois), forward_ours=_ours, forward_theirs=_theirs, loss=_loss,
            optimizer=lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, weight_decay=5e-4), iters=iters,
            note="same weights; ours pools RoIs with a vectorised gather in plain torch, torchvision with its C++ kernel"))
    return cases
