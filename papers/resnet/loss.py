"""The objective: softmax cross-entropy (Table 1's last row, "1000-d fc, softmax"; §3.4, §4.2),
plus the error rates the paper reports (top-1 / top-5 error, Tables 2-6, Fig. 6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -log softmax(logits)[target].  logits [B, K], target [B] int64.
    Table 1's "softmax" output trained with cross-entropy (§3.4, §4.2)."""
    if logits.dim() != 2 or target.dim() != 1 or logits.shape[0] != target.shape[0]:
        raise ValueError(f"expected logits [B, K] and integer targets [B], got {tuple(logits.shape)} and "
                         f"{tuple(target.shape)}")
    if target.dtype not in (torch.int64, torch.int32, torch.uint8):
        raise ValueError(f"targets must be class indices (integer dtype), got {target.dtype}")
    return F.cross_entropy(logits, target.long())


def topk_error(logits: torch.Tensor, target: torch.Tensor, k: int = 1) -> float:
    """Fraction of rows whose target is NOT among the ``k`` highest scores (top-1 / top-5 error).
    The error rates of Tables 2-6."""
    top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices            # [B, k]
    return 1.0 - (top == target[:, None]).any(-1).float().mean().item()


def error_counts(logits: torch.Tensor, target: torch.Tensor, k: int = 1) -> tuple[int, int]:
    """(wrong, total) for exact error rates over several batches. For the error rates of Tables 2-6 and Fig. 6."""
    top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices
    wrong = int((~(top == target[:, None]).any(-1)).sum())
    return wrong, int(target.shape[0])
