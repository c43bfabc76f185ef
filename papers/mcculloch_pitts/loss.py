"""The objective of this reproduction: disagreement between a net and a specification.

McCulloch & Pitts train nothing: assumption (5) fixes the structure of a net, and their two problems (§2,
p. 103) are "to calculate the behavior of any net, and to find a net which will behave in a specified way".
Both are answered by construction (Theorems I and II), so the only loss is a count of counter-examples:

    disagreement(net, spec, T) = #{ input histories h of length l <= T : the net's output on h differs from
                                    spec(h) at some time t < l }

which every construction here must drive to exactly zero. Nets and TPEs are causal (the output at t depends
on inputs before t only), so whether a prefix of length l disagrees is decided by any of its extensions; we
simulate all 2^(P*T) histories of length T once and count each disagreeing prefix once. When T exceeds the
largest lag of a TPE specification by at least one, zero disagreement on every time step is a proof of
equivalence, not a sample (every assignment of the constituents occurs at t = max lag).
"""
from __future__ import annotations

from typing import Callable

import torch

from .calculus import Expr, as_expr, all_histories, evaluate
from .model import Net

Spec = Expr | str | Callable[[torch.Tensor], torch.Tensor]


def spec_outputs(spec: Spec, x: torch.Tensor, names: list[str], lag: int = 0) -> torch.Tensor:
    """What the specification says the realising cell does, on histories x [B, P, T] -> [B, T], delayed by
    ``lag`` synaptic delays (the extended sense of realizability, §2: N(t) = S^lag spec(t))."""
    if callable(spec) and not isinstance(spec, Expr):
        want = spec(x).bool()
    else:
        want = evaluate(as_expr(spec), x, names)
    if lag:
        want = torch.nn.functional.pad(want, (lag, 0))[..., :x.shape[-1]]
    return want


def first_disagreement(net: Net, spec: Spec, T: int, output: str | None = None, lag: int = 0,
                       x: torch.Tensor | None = None) -> torch.Tensor:
    """For every history of length T: the first time at which net and spec differ, or T if never. [B].
    Realizability in the sense of §2."""
    x = all_histories(len(net.afferents), T) if x is None else x
    out = output or net.outputs[0]
    got = net(x)[:, net.index[out]]                                          # [B, T]
    want = spec_outputs(spec, x, net.afferents, lag)                           # [B, T]
    differ = got != want
    t = torch.arange(T).expand_as(differ)
    return torch.where(differ, t, torch.full_like(t, T)).min(dim=-1).values


def disagreement(net: Net, spec: Spec, T: int, output: str | None = None, lag: int = 0) -> int:
    """Number of input histories of length 1..T on which the net's ``output`` cell and ``spec`` differ.
    Zero means the net realizes ``spec`` (§2, Theorem II)."""
    P = len(net.afferents)
    tau = first_disagreement(net, spec, T, output, lag)                        # [2^(P*T)]
    total = 0
    for length in range(1, T + 1):
        # each prefix of this length stands for 2^(P*(T-length)) histories of length T
        total += int((tau < length).sum()) // 2 ** (P * (T - length))
    return total


def histories_counted(n_afferents: int, T: int) -> int:
    """How many histories :func:`disagreement` examines: sum over l = 1..T of 2^(P*l). For the §2 check."""
    return sum(2 ** (n_afferents * l) for l in range(1, T + 1))
