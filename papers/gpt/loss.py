"""The three objectives of §3 (Radford et al. 2018).

- Eq. (1), unsupervised pre-training: ``L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1}; Theta)``, maximised.
- Eq. (4), supervised fine-tuning: ``L2(C) = sum_(x, y) log P(y | x^1, ..., x^m)``, with
  ``P(y | x) = softmax(h_l^m W_y)`` (Eq. 3).
- Eq. (5), fine-tuning with the auxiliary LM objective: ``L3(C) = L2(C) + lambda * L1(C)``, ``lambda = 0.5`` (§4.1).

The paper writes log-likelihoods to maximise; we return the equivalent losses to minimise, i.e. the
negative log-likelihoods, averaged over tokens (L1) and over examples (L2), as OpenAI's code and every
optimiser-friendly implementation do (a sum only rescales the learning rate).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100  # target id that contributes nothing (padding)
LAMBDA = 0.5   # §4.1: "we set lambda to 0.5"


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE) -> torch.Tensor:
    """-L1 / #tokens, Eq. (1): mean negative log-likelihood of each next token.

    ``logits`` [B, T, V] are the predictions made at positions 0..T-1; ``targets`` [B, T] the tokens that
    follow (already shifted by one); positions whose target is ``ignore_index`` are skipped.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree: targets "
                         f"must be [B, T] for logits [B, T, V] (shift the inputs by one token)")
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=ignore_index)


def clf_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-L2 / #examples, Eq. (4) with Eq. (3): mean negative log P(y | x) over the batch."""
    return F.cross_entropy(class_logits.float(), labels)


def combined_loss(L2: torch.Tensor, L1: torch.Tensor, lam: float = LAMBDA) -> torch.Tensor:
    """Eq. (5): L3 = L2 + lambda * L1 (both as losses to minimise). ``lam = 0`` is fine-tuning without aux LM."""
    if lam < 0:
        raise ValueError(f"lambda must be >= 0 (got {lam}); the paper uses 0.5, and 0 switches the auxiliary LM off")
    return L2 + lam * L1


def shift_targets(idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token targets for ``idx`` [B, T]: ``targets[:, t] = idx[:, t + 1]``; the last position and any
    position at or beyond ``lengths - 1`` (right padding) get ``IGNORE``.
    The targets of Eq. (1): u_i predicted from u_{i-k}, ..., u_{i-1}."""
    targets = torch.full_like(idx, IGNORE)
    targets[:, :-1] = idx[:, 1:]
    if lengths is not None:
        pos = torch.arange(idx.size(1), device=idx.device)
        targets[pos[None, :] >= (lengths[:, None] - 1)] = IGNORE
    return targets
