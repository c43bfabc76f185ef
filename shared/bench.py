"""``make bench``: our models against their independent implementations, step time and MFU.

Each paper with an oracle exposes ``bench_cases()`` in ``papers/<paper>/benchmark.py``: a list of
:class:`Case` (our module, the oracle's module at the same size, the same inputs, loss and optimizer).
For every case, in fp32 and in bf16 autocast (fp32 master weights), this times a training step (forward,
loss, backward, optimizer step) and an inference forward (``no_grad``, eval mode) of ours and of the oracle,
interleaved round by round (the order reversed every other round) so that drifting machine load hits both
alike, and reports medians, the ratio ours / theirs, and the model FLOPs utilisation (MFU) of each against
the matmul peak measured in the same run (a large square matmul in the same dtype and thread count).
Not part of ``make test``.

    python -m shared.bench [--papers gpt,resnet,transformer] [--cases ResNet-50] [--modes bf16] [--kinds train]
                           [--rounds 3] [--out reproductions/BENCHMARKS.md]

``--cases`` keeps the cases whose name contains one of the given (case-insensitive) substrings,
``--modes`` / ``--kinds`` the precisions and steps to time: a single row can be re-measured alone
(with ``--out ''`` so that the committed table is left as it is).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .profiling import count_flops

PAPERS_WITH_ORACLES = ("gpt", "resnet", "transformer", "yolo", "vit", "bert", "faster_rcnn")
MODES = ("fp32", "bf16")
KINDS = ("train", "infer")


@dataclass
class Case:
    """One benchmark: ``forward(model, inputs)`` returns the output ``loss(output)`` reduces to a scalar."""
    paper: str
    name: str                      # e.g. "nanoGPT CPU: 4 x 128, context 64, batch 12"
    oracle: str                    # e.g. "transformers GPT2LMHeadModel"
    ours: torch.nn.Module
    theirs: torch.nn.Module
    inputs: tuple
    forward_ours: Callable
    forward_theirs: Callable
    loss: Callable
    optimizer: Callable            # params -> torch.optim.Optimizer
    iters: int = 5
    channels_last: bool = False    # conv nets: both models and the image input in channels_last for bf16
    note: str = ""
    flops: dict = field(default_factory=dict)


def _clock(fn: Callable, iters: int) -> float:
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def matmul_peak(dtype: torch.dtype, n: int = 2048, iters: int = 5) -> float:
    """Measured FLOP/s of an n x n matmul in ``dtype`` (the denominator of MFU)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(2):
        a @ b
    return 2 * n ** 3 / _clock(lambda: a @ b, iters)


