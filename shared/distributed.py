"""torchrun / DDP: gloo on the CPU, NCCL on GPUs; only rank 0 writes.

``torchrun --nproc_per_node=N -m papers.<paper>.reproduce ...`` sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``; :func:`init` reads them. A plain ``python -m`` run is a
world of one and none of this does anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init(device: torch.device | None = None) -> DistInfo:
    """Join the process group torchrun describes (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world == 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def info() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


def is_main() -> bool:
    return info().is_main


def barrier() -> None:
    if info().enabled:
        dist.barrier()


def all_reduce_mean(values: dict[str, float], device: torch.device | None = None) -> dict[str, float]:
    """Average scalar metrics over ranks (equal-size shards assumed)."""
    return _all_reduce(values, device, mean=True)


def all_reduce_sum(values: dict[str, float], device: torch.device | None = None) -> dict[str, float]:
    """Sum scalar counts over ranks (e.g. correct and total for an exact accuracy)."""
    return _all_reduce(values, device, mean=False)


def _all_reduce(values: dict[str, float], device, mean: bool) -> dict[str, float]:
    if not info().enabled or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    if mean:
        t /= dist.get_world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
