"""Benchmark cases (not tests): our BERT against Hugging Face's ``BertForPreTraining`` at the same size.

Both models are ported from the same random HF weights through ``interop.py`` (dropout off), take the same
batch (a sentence pair per row, 15% of the positions labelled) and the same AdamW (foreach); the loss is
App. A.2's sum of the mean MLM and NSP losses over full-sequence logits, for both. ``make bench`` times
them with ``shared.bench``; ``python -m papers.bert.benchmark`` runs only these cases.
"""
from __future__ import annotations

import sys

import torch

from .interop import from_hf
from .loss import IGNORE, pretraining_loss

SIZES = {  # name: (L, H, A, vocab, seq, batch, timed iterations per round)
    "bert-cpu (quick preset): 2 x 128, 2 heads, vocab 8192, 64 tokens, batch 32": (2, 128, 2, 8192, 64, 32, 5),
    "4 x 256, 4 heads, vocab 8192, 128 tokens, batch 16": (4, 256, 4, 8192, 128, 16, 2),
}


def bench_cases() -> list:
    from transformers import BertConfig, BertForPreTraining

    from shared.bench import Case

    cases = []
    for name, (L, H, A, V, T, B, iters) in SIZES.items():
        torch.manual_seed(0)
        hf = BertForPreTraining(BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=A,
                                           intermediate_size=4 * H, max_position_embeddings=max(T, 128),
                                           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
        ours = from_hf(hf)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(5, V, (B, T), generator=g)
        tt = torch.zeros_like(x)
        tt[:, T // 2:] = 1
        labels = torch.where(torch.rand(B, T, generator=g) < 0.15, x, torch.full_like(x, IGNORE))
        nsp = torch.randint(0, 2, (B,), generator=g)
        cases.append(Case(
            paper="bert", name=name, oracle="transformers BertForPreTraining", ours=ours, theirs=hf, inputs=(x, tt),
            forward_ours=lambda m, inp: m(inp[0], inp[1]),
            forward_theirs=lambda m, inp: (lambda o: (o.prediction_logits, o.seq_relationship_logits))(
                m(input_ids=inp[0], token_type_ids=inp[1])),
            loss=lambda out, labels=labels, nsp=nsp: pretraining_loss(out[0], labels, out[1], nsp)[0],
            optimizer=lambda p: torch.optim.AdamW(p, lr=1e-4, foreach=True), iters=iters))
    return cases


def main(argv=None):
    from shared.bench import main as bench_main

    return bench_main(["--papers", "bert", "--out", ""] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
