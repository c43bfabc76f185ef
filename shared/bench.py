"""``make bench``: our models against their independent implementations, step time and MFU.

Each paper with an oracle exposes ``bench_cases()`` in ``papers/<paper>/benchmark.py``: a list of
:class:`Case` (our module, the oracle's module at the same size, the same inputs, loss and optimizer).
For every case, in fp32 and in bf16 autocast (fp32 master weights), this times a training step (forward,
loss, backward, optimizer step) and an inference forward (``no_grad``, eval mode) of ours and of the oracle,
and reports the ratio ours / theirs with a 95% interval, a verdict against the target, and the model FLOPs
utilisation (MFU) of each against the matmul peak measured in the same run (a large square matmul in the same
dtype and thread count). Not part of ``make test``.

How a row is measured (paired rounds):

- Warm-up: round 0 calls each side twice (allocator, autocast caches, optimizer state); those timings are
  discarded. The second one sizes the blocks: each later round times a block of ``n`` calls per side, the
  fewest calls that last ``--block-ms`` (100 ms) on the slower side, at most ``Case.iters``, at least one.
  (Checked on four cases: the first call after switching sides is no slower than the next ones, so the
  blocks are not trimmed further.)
- ``--rounds`` (12) timed rounds follow. In each, ours and theirs are timed back to back for the same step
  (ours then theirs, and the whole sequence reversed every other round: ABBA), so drifting machine load hits
  both sides of a pair alike. A round's paired ratio is (median of ours' block) / (median of theirs' block).
- The row reports the median of the per-round ratios and a distribution-free 95% interval for that median:
  the order statistics ``[r_(k), r_(n+1-k)]`` of the ``n`` sorted ratios, with ``k`` the largest rank such that
  ``P(Binomial(n, 1/2) <= k - 1) <= 2.5%`` (the sign-test interval; its coverage ``1 - 2 P(B <= k - 1)`` is
  at least 95% whatever the distribution of the ratios, 96.1% at 12 rounds, ``[r_(3), r_(10)]``). It needs
  no seed and no normality, and one round hit by outside load moves it by one rank at most. Fewer than 6
  rounds give no 95% interval (the row is then inconclusive).
- Verdict against the target (ours <= 0.9x the oracle for transformer models, <= 1.0x for CNNs, ``TARGETS``):
  "meets" when the interval's upper bound is <= target, "above" when its lower bound is > target,
  "inconclusive" when the interval straddles the target.
- The times shown are the medians of the per-round block medians of each side; MFU uses them.
- What the interval does not cover: variation between processes. Two runs on the idle machine (4817de9 and
  276e960) agreed on 40 of 52 verdicts. 11 rows moved between a definite verdict and inconclusive, and one row
  flipped: Fast YOLO fp32 inference was 1.03 [1.02, 1.07] in one run and 0.930 [0.892, 0.959] in the other.
  Something that stays fixed for the life of a process (where the weights and buffers lie in memory, say) can
  shift a ratio by several percent. A verdict that matters should hold in two runs.

    python -m shared.bench [--papers gpt,resnet,transformer] [--cases ResNet-50] [--modes bf16] [--kinds train]
                           [--rounds 12] [--block-ms 100] [--out reproductions/BENCHMARKS.md]

``--out X.md`` also writes ``X.json``: the machine, the peaks and every row with its per-round ratios.

``--cases`` keeps the cases whose name contains one of the given (case-insensitive) substrings,
``--modes`` / ``--kinds`` the precisions and steps to time: a single row can be re-measured alone
(with ``--out ''`` so that the committed table is left as it is).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
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
# Issue 18: ours <= 0.9x the oracle's step time for transformer models, <= 1.0x for CNNs
# (Faster R-CNN's heads: a conv layer, RoI pooling and fc layers on a VGG-16 map, counted with the CNNs).
TARGETS = {"gpt": 0.9, "transformer": 0.9, "vit": 0.9, "bert": 0.9, "resnet": 1.0, "yolo": 1.0, "faster_rcnn": 1.0}
LEVEL = 0.95
VERDICTS = ("meets", "above", "inconclusive")


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
    target: float | None = None    # ours / theirs to meet; None: TARGETS[paper]


def _clock(fn: Callable, iters: int) -> float:
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def _binom_cdf(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n


def median_interval_rank(n: int, level: float = LEVEL) -> int | None:
    """The rank ``k`` (1-based) of the distribution-free interval ``[x_(k), x_(n+1-k)]`` for a median: the
    largest ``k`` with ``P(Binomial(n, 1/2) <= k - 1) <= (1 - level) / 2``; None when even ``[min, max]`` falls
    short of ``level`` (n < 6 at 95%)."""
    k = 0
    while k + 1 <= (n + 1) // 2 and _binom_cdf(k, n) <= (1 - level) / 2:
        k += 1
    return k or None


def median_interval(values, level: float = LEVEL) -> tuple[float, float] | None:
    """Sign-test interval for the median of ``values`` (order statistics, coverage >= ``level``), or None."""
    x = sorted(values)
    k = median_interval_rank(len(x), level)
    return None if k is None else (x[k - 1], x[len(x) - k])


def verdict(interval: tuple[float, float] | None, target: float | None) -> str:
    """"meets" (upper bound <= target), "above" (lower bound > target), else "inconclusive"; "-" without a target."""
    if target is None:
        return "-"
    if interval is None:
        return "inconclusive"
    lo, hi = interval
    return "meets" if hi <= target else "above" if lo > target else "inconclusive"


def target_of(case: Case) -> float | None:
    return case.target if case.target is not None else TARGETS.get(case.paper)


def paired_row(ours: list[float], theirs: list[float], target: float | None) -> dict:
    """Per-round times of each side (same rounds) -> the paired ratios, their median, interval and verdict."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError("paired rounds need the same, non-zero number of timings on each side")
    ratios = [o / t for o, t in zip(ours, theirs)]
    iv = median_interval(ratios)
    return dict(ours_s=statistics.median(ours), theirs_s=statistics.median(theirs), ratios=ratios,
                ratio=statistics.median(ratios), lo=iv[0] if iv else None, hi=iv[1] if iv else None,
                target=target, verdict=verdict(iv, target))


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


