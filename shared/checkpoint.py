"""Checkpoints: written atomically, loaded without executing code.

A checkpoint is a plain dict of tensors and python scalars (model, optimizer, scheduler,
RNG states, step). ``torch.load(weights_only=True)`` refuses anything that would need
unpickling arbitrary objects, so a checkpoint from elsewhere cannot run code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` via a temporary file in the same folder, then rename.

    A crash mid-write leaves the previous checkpoint intact: rename is atomic on POSIX.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: run without --resume to start fresh")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise RuntimeError(f"cannot load checkpoint {path}: {e}") from e
