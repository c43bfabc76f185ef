"""Parameter counts on the ``meta`` device, FLOPs with ``torch.utils.flop_counter``, step time."""
from __future__ import annotations

import time
from typing import Callable

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode


def count_params(model_or_builder: torch.nn.Module | Callable[[], torch.nn.Module], trainable_only: bool = False
                 ) -> int:
    """Number of parameters; a builder is run on the ``meta`` device (no memory, no init cost).

    Shared (tied) parameters are counted once.
    """
    if isinstance(model_or_builder, torch.nn.Module):
        model = model_or_builder
    else:
        with torch.device("meta"):
            model = model_or_builder()
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


# torch counts the CUDA attention kernels but not the CPU one that F.scaled_dot_product_attention
# dispatches to here; count it with torch's own formulas (the two matmuls, forward and backward).
_CPU_ATTENTION = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward,
}


def count_flops(model: torch.nn.Module, *inputs, backward: bool = False) -> int:
    """Floating-point operations of one forward (and backward) pass; multiply-adds = FLOPs / 2."""
    with FlopCounterMode(display=False, custom_mapping=_CPU_ATTENTION) as counter:
        out = model(*inputs)
        if backward:
            (out if torch.is_tensor(out) else out[0]).sum().backward()
    return int(counter.get_total_flops())


def time_fn(fn: Callable[[], object], warmup: int = 2, iters: int = 10) -> dict[str, float]:
    """Wall time of ``fn()`` in seconds: median and mean over ``iters`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    times = []
    for _ in range(iters):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median": times[len(times) // 2], "mean": sum(times) / len(times), "iters": iters}
