"""Weight import from torchvision (no counterpart in the paper): the ImageNet VGG-16 that §4.1 starts
from, and torchvision's RPN head, through documented key maps.

    from torchvision.models import vgg16
    model = faster_rcnn_vgg16()
    load_vgg16(model, vgg16(weights=...).state_dict())      # conv1_1..conv5_3, fc6, fc7

A checkpoint file works too: ``load_vgg16(model, torch.load(path, weights_only=True))``.
"""
from __future__ import annotations

import torch

from .model import FasterRCNN, RPNHead

# torchvision vgg16(): features.{0..28} are conv1_1 .. conv5_3 (with their ReLUs and pools between);
# features.30 is pool5, which Faster R-CNN replaces by RoI pooling. classifier.0 / .3 are fc6 / fc7.
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG16_KEYS = {**{f"features.{i}.{p}": f"backbone.features.{i}.{p}" for i in VGG16_CONV_INDICES
                 for p in ("weight", "bias")},
              "classifier.0.weight": "head.fc6.weight", "classifier.0.bias": "head.fc6.bias",
              "classifier.3.weight": "head.fc7.weight", "classifier.3.bias": "head.fc7.bias"}
RPN_KEYS = {"conv.0.0.weight": "conv.weight", "conv.0.0.bias": "conv.bias",
            "cls_logits.weight": "cls.weight", "cls_logits.bias": "cls.bias",
            "bbox_pred.weight": "reg.weight", "bbox_pred.bias": "reg.bias"}


def load_vgg16(model: FasterRCNN, state: dict[str, torch.Tensor], fc: bool = True) -> FasterRCNN:
    """Copy torchvision VGG-16 weights (ImageNet pre-training, §4.1) into the shared convolutions and,
    with ``fc``, into fc6/fc7 of the detection head. Needs the VGG-16 backbone and ``fc_dim = 4096``."""
    if model.cfg.backbone != "vgg16":
        raise ValueError(f"load_vgg16 needs backbone='vgg16', the model has {model.cfg.backbone!r}")
    missing = [k for k in VGG16_KEYS if k not in state and (fc or not k.startswith("classifier"))]
    if missing:
        raise KeyError(f"not a torchvision VGG-16 state dict: missing {missing[:3]} ...")
    ours = model.state_dict()
    for src, dst in VGG16_KEYS.items():
        if src.startswith("classifier") and not fc:
            continue
        if ours[dst].shape != state[src].shape:
            raise ValueError(f"{src} {tuple(state[src].shape)} does not fit {dst} {tuple(ours[dst].shape)}")
        ours[dst] = state[src]
    model.load_state_dict(ours)
    return model


def load_rpn_head(head: RPNHead, state: dict[str, torch.Tensor]) -> RPNHead:
    """Copy a torchvision ``RPNHead`` (k logistic scores) into ours; needs ``softmax=False``."""
    if head.softmax:
        raise ValueError("torchvision's RPN head scores anchors with k logistic outputs: build ours with "
                         "rpn_softmax=False to import it")
    head.load_state_dict({dst: state[src] for src, dst in RPN_KEYS.items()})
    return head
