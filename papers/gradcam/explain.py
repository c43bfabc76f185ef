"""Explain a user's image with a user's checkpoint: Grad-CAM, Guided Grad-CAM and the counterfactual map.

    python -m papers.gradcam.explain IMAGE --model resnet50 --weights FILE [--layer conv5_x] [--target 281]
        [--out overlay.png] [--size 224] [--device auto]

``--model``: ``vgg16`` (torchvision layout; the paper's network), our ``resnet18`` ... ``resnet152``
(papers/resnet; torchvision-format or our own checkpoints), a ViT from papers/vit (``vit-b16`` ...;
our checkpoints), or the quick reproduction's ``cnn-fc`` / ``cnn-gap``. Without ``--layer`` the
paper's choice is used: the last convolutional layer (VGG-16's conv5_3, ResNet's last stage) or, for a
ViT, the tokens entering the last block (through :class:`~papers.gradcam.model.TokenGrid`). Without
``--target``, the top-1 class. Images are resized to ``--size`` and normalised with ImageNet's mean
and standard deviation (``--no-normalize`` for networks trained on raw [0, 1] pixels).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .model import (VARIANTS, VGG16_GRADCAM_LAYER, CNNConfig, GradCAM, SmallCNN, TokenGrid, guided_backprop,
                    normalize)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Explained:
    """A network to explain, with the paper's default layer for it."""
    model: nn.Module
    layer: str
    reshape: Callable | None
    in_channels: int


def _state_dict(weights: str | Path | dict) -> dict:
    if isinstance(weights, dict):
        sd = weights
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; pass --weights FILE (a state dict saved with "
                                    f"torch.save(model.state_dict(), FILE))")
        sd = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(sd.get(key), dict):
            sd = sd[key]
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _cnn_config(head: str, sd: dict | None, image_size: int, in_channels: int | None) -> CNNConfig:
    """The quick reproduction's CNN, its widths, hidden size, classes and input size read from a checkpoint."""
    if not sd:
        return CNNConfig(in_channels=in_channels or 1, head=head, image_size=image_size)
    convs = sorted(int(k.split(".")[1]) for k in sd if k.startswith("features.") and k.endswith(".weight"))
    widths = tuple(sd[f"features.{i}.weight"].shape[0] for i in convs)
    c = sd[f"features.{convs[0]}.weight"].shape[1]
    if head == "fc":  # fc1's input fixes the image size: widths[-1] x (S / 2^len(widths))^2
        g = round((sd["head.2.weight"].shape[1] / widths[-1]) ** 0.5)
        return CNNConfig(in_channels=c, widths=widths, num_classes=sd["head.5.weight"].shape[0], head="fc",
                         hidden=sd["head.2.weight"].shape[0], image_size=g * 2 ** len(widths))
    return CNNConfig(in_channels=c, widths=widths, num_classes=sd["head.2.weight"].shape[0], head="gap",
                     image_size=image_size)


def build_explained(name: str, weights: str | Path | dict | None = None, image_size: int = 224,
                    in_channels: int | None = None) -> Explained:
    """``name``'s network holding ``weights`` (random weights when None), with its default Grad-CAM layer.
    The class count is read from the checkpoint."""
    sd = _state_dict(weights) if weights is not None else None
    if name == "vgg16":
        n = sd["classifier.6.weight"].shape[0] if sd else 1000
        model = VARIANTS["vgg16"](num_classes=n)
        if sd:
            model.load_state_dict(sd)
        return Explained(model, VGG16_GRADCAM_LAYER, None, 3)
    if name.startswith("resnet") or name.startswith("plain"):
        from papers.resnet import model as resnet
        try:  # the torchvision key map lives in papers/resnet/interop.py (it was in model.py before)
            from papers.resnet.interop import from_torchvision
        except ImportError:
            from papers.resnet.model import from_torchvision
        if sd and any(k.startswith("layer1.") for k in sd):              # torchvision format
            model = from_torchvision(name, sd)
        else:
            n = sd["fc.weight"].shape[0] if sd else None
            kw = {} if n is None else {"num_classes": n}
            if sd and "conv1.weight" in sd:
                kw["in_channels"] = sd["conv1.weight"].shape[1]
            model = resnet.build(name, **kw)
            if sd:
                model.load_state_dict(sd)
        return Explained(model, model.stage_names[-1], None, model.cfg.in_channels)
    if name.startswith("vit") or name.startswith("r50-vit"):
        from papers.vit import model as vit
        kw = {"image_size": image_size}
        if sd:
            kw["num_classes"] = sd["head.weight"].shape[0]
            if "patch_embedding.proj.weight" in sd and name != "r50-vit-b16":
                with torch.device("meta"):                               # read P without building weights
                    P = vit.build(name).cfg.patch_size
                kw["in_channels"] = sd["patch_embedding.proj.weight"].shape[1] // (P * P)
        model = vit.build(name, **kw)
        if sd:
            model.load_state_dict(sd)
        # the tokens entering the last block: the last block's own patch outputs have zero gradient
        return Explained(model, f"blocks.{model.cfg.L - 2}", TokenGrid(prefix=1, grid=model.cfg.grid),
                         model.cfg.in_channels)
    if name in ("cnn-fc", "cnn-gap"):
        model = SmallCNN(_cnn_config(name[4:], sd, image_size, in_channels))
        if sd:
            model.load_state_dict(sd)
        return Explained(model, model.gradcam_layer, None, model.cfg.in_channels)
    raise ValueError(f"unknown model {name!r}: choose vgg16, resnet18/34/50/101/152, a ViT (vit-b16, ...), "
                     f"cnn-fc or cnn-gap")


