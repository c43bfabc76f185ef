"""Training-step time of our Transformer against ``torch.nn.Transformer`` of the same size.

Both models get the same shared, sqrt(d_model)-scaled embedding, sinusoidal PE and tied output
projection, the same batch, label-smoothed loss and Adam step; dropout is 0 in both (nn.Transformer
also drops attention weights and FFN activations, which the paper does not), and ours is built with
``final_norm=True`` so the parameter counts are equal. Prints the median step times and the ratio.

    python -m papers.transformer.benchmark [--d-model 256 --layers 3 --heads 4 --d-ff 1024 --vocab 8000
                                            --batch 64 --length 24 --threads 1 --iters 10]
"""
from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from shared.profiling import count_params, time_fn

from .loss import label_smoothed_nll
from .model import Transformer, TransformerConfig, causal_mask, sinusoidal_encoding


class TorchSeq2Seq(nn.Module):
    """nn.Transformer with the paper's embedding/output sharing around it."""

    def __init__(self, V: int, d: int, h: int, N: int, d_ff: int):
        super().__init__()
        self.embed = nn.Embedding(V, d)
        self.core = nn.Transformer(d, h, N, N, d_ff, dropout=0.0, batch_first=True)
        self.register_buffer("pe", sinusoidal_encoding(512, d), persistent=False)
        self.d = d

    def forward(self, src, tgt):
        emb = lambda t: self.embed(t) * math.sqrt(self.d) + self.pe[:t.size(1)]  # noqa: E731
        out = self.core(emb(src), emb(tgt), tgt_mask=~causal_mask(tgt.size(1), tgt.device)[0, 0],
                        src_key_padding_mask=src == 0, tgt_key_padding_mask=tgt == 0,
                        memory_key_padding_mask=src == 0)
        return F.linear(out, self.embed.weight)


def bench(args) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    ours = Transformer(TransformerConfig(vocab_size=args.vocab, N=args.layers, d_model=args.d_model, d_ff=args.d_ff,
                                         h=args.heads, P_drop=0.0, final_norm=True, max_len=512)).to(device)
    ref = TorchSeq2Seq(args.vocab, args.d_model, args.heads, args.layers, args.d_ff).to(device)
    src = torch.randint(4, args.vocab, (args.batch, args.length), device=device)
    tgt = torch.randint(4, args.vocab, (args.batch, args.length + 1), device=device)
    out = {"params_ours": count_params(ours), "params_nn": count_params(ref)}
    for name, model in (("ours", ours), ("nn", ref)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
        model.train()

        def step():
            loss = label_smoothed_nll(model(src, tgt[:, :-1]), tgt[:, 1:], 0.1)[0]
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        out[f"step_s_{name}"] = time_fn(step, warmup=2, iters=args.iters)["median"]
    out["ratio_ours_over_nn"] = out["step_s_ours"] / out["step_s_nn"]
    out["setting"] = vars(args)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m papers.transformer.benchmark", description=__doc__)
    for k, v in dict(d_model=256, layers=3, heads=4, d_ff=1024, vocab=8000, batch=64, length=24, threads=1,
                     iters=10).items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    ap.add_argument("--device", default="cpu")
    res = bench(ap.parse_args(argv))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()


def bench_cases() -> list:
    """``make bench`` (``shared.bench``): our Transformer against ``torch.nn.Transformer`` of the same size
    (d_model 256, 3 + 3 layers, 4 heads, d_ff 1024, vocabulary 8,000, batch 64 x 24 tokens), Adam as §5.3."""
    from shared.bench import Case

    torch.manual_seed(0)
    V, d, N, h, d_ff, B, T = 8000, 256, 3, 4, 1024, 64, 24
    ours = Transformer(TransformerConfig(vocab_size=V, N=N, d_model=d, d_ff=d_ff, h=h, P_drop=0.0, final_norm=True,
                                         max_len=512))
    ref = TorchSeq2Seq(V, d, h, N, d_ff)
    src = torch.randint(4, V, (B, T))
    tgt = torch.randint(4, V, (B, T + 1))
    return [Case(
        paper="transformer", name=f"d_model {d}, {N}+{N} layers, batch {B} x {T}", oracle="torch nn.Transformer",
        ours=ours, theirs=ref, inputs=(src, tgt[:, :-1]), forward_ours=lambda m, inp: m(*inp),
        forward_theirs=lambda m, inp: m(*inp), loss=lambda out: label_smoothed_nll(out.float(), tgt[:, 1:], 0.1)[0],
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-4, betas=(0.9, 0.98), eps=1e-9), iters=3,
        note="nn.Transformer's inference fast path (nested tensors) runs in fp32; it fails under bf16 autocast "
             "on the CPU, so bf16 inference runs without it.")]
