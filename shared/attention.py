"""``F.scaled_dot_product_attention`` with one CPU-specific backend choice: softmax(Q K^T / sqrt(d_k)) V.

The same math on every path; only the kernel differs. On the CPU, PyTorch's fused (flash) kernel has a slow
*backward* in bf16 at short sequences: measured on a 2-core Xeon with AMX (torch 2.14, 2 threads), forward +
backward of a causal attention, flash against the unfused "math" kernel:

    [B, h, T, d_k] = [64, 4, 24, 64]   23.0 ms against  5.9 ms
    [12, 4, 64, 32] (nanoGPT CPU)       5.0 ms against  1.7 ms
    [16, 4, 128, 32]                   22.9 ms against  8.4 ms
    [8, 6, 192, 64]                    17.9 ms against 17.8 ms
    [8, 6, 256, 64]                    17.4 ms against 24.6 ms
    [12, 12, 512, 64]                   172 ms against  564 ms

In fp32, and in bf16 without gradients (inference), the flash kernel is the faster one at every size measured.
So :func:`scaled_dot_product_attention` uses the math kernel exactly when the inputs are bf16/fp16 on the CPU,
a gradient will be taken, and the keys are at most :data:`MATH_MAX_KEYS` long; ``F.scaled_dot_product_attention``
decides everywhere else. The rule depends on shapes and dtypes only (never on a timing), so a given run always
takes the same path.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

MATH_MAX_KEYS = 128  # crossover measured between 128 (math 2.3x faster) and 192 (equal) keys


def use_math_kernel(q: torch.Tensor, k: torch.Tensor) -> bool:
    """True where the unfused kernel is the faster one: CPU, bf16/fp16, gradients on, <= MATH_MAX_KEYS keys."""
    return (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16) and torch.is_grad_enabled()
            and (q.requires_grad or k.requires_grad) and k.size(-2) <= MATH_MAX_KEYS)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False) -> torch.Tensor:
    """``F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)``: q [..., n, d_k],
    k [..., m, d_k], v [..., m, d_v]; boolean masks are True where a query may attend."""
    if use_math_kernel(q, k):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                                  is_causal=is_causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
