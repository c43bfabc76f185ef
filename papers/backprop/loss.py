"""The paper's objective: the total squared error, Eq. (3), and its derivative, Eq. (4).

    E = 1/2 Σ_c Σ_j (y_jc − d_jc)²                                   (3)
    ∂E/∂y_j = y_j − d_j                                             (4)

c indexes cases (input-output pairs), j output units; y is the actual and d the desired state.
Everything here is numpy; ``tests/backprop`` checks it against torch.autograd.
"""
from __future__ import annotations

import numpy as np


def output_error(y: np.ndarray, d: np.ndarray, tolerance: float | None = None,
                 mask: np.ndarray | None = None) -> np.ndarray:
    """The error (y − d) of every output unit in every case, with the paper's two exceptions.

    ``tolerance``: family trees (p. 535): "the error was considered to be zero if output units that
    should be on had activities above 0.8 and output units that should be off had activities below
    0.2" -- ``tolerance=0.2`` zeroes the error of an on-unit (d = 1) above 1 − 0.2 and of an
    off-unit (d = 0) below 0.2. ``mask`` (0/1, same shape or broadcastable) leaves out outputs that
    have no desired state, e.g. the first steps of a sequence (Fig. 5).
    """
    if y.shape != d.shape:
        raise ValueError(f"output shape {y.shape} and desired-state shape {d.shape} differ; "
                         f"give one desired state d_jc per output unit j and case c")
    err = y - d                                                   # [C, J]
    if tolerance is not None:
        ok = ((d >= 0.5) & (y > 1.0 - tolerance)) | ((d < 0.5) & (y < tolerance))
        err = np.where(ok, 0.0, err)
    if mask is not None:
        err = err * mask
    return err


def squared_error(y: np.ndarray, d: np.ndarray, tolerance: float | None = None,
                  mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """E of Eq. (3) and ∂E/∂y of Eq. (4), summed over cases c and output units j."""
    err = output_error(y, d, tolerance, mask)
    E = 0.5 * float(np.sum(err ** 2))                              # Eq. (3)
    dE_dy = err                                                    # Eq. (4): ∂E/∂y_j = y_j − d_j
    return E, dE_dy


def all_correct(y: np.ndarray, d: np.ndarray, margin: float = 0.5, mask: np.ndarray | None = None) -> bool:
    """True when every output is within ``margin`` of its desired state.

    ``margin=0.5`` means every output is on the right side of 0.5 (the net classifies every case
    correctly); a smaller margin is a stricter "solved".
    Counts the runs that solve the tasks of Figs. 1-5; the margin is our criterion, not the paper's.
    """
    ok = np.abs(y - d) < margin
    if mask is not None:
        ok = ok | (mask == 0)
    return bool(np.all(ok))
