"""BERT's objectives and training recipes (§3.1, §4.1, App. A.1-A.2).

- §3.1 Task #1 (masked LM): cross-entropy of the original token at the masked positions only
  ("the final hidden vectors corresponding to the mask tokens are fed into an output softmax").
- §3.1 Task #2 (NSP): 2-way cross-entropy on ``C`` (IsNext = 0, NotNext = 1).
- App. A.2: "The training loss is the sum of the mean masked LM likelihood and the mean next sentence
  prediction likelihood": ``loss = mean_MLM + mean_NSP`` (as negative log-likelihoods).
- App. A.2 optimiser: "Adam with learning rate of 1e-4, β1 = 0.9, β2 = 0.999, L2 weight decay of 0.01,
  learning rate warmup over the first 10,000 steps, and linear decay of the learning rate".
  The released code's AdamWeightDecayOptimizer decouples the decay (AdamW), skips LayerNorm and bias
  parameters, has no bias correction and clips the global gradient norm at 1.0; we use torch's AdamW (with
  bias correction, a negligible difference after warm-up) on the same parameter groups.
- §4.1 / App. A.3 fine-tuning: batch 32, 3 epochs, lr in {5e-5, 4e-5, 3e-5, 2e-5} chosen on dev
  (App. A.3 also lists batch 16 and 2-4 epochs), warm-up over 10% of the steps (released run_classifier.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100   # label of a position that is not predicted

# App. A.2
PRETRAIN_LR = 1e-4
BETAS = (0.9, 0.999)
WEIGHT_DECAY = 0.01
WARMUP_STEPS = 10_000
PRETRAIN_STEPS = 1_000_000
PRETRAIN_BATCH = 256            # sequences (256 x 512 = 128,000 tokens)
DROPOUT = 0.1
# §4.1, App. A.3
FINETUNE_BATCH = 32
FINETUNE_EPOCHS = 3
FINETUNE_LRS = (5e-5, 4e-5, 3e-5, 2e-5)
FINETUNE_WARMUP = 0.1           # released run_classifier.py: warmup_proportion 0.1


def mlm_loss(mlm_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the original tokens at the masked positions (§3.1 Task #1).

    ``mlm_logits`` is [B, T, V] (with ``labels`` [B, T], IGNORE where nothing is predicted) or already
    gathered at the N masked positions, [N, V] (with ``labels`` [N])."""
    return F.cross_entropy(mlm_logits.reshape(-1, mlm_logits.size(-1)).float(), labels.reshape(-1),
                           ignore_index=IGNORE)


def nsp_loss(nsp_logits: torch.Tensor, nsp_label: torch.Tensor) -> torch.Tensor:
    """Mean 2-way cross-entropy of next-sentence prediction (§3.1 Task #2), label 1 = NotNext."""
    return F.cross_entropy(nsp_logits.float(), nsp_label)


def pretraining_loss(mlm_logits, labels, nsp_logits=None, nsp_label=None):
    """App. A.2: the sum of the mean MLM loss and the mean NSP loss; without NSP inputs, MLM alone
    (Table 5 "No NSP"). Returns (total, mlm, nsp or None)."""
    L_mlm = mlm_loss(mlm_logits, labels)
    if nsp_logits is None:
        return L_mlm, L_mlm, None
    L_nsp = nsp_loss(nsp_logits, nsp_label)
    return L_mlm + L_nsp, L_mlm, L_nsp


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """§4.1: standard classification loss, log(softmax(C W^T)), averaged over the batch."""
    return F.cross_entropy(logits.float(), labels)


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """§4.2: "the sum of the log-likelihoods of the correct start and end positions" (as mean NLLs; the
    released code averages the two)."""
    return (F.cross_entropy(start_logits.float(), start_positions) +
            F.cross_entropy(end_logits.float(), end_positions)) / 2


# -- optimiser and schedule (App. A.2) ---------------------------------------------------------

def param_groups(model: torch.nn.Module, weight_decay: float = WEIGHT_DECAY) -> list[dict]:
    """Weight decay on every parameter except biases and LayerNorm gains/biases (released optimizer). Released code; no counterpart in the paper."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if (p.dim() < 2 or "LayerNorm" in name) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adam(model: torch.nn.Module, lr: float = PRETRAIN_LR, weight_decay: float = WEIGHT_DECAY,
         betas=BETAS, eps: float = 1e-6) -> torch.optim.AdamW:
    """App. A.2: Adam, lr 1e-4, β = (0.9, 0.999), L2 weight decay 0.01 (decoupled, as the released code). (§3.1; App. A.2)"""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, foreach=True)


def warmup_linear(step: int, warmup: int, total: int) -> float:
    """App. A.2: multiplier of the peak lr: linear warm-up over ``warmup`` steps, then linear decay to 0 at
    ``total`` (the released code decays over all ``total`` steps and warms up on top: lr = peak * step/warmup
    during warm-up, peak * (1 - step/total) after it). (§3.1; App. A.2)"""
    if warmup and step < warmup:
        return step / warmup
    return max(0.0, 1.0 - step / total)


def scheduler(opt: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """§3.1, App. A.2: the learning-rate schedule as a LambdaLR."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_linear(s, warmup, total))
