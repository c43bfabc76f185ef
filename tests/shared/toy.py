"""A toy training job used by the trainer, resume, signal and torchrun tests.

Run as a script: ``python tests/shared/toy.py OUT MAX_STEPS BATCH [--resume] [--sleep S]``; writes
``OUT/params.pt`` (the final parameters) on rank 0.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared import distributed  # noqa: E402
from shared.seed import seed_everything  # noqa: E402
from shared.trainer import Trainer  # noqa: E402


class ToyData(torch.utils.data.Dataset):
    def __init__(self, n=64, d=5):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, d, generator=g)
        self.y = self.x @ torch.arange(1.0, d + 1) + 0.1 * torch.randn(n, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def make_model(dropout: float = 0.2):
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))


NOISE = 0.01


def loss_fn(model, batch):
    x, y = batch
    x = x + NOISE * torch.randn_like(x)  # main-process "augmentation" draws from the checkpointed RNG
    return nn.functional.mse_loss(model(x).squeeze(-1), y)


def make_trainer(out, max_steps, batch_size=8, seed=0, dropout=0.2, sleep=0.0, **kw):
    seed_everything(seed)
    model = make_model(dropout)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)
    data = ToyData()
    val = ToyData(16)

    def eval_fn(m):
        return {"val_mse": nn.functional.mse_loss(m(val.x).squeeze(-1), val.y).item()}

    def slow_loss(model, batch):
        time.sleep(sleep)
        return loss_fn(model, batch)

    kw.setdefault("eval_every", 5)
    kw.setdefault("log_every", 1)
    return Trainer(model, opt, data, loss_fn=slow_loss if sleep else loss_fn, batch_size=batch_size,
                   max_steps=max_steps, out_dir=out, scheduler=sched, eval_fn=eval_fn, seed=seed, **kw)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("max_steps", type=int)
    ap.add_argument("batch", type=int)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--exact", action="store_true", help="no dropout, no noise: a function of the batch only")
    a = ap.parse_args()
    if a.exact:
        NOISE = 0.0
    torch.set_num_threads(1)
    info = distributed.init()
    t = make_trainer(a.out, a.max_steps, a.batch, sleep=a.sleep, dropout=0.0 if a.exact else 0.2, ckpt_every=0)
    print("ready", flush=True)
    t.fit(resume=a.resume)
    if info.is_main:
        torch.save({k: v.detach().clone() for k, v in t.raw_model.state_dict().items()}, Path(a.out) / "params.pt")
    distributed.cleanup()
