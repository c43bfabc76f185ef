"""Benchmark (not a test): training iterations per second, ours vs Hugging Face's ``GPT2LMHeadModel``.

Both models have the same GPT-2 architecture and size (biases on, dropout off), the same batch, the same
AdamW (foreach) and gradient clipping; one iteration = forward, loss, backward, clip, optimizer step.

    flock /tmp/papers-cpu.lock .venv/bin/python -m papers.gpt.benchmark [--device cpu|cuda] [--iters 30]

Prints one line per size with both rates and the ratio ours / HF (> 1: ours is faster).
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from shared.device import get_device
from shared.profiling import time_fn

from .model import from_hf

SIZES = {  # name: (n_layer, n_head, d_model, n_ctx, vocab, batch)
    "nanogpt-cpu (4x128, ctx 64, batch 12)": (4, 4, 128, 64, 65, 12),
    "nanogpt-gpu (6x384, ctx 256, batch 8)": (6, 6, 384, 256, 65, 8),
}


def bench(size, device, iters: int) -> dict:
    from transformers import GPT2Config, GPT2LMHeadModel

    L, H, D, T, V, B = size
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=D, n_layer=L, n_head=H, resid_pdrop=0.0,
                                    embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0))
    ours = from_hf(hf)
    x = torch.randint(0, V, (B, T), device=device)
    y = torch.randint(0, V, (B, T), device=device)
    rates = {}
    for name, model, fwd in (("ours", ours, lambda m: m(x)), ("hf", hf, lambda m: m(x).logits)):
        model.to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)

        def step():
            loss = F.cross_entropy(fwd(model).flatten(0, 1), y.flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        rates[name] = 1.0 / time_fn(step, warmup=3, iters=iters)["median"]
    return {"ours_it_s": rates["ours"], "hf_it_s": rates["hf"], "ratio": rates["ours"] / rates["hf"]}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m papers.gpt.benchmark", description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--sizes", default="all", help="comma-separated prefixes of the size names, or all")
    a = ap.parse_args(argv)
    device = get_device(a.device)
    out = {}
    for name, size in SIZES.items():
        if a.sizes != "all" and not any(name.startswith(s) for s in a.sizes.split(",")):
            continue
        r = bench(size, device, a.iters)
        out[name] = r
        print(f"{name}: ours {r['ours_it_s']:.2f} it/s, GPT2LMHeadModel {r['hf_it_s']:.2f} it/s, "
              f"ratio ours/HF {r['ratio']:.2f}  [{device}, {torch.get_num_threads()} threads]", flush=True)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
