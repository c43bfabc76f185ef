"""The same layers assembled from torchvision's building blocks, and the key map that ports weights.

torchvision has no YOLO; :func:`torchvision_reference` builds Fig. 3's layers (or any
:class:`~papers.yolo.model.YOLOConfig`) from ``torchvision.ops.Conv2dNormActivation`` blocks, so
that our module can be checked against an independent assembly (equal outputs and gradients, train
and eval mode, ``tests/yolo/test_interop.py``) and timed against it (``make bench``).

Key map (ours -> reference): ``backbone.<i>`` / ``extra.<i>`` index layers one by one (conv, BN,
activation, pool), the reference indexes blocks (``features.<k>.0`` conv, ``features.<k>.1`` BN);
the head's keys are the same.
"""
from __future__ import annotations

from functools import partial

import torch.nn as nn

from .model import YOLO, YOLOConfig


def torchvision_reference(cfg: YOLOConfig) -> nn.Module:
    from torchvision.ops import Conv2dNormActivation

    feats, c = [], cfg.in_channels
    for s in cfg.backbone + cfg.extra:
        if s == "M":
            feats.append(nn.MaxPool2d(2, 2))
            continue
        _, k, f, stride = s
        feats.append(Conv2dNormActivation(c, f, k, stride, padding=k // 2,
                                          norm_layer=nn.BatchNorm2d if cfg.batch_norm else None,
                                          activation_layer=partial(nn.LeakyReLU, cfg.leaky), inplace=None,
                                          bias=cfg.conv_bias and not cfg.batch_norm))
        c = f
    out = cfg.S * cfg.S * cfg.out_per_cell
    flat = c * cfg.S * cfg.S
    pre = [nn.Linear(flat, cfg.fc_bottleneck)] if cfg.fc_bottleneck else []
    head = (nn.Sequential(nn.Flatten(), *pre, nn.Linear(cfg.fc_bottleneck or flat, cfg.fc_hidden), nn.LeakyReLU(cfg.leaky),
                          nn.Dropout(cfg.dropout), nn.Linear(cfg.fc_hidden, out)) if cfg.fc_hidden else
            nn.Sequential(nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(flat, out)))

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.features, self.head, self.cfg = nn.Sequential(*feats), head, cfg

        def forward(self, x):
            return self.head(self.features(x)).view(-1, cfg.S, cfg.S, cfg.out_per_cell)

    return Reference()


def key_map(model: YOLO) -> dict[str, str]:
    """Our state-dict keys -> the reference's."""
    out, block = {}, -1
    for part in ("backbone", "extra"):
        seq = getattr(model, part)
        for i, m in enumerate(seq):
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                block += 1
            if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
                sub = 0 if isinstance(m, nn.Conv2d) else 1
                for k in m.state_dict():
                    out[f"{part}.{i}.{k}"] = f"features.{block}.{sub}.{k}"
    for k in model.head.state_dict():
        out[f"head.{k}"] = f"head.{k}"
    return out


def to_reference(model: YOLO, reference: nn.Module) -> nn.Module:
    """Copy our weights into the torchvision-built reference through :func:`key_map`."""
    km = key_map(model)
    ours = model.state_dict()
    reference.load_state_dict({km[k]: v for k, v in ours.items()}, strict=True)
    return reference
