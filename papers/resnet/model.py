"""Residual networks (He et al. 2016), read top to bottom beside the paper.

- §3.1-3.2, Eq. (1): a building block computes y = F(x, {W_i}) + x, then ReLU.
- §3.2, Eq. (2): where dimensions change, the shortcut is y = F(x, {W_i}) + W_s x.
- §3.3 / §4.1, shortcut options: (A) zero-padding identity shortcuts for increasing dimensions
  (parameter-free); (B) projection shortcuts (1x1 conv) only where dimensions increase, identity
  elsewhere; (C) projection shortcuts everywhere. A "plain" network is the same stack with no
  shortcuts at all.
- Fig. 5: the basic block (two 3x3 convs, ResNet-18/34, CIFAR nets) and the bottleneck block
  (1x1 reduce, 3x3, 1x1 restore x4, ResNet-50/101/152).
- Table 1: the ImageNet networks (7x7/2 conv1, 3x3/2 max pool, stages conv2_x .. conv5_x at
  56/28/14/7, global average pool, 1000-way fc). Downsampling "is performed by conv3_1, conv4_1
  and conv5_1 with a stride of 2" (§3.3). In the paper's bottleneck that stride sits on the first
  1x1 conv; torchvision's "ResNet v1.5" moves it to the 3x3 conv (``stride_on_3x3=True``).
- §4.2: the CIFAR-10 networks, depth 6n+2: a 3x3 conv with 16 filters, three stages of 2n layers on
  32/16/8 maps with 16/32/64 filters, global average pool, 10-way fc, option A shortcuts.
- §3.4: batch normalization right after each convolution and before the activation; weights
  initialised as in He et al. 2015 ("MSRA" / Kaiming normal).

Layer names follow Table 1 (``conv1``, ``conv2_x`` ...); inside a block the convs are numbered
in order (``conv1``, ``conv2``, ``conv3``) as in torchvision, so that the key map of ``interop.py``
is short. ``VARIANTS`` maps the paper's names to constructors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


@dataclass(frozen=True)
class ResNetConfig:
    """One network of Table 1 (ImageNet) or §4.2 (CIFAR-10): block (Fig. 5), blocks and filters per stage,
    stem, shortcut option (§3.3) and residual or plain (§4.1)."""
    block: Literal["basic", "bottleneck"] = "basic"    # Fig. 5 left / right
    layers: tuple[int, ...] = (2, 2, 2, 2)              # blocks per stage (Table 1; n per stage on CIFAR)
    widths: tuple[int, ...] = (64, 128, 256, 512)       # filters of each stage's 3x3 convs
    stem: Literal["imagenet", "cifar"] = "imagenet"     # 7x7/2 conv + 3x3/2 max pool, or 3x3 conv (§4.2)
    num_classes: int = 1000
    residual: bool = True                               # False: the plain baseline (§4.1)
    shortcut: Literal["A", "B", "C"] = "B"              # §3.3 options
    stride_on_3x3: bool = False                         # torchvision "v1.5" bottleneck (deviation)
    zero_init_residual: bool = False                    # torchvision option, not in the paper
    init_mode: Literal["fan_out", "fan_in"] = "fan_out"  # He et al. 2015 [13]: Eq. (14) / Eq. (10)
    in_channels: int = 3

    def __post_init__(self):
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {self.block!r}")
        if self.stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {self.stem!r}")
        if self.shortcut not in ("A", "B", "C"):
            raise ValueError(f"shortcut must be one of 'A', 'B', 'C' (§3.3), got {self.shortcut!r}")
        if len(self.layers) != len(self.widths) or not self.layers:
            raise ValueError(f"layers {self.layers} and widths {self.widths} must be non-empty and of equal "
                             f"length (one entry per stage)")
        if self.init_mode not in ("fan_out", "fan_in"):
            raise ValueError(f"init_mode must be 'fan_out' or 'fan_in' (He et al. 2015), got {self.init_mode!r}")
        if any(n < 1 for n in self.layers) or any(w < 1 for w in self.widths):
            raise ValueError(f"every stage needs >= 1 block and >= 1 filter: layers={self.layers}, "
                             f"widths={self.widths}")

    @property
    def expansion(self) -> int:  # Fig. 5 right: the last 1x1 restores 4x the 3x3 width
        return 4 if self.block == "bottleneck" else 1

    @property
    def depth(self) -> int:  # weighted layers: convs on the main path + the fc
        convs_per_block = 3 if self.block == "bottleneck" else 2
        return 1 + convs_per_block * sum(self.layers) + 1


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    """A 3x3 convolution without bias, since BN follows every convolution (§3.4); Fig. 5's 3x3 layers."""
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)  # BN follows: no bias (§3.4)


def conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    """A 1x1 convolution without bias: Fig. 5 right's reduce / restore layers and W_s of Eq. (2)."""
    return nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)


# -- shortcuts (§3.3) -----------------------------------------------------------------------

class ZeroPadShortcut(nn.Module):
    """Option A: identity, subsampled with stride 2 across map sizes, zero entries padded for the
    extra channels. Parameter-free (§3.3, §4.2)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if c_out < c_in:
            raise ValueError(f"option A can only increase dimensions ({c_in} -> {c_out}); use shortcut='B'")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x):                                    # [B, c_in, H, W]
        x = x[:, :, ::self.stride, ::self.stride]            # [B, c_in, H/s, W/s]
        return F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in))  # [B, c_out, H/s, W/s]

    def extra_repr(self) -> str:
        return f"{self.c_in} -> {self.c_out}, stride={self.stride}"


class ProjectionShortcut(nn.Module):
    """Options B/C: W_s of Eq. (2), a 1x1 convolution (stride 2 across map sizes) with BN."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv = conv1x1(c_in, c_out, stride)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


def make_shortcut(c_in: int, c_out: int, stride: int, option: str) -> nn.Module:
    """The shortcut of one block by option (§3.3): identity where dimensions match, otherwise zero-padding
    (A) or a projection (B, Eq. (2)); option C projects everywhere."""
    changes = stride != 1 or c_in != c_out
    if option == "C" or (option == "B" and changes):
        return ProjectionShortcut(c_in, c_out, stride)
    if changes:  # option A
        return ZeroPadShortcut(c_in, c_out, stride)
    return nn.Identity()


# -- building blocks (Fig. 5) -------------------------------------------------------------

