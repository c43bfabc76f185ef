"""YOLO v1 (Redmon et al. 2016), read top to bottom beside the paper.

- §2, Fig. 2: the image is divided into an S x S grid; each cell predicts B boxes (x, y, w, h,
  confidence) and C conditional class probabilities: an S x S x (B*5 + C) tensor; for PASCAL VOC
  S = 7, B = 2, C = 20 -> 7 x 7 x 30.
- §2.1, Fig. 3: 24 convolutional layers then 2 fully connected layers; 1x1 reduction layers followed
  by 3x3 convolutional layers (after GoogLeNet); 448 x 448 input.
- §2.2: leaky ReLU with slope 0.1 after every layer except the final one, which is linear; dropout
  0.5 after the first connected layer. Pre-training: the first 20 convolutional layers followed by
  an average-pooling layer and a fully connected layer on ImageNet at 224 x 224
  (:class:`YOLOClassifier`), then "4 convolutional layers and two fully connected layers with
  randomly initialized weights" are added and the resolution doubled to 448.
- §2.1: Fast YOLO uses 9 convolutional layers instead of 24 and fewer filters; the paper gives no
  table, so its layers are the authors' 2015 darknet ``cfg/yolo-tiny.cfg`` (commit eaf033c): 3x3 convs
  of 16, 32, 64, 128, 256, 512 filters each followed by a max pool, three 3x3x1024 convs, then a linear
  256-unit connected layer, a 4096-unit one with dropout 0.5 and the 7x7x30 output (README "Deviations").

The output layout per cell is ``[x, y, w, h, C] * B`` followed by the C class probabilities
(:func:`split_output`); w and h are the *square roots* of the box size when ``sqrt_wh`` is on in the
loss (§2.2 "we predict the square root of the bounding box width and height"), so the network output
is read as sqrt(w) there. The paper net has no batch normalisation; ``batch_norm=True`` (the CPU
configuration, and darknet's later cfgs) is a declared deviation.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn as nn
from einops import rearrange

# Fig. 3, layer by layer: ("C", kernel, filters, stride) is a convolution, "M" a 2x2/2 max pool.
FIG3_BACKBONE = (  # the first 20 convolutional layers (the §2.2 ImageNet pre-training network)
    ("C", 7, 64, 2), "M",
    ("C", 3, 192, 1), "M",
    ("C", 1, 128, 1), ("C", 3, 256, 1), ("C", 1, 256, 1), ("C", 3, 512, 1), "M",
    *(("C", 1, 256, 1), ("C", 3, 512, 1)) * 4, ("C", 1, 512, 1), ("C", 3, 1024, 1), "M",
    *(("C", 1, 512, 1), ("C", 3, 1024, 1)) * 2,
)
FIG3_EXTRA = (("C", 3, 1024, 1), ("C", 3, 1024, 2), ("C", 3, 1024, 1), ("C", 3, 1024, 1))  # the added 4
# Fast YOLO: darknet's 2015 cfg/yolo-tiny.cfg (9 convolutional layers, 6 max pools, connected 256 (linear), 4096, 1470)
FAST_BACKBONE = (("C", 3, 16, 1), "M", ("C", 3, 32, 1), "M", ("C", 3, 64, 1), "M", ("C", 3, 128, 1), "M",
                 ("C", 3, 256, 1), "M", ("C", 3, 512, 1), "M")
FAST_EXTRA = (("C", 3, 1024, 1), ("C", 3, 1024, 1), ("C", 3, 1024, 1))
# The small CPU configuration: 5 conv layers, total stride 16 (112 -> 7), the same S x S x (B*5+C) head.
CPU_BACKBONE = (("C", 3, 16, 1), "M", ("C", 3, 32, 1), "M", ("C", 3, 64, 1), "M", ("C", 3, 128, 1), "M")
CPU_EXTRA = (("C", 3, 128, 1),)


@dataclass(frozen=True)
class YOLOConfig:
    """Fig. 3 and §2: S = 7, B = 2, C = 20 on 448 x 448 inputs; every deviation is a field."""
    S: int = 7                        # grid size (§2)
    B: int = 2                        # boxes per cell
    C: int = 20                       # classes (PASCAL VOC)
    image_size: int = 448             # §2.1: 448 x 448 input
    backbone: tuple = FIG3_BACKBONE   # the pre-trained part (§2.2: first 20 conv layers)
    extra: tuple = FIG3_EXTRA         # the 4 conv layers added for detection
    fc_hidden: int = 4096             # first connected layer; 0 = none
    fc_bottleneck: int = 0            # a linear connected layer before it (Fast YOLO's cfg: 256); 0 = none
    dropout: float = 0.5              # §2.2: after the first connected layer
    leaky: float = 0.1                # §2.2: leaky rectified linear activation
    batch_norm: bool = False          # not in the paper (deviation; the CPU configuration uses it)
    conv_bias: bool = True            # the paper net's convolutions carry biases (with BN they are dropped)
    in_channels: int = 3

    @property
    def out_per_cell(self) -> int:
        return self.B * 5 + self.C    # §2: B*5 + C


def conv_layers(spec: tuple, in_channels: int, cfg: YOLOConfig) -> tuple[nn.Sequential, int]:
    """A ``Sequential`` of conv (+BN) + leaky ReLU and max-pool layers from a Fig. 3-style spec."""
    layers, c = [], in_channels
    for s in spec:
        if s == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        _, k, f, stride = s
        layers.append(nn.Conv2d(c, f, k, stride, padding=k // 2, bias=cfg.conv_bias and not cfg.batch_norm))
        if cfg.batch_norm:
            layers.append(nn.BatchNorm2d(f))
        layers.append(nn.LeakyReLU(cfg.leaky, inplace=cfg.leaky > 0))  # in place on the fresh conv/BN output
        c = f
    return nn.Sequential(*layers), c


def total_stride(spec: tuple) -> int:
    """Fig. 3: the product of the strides (448 -> 7: 64)."""
    out = 1
    for s in spec:
        out *= 2 if s == "M" else s[3]
    return out


class YOLO(nn.Module):
    """Fig. 3: convolutional layers -> 2 fully connected layers -> an S x S x (B*5 + C) tensor."""

    def __init__(self, cfg: YOLOConfig = YOLOConfig()):
        super().__init__()
        self.cfg = cfg
        spec = cfg.backbone + cfg.extra
        if cfg.image_size % total_stride(spec) or cfg.image_size // total_stride(spec) != cfg.S:
            raise ValueError(f"image_size {cfg.image_size} / total stride {total_stride(spec)} must equal S = {cfg.S}")
        self.backbone, c = conv_layers(cfg.backbone, cfg.in_channels, cfg)  # §2.2: pre-trained on ImageNet
        self.extra, c = conv_layers(cfg.extra, c, cfg)                      # the 4 added conv layers
        flat = c * cfg.S * cfg.S                                            # 7 * 7 * 1024 for the paper net
        out = cfg.S * cfg.S * cfg.out_per_cell                              # 7 * 7 * 30 = 1470
        if cfg.fc_hidden:
            pre = [nn.Linear(flat, cfg.fc_bottleneck)] if cfg.fc_bottleneck else []   # linear activation
            self.head = nn.Sequential(
                nn.Flatten(), *pre,
                nn.Linear(cfg.fc_bottleneck or flat, cfg.fc_hidden), nn.LeakyReLU(cfg.leaky, inplace=cfg.leaky > 0),
                nn.Dropout(cfg.dropout),                                    # §2.2: after the first connected layer
                nn.Linear(cfg.fc_hidden, out))                              # final layer: linear activation
        else:
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(flat, out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=self.cfg.leaky, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        last = self.head[-1]
        nn.init.normal_(last.weight, std=0.01)  # small outputs at the start: boxes near the cell, low confidence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra(self.backbone(x))                                    # [N, 1024, S, S]
        y = self.head(x)                                                    # [N, S*S*(B*5+C)]
        return rearrange(y, "n (s1 s2 k) -> n s1 s2 k", s1=self.cfg.S, s2=self.cfg.S)  # [N, S, S, B*5+C]


class YOLOClassifier(nn.Module):
    """§2.2: the first 20 convolutional layers of Fig. 3, an average-pooling layer and a fully connected
    layer, trained on ImageNet at 224 x 224 (88% top-5). Its ``backbone`` has the same structure (and
    state-dict keys) as :attr:`YOLO.backbone`, so ``yolo.backbone.load_state_dict(clf.backbone.state_dict())``
    starts detection training from it."""

    def __init__(self, cfg: YOLOConfig = YOLOConfig(), num_classes: int = 1000):
        super().__init__()
        self.cfg = cfg
        self.backbone, c = conv_layers(cfg.backbone, cfg.in_channels, cfg)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.backbone(x)).flatten(1))             # [N, num_classes]


def split_output(out: torch.Tensor, B: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[N, S, S, B*5+C]`` -> boxes ``[N, S, S, B, 4]`` (x, y, w, h), confidences ``[N, S, S, B]``,
    class probabilities ``[N, S, S, C]``. §2: the S x S x (B * 5 + C) tensor of Fig. 2."""
    boxes = rearrange(out[..., :B * 5], "n s1 s2 (b k) -> n s1 s2 b k", b=B)
    return boxes[..., :4], boxes[..., 4], out[..., B * 5:]