def load_image(path: str | Path, size: int, channels: int = 3, imagenet_norm: bool = True
               ) -> tuple[torch.Tensor, np.ndarray]:
    """``(x [1, C, size, size] normalised, rgb [size, size, 3] in [0, 1] for display)``."""
    from PIL import Image
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    img = Image.open(path).convert("RGB" if channels == 3 else "L").resize((size, size), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32) / 255.0
    x = torch.from_numpy(a).permute(2, 0, 1) if channels == 3 else torch.from_numpy(a)[None]
    if imagenet_norm and channels == 3:
        x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    rgb = a if channels == 3 else np.repeat(a[..., None], 3, -1)
    return x[None], rgb


def explain(ex: Explained, x: torch.Tensor, target: int | None = None, layer: str | None = None) -> dict:
    """Grad-CAM, counterfactual, guided backprop and Guided Grad-CAM for one image x [1, C, H, W]."""
    layer = layer or ex.layer
    reshape = ex.reshape if layer == ex.layer else None
    g = GradCAM(ex.model, layer, reshape)
    e = g(x, target)
    cf = g(x, e.target, counterfactual=True)
    size = x.shape[-2:]
    heat, cf_heat = normalize(e.upsampled(size))[0], normalize(cf.upsampled(size))[0]
    gb = guided_backprop(ex.model, x, e.target)[0]
    ggc = gb * e.upsampled(size)[0]
    probs = e.logits.softmax(-1)[0]
    return {"target": int(e.target[0]), "prob": float(probs[e.target[0]]), "gradcam": heat,
            "counterfactual": cf_heat, "guided_backprop": gb, "guided_gradcam": ggc, "layer": layer}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m papers.gradcam.explain", description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("--model", required=True, help="vgg16 | resnet18..152 | vit-b16 ... | cnn-fc | cnn-gap")
    ap.add_argument("--weights", required=True, help="checkpoint file (a state dict)")
    ap.add_argument("--layer", default=None, help="dotted module name (default: the paper's choice for the model)")
    ap.add_argument("--target", type=int, default=None, help="class index to explain (default: top-1)")
    ap.add_argument("--out", default=None, help="overlay PNG (default: <image>_gradcam.png)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--no-normalize", action="store_true", help="feed [0, 1] pixels (no ImageNet mean/std)")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)
    from shared.device import get_device
    from .plots import explanation_panel
    device = get_device(a.device)
    ex = build_explained(a.model, a.weights, a.size)
    ex.model.to(device)
    x, rgb = load_image(a.image, a.size, ex.in_channels, not a.no_normalize)
    r = explain(ex, x.to(device), a.target, a.layer)
    out = Path(a.out) if a.out else Path(a.image).with_name(Path(a.image).stem + "_gradcam.png")
    explanation_panel(rgb, {k: v.cpu() if torch.is_tensor(v) else v for k, v in r.items()}, out,
                      title=f"{a.model} {r['layer']}: class {r['target']} (p = {r['prob']:.3f})")
    print(f"class {r['target']} (p = {r['prob']:.3f}); overlay: {out}")
    return {**r, "out": str(out)}


if __name__ == "__main__":
    main()
