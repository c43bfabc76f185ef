"""``--device auto|cpu|cuda``: the only place that decides where tensors live."""
from __future__ import annotations

import os

import torch

from .errors import DeviceError

CHOICES = ("auto", "cpu", "cuda")


def get_device(name: str = "auto") -> torch.device:
    """Resolve ``auto`` to CUDA when available, else CPU.

    Under torchrun each process takes the GPU named by ``LOCAL_RANK``.
    """
    given = name
    name = str(name).strip().lower()  # --device CPU is --device cpu
    index = name.removeprefix("cuda:")
    if name not in CHOICES and not (name.startswith("cuda:") and index.isdigit()):
        raise DeviceError(f"--device {given!r} is not one of {', '.join(CHOICES)} (or cuda:N)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {given} was asked for but torch sees no GPU; use --device cpu or auto")
        if name == "cuda":
            name = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        if int(name.split(":")[1]) >= torch.cuda.device_count():
            raise DeviceError(f"--device {given}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0; "
                              f"use --device cuda (or auto)")
        torch.cuda.set_device(torch.device(name))
    return torch.device(name)


def describe(device: torch.device) -> dict:
    """What the report's environment section says about the hardware."""
    info = {"device": str(device), "cpu_threads": torch.get_num_threads(), "gpu": None}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
