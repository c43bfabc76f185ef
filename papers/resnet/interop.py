"""Weight import from torchvision's ResNets (a supported feature; the equivalence tests use it with
random weights). torchvision's ResNet-50/101/152 are "v1.5" (stride on the 3x3 conv), so bottleneck
networks are built with ``stride_on_3x3=True``; every torchvision ResNet uses option B shortcuts.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from .model import IMAGENET_LAYERS, ResNet, resnet


# torchvision key -> our key. Applied in order with re.sub; everything else is the same name:
#   conv1.*, bn1.*, fc.*                        unchanged (stem and classifier)
#   layer{k}.{i}.conv{j} / .bn{j}               conv{k+1}_x.{i}.conv{j} / .bn{j}   (Table 1's stage names)
#   layer{k}.{i}.downsample.0 (1x1 conv)        conv{k+1}_x.{i}.shortcut.conv      (W_s of Eq. (2))
#   layer{k}.{i}.downsample.1 (BN)              conv{k+1}_x.{i}.shortcut.bn
TORCHVISION_KEY_MAP: list[tuple[str, object]] = [
    (r"^layer(\d+)\.", lambda m: f"conv{int(m.group(1)) + 1}_x."),
    (r"\.downsample\.0\.", ".shortcut.conv."),
    (r"\.downsample\.1\.", ".shortcut.bn."),
]


def torchvision_key(key: str) -> str:
    """One torchvision key renamed through ``TORCHVISION_KEY_MAP``; no counterpart in the paper."""
    for pattern, repl in TORCHVISION_KEY_MAP:
        key = re.sub(pattern, repl, key)
    return key


def convert_torchvision_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ``resnet*`` state dict -> ours (same tensors, renamed). No counterpart in the paper."""
    return {torchvision_key(k): v for k, v in state_dict.items()}


def _read_weights(weights: dict | str | Path) -> dict[str, torch.Tensor]:
    """A state dict, or a file holding one (optionally under "state_dict", optionally "module."-prefixed)."""
    if isinstance(weights, (str, Path)):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"no torchvision checkpoint at {path}")
        weights = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in weights and "fc.weight" not in weights:
        weights = weights["state_dict"]
    return {k.removeprefix("module."): v for k, v in weights.items()}


def load_torchvision(model: ResNet, weights: dict | str | Path) -> ResNet:
    """Load torchvision ResNet weights (a state dict or a ``.pth`` file) into ``model``.

    torchvision's bottleneck networks are "v1.5", so ``model`` must be built with
    ``stride_on_3x3=True`` (``from_torchvision`` does this) and option B shortcuts.
    Weight import: no counterpart in the paper."""
    weights = _read_weights(weights)
    cfg = model.cfg
    if not cfg.residual or cfg.shortcut != "B" or cfg.stem != "imagenet":
        raise ValueError("torchvision ResNets are residual ImageNet networks with option B shortcuts; build the "
                         "model with resnet(depth) (shortcut='B'), not a plain / option A / C / CIFAR network")
    if cfg.block == "bottleneck" and not cfg.stride_on_3x3:
        raise ValueError("torchvision's ResNet-50/101/152 are 'v1.5' (stride on the 3x3 conv); build the model "
                         "with stride_on_3x3=True, or use from_torchvision()")
    ours = convert_torchvision_state_dict(weights)
    missing, unexpected = model.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise ValueError(f"the torchvision weights do not fit this {cfg.depth}-layer network: missing "
                         f"{missing[:4]}{'...' if len(missing) > 4 else ''}, unexpected "
                         f"{unexpected[:4]}{'...' if len(unexpected) > 4 else ''}; is it the same depth?")
    return model


def from_torchvision(name: str, weights: dict | str | Path) -> ResNet:
    """Our ``resnet18`` ... ``resnet152`` (v1.5 layout) holding torchvision weights; the class count
    is read from the checkpoint's fc. Weight import: no counterpart in the paper."""
    weights = _read_weights(weights)
    depth = int(name.removeprefix("resnet")) if name.removeprefix("resnet").isdigit() else None
    if depth not in IMAGENET_LAYERS:
        raise ValueError(f"from_torchvision takes resnet18/34/50/101/152, got {name!r}")
    num_classes = weights["fc.weight"].shape[0]
    model = resnet(depth, num_classes=num_classes, stride_on_3x3=IMAGENET_LAYERS[depth][0] == "bottleneck")
    return load_torchvision(model, weights)
