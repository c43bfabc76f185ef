"""Checkpoints: written atomically, loaded without executing code.

A checkpoint is a plain dict of tensors and python scalars (model, optimizer, scheduler,
RNG states, step). ``torch.load(weights_only=True)`` refuses anything that would need
unpickling arbitrary objects, so a checkpoint from elsewhere cannot run code.

Every checkpoint the :class:`~shared.trainer.Trainer` writes also carries the run it belongs to
(``state["run"]``: paper, seed and the resolved config, as JSON, set by :class:`shared.cli.Run`
through :func:`set_run`), so that ``--resume`` can refuse a different config before anything is
written (:mod:`shared.runfolder`). :data:`RESUMED` lists what this process resumed, for the report.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from .errors import CheckpointError, CheckpointNotFound

_RUN: dict = {}
RESUMED: list[dict] = []  # {"checkpoint": path, "step": n, "max_steps": m} for each resume in this process


def set_run(meta: dict | None) -> None:
    """Record the current run (paper, seed, config) so that every checkpoint written carries it."""
    _RUN.clear()
    if meta:
        _RUN.update(json.loads(json.dumps(meta, default=str)))


def run_meta() -> str | None:
    """The current run as a JSON string (loadable with ``weights_only=True``), or None outside a Run."""
    return json.dumps(_RUN, sort_keys=True) if _RUN else None


def read_run_meta(path: str | os.PathLike) -> dict | None:
    """The run a checkpoint belongs to (``state["run"]``), or None for one written without it."""
    state = load_checkpoint(path, map_location="cpu", mmap=True)
    meta = state.get("run") if isinstance(state, dict) else None
    return json.loads(meta) if isinstance(meta, str) else None


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


def load_checkpoint(path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    A file that is truncated, corrupt or holds anything but tensors and plain python data raises
    :class:`CheckpointError` in one line; torch's own message (chained, shown with ``--debug``) is
    not relayed, since its advice to load with ``weights_only=False`` would run the file's code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFound(f"no checkpoint at {path}: run without --resume to start fresh")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        unsafe = "weights_only" in str(e) or "Unsupported global" in str(e)
        why = ("it holds python objects other than tensors and plain data, which are never unpickled here"
               if unsafe else "it is truncated, corrupt or not a checkpoint")
        raise CheckpointError(f"cannot load checkpoint {path}: {why}; delete it (or start afresh with "
                              f"--overwrite) to train from the beginning") from e
