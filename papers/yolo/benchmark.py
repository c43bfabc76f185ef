"""``make bench`` cases for YOLO (``shared.bench``): our modules against the same layers assembled from
torchvision's ``Conv2dNormActivation`` blocks (:mod:`papers.yolo.interop`), weights ported, Eq. (3) as the
loss on a fixed target grid, SGD with the §2.2 momentum and decay. Not a test."""
from __future__ import annotations

import torch

from .interop import to_reference, torchvision_reference
from .loss import encode_targets, yolo_loss
from .model import build


def bench_cases() -> list:
    from shared.bench import Case

    torch.manual_seed(0)
    cases = []
    for name, model, batch, size, iters in (("Fast YOLO, 448 x 448, batch 2", build("fast-yolo"), 2, 448, 2),
                                            ("YOLO CPU configuration, 112 x 112, batch 32", build("yolo-cpu"), 32, 112, 3)):
        ref = to_reference(model, torchvision_reference(model.cfg))
        x = torch.rand(batch, 3, size, size)
        boxes = [torch.tensor([[0.1, 0.2, 0.5, 0.7], [0.4, 0.4, 0.9, 0.8]])] * batch
        labels = [torch.tensor([1, 5])] * batch
        t = encode_targets(boxes, labels, model.cfg.S, model.cfg.C)
        cases.append(Case(
            paper="yolo", name=name, oracle="torchvision Conv2dNormActivation assembly", ours=model, theirs=ref,
            inputs=(x,), forward_ours=lambda m, inp: m(inp[0]), forward_theirs=lambda m, inp: m(inp[0]),
            loss=lambda out, t=t: yolo_loss(out.float(), t)[0],
            optimizer=lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, weight_decay=5e-4), iters=iters,
            channels_last=True, note="same layers and weights; the difference is module overhead only"))
    return cases
