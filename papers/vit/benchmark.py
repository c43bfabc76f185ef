"""``make bench`` cases (``shared.bench``): our ViT-B/16 against torchvision's ``vit_b_16`` and the CPU
configuration against torchvision's ``VisionTransformer`` at the same size, with the paper's pre-training
optimiser (Adam 0.9/0.999, decoupled weight decay 0.1; §4.1). Not a test.

    python -m shared.bench --papers vit
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .interop import config_from_torchvision, load_torchvision
from .model import VARIANTS, VisionTransformer


def bench_cases() -> list:
    import torchvision

    from shared.bench import Case

    torch.manual_seed(0)
    small_tv = torchvision.models.VisionTransformer(image_size=32, patch_size=4, num_layers=4, num_heads=3,
                                                    hidden_dim=96, mlp_dim=192, num_classes=10)
    small = load_torchvision(VisionTransformer(config_from_torchvision(small_tv)), small_tv.state_dict())
    cases = []
    for name, ours, theirs, oracle, x, y, iters in (
            ("ViT-B/16, 224 x 224, batch 4", VARIANTS["vit-b16"](), torchvision.models.vit_b_16(weights=None),
             "torchvision vit_b_16", torch.randn(4, 3, 224, 224), torch.randint(0, 1000, (4,)), 2),
            ("CPU ViT (D 96, L 4, patch 4), 32 x 32, batch 128", small, small_tv,
             "torchvision VisionTransformer (same size)", torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,)),
             3)):
        cases.append(Case(
            paper="vit", name=name, oracle=oracle, ours=ours, theirs=theirs, inputs=(x,),
            forward_ours=lambda m, inp: m(inp[0]), forward_theirs=lambda m, inp: m(inp[0]),
            loss=lambda out, y=y: F.cross_entropy(out.float(), y),
            optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1), iters=iters))
    return cases