def block_calls(t_ours: float, t_theirs: float, iters: int, block_s: float) -> int:
    """Calls per side per round: the fewest lasting ``block_s`` on the slower side, within [1, iters]."""
    return max(1, min(iters, math.ceil(block_s / max(t_ours, t_theirs, 1e-9))))


def run_case(case: Case, rounds: int, peaks: dict, modes=MODES, kinds=KINDS, block_s: float = 0.1) -> list[dict]:
    case.flops = _flops(case)
    target = target_of(case)
    rows = []
    for mode in modes:
        fns = {(w, k): f for w in ("ours", "theirs") for k, f in zip(("train", "infer"), _fns(case, w, mode))
               if k in kinds}
        order = [(w, k) for k in kinds for w in ("ours", "theirs")]  # each step's pair back to back
        warm = {}
        for key in order:  # round 0, discarded: two calls each; the second sizes the blocks
            fns[key]()
            warm[key] = _clock(fns[key], 1)
        n = {k: block_calls(warm[("ours", k)], warm[("theirs", k)], case.iters, block_s) for k in kinds}
        times = {key: [] for key in order}
        for r in range(rounds):  # the sequence reversed every other round (ABBA): neither side always first
            for key in (order if r % 2 == 0 else order[::-1]):
                times[key].append(_clock(fns[key], n[key[1]]))
        for kind in kinds:
            row = paired_row(times[("ours", kind)], times[("theirs", kind)], target)
            peak = peaks[mode]
            rows.append(dict(paper=case.paper, case=case.name, oracle=case.oracle, mode=mode, kind=kind,
                             calls=n[kind], flops=case.flops[kind], **row,
                             mfu_ours=case.flops[kind] / row["ours_s"] / peak,
                             mfu_theirs=case.flops[kind] / row["theirs_s"] / peak))
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


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def verdict_counts(rows: list[dict]) -> dict:
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}


