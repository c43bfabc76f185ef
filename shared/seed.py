"""One call seeds python, numpy, torch (CPU and CUDA) and data-loader workers."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed every RNG a run touches.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has them
    (``warn_only`` so that an op without one does not stop a run): on the CPU the same seed
    then gives identical numbers.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        deterministic_kernels()
        torch.backends.cudnn.benchmark = False


def deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)``, without importing ``torch._inductor``.

    That call also sets ``torch._inductor.config.deterministic``, and importing that module pulls in
    ``torch._dynamo``: 1.5 s of a run's start on a 2-core CPU, for a flag only ``torch.compile`` reads. When
    the module is not loaded yet, the same flag is set through the environment variable it reads when it
    is imported (``TORCHINDUCTOR_DETERMINISTIC``), so a later ``torch.compile`` sees what it saw before.
    """
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    torch._C._set_deterministic_algorithms(True, warn_only=True)  # what use_deterministic_algorithms does next


def worker_init_fn(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: derive python/numpy seeds from torch's per-worker seed."""
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def get_rng_state() -> dict:
    """Every RNG state as tensors and plain types (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state({
        "bit_generator": "MT19937",
        "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
        "has_gauss": n["has_gauss"], "gauss": n["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x