def conv_count(model: nn.Module) -> int:
    """Fig. 3: 24 convolutional layers (9 for Fast YOLO, §2.1)."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


YOLO_PAPER = YOLOConfig()
FAST_YOLO = YOLOConfig(backbone=FAST_BACKBONE, extra=FAST_EXTRA, fc_bottleneck=256)
YOLO_CPU = YOLOConfig(image_size=112, backbone=CPU_BACKBONE, extra=CPU_EXTRA, fc_hidden=256, batch_norm=True)


def build(name: str, **overrides) -> nn.Module:
    """A variant by name, with config fields overridden (e.g. ``C=1``, ``batch_norm=True``). No counterpart in the paper."""
    if name == "yolo-classifier":
        num_classes = overrides.pop("num_classes", 1000)
        return YOLOClassifier(replace(YOLOConfig(image_size=224), **overrides), num_classes)
    base = {"yolo": YOLO_PAPER, "fast-yolo": FAST_YOLO, "yolo-cpu": YOLO_CPU}
    if name not in base:
        raise ValueError(f"unknown YOLO variant {name!r}; use one of {sorted(VARIANTS)}")
    return YOLO(replace(base[name], **overrides))


VARIANTS = {
    "yolo": lambda: build("yolo"),                        # Fig. 3, Table 1 (63.4 mAP, 45 FPS)
    "fast-yolo": lambda: build("fast-yolo"),              # §2.1, Table 1 (52.7 mAP, 155 FPS)
    "yolo-classifier": lambda: build("yolo-classifier"),  # §2.2 ImageNet pre-training network
    "yolo-cpu": lambda: build("yolo-cpu"),                # the small CPU configuration (same head and loss)
}
