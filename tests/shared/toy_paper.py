"""A toy "paper" on the shared mechanism (Run + Trainer), for the reliability tests.

Run as ``python tests/shared/toy_paper.py --preset smoke --out DIR [...]`` (the shared flags), or
call :func:`main` with an argv list.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.cli import Run, entry  # noqa: E402
from shared.config import param  # noqa: E402
from shared.trainer import Trainer  # noqa: E402


@dataclass
class Config:
    max_steps: int = 12
    batch_size: int = 8
    lr: float = 0.05
    warmup_steps: int = 2
    width: int = 8
    n_head: int = 2
    dropout: float = 0.0
    train_fraction: float = 1.0
    mode: str = param("sgd", choices=("sgd", "adam"))
    sleep: float = 0.0
    ckpt_every: int = 0

    # resuming with more steps of the only phase is legitimate; the report says so
    RESUME_MAY_CHANGE = {"max_steps": "more steps of the only training phase"}

    def validate(self):
        if self.sleep < 0:
            raise ValueError(f"config key 'sleep' = {self.sleep} must be >= 0; fix: --set sleep=0")


PRESETS = {"smoke": Config(max_steps=6), "quick": Config()}


class Data(torch.utils.data.Dataset):
    def __init__(self, n=64):
        g = torch.Generator().manual_seed(7)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x.sum(1, keepdim=True)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def main(argv=None):
    run = Run.from_cli("toy", PRESETS, argv)
    cfg = run.cfg
    model = nn.Sequential(nn.Linear(4, cfg.width), nn.Tanh(), nn.Dropout(cfg.dropout), nn.Linear(cfg.width, 1))
    opt = (torch.optim.SGD if cfg.mode == "sgd" else torch.optim.Adam)(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (cfg.warmup_steps + 1)))

    def loss_fn(m, batch):
        if cfg.sleep:
            time.sleep(cfg.sleep)
        x, y = batch
        return nn.functional.mse_loss(m(x), y)

    trainer = Trainer(model, opt, Data(), loss_fn=loss_fn, batch_size=cfg.batch_size, max_steps=cfg.max_steps,
                      out_dir=run.out, device=run.device, scheduler=sched, log_every=1, seed=run.seed,
                      ckpt_every=cfg.ckpt_every)
    if run.is_main:
        print("ready", flush=True)
    trainer.fit(resume=run.args.resume)
    (run.out / "figure.png").write_bytes(b"not really a png")
    run.finish([], results={"params": [p.detach().flatten().tolist() for p in model.parameters()]})
    return run


if __name__ == "__main__":
    entry(main)
