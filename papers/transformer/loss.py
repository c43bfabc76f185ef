"""The training objective and optimiser of §5: label-smoothed cross-entropy, Adam and Eq. (3).

- §5.4 "Label Smoothing: ... we employed label smoothing of value eps_ls = 0.1. This hurts perplexity,
  as the model learns to be more unsure, but improves accuracy and BLEU score."
  The smoothed target puts (1 - eps) + eps/V on the gold token and eps/V on every other one (the
  convention of ``F.cross_entropy(label_smoothing=eps)``); padding positions do not count.
- §5.3 Adam with beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9 and
  lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5), warmup_steps = 4000   # Eq. (3)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class _SmoothedCrossEntropy(torch.autograd.Function):
    """Forward and backward of §5.4's loss in one step each, over rows [M, V] of logits.

    Autograd through ``log_softmax``, ``gather`` and ``mean`` allocates and fills three more [M, V] tensors
    in the backward pass (a zero tensor for the scatter, the expanded mean's gradient, their sum); at
    M = 2,000 target tokens and V = 6,000 that took a quarter of a training step on the CPU. Here the
    backward pass writes the gradient softmax - q in place of the saved log-probabilities (q as below).
    """

    @staticmethod
    def forward(ctx, logits, target, eps: float, keep):
        logp = torch.log_softmax(logits, dim=-1, dtype=torch.float32)           # [M, V], fp32 even from bf16
        n = keep.sum()
        nll_tok = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)            # -log p(gold)          [M]
        uniform_tok = -logp.mean(dim=-1)                                        # -(1/V) sum_v log p(v) [M]
        w = keep.to(logp.dtype)
        loss = (((1.0 - eps) * nll_tok + eps * uniform_tok) * w).sum() / n
        nll = (nll_tok * w).sum() / n
        ctx.save_for_backward(logp, target, w, n)
        ctx.eps, ctx.dtype = eps, logits.dtype
        ctx.mark_non_differentiable(nll, n)
        return loss, nll, n

    @staticmethod
    def backward(ctx, grad_loss, _grad_nll, _grad_n):
        logp, target, w, n = ctx.saved_tensors
        eps = ctx.eps
        g = logp.exp_()                                                         # softmax, in place
        g.sub_(eps / g.size(-1))                                                # - eps / V
        g.scatter_add_(-1, target.unsqueeze(-1), g.new_full((g.size(0), 1), -(1.0 - eps)))  # - (1 - eps) 1_gold
        g.mul_((w * (grad_loss / n)).unsqueeze(-1))                             # mean over non-pad tokens
        return g.to(ctx.dtype), None, None, None


def label_smoothed_nll(logits: torch.Tensor, target: torch.Tensor, eps: float = 0.1, pad_id: int = 0
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean label-smoothed cross-entropy over non-pad tokens (§5.4).

    logits [B, T, V], target [B, T]. Returns (loss, nll, n_tokens): ``nll`` is the plain negative
    log-likelihood (its exp is the perplexity the paper reports), ``n_tokens`` the non-pad count. Per
    token, loss = (1 - eps) (-log p(gold)) + eps (-(1/V) sum_v log p(v)), the cross-entropy with
    q = (1 - eps) 1_gold + eps / V, whose gradient with respect to the logits is softmax - q (written out
    in :class:`_SmoothedCrossEntropy`; ``reference_loss`` and the tests check both).
    """
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} disagree: "
                         f"expected logits [B, T, V] for target [B, T]")
    keep = target != pad_id                                                   # [B, T]
    if not bool(keep.any()):
        raise ValueError("the target holds only padding: nothing to train on (check pad_id and the batch)")
    V = logits.size(-1)
    return _SmoothedCrossEntropy.apply(logits.reshape(-1, V), target.reshape(-1), float(eps), keep.reshape(-1))


def noam_lr(step: int, d_model: int = 512, warmup: int = 4000, scale: float = 1.0) -> float:
    """Eq. (3): d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) (``scale`` = 1 in the paper)."""
    step = max(int(step), 1)
    return scale * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def make_optimizer(model: torch.nn.Module, d_model: int, warmup: int = 4000, scale: float = 1.0,
                   betas=(0.9, 0.98), eps: float = 1e-9):
    """§5.3: Adam(0.9, 0.98, 1e-9) whose learning rate follows Eq. (3) at every optimiser step.

    ``LambdaLR`` counts from 0 before the first step, so optimiser step s (1-based) uses noam_lr(s).
    """
    opt = torch.optim.Adam(model.parameters(), lr=1.0, betas=betas, eps=eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: noam_lr(i + 1, d_model, warmup, scale))
    return opt, sched


def reference_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, pad_id: int = 0) -> torch.Tensor:
    """The same loss through ``F.cross_entropy`` (used by the tests as an independent check).
    A test oracle for §5.4's label-smoothed loss."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1),
                           ignore_index=pad_id, label_smoothing=eps)
