"""Training-step time of our ResNets against torchvision's, on the same input (not a test).

    python -m papers.resnet.benchmark [--batch 8] [--size 224] [--cifar-batch 128]

One step = forward, cross-entropy, backward, SGD update. Pairs:
- our ResNet-50 (paper layout: stride on the first 1x1), our ResNet-50 with ``stride_on_3x3`` (v1.5)
  and torchvision's ``resnet50`` (v1.5), ImageNet-size input;
- our CIFAR ResNet-20 and the same network assembled from torchvision's ``BasicBlock`` (option-A
  zero-padding shortcut passed as its ``downsample``), so both have exactly 269,722 parameters.
Models are timed in interleaved rounds and the median is reported, as a ratio to torchvision.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F

from shared.profiling import count_params, time_fn

from .model import ZeroPadShortcut, cifar_resnet, resnet


class TorchvisionCifarResNet(nn.Module):
    """§4.2's ResNet-(6n+2) built from ``torchvision.models.resnet.BasicBlock``."""

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        from torchvision.models.resnet import BasicBlock

        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for i, c in enumerate((16, 32, 64)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                down = ZeroPadShortcut(c_in, c, stride) if (stride != 1 or c_in != c) else None
                layers.append(BasicBlock(c_in, c, stride, downsample=down))
                c_in = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def load_from_torchvision_cifar(ours: nn.Module, theirs: TorchvisionCifarResNet) -> nn.Module:
    """Copy the BasicBlock-built net's weights and BN buffers into ours (``layers.{i}`` -> ``conv{2+i//n}_x.{i%n}``),
    so that both compute on the same values (timings can depend on them, e.g. denormal activations)."""
    n = len(theirs.layers) // 3
    sd = {}
    for k, v in theirs.state_dict().items():
        if k.startswith("layers."):
            _, i, rest = k.split(".", 2)
            k = f"conv{2 + int(i) // n}_x.{int(i) % n}.{rest}"
        sd[k] = v
    ours.load_state_dict(sd)
    return ours


def step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def bench(models: dict[str, nn.Module], x, y, rounds: int, iters: int) -> dict[str, float]:
    fns = {k: step_fn(m, x, y) for k, m in models.items()}
    times = {k: [] for k in models}
    for _ in range(rounds):  # interleave, so that drifting machine load hits every model alike
        for k, f in fns.items():
            times[k].append(time_fn(f, warmup=1, iters=iters)["median"])
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> dict:
    import torchvision

    ap = argparse.ArgumentParser(prog="python -m papers.resnet.benchmark", description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--cifar-batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--json", default="", help="also write the numbers here")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))
    big = {"ours ResNet-50 (paper, stride on 1x1)": resnet(50),
           "ours ResNet-50 (v1.5 flag)": resnet(50, stride_on_3x3=True),
           "torchvision resnet50": torchvision.models.resnet50(weights=None)}
    t_big = bench(big, x, y, a.rounds, a.iters)
    xc = torch.randn(a.cifar_batch, 3, 32, 32)
    yc = torch.randint(0, 10, (a.cifar_batch,))
    small = {"ours ResNet-20": cifar_resnet(20), "torchvision-built ResNet-20": TorchvisionCifarResNet(20)}
    t_small = bench(small, xc, yc, a.rounds, a.iters)
    ref_big, ref_small = t_big["torchvision resnet50"], t_small["torchvision-built ResNet-20"]
    rows = []
    for name, t in t_big.items():
        rows.append((name, f"{a.batch}x3x{a.size}x{a.size}", count_params(big[name]), t, t / ref_big))
    for name, t in t_small.items():
        rows.append((name, f"{a.cifar_batch}x3x32x32", count_params(small[name]), t, t / ref_small))
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print("| model | input | params | step time (s) | ratio to torchvision |")
    print("|---|---|---|---|---|")
    for name, inp, p, t, r in rows:
        print(f"| {name} | {inp} | {p:,} | {t:.3f} | {r:.2f} |")
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__,
           "rows": [dict(model=n, input=i, params=p, seconds=t, ratio=r) for n, i, p, t, r in rows]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main()


def bench_cases() -> list:
    """``make bench`` (``shared.bench``): ResNet-50 against torchvision's ``resnet50`` (v1.5, so ours is built
    with the v1.5 flag for an equal computation) and CIFAR ResNet-20 against the same net built from
    torchvision's ``BasicBlock``; SGD with momentum, as §3.4/§4.2. Ours starts from the oracle's random weights,
    so both compute on the same values. bf16 runs both in channels_last."""
    import torchvision

    from shared.bench import Case

    from .interop import load_torchvision

    torch.manual_seed(0)
    tv50, tv20 = torchvision.models.resnet50(weights=None), TorchvisionCifarResNet(20)
    cases = []
    for name, ours, theirs, oracle, x, y, iters in (  # ours starts from the oracle's weights (same values)
            ("ResNet-50, 224 x 224, batch 4", load_torchvision(resnet(50, stride_on_3x3=True), tv50.state_dict()),
             tv50, "torchvision resnet50", torch.randn(4, 3, 224, 224), torch.randint(0, 1000, (4,)), 2),
            ("CIFAR ResNet-20, batch 128", load_from_torchvision_cifar(cifar_resnet(20), tv20), tv20,
             "torchvision BasicBlock ResNet-20", torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,)), 3)):
        cases.append(Case(
            paper="resnet", name=name, oracle=oracle, ours=ours, theirs=theirs, inputs=(x,),
            forward_ours=lambda m, inp: m(inp[0]), forward_theirs=lambda m, inp: m(inp[0]),
            loss=lambda out, y=y: F.cross_entropy(out.float(), y),
            optimizer=lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4), iters=iters,
            channels_last=True))
    return cases
