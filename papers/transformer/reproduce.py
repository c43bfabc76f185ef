"""Reproduce "Attention Is All You Need" (Vaswani et al. 2017) at the scale a preset allows.

quick (2 CPU cores, <= 10 min): a small Transformer on Multi30k de->en (BLEU on test2016 with beam 4
and checkpoint averaging, §6.1), the synthetic reverse task to ~100% exact match, two Table 3 ablations
(h = 1 vs h = 4, eps_ls = 0 vs 0.1) at small scale, attention heatmaps.
paper: the base recipe of §5 on WMT14 En->De (25k+25k tokens per step, 100k steps, warmup 4000,
average of the last 5 checkpoints, beam 4, alpha 0.6); ``torchrun --nproc_per_node=8 -m
papers.transformer.reproduce --preset paper``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.cli import Run
from shared.metrics import bleu
from shared.profiling import count_params
from shared.report import claim, verdict
from shared.trainer import Trainer

from . import data as D
from .decode import average_checkpoint_files, beam_search, greedy_decode
from .loss import label_smoothed_nll, make_optimizer, noam_lr
from .model import BASE, BIG, Transformer, TransformerConfig, param_formula


@dataclass
class Config:
    # -- translation data (§5.1) --------------------------------------------------------------
    dataset: str = "multi30k"           # multi30k (quick) | wmt14_en_de (paper)
    src_lang: str = "de"
    tgt_lang: str = "en"
    vocab_size: int = 6000              # shared BPE; §5.1 "about 37000" on WMT14
    max_train_pairs: int = 0            # 0 = every training pair
    eval_limit: int = 0                 # 0 = the whole val / test split (smoke uses a few)
    # -- model (§3; Table 3 columns) -----------------------------------------------------------
    N: int = 3
    d_model: int = 128
    d_ff: int = 512
    h: int = 4
    P_drop: float = 0.1                 # §5.4
    eps_ls: float = 0.1                 # §5.4
    positional: str = "sinusoid"        # §3.5; "learned" = Table 3 (E)
    # -- training (§5.2, §5.3) -----------------------------------------------------------------
    tokens_per_step: int = 2000         # source (and target) tokens per optimiser step; §5.1: 25000
    grad_accum: int = 1
    max_steps: int = 600
    warmup: int = 4000                  # Eq. (3)
    lr_scale: float = 1.0               # multiplies Eq. (3); 1 in the paper
    val_every: int = 200
    # -- inference (§6.1) ----------------------------------------------------------------------
    avg_last: int = 5                   # average the last 5 checkpoints
    avg_every: int = 1500               # steps between averaged checkpoints (paper: 10 min ~ 1500 x 0.4 s)
    beam: int = 4
    alpha: float = 0.6
    max_extra: int = 50                 # maximum output length = input + 50
    decode_batch: int = 64
    n_samples: int = 5
    # -- Table 3 rows at small scale (comma-separated names of ABLATIONS) ----------------------
    ablations: str = "A-h1,D-ls0"
    ablation_steps: int = 200
    # -- the embedded synthetic task (copy | reverse | sort) ------------------------------------
    syn_task: str = "reverse"
    syn_symbols: int = 20
    syn_max_len: int = 12
    syn_d_model: int = 64
    syn_N: int = 2
    syn_h: int = 4
    syn_d_ff: int = 256
    syn_P_drop: float = 0.0
    syn_steps: int = 600
    syn_batch: int = 128
    syn_warmup: int = 200
    syn_lr_scale: float = 0.5
    syn_n_test: int = 500
    # -- machine ---------------------------------------------------------------------------------
    threads: int = 0                    # torch CPU threads (0 = leave torch's default)


PRESETS = {
    "smoke": Config(vocab_size=300, max_train_pairs=600, eval_limit=24, N=1, d_model=32, d_ff=64, h=2,
                    tokens_per_step=600, max_steps=6, warmup=4, lr_scale=2.0, val_every=3, avg_last=2, avg_every=2,
                    n_samples=2, ablation_steps=3, syn_steps=6, syn_batch=16, syn_warmup=3, syn_n_test=16,
                    syn_d_model=32, syn_d_ff=64, decode_batch=8, threads=1),
    "quick": Config(),
    "paper": Config(dataset="wmt14_en_de", src_lang="en", tgt_lang="de", vocab_size=37000, N=6, d_model=512,
                    d_ff=2048, h=8, P_drop=0.1, eps_ls=0.1, tokens_per_step=25000, max_steps=100_000, warmup=4000,
                    lr_scale=1.0, val_every=5000, avg_last=5, avg_every=1500, decode_batch=128, ablations="",
                    n_samples=10),
}
# quick: measured 0.62 s per 2,000-token step and 0.075 s per synthetic step on one contended core
# (two OpenMP threads were up to 10x slower there on small ops), so 360 + 2 x 120 steps fit in 10 minutes.
PRESETS["quick"] = dataclasses.replace(PRESETS["quick"], max_steps=360, warmup=120, lr_scale=0.3, val_every=120,
                                       avg_every=20, ablation_steps=120, threads=1)

# Table 3 rows at small scale: config changes, the paper's (PPL, BLEU) on newstest2013 for the row and
# the expected direction against the base model (PPL 4.92, BLEU 25.8).
ABLATIONS = {
    "A-h1": dict(change={"h": 1}, label="h = 1 (d_k = d_v = d_model)", paper=(5.29, 24.9),
                 expect={"ppl": "higher", "bleu": "lower"}, source="Table 3 (A)"),
    "A-h16": dict(change={"h": 16}, label="h = 16", paper=(4.91, 25.8), expect={"bleu": "equal"},
                  source="Table 3 (A)"),
    "D-ls0": dict(change={"eps_ls": 0.0}, label="eps_ls = 0", paper=(4.67, 25.3),
                  expect={"ppl": "lower", "bleu": "lower"}, source="Table 3 (D), §5.4"),
    "D-drop0": dict(change={"P_drop": 0.0}, label="P_drop = 0", paper=(5.77, 24.6),
                    expect={"ppl": "higher", "bleu": "lower"}, source="Table 3 (D)"),
    "E-learned": dict(change={"positional": "learned"}, label="learned positional embedding", paper=(4.92, 25.7),
                      expect={"bleu": "equal"}, source="Table 3 (E), §3.5"),
}
PAPER_BASE = (4.92, 25.8)
# With one seed per row, a smaller difference than this is not read as a direction (declared in each
# claim's criterion): PPL relative to the base row, BLEU in points.
NOISE_FLOOR = {"ppl": 0.02, "bleu": 1.0}


# -- helpers ---------------------------------------------------------------------------------------

def model_config(cfg: Config, vocab_size: int, **change) -> TransformerConfig:
    return TransformerConfig(vocab_size=vocab_size, N=cfg.N, d_model=cfg.d_model, d_ff=cfg.d_ff, h=cfg.h,
                             P_drop=cfg.P_drop, eps_ls=cfg.eps_ls, positional=cfg.positional, max_len=512, **change)


def translate(model: Transformer, vocab: D.BPEVocab, sources: list[str], beam: int, alpha: float, max_extra: int,
              batch: int, device) -> list[str]:
    """Detokenised translations of ``sources`` (beam search when beam > 1, else greedy)."""
    ids = [s[:400] for s in vocab.encode(sources)]
    out: list[list[int]] = [[] for _ in ids]
    for idx in D.sentence_batches(ids, batch):
        src, _, _ = D.collate([(ids[i], [0]) for i in idx])
        src = src.to(device)
        hyp = (beam_search(model, src, vocab.bos_id, vocab.eos_id, beam, alpha, max_extra) if beam > 1
               else greedy_decode(model, src, vocab.bos_id, vocab.eos_id, max_extra))
        for i, h in zip(idx, hyp):
            out[i] = h
    return vocab.decode(out)


@torch.no_grad()
def perplexity(model: Transformer, batches: D.TokenBatches, device) -> float:
    """exp of the per-token NLL (no smoothing) over ``batches`` (BPE tokens incl. </s>)."""
    model.eval()
    tot, n = 0.0, 0
    for i in range(len(batches)):
        src, tgt_in, tgt_out = (t.to(device) for t in batches[i])
        _, nll, k = label_smoothed_nll(model(src, tgt_in), tgt_out, 0.0, model.cfg.pad_id)
        tot, n = tot + float(nll) * int(k), n + int(k)
    return math.exp(tot / max(n, 1))


def mt_loss(eps: float):
    def loss_fn(model, batch):
        src, tgt_in, tgt_out = batch
        loss, nll, n = label_smoothed_nll(model(src, tgt_in), tgt_out, eps)
        return loss, {"nll": float(nll), "tokens": float(n)}
    return loss_fn


def train_translation(run: Run, cfg: Config, name: str, mcfg: TransformerConfig, train: D.TokenBatches,
                      val: D.TokenBatches, val_pairs: list[tuple[str, str]], vocab: D.BPEVocab, max_steps: int,
                      bleu_steps: set[int], snapshot: bool) -> tuple[Transformer, Trainer, Path]:
    """Train one model; eval_fn logs val PPL every ``val_every``, greedy val BLEU at ``bleu_steps`` and keeps
    ``avg_last`` snapshots ``avg_every`` steps apart for checkpoint averaging (§6.1)."""
    torch.manual_seed(run.seed)                       # every run starts from the same initial weights
    model = Transformer(mcfg)
    opt, sched = make_optimizer(model, mcfg.d_model, cfg.warmup, cfg.lr_scale)
    world = run.dist.world_size
    out = run.out / name
    snaps = out / "snapshots"
    if not run.args.resume and run.is_main:           # a fresh run must not average an earlier run's snapshots
        for f in snaps.glob("step*.pt"):
            f.unlink()
    holder: dict = {}

    def eval_fn(m):
        step = holder["trainer"].step
        rec = {}
        if snapshot and step > max_steps - cfg.avg_last * cfg.avg_every and (max_steps - step) % cfg.avg_every == 0 \
                and run.is_main:                      # the last avg_last checkpoints, the final step included
            save_checkpoint({"model": {k: v.detach().cpu() for k, v in m.state_dict().items()}, "step": step},
                            snaps / f"step{step:07d}.pt")
        if step % cfg.val_every == 0 or step == max_steps or step in bleu_steps:
            rec["val_ppl"] = perplexity(m, val, run.device)
        if step in bleu_steps:
            hyp = translate(m, vocab, [s for s, _ in val_pairs], 1, cfg.alpha, cfg.max_extra, cfg.decode_batch,
                            run.device)
            rec["val_bleu_greedy"] = bleu(hyp, [t for _, t in val_pairs])[0]
        m.eval()
        return rec

    every = math.gcd(cfg.val_every, cfg.avg_every, max_steps) if snapshot else cfg.val_every
    for s in bleu_steps:
        every = math.gcd(every, s)
    trainer = Trainer(model, opt, train, loss_fn=mt_loss(mcfg.eps_ls), batch_size=world * cfg.grad_accum,
                      grad_accum=cfg.grad_accum, max_steps=max_steps, out_dir=out, device=run.device,
                      scheduler=sched, collate_fn=D.unwrap, eval_fn=eval_fn, eval_every=every, log_every=10,
                      seed=run.seed, desc=name)
    holder["trainer"] = trainer
    trainer.fit(resume=run.args.resume)
    return model, trainer, snaps


def at_step(history: list[dict], step: int, key: str):
    for r in history:
        if r["step"] == step and key in r:
            return r[key]
    return None


# -- the synthetic task ------------------------------------------------------------------------------

def run_synthetic(run: Run, cfg: Config) -> dict:
    task = D.SyntheticTask(cfg.syn_task, cfg.syn_symbols, cfg.syn_max_len)
    train = task.sample(cfg.syn_steps * cfg.syn_batch, seed=run.seed + 1)
    test = task.sample(cfg.syn_n_test, seed=run.seed + 10_000)
    test_src, _, _ = D.collate(test)
    test_src = test_src.to(run.device)
    torch.manual_seed(run.seed)
    model = Transformer(TransformerConfig(vocab_size=task.vocab_size, N=cfg.syn_N, d_model=cfg.syn_d_model,
                                          d_ff=cfg.syn_d_ff, h=cfg.syn_h, P_drop=cfg.syn_P_drop, max_len=128))
    opt, sched = make_optimizer(model, cfg.syn_d_model, cfg.syn_warmup, cfg.syn_lr_scale)

    def exact_match(m, hyps):
        return sum(h == t for h, (_, t) in zip(hyps, test)) / len(test)

    def eval_fn(m):
        return {"exact_match": exact_match(m, greedy_decode(m, test_src, D.SPECIALS.index(D.BOS),
                                                            D.SPECIALS.index(D.EOS), max_extra=5))}

    def loss_fn(m, batch):
        src, tgt_in, tgt_out = batch
        loss, nll, _ = label_smoothed_nll(m(src, tgt_in), tgt_out, 0.1)
        return loss, {"nll": float(nll)}

    trainer = Trainer(model, opt, train, loss_fn=loss_fn, batch_size=cfg.syn_batch, max_steps=cfg.syn_steps,
                      out_dir=run.out / "synthetic", device=run.device, scheduler=sched, collate_fn=D.collate,
                      eval_fn=eval_fn, eval_every=max(cfg.syn_steps // 6, 1), log_every=10, seed=run.seed,
                      desc=f"synthetic-{cfg.syn_task}")
    history = trainer.fit(resume=run.args.resume)
    em_beam = exact_match(model, beam_search(model, test_src, 1, 2, cfg.beam, cfg.alpha, max_extra=5))
    return {"task": cfg.syn_task, "exact_match_greedy": history[-1]["exact_match"], "exact_match_beam": em_beam,
            "curve": [(r["step"], r["exact_match"]) for r in history], "params": count_params(model)}


# -- figures -----------------------------------------------------------------------------------------

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
    import json

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


# -- main ------------------------------------------------------------------------------------------

def load_corpus(run: Run, cfg: Config) -> tuple[dict, str]:
    if cfg.dataset == "multi30k":
        if D.multi30k_available(run.data_dir):
            splits = D.load_multi30k(run.data_dir, cfg.src_lang, cfg.tgt_lang)
            return {"train": splits["train"], "val": splits["val"], "test": splits["test2016"]}, \
                f"Multi30k {cfg.src_lang}->{cfg.tgt_lang} (test2016)"
        run.use_synthetic("multi30k")
        return {"train": D.synthetic_parallel_text(3000, run.seed + 1), "val": D.synthetic_parallel_text(200, 7),
                "test": D.synthetic_parallel_text(200, 8)}, "embedded synthetic parallel text (Multi30k absent)"
    if cfg.dataset == "wmt14_en_de":
        if (cfg.src_lang, cfg.tgt_lang) != ("en", "de"):
            raise SystemExit("wmt14_en_de is read En->De; set --set src_lang=en --set tgt_lang=de")
        splits = D.load_wmt14_en_de(run.data_dir)
        return {"train": splits["train"], "val": splits["dev"], "test": splits["test"]}, \
            "WMT14 En->De (newstest2014; dev newstest2013)"
    raise SystemExit(f"dataset {cfg.dataset!r}: use multi30k or wmt14_en_de (--set dataset=...)")


def main(argv=None):
    run = Run.from_cli("transformer", PRESETS, argv)
    cfg = run.cfg
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    abl_names = [a.strip() for a in cfg.ablations.split(",") if a.strip()]
    for a in abl_names:
        if a not in ABLATIONS:
            raise SystemExit(f"unknown ablation {a!r}; choose from {', '.join(ABLATIONS)}")
    if cfg.dataset not in ("multi30k", "wmt14_en_de"):
        raise SystemExit(f"dataset {cfg.dataset!r}: use multi30k or wmt14_en_de (--set dataset=...)")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    claims, notes, figures = [], [], []

    t = time.perf_counter()
    corpus, corpus_name = load_corpus(run, cfg)          # first, so that missing data fails fast
    timings["read"] = time.perf_counter() - t

    # -- facts: parameter counts (Table 3) and Eq. (3) ----------------------------------------------
    V_paper = 37000
    n_base = count_params(lambda: Transformer(dataclasses.replace(BASE, vocab_size=V_paper)))
    n_big = count_params(lambda: Transformer(dataclasses.replace(BIG, vocab_size=V_paper)))
    assert n_base == param_formula(dataclasses.replace(BASE, vocab_size=V_paper))["total"]
    ok = abs(n_base / 65e6 - 1) < 0.05 and abs(n_big / 213e6 - 1) < 0.05
    claims.append(claim(
        id="params", source="Table 3 (base, big)", statement="transformer-base has 65M and transformer-big 213M "
        "parameters", metric="parameters (M) with a shared 37,000-token vocabulary, base / big",
        paper=[65.0, 213.0], ours=[round(n_base / 1e6, 2), round(n_big / 1e6, 2)],
        criterion="each within 5% (the exact vocabulary size is not published)", verdict=verdict(ok),
        note=f"formula: 4(d^2+d) + 2 d d_ff + d_ff + d + 4d = {param_formula(BASE)['encoder_layer']:,} per base "
             "encoder layer; tests assert the formula exactly"))
    peak = noam_lr(4000, 512, 4000)
    claims.append(claim(
        id="lrate", source="§5.3, Eq. (3)", statement="lrate rises linearly for 4000 warmup steps, then decays as "
        "step^-0.5", metric="peak learning rate (d_model 512, step 4000)", paper=6.988e-4, ours=round(peak, 7),
        criterion="|ours - 6.988e-4| < 1e-7 and lrate(3999), lrate(4001) < peak",
        verdict=verdict(abs(peak - 6.988e-4) < 1e-7 and noam_lr(3999) < peak and noam_lr(4001) < peak),
        note="the same function drives every run's LambdaLR"))

    # -- the synthetic task --------------------------------------------------------------------------
    t = time.perf_counter()
    syn = run_synthetic(run, cfg)
    timings["synthetic"] = time.perf_counter() - t
    claims.append(claim(
        id="synthetic", source="§3 (architecture), PAPER_FACTS CPU plan (a)",
        statement=f"the encoder-decoder learns the {cfg.syn_task} task (masking, cross-attention, positions work)",
        metric="exact match on held-out strings (greedy / beam 4)", paper=None,
        ours=[round(syn["exact_match_greedy"], 4), round(syn["exact_match_beam"], 4)],
        criterion="greedy exact match >= 0.98", verdict=verdict(syn["exact_match_greedy"] >= 0.98,
                                                                 partial=syn["exact_match_greedy"] >= 0.8),
        note=f"{cfg.syn_task} of 1-{cfg.syn_max_len} symbols over {cfg.syn_symbols}; d_model {cfg.syn_d_model}, "
             f"N {cfg.syn_N}, h {cfg.syn_h}, {cfg.syn_steps} steps; not a claim of the paper itself"))

    # -- translation -------------------------------------------------------------------------------
    t = time.perf_counter()
    if cfg.max_train_pairs:
        corpus["train"] = corpus["train"][:cfg.max_train_pairs]
    if cfg.eval_limit:
        corpus["val"], corpus["test"] = corpus["val"][:cfg.eval_limit], corpus["test"][:cfg.eval_limit]
    (run.out / "mt").mkdir(parents=True, exist_ok=True)
    vocab = D.BPEVocab.train((x for pair in corpus["train"] for x in pair), cfg.vocab_size)
    if run.is_main:
        vocab.save(run.out / "mt" / "bpe.json")
    enc = {k: list(zip(vocab.encode([s for s, _ in v]), vocab.encode([t for _, t in v]))) for k, v in corpus.items()}
    micro_tokens = cfg.tokens_per_step // (run.dist.world_size * cfg.grad_accum)
    train = D.TokenBatches(enc["train"], micro_tokens, seed=run.seed, max_len=min(256, micro_tokens - 2))
    val = D.TokenBatches(enc["val"], max(micro_tokens, 4000), seed=0, max_len=400)
    timings["data"] = time.perf_counter() - t
    src_tok = sum(len(s) + 1 for s, _ in enc["train"])
    notes.append(f"Translation data: {corpus_name}; {len(corpus['train']):,} training pairs, shared BPE vocabulary "
                 f"of {len(vocab):,} tokens (tokenizers, Metaspace); {len(train):,} batches of about "
                 f"{micro_tokens:,} source/target tokens ({src_tok:,} source tokens per epoch).")

    abl_steps = min(cfg.ablation_steps, cfg.max_steps)
    t = time.perf_counter()
    mcfg = model_config(cfg, len(vocab))
    model, trainer, snaps = train_translation(run, cfg, "mt", mcfg, train, val, corpus["val"], vocab, cfg.max_steps,
                                              bleu_steps={abl_steps, cfg.max_steps} if abl_names else {cfg.max_steps},
                                              snapshot=True)
    timings["mt_train"] = time.perf_counter() - t
    hist = trainer.history

    # checkpoint averaging (§6.1) over the snapshots kept at the end of training
    t = time.perf_counter()
    files = sorted(snaps.glob("step*.pt"))[-cfg.avg_last:]
    avg_model = model
    if len(files) >= 2:
        avg_model = Transformer(mcfg).to(run.device)
        avg_model.load_state_dict(average_checkpoint_files(files))
    avg_steps = [int(load_checkpoint(f)["step"]) for f in files]
    val_ppl_last, val_ppl_avg = perplexity(model, val, run.device), perplexity(avg_model, val, run.device)
    sources, refs = [s for s, _ in corpus["test"]], [r for _, r in corpus["test"]]
    hyp_beam = translate(avg_model, vocab, sources, cfg.beam, cfg.alpha, cfg.max_extra, cfg.decode_batch, run.device)
    timings["test_beam"] = time.perf_counter() - t
    t = time.perf_counter()
    hyp_greedy = translate(avg_model, vocab, sources, 1, cfg.alpha, cfg.max_extra, cfg.decode_batch, run.device)
    timings["test_greedy"] = time.perf_counter() - t
    bleu_beam, signature = bleu(hyp_beam, refs)
    bleu_greedy, _ = bleu(hyp_greedy, refs)
    synthetic_mt = "multi30k" in run.synthetic
    claims.append(claim(
        id="bleu", source="Table 2, §6.1", statement="the Transformer (base) translates: 27.3 BLEU on WMT14 En-De "
        "newstest2014", metric=f"BLEU, {corpus_name}, beam {cfg.beam}, alpha {cfg.alpha}, average of last "
        f"{len(files)} checkpoints", paper=27.3, ours=round(bleu_beam, 2),
        criterion="none: a different corpus, model size and budget", verdict="not comparable",
        note=f"{count_params(model) / 1e6:.2f}M-parameter model trained {cfg.max_steps} steps; greedy gives "
             f"{bleu_greedy:.2f}; sacrebleu {signature}"))
    notes.append(f"BLEU signature: `{signature}` (detokenised, cased).")

    # -- Table 3 ablations at small scale -------------------------------------------------------------
    base_ppl, base_bleu = at_step(hist, abl_steps, "val_ppl"), at_step(hist, abl_steps, "val_bleu_greedy")
    ablation_results = {"base": {"val_ppl": base_ppl, "val_bleu_greedy": base_bleu, "steps": abl_steps}}
    logs = {"base": run.out / "mt" / "log.jsonl"}
    for a in abl_names:
        spec = ABLATIONS[a]
        t = time.perf_counter()
        acfg = dataclasses.replace(mcfg, **spec["change"])
        _, tr, _ = train_translation(run, cfg, f"ablation-{a}", acfg, train, val, corpus["val"], vocab, abl_steps,
                                     bleu_steps={abl_steps}, snapshot=False)
        timings[f"ablation_{a}"] = time.perf_counter() - t
        ppl, bl = at_step(tr.history, abl_steps, "val_ppl"), at_step(tr.history, abl_steps, "val_bleu_greedy")
        ablation_results[a] = {"val_ppl": ppl, "val_bleu_greedy": bl, "steps": abl_steps}
        logs[a] = run.out / f"ablation-{a}" / "log.jsonl"
        checks = []
        for key, ours_v, base_v in (("ppl", ppl, base_ppl), ("bleu", bl, base_bleu)):
            want = spec["expect"].get(key)
            # one seed: a difference inside the noise floor shows no direction at all
            floor = NOISE_FLOOR[key] * (base_v if key == "ppl" else 1.0)
            if want == "higher":
                checks.append(ours_v > base_v + floor)
            elif want == "lower":
                checks.append(ours_v < base_v - floor)
            elif want == "equal":
                checks.append(abs(ours_v - base_v) <= (0.5 if key == "bleu" else 0.05 * base_v))
        exp_txt = ", ".join(f"{k} {v}" for k, v in spec["expect"].items())
        claims.append(claim(
            id=f"table3-{a}", source=spec["source"], statement=f"{spec['label']} against the base row: paper PPL "
            f"{spec['paper'][0]} vs {PAPER_BASE[0]}, BLEU {spec['paper'][1]} vs {PAPER_BASE[1]}",
            metric=f"val PPL / greedy val BLEU after {abl_steps} steps, ablation vs base",
            paper=[spec["paper"][0], PAPER_BASE[0], spec["paper"][1], PAPER_BASE[1]],
            ours=[round(ppl, 3), round(base_ppl, 3), round(bl, 2), round(base_bleu, 2)],
            criterion=f"direction of the paper's effect: {exp_txt} than the base, by more than the noise floor "
                      f"(PPL {NOISE_FLOOR['ppl']:.0%} relative, BLEU {NOISE_FLOOR['bleu']:g} point)",
            verdict=verdict(all(checks), partial=any(checks)),
            note="one seed, same initial weights and batch order, small scale; BPE-token PPL on the "
                 f"{'synthetic' if synthetic_mt else 'Multi30k'} val split (the paper's numbers are newstest2013)"))

    # -- figures, samples ------------------------------------------------------------------------------
    if run.is_main:
        curves_figure(logs, syn, run.out / "curves.png")
        figures.append({"file": "curves.png", "caption": "Left: training (per-step) and validation perplexity of "
                        "the translation model and the Table 3 ablations. Right: greedy exact match on the "
                        f"synthetic {cfg.syn_task} task."})
        example = sources[0]
        out_example = attention_figure(avg_model, vocab, example, run.device, run.out / "attention.png")
        figures.append({"file": "attention.png", "caption": f"Attention weights of the last encoder layer "
                        f"(top) and the last decoder layer's encoder-decoder attention (bottom), one panel per head, "
                        f"for the test sentence '{example}' -> '{out_example}'."})
    for s, r, h in list(zip(sources, refs, hyp_beam))[:cfg.n_samples]:
        notes.append(f"Sample: SRC `{s}` | REF `{r}` | OURS `{h}`")
    notes.append("Table 3 rows at small scale: each ablation restarts from the same initial weights and batch order as "
                 f"the base model and is compared with the base model's own evaluation at step {abl_steps} "
                 "(Eq. (3) does not depend on the total step count, so the base run's state at that step is "
                 "what a run of that length would give).")
    timings["total"] = time.perf_counter() - t0
    results = {
        "bleu_test_beam_avg": bleu_beam, "bleu_test_greedy_avg": bleu_greedy, "bleu_signature": signature,
        "val_ppl_last": val_ppl_last, "val_ppl_averaged": val_ppl_avg, "averaged_steps": avg_steps,
        "mt_params": count_params(model), "vocab": len(vocab), "synthetic": syn, "ablations": ablation_results,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "samples": [{"src": s, "ref": r, "hyp": h} for s, r, h in list(zip(sources, refs, hyp_beam))[:cfg.n_samples]],
    }
    notes.append("Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + ".")
    run.finish(claims, figures=figures, title="Attention Is All You Need (Vaswani et al. 2017)", notes=notes,
               results=results, summary=f"Small Transformer ({cfg.N}+{cfg.N} layers, d_model {cfg.d_model}, h {cfg.h}, "
               f"d_ff {cfg.d_ff}) on {corpus_name}: BLEU {bleu_beam:.2f} (beam {cfg.beam}, averaged checkpoints). "
               f"Synthetic {cfg.syn_task} task exact match {syn['exact_match_greedy']:.3f}.")


if __name__ == "__main__":
    main()
