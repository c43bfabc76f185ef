"""The objective and the paper's training recipes (Dosovitskiy et al. 2021, §4.1 "Training & Fine-tuning",
Appendix B.1).

- Objective: softmax cross-entropy on the head's logits (classification, Eq. 4 -> head).
- Pre-training (§4.1): "we train all models, including ResNets, using Adam with beta1 = 0.9, beta2 = 0.999,
  a batch size of 4096 and apply a high weight decay of 0.1"; "a linear learning rate warmup and decay"
  (App. B.1: 10k warm-up steps). The authors' Adam applies the decay decoupled from the gradient
  (param -= lr * wd * param, as in their Flax optimiser), i.e. ``torch.optim.AdamW``.
- Fine-tuning (§4.1, App. B.1.1): "SGD with momentum, batch size 512", cosine decay, no weight decay,
  gradients clipped at global norm 1, at a higher resolution (384, §3.2), the head replaced by a
  zero-initialised linear layer.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# §4.1 / App. B.1
PRETRAIN = dict(betas=(0.9, 0.999), batch_size=4096, weight_decay=0.1, warmup_steps=10_000, decay="linear")
FINETUNE = dict(momentum=0.9, batch_size=512, weight_decay=0.0, decay="cosine", grad_clip=1.0, resolution=384)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean softmax cross-entropy.  logits [B, K], target [B] class indices. §4.1 trains with the softmax cross-entropy of the class head."""
    if logits.dim() != 2 or target.dim() != 1 or logits.shape[0] != target.shape[0]:
        raise ValueError(f"expected logits [B, K] and targets [B], got {tuple(logits.shape)} and {tuple(target.shape)}")
    return F.cross_entropy(logits, target.long(), label_smoothing=label_smoothing)


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy, the metric of Table 2."""
    return (logits.argmax(-1) == target).float().mean().item()


def _decay_groups(model: torch.nn.Module, weight_decay: float):
    """Weight decay on the weight matrices only (the authors' code decays every kernel, not biases, LayerNorm
    scales, the class token or E_pos)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and "position_embedding" not in name and "class_token" not in name
         else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def pretrain_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = PRETRAIN["weight_decay"],
                       betas=PRETRAIN["betas"]) -> torch.optim.Optimizer:
    """§4.1: Adam, beta1 0.9, beta2 0.999, weight decay 0.1 (decoupled, as in the authors' code)."""
    return torch.optim.AdamW(_decay_groups(model, weight_decay), lr=lr, betas=tuple(betas))


def finetune_optimizer(model: torch.nn.Module, lr: float, momentum: float = FINETUNE["momentum"],
                       weight_decay: float = FINETUNE["weight_decay"]) -> torch.optim.Optimizer:
    """§4.1 / App. B.1.1: SGD with momentum 0.9, no weight decay."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


class WarmupDecay:
    """lr(step) = base * min(1, (step + 1) / warmup) during the warm-up, then a linear or cosine decay to 0
    at ``total`` steps (§4.1 "linear learning rate warmup and decay"; fine-tuning uses cosine)."""

    def __init__(self, optimizer, base_lr: float, total: int, warmup: int, decay: str = "linear"):
        if decay not in ("linear", "cosine", "none"):
            raise ValueError(f"decay must be linear, cosine or none, got {decay!r}")
        self.optimizer, self.base_lr, self.total, self.warmup, self.decay = optimizer, base_lr, total, warmup, decay
        self.steps = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        if self.warmup and step < self.warmup:
            return self.base_lr * (step + 1) / self.warmup
        if self.decay == "none":
            return self.base_lr
        frac = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        if self.decay == "linear":
            return self.base_lr * (1 - frac)
        return self.base_lr * 0.5 * (1 + math.cos(math.pi * frac))

    def _apply(self):
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr_at(self.steps)

    def step(self):
        self.steps += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        self._apply()
