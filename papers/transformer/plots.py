"""Figures of the Transformer report: attention heatmaps (cf. the paper's Figs. 3-5) and training curves."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from . import data as D
from .decode import greedy_decode
from .model import Transformer


def attention_figure(model: Transformer, vocab: D.BPEVocab, sentence: str, device, path: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = vocab.encode([sentence])[0]
    src, _, _ = D.collate([(ids, [0])])
    src = src.to(device)
    hyp = greedy_decode(model, src, vocab.bos_id, vocab.eos_id, 50)[0]
    model.keep_attention_weights(True)
    with torch.no_grad():
        model.eval()
        model(src, torch.tensor([[vocab.bos_id] + hyp], device=device))
    enc_w = model.encoder[-1].self_attn.weights[0].cpu()            # [h, S, S]
    dec_w = model.decoder[-1].cross_attn.weights[0].cpu()           # [h, T, S]
    model.keep_attention_weights(False)
    src_tok = [vocab.tok.id_to_token(i) for i in ids] + ["</s>"]
    tgt_tok = [vocab.tok.id_to_token(i) for i in hyp] + ["</s>"]
    h = enc_w.size(0)
    fig, axes = plt.subplots(2, h, figsize=(3.2 * h, 6.4), squeeze=False)
    for j in range(h):
        for row, (w, ylab, title) in enumerate([(enc_w[j], src_tok, "encoder self-attn"),
                                                (dec_w[j], tgt_tok, "enc-dec attn")]):
            ax = axes[row][j]
            ax.imshow(w.numpy(), cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(src_tok)))
            ax.set_xticklabels(src_tok, rotation=90, fontsize=6)
            ax.set_yticks(range(len(ylab)))
            ax.set_yticklabels(ylab, fontsize=6)
            ax.set_title(f"{title}, last layer, head {j + 1}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return vocab.decode([hyp])[0]


def curves_figure(logs: dict[str, Path], syn: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, log in logs.items():
        if not log.exists():
            continue
        rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        tr = [r for r in rows if "nll" in r and r.get("event") != "eval"]
        a.plot([r["step"] for r in tr], [math.exp(r["nll"]) for r in tr], label=f"{name} train")
        ev = [r for r in rows if r.get("event") == "eval" and "val_ppl" in r]
        a.plot([r["step"] for r in ev], [r["val_ppl"] for r in ev], "o--", label=f"{name} val")
    a.set_yscale("log")
    a.set_xlabel("step")
    a.set_ylabel("perplexity (BPE tokens)")
    a.legend(fontsize=7)
    a.set_title("translation")
    steps, em = zip(*syn["curve"]) if syn["curve"] else ((), ())
    b.plot(steps, em, "o-")
    b.set_ylim(0, 1.02)
    b.set_xlabel("step")
    b.set_ylabel("exact match (greedy)")
    b.set_title(f"synthetic {syn['task']} task")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