def render(rows: list[dict], peaks: dict, env: dict, cases: list[Case], seconds: float, shared_note: str,
           rounds: int, block_s: float) -> str:
    k = median_interval_rank(rounds)
    cover = f"{100 * (1 - 2 * _binom_cdf(k - 1, rounds)):.1f}%" if k else "-"
    counts = verdict_counts(rows)
    out = ["# Benchmarks: ours against the oracle implementations", "",
           "Generated by `make bench` (`python -m shared.bench`); do not edit by hand. Each row times the same "
           "shapes, dtype and thread count for ours and the oracle. A training step is forward, loss, backward and "
           "optimizer step; inference is a `no_grad` forward in eval mode. bf16 is `torch.autocast` with fp32 master "
           "weights. MFU is the model's FLOPs (forward counted by `torch.utils.flop_counter` on ours; a training step "
           "counts 3x) per second over the matmul peak measured in the same run and dtype. Ratio < 1: ours is faster.",
           "",
           f"Method (paired rounds, `shared/bench.py`'s docstring): a warm-up round of two calls per side, discarded; "
           f"then {rounds} rounds, in each of which ours and the oracle are timed back to back on the same step "
           f"(a block of the fewest calls lasting {1e3 * block_s:.0f} ms, at most the case's `iters`; the order "
           f"reversed every other round, ABBA). Each round gives one paired ratio (median of ours' block / median "
           f"of the oracle's). **ours / oracle** is the median of the {rounds} ratios; the interval is the "
           f"distribution-free (sign-test) interval for that median, the sorted ratios' ranks "
           f"[{k or '-'}, {rounds + 1 - k if k else '-'}] (coverage {cover} >= 95%, no seed, no normality assumed). "
           f"Target: ours <= 0.9x the oracle for transformer models, <= 1.0x for CNNs. Verdict: **meets** if the "
           f"interval's upper bound is <= target, **above** if its lower bound is > target, **inconclusive** if it "
           f"straddles the target. Times are the medians over rounds of each side's block median.", "",
           f"Machine: {env['cpu']}, {env['cores']} cores, {env['threads']} torch threads, torch {env['torch']}, "
           f"native bf16 units: {'yes' if env['native_bf16'] else 'no'}. Matmul peak (2048 x 2048): "
           f"fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s. Whole run {seconds:.0f} s; "
           f"1-minute load average at the start {env['load_before'] or 0:.2f}.", "",
           f"Verdicts: {counts['meets']} meets, {counts['above']} above, {counts['inconclusive']} inconclusive "
           f"(of {len(rows)} rows).", ""]
    if shared_note:
        out += [shared_note, ""]
    out += ["| paper | case | oracle | precision | step | ours (ms) | oracle (ms) | ours / oracle | 95% interval "
            "| target | verdict | MFU ours | MFU oracle |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['paper']} | {r['case']} | {r['oracle']} | {r['mode']} | {r['kind']} | {1e3 * r['ours_s']:.1f} | "
                   f"{1e3 * r['theirs_s']:.1f} | **{r['ratio']:.3f}** | [{_fmt(r['lo'], '.3f')}, {_fmt(r['hi'], '.3f')}] | "
                   f"{_fmt(r['target'], '.1f')} | {r['verdict']} | {100 * r['mfu_ours']:.1f}% | "
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
    ap.add_argument("--rounds", type=int, default=12, help="timed paired rounds (>= 6 for a 95%% interval)")
    ap.add_argument("--block-ms", type=float, default=100.0,
                    help="each side's block per round lasts at least this long (at most Case.iters calls)")
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
        t_case = time.perf_counter()
        try:
            rows += run_case(case, a.rounds, peaks, modes, kinds, a.block_ms / 1e3)
        except Exception as e:  # one broken case must not lose the others' numbers
            case.note = (case.note + " " if case.note else "") + f"FAILED: {type(e).__name__}: {str(e)[:200]}"
            print(f"  {case.note}", flush=True)
            continue
        for r in rows[-len(modes) * len(kinds):]:
            print(f"  {r['mode']} {r['kind']}: ours {1e3 * r['ours_s']:.1f} ms, oracle {1e3 * r['theirs_s']:.1f} ms "
                  f"({r['calls']} calls a block), ratio {r['ratio']:.3f} [{_fmt(r['lo'], '.3f')}, {_fmt(r['hi'], '.3f')}] "
                  f"target {_fmt(r['target'], '.1f')}: {r['verdict']}; MFU {100 * r['mfu_ours']:.1f}% vs "
                  f"{100 * r['mfu_theirs']:.1f}%", flush=True)
        print(f"  ({time.perf_counter() - t_case:.0f} s)", flush=True)
    peaks_end = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    peaks = {k: max(peaks[k], peaks_end[k]) for k in peaks}  # the better of the two, measured before and after
    for r in rows:
        r["mfu_ours"] = r["flops"] / r["ours_s"] / peaks[r["mode"]]
        r["mfu_theirs"] = r["flops"] / r["theirs_s"] / peaks[r["mode"]]
    text = render(rows, peaks, env, cases, time.perf_counter() - t0, a.shared_note, a.rounds, a.block_ms / 1e3)
    print("verdicts: " + ", ".join(f"{n} {v}" for v, n in verdict_counts(rows).items()), flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
        raw = Path(a.out).with_suffix(".json")  # the per-round ratios behind every interval
        raw.write_text(json.dumps(dict(env=env, peaks=peaks, rounds=a.rounds, block_ms=a.block_ms,
                                       seconds=round(time.perf_counter() - t0, 1), rows=rows), indent=1) + "\n")
        print(f"wrote {a.out} and {raw}")
    return rows


if __name__ == "__main__":
    main()