class BasicBlock(nn.Module):
    """Fig. 5 left: 3x3 -> BN -> ReLU -> 3x3 -> BN, plus the shortcut, then ReLU (Eq. (1))."""

    def __init__(self, c_in: int, width: int, stride: int, cfg: ResNetConfig):
        super().__init__()
        c_out = width
        self.conv1, self.bn1 = conv3x3(c_in, width, stride), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = conv3x3(width, c_out), nn.BatchNorm2d(c_out)
        self.shortcut = make_shortcut(c_in, c_out, stride, cfg.shortcut) if cfg.residual else None

    def forward(self, x):                                    # [B, c_in, H, W]
        # ReLU and the shortcut sum run in place on fresh BN outputs (x itself is never modified): the
        # same math as out-of-place, fewer memory passes (torchvision's blocks do the same)
        f = F.relu(self.bn1(self.conv1(x)), inplace=True)
        f = self.bn2(self.conv2(f))                          # F(x, {W_i})  [B, c_out, H/s, W/s]
        if self.shortcut is not None:
            f += self.shortcut(x)                            # Eq. (1) / Eq. (2)
        return F.relu(f, inplace=True)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class Bottleneck(nn.Module):
    """Fig. 5 right: 1x1 (reduce) -> 3x3 -> 1x1 (restore, x4), BN after each, plus the shortcut.

    The paper (and its released Caffe models) put a block's stride on the first 1x1 conv;
    ``stride_on_3x3`` puts it on the 3x3 conv like torchvision ("ResNet v1.5")."""

    def __init__(self, c_in: int, width: int, stride: int, cfg: ResNetConfig):
        super().__init__()
        c_out = width * cfg.expansion
        s1, s3 = (1, stride) if cfg.stride_on_3x3 else (stride, 1)
        self.conv1, self.bn1 = conv1x1(c_in, width, s1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = conv3x3(width, width, s3), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = conv1x1(width, c_out), nn.BatchNorm2d(c_out)
        self.shortcut = make_shortcut(c_in, c_out, stride, cfg.shortcut) if cfg.residual else None

    def forward(self, x):                                    # [B, c_in, H, W]
        f = F.relu(self.bn1(self.conv1(x)), inplace=True)   # in place, as in BasicBlock.forward
        f = F.relu(self.bn2(self.conv2(f)), inplace=True)
        f = self.bn3(self.conv3(f))                          # F(x, {W_i})  [B, 4*width, H/s, W/s]
        if self.shortcut is not None:
            f += self.shortcut(x)                            # Eq. (1) / Eq. (2)
        return F.relu(f, inplace=True)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


# -- the network (Table 1, §4.2) ------------------------------------------------------------

class ResNet(nn.Module):
    """Table 1 (ImageNet) and §4.2 (CIFAR-10): stem, stages ``conv2_x`` ... of residual blocks (or plain
    ones, §4.1), global average pool and fc."""
    def __init__(self, cfg: ResNetConfig = ResNetConfig()):
        super().__init__()
        self.cfg = cfg
        c = cfg.widths[0]
        if cfg.stem == "imagenet":  # Table 1, conv1: 7x7, 64, stride 2; then 3x3 max pool, stride 2
            self.conv1 = nn.Conv2d(cfg.in_channels, c, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:                        # §4.2: "The first layer is 3x3 convolutions"
            self.conv1 = conv3x3(cfg.in_channels, c)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(c)
        Block = Bottleneck if cfg.block == "bottleneck" else BasicBlock
        c_in = c
        self.stage_names = []
        for i, (n, width) in enumerate(zip(cfg.layers, cfg.widths)):
            stride = 1 if i == 0 else 2  # conv3_1, conv4_1, conv5_1 subsample (§3.3); 32->16->8 on CIFAR
            blocks = []
            for j in range(n):
                blocks.append(Block(c_in, width, stride if j == 0 else 1, cfg))
                c_in = width * cfg.expansion
            name = f"conv{i + 2}_x"  # Table 1's names
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, cfg.num_classes)
        self.reset_parameters()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, n) for n in self.stage_names]

    def reset_parameters(self) -> None:
        """§3.4: "We initialize the weights as in [13]" (He et al. 2015), BN to identity.

        [13] gives two equivalent variants, std sqrt(2/n) with n = k^2 * c_out (backward case, Eq. (14);
        torchvision's choice and our default) or n = k^2 * c_in (forward case, Eq. (10); ``init_mode="fan_in"``,
        Caffe's "msra" filler). The fc keeps PyTorch's default."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode=self.cfg.init_mode, nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.cfg.zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 3, H, W] -> [B, num_classes]
        if x.dim() != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected images [B, {self.cfg.in_channels}, H, W], got shape {tuple(x.shape)}")
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))   # ImageNet: [B, 64, H/4, W/4]; CIFAR: [B, 16, H, W]
        for stage in self.stages:
            x = stage(x)
        x = rearrange(self.avgpool(x), "b c 1 1 -> b c")    # global average pool  [B, C]
        return self.fc(x)                                    # [B, num_classes]


# -- the paper's networks -------------------------------------------------------------------

IMAGENET_LAYERS = {  # Table 1
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def resnet(depth: int, residual: bool = True, **overrides) -> ResNet:
    """An ImageNet network of Table 1. Shortcuts default to option B (projections where dimensions
    increase), which the paper uses for ResNet-50/101/152 and Table 3; Table 2's ResNet-18/34 used
    option A (``shortcut="A"``)."""
    if depth not in IMAGENET_LAYERS:
        raise ValueError(f"ImageNet ResNets have depth {sorted(IMAGENET_LAYERS)} (Table 1), got {depth}")
    block, layers = IMAGENET_LAYERS[depth]
    cfg = ResNetConfig(block=block, layers=layers, widths=(64, 128, 256, 512), stem="imagenet",
                       residual=residual, **overrides)
    return ResNet(cfg)


def plain(depth: int, **overrides) -> ResNet:
    """Table 2's plain baselines: the same stack without shortcuts."""
    return resnet(depth, residual=False, **overrides)


def cifar_resnet(depth: int, residual: bool = True, width: int = 16, **overrides) -> ResNet:
    """§4.2: depth 6n+2, filters {16, 32, 64} (``width`` scales them), option A shortcuts."""
    n, rem = divmod(depth - 2, 6)
    if rem or n < 1:
        raise ValueError(f"CIFAR ResNets have depth 6n+2 (20, 32, 44, 56, 110, 1202, ...), got {depth}")
    kw = dict(shortcut="A", num_classes=10)
    kw.update(overrides)
    cfg = ResNetConfig(block="basic", layers=(n, n, n), widths=(width, 2 * width, 4 * width), stem="cifar",
                       residual=residual, **kw)
    return ResNet(cfg)


def cifar_plain(depth: int, **overrides) -> ResNet:
    """§4.2, Fig. 6 (left): the CIFAR plain baselines, ``cifar_resnet`` without shortcuts."""
    return cifar_resnet(depth, residual=False, **overrides)


VARIANTS = {
    **{f"resnet{d}": partial(resnet, d) for d in IMAGENET_LAYERS},
    "plain18": partial(plain, 18),
    "plain34": partial(plain, 34),
    **{f"resnet{d}": partial(cifar_resnet, d) for d in (20, 32, 44, 56, 110, 1202)},
    **{f"plain{d}": partial(cifar_plain, d) for d in (20, 32, 44, 56, 110)},
}


def build(name: str, **overrides) -> ResNet:
    """``VARIANTS[name](**overrides)`` with a helpful error for an unknown name.
    The names are the paper's (Table 1, §4.2)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown ResNet variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name](**overrides)