def _autocast(mode: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()


@contextlib.contextmanager
def _mha_fastpath(enabled: bool):
    """``nn.MultiheadAttention``'s inference fast path (nested tensors) fails under CPU bf16 autocast: off there."""
    old = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(old)


def _fns(case: Case, which: str, mode: str):
    model = case.ours if which == "ours" else case.theirs
    fwd = case.forward_ours if which == "ours" else case.forward_theirs
    inputs = case.inputs
    if case.channels_last and mode == "bf16":
        model = model.to(memory_format=torch.channels_last)
        inputs = tuple(x.to(memory_format=torch.channels_last) if x.dim() == 4 else x for x in inputs)
    opt = case.optimizer(model.parameters())

    def train():
        model.train()
        with _autocast(mode):
            loss = case.loss(fwd(model, inputs))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    @torch.no_grad()
    def infer():
        model.eval()
        with _autocast(mode), _mha_fastpath(mode != "bf16"):
            fwd(model, inputs)
    return train, infer


def _flops(case: Case) -> dict:
    """Forward FLOPs of ours (``torch.utils.flop_counter``); a training step counts 3x (forward + 2x backward)."""
    case.ours.eval()
    fwd = count_flops(_Wrap(case.ours, case.forward_ours), *case.inputs)
    return {"infer": fwd, "train": 3 * fwd}


class _Wrap(torch.nn.Module):
    def __init__(self, model, fwd):
        super().__init__()
        self.model, self.fwd = model, fwd

    def forward(self, *inputs):
        return self.fwd(self.model, inputs)


def run_case(case: Case, rounds: int, peaks: dict, modes=MODES, kinds=KINDS) -> list[dict]:
    case.flops = _flops(case)
    rows = []
    for mode in modes:
        fns = {(w, k): f for w in ("ours", "theirs") for k, f in zip(("train", "infer"), _fns(case, w, mode))
               if k in kinds}
        for f in fns.values():  # warm-up: allocator, autocast caches, optimizer state
            f()
            f()
        times = {key: [] for key in fns}
        order = list(fns)
        for r in range(rounds):  # interleaved rounds, the order reversed every other round (ABBA), so that
            for key in (order if r % 2 == 0 else order[::-1]):  # neither side always runs first
                times[key].append(_clock(fns[key], case.iters))
        for kind in kinds:
            ours, theirs = (statistics.median(times[(w, kind)]) for w in ("ours", "theirs"))
            peak = peaks[mode]
            rows.append(dict(paper=case.paper, case=case.name, oracle=case.oracle, mode=mode, kind=kind,
                             ours_s=ours, theirs_s=theirs, ratio=ours / theirs, flops=case.flops[kind],
                             mfu_ours=case.flops[kind] / ours / peak, mfu_theirs=case.flops[kind] / theirs / peak))
    return rows


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from .precision import cpu_has_native_bf16
    return {"cpu": model, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "native_bf16": cpu_has_native_bf16(), "load_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def render(rows: list[dict], peaks: dict, env: dict, cases: list[Case], seconds: float, shared_note: str) -> str:
    out = ["# Benchmarks: ours against the oracle implementations", "",
           "Generated by `make bench` (`python -m shared.bench`); do not edit by hand. Each row times the same "
           "shapes, dtype and thread count for ours and the oracle, interleaved round by round; times are medians. "
           "A training step is forward, loss, backward and optimizer step; inference is a `no_grad` forward in eval "
           "mode. bf16 is `torch.autocast` with fp32 master weights. MFU is the model's FLOPs (forward counted by "
           "`torch.utils.flop_counter` on ours; a training step counts 3x) per second over the matmul peak measured "
           "in the same run and dtype. Ratio < 1: ours is faster.", "",
           f"Machine: {env['cpu']}, {env['cores']} cores, {env['threads']} torch threads, torch {env['torch']}, "
           f"native bf16 units: {'yes' if env['native_bf16'] else 'no'}. Matmul peak (2048 x 2048): "
           f"fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s. Whole run {seconds:.0f} s; "
           f"1-minute load average at the start {env['load_before'] or 0:.2f}.",
           ""]
    if shared_note:
        out += [shared_note, ""]
    out += ["| paper | case | oracle | precision | step | ours (ms) | oracle (ms) | ours / oracle | MFU ours | MFU oracle |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['paper']} | {r['case']} | {r['oracle']} | {r['mode']} | {r['kind']} | {1e3 * r['ours_s']:.1f} | "
                   f"{1e3 * r['theirs_s']:.1f} | **{r['ratio']:.2f}** | {100 * r['mfu_ours']:.1f}% | "
                   f"{100 * r['mfu_theirs']:.1f}% |")
    notes = [f"- {c.paper}, {c.name}: {c.note}" for c in cases if c.note]
    if notes:
        out += ["", "Notes:", ""] + notes
    out.append("")
    return "\n".join(out)


def collect(papers: list[str], names: list[str] | None = None) -> list[Case]:
    """The ``bench_cases()`` of ``papers``; with ``names``, only cases whose name contains one of them."""
    cases = []
    for slug in papers:
        mod = importlib.import_module(f"papers.{slug}.benchmark")
        cases += mod.bench_cases()
    return select(cases, names)


def select(cases: list[Case], names: list[str] | None) -> list[Case]:
    """Cases whose name (or ``paper/name``) contains one of ``names``, case-insensitively; all if none given."""
    if not names:
        return cases
    keys = [n.strip().lower() for n in names if n.strip()]
    return [c for c in cases if any(k in f"{c.paper}/{c.name}".lower() for k in keys)]


def _choices(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    got = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in got if t not in allowed]
    if bad or not got:
        raise SystemExit(f"{flag} {text!r}: choose from {', '.join(allowed)}")
    return tuple(t for t in allowed if t in got)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="python -m shared.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--papers", default=",".join(PAPERS_WITH_ORACLES))
    ap.add_argument("--cases", default="", help="comma-separated substrings of case names to keep (default: all)")
    ap.add_argument("--modes", default=",".join(MODES), help="precisions to time: fp32,bf16")
    ap.add_argument("--kinds", default=",".join(KINDS), help="steps to time: train,infer")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="reproductions/BENCHMARKS.md")
    ap.add_argument("--shared-note", default="", help="a sentence on how busy the machine was (written in the file)")
    a = ap.parse_args(argv)
    modes, kinds = _choices(a.modes, MODES, "--modes"), _choices(a.kinds, KINDS, "--kinds")
    t0 = time.perf_counter()
    torch.manual_seed(0)
    env = machine()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    cases = collect([p for p in a.papers.split(",") if p], a.cases.split(",") if a.cases else None)
    if not cases:
        raise SystemExit(f"no benchmark case matches --papers {a.papers!r} --cases {a.cases!r}")
    rows = []
    for case in cases:
        print(f"bench: {case.paper} / {case.name}", flush=True)
        try:
            rows += run_case(case, a.rounds, peaks, modes, kinds)
        except Exception as e:  # one broken case must not lose the others' numbers
            case.note = (case.note + " " if case.note else "") + f"FAILED: {type(e).__name__}: {str(e)[:200]}"
            print(f"  {case.note}", flush=True)
            continue
        for r in rows[-len(modes) * len(kinds):]:
            print(f"  {r['mode']} {r['kind']}: ours {1e3 * r['ours_s']:.1f} ms, oracle {1e3 * r['theirs_s']:.1f} ms, "
                  f"ratio {r['ratio']:.2f}, MFU {100 * r['mfu_ours']:.1f}% vs {100 * r['mfu_theirs']:.1f}%", flush=True)
    peaks_end = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    peaks = {k: max(peaks[k], peaks_end[k]) for k in peaks}  # the better of the two, measured before and after
    for r in rows:
        r["mfu_ours"] = r["flops"] / r["ours_s"] / peaks[r["mode"]]
        r["mfu_theirs"] = r["flops"] / r["theirs_s"] / peaks[r["mode"]]
    text = render(rows, peaks, env, cases, time.perf_counter() - t0, a.shared_note)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
        print(f"wrote {a.out}")
    return rows


if __name__ == "__main__":
    main()
