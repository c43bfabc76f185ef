"""Benchmark cases (not tests): our GPT against Hugging Face's ``GPT2LMHeadModel`` at the same size.

Both models have the GPT-2 architecture (biases on, dropout off; ours ported from the HF model's random
weights through ``interop.py``), the same batch and AdamW (foreach). ``make bench`` times them with
``shared.bench``; ``python -m papers.gpt.benchmark`` runs only these cases and prints the rows.
"""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from .interop import from_hf

SIZES = {  # name: (n_layer, n_head, d_model, n_ctx, vocab, batch, timed iterations per round)
    "nanoGPT CPU: 4 x 128, context 64, batch 12": (4, 4, 128, 64, 65, 12, 10),
    "6 x 384, context 256, batch 8": (6, 6, 384, 256, 65, 8, 2),
}


def bench_cases() -> list:
    from transformers import GPT2Config, GPT2LMHeadModel

    from shared.bench import Case

    cases = []
    for name, (L, H, D, T, V, B, iters) in SIZES.items():
        torch.manual_seed(0)
        hf = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=D, n_layer=L, n_head=H, resid_pdrop=0.0,
                                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0))
        ours = from_hf(hf)
        x = torch.randint(0, V, (B, T))
        y = torch.randint(0, V, (B, T))
        cases.append(Case(
            paper="gpt", name=name, oracle="transformers GPT2LMHeadModel", ours=ours, theirs=hf, inputs=(x,),
            forward_ours=lambda m, inp: m(inp[0]), forward_theirs=lambda m, inp: m(inp[0]).logits,
            loss=lambda logits, y=y: F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()),
            optimizer=lambda p: torch.optim.AdamW(p, lr=1e-4, foreach=True), iters=iters))
    return cases


def main(argv=None):
    from shared.bench import main as bench_main

    return bench_main(["--papers", "gpt", "--out", ""] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
