"""Numeric precision and memory layout of a run: bf16 autocast and channels_last, chosen by capability.

``amp`` is ``False`` (fp32), ``True`` (bf16 autocast on the run's device, fp32 master weights and
optimizer state) or ``"auto"``: bf16 where the hardware has native bf16 matrix units (CPU flags
``amx_bf16`` or ``avx512_bf16``; a CUDA GPU that supports bf16), fp32 elsewhere. The choice is a pure
function of the machine's capability, never of a timing, so one machine always makes the same choice
and the same command gives the same numbers. ``channels_last`` (conv nets) changes the memory layout
only. What a run used is recorded in :data:`USED` and lands in the report's environment
(``shared.cli.Run.environment``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

AMP_CHOICES = (False, True, "auto")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 matrix/dot units

# What the trainers of the current run used, e.g. {"precision": "bf16 autocast ...", "layout": ...};
# cleared when a Run starts (like shared.data.registry.USED).
USED: dict[str, str] = {}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags (Linux ``/proc/cpuinfo``); empty where that file does not exist."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """True when the CPU computes bf16 matrix products natively (AMX-BF16 or AVX512-BF16)."""
    flags = cpu_flags() if flags is None else flags
    if flags:
        return any(f in flags for f in BF16_CPU_FLAGS)
    return "AMX" in torch.backends.cpu.get_cpu_capability().upper()  # no cpuinfo: ask torch's dispatcher


def resolve_amp(amp, device: torch.device | str, flags: set[str] | None = None) -> bool:
    """``amp`` (False / True / "auto", or their strings) -> whether to run bf16 autocast on ``device``."""
    if isinstance(amp, str):
        low = amp.strip().lower()
        amp = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}.get(low, low)
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r}: use true (bf16 autocast), false (fp32) or auto (bf16 where the "
                         "hardware has native bf16 units)")
    if amp != "auto":
        return bool(amp)
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_native_bf16(flags)
    return False


def autocast(enabled: bool, device: torch.device | str):
    """bf16 autocast on ``device`` when ``enabled``; weights and optimizer state stay fp32."""
    device = torch.device(device)
    if enabled:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(amp: bool, channels_last: bool, device: torch.device | str) -> dict[str, str]:
    """The environment entries of a run: precision, layout and the capability behind ``amp=auto``."""
    device = torch.device(device)
    info = {"precision": "bf16 autocast, fp32 master weights" if amp else "fp32",
            "layout": "channels_last" if channels_last else "contiguous (NCHW)"}
    if device.type == "cpu":
        native = cpu_has_native_bf16()
        info["cpu_capability"] = (f"{torch.backends.cpu.get_cpu_capability()}, native bf16 "
                                  f"{'yes' if native else 'no'}")
    return info


def record(amp: bool, channels_last: bool, device: torch.device | str) -> None:
    """Note what a trainer of this run used; a run mixing settings lists every one."""
    for k, v in describe(amp, channels_last, device).items():
        old = USED.get(k)
        if old is None:
            USED[k] = v
        elif v not in old.split(" + "):
            USED[k] = f"{old} + {v}"
