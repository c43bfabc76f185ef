"""GPT: a decoder-only Transformer language model (Radford et al. 2018, §3.1 and §4.1).

Read beside the paper:

- §3.1, Eq. (2): ``h_0 = U W_e + W_p``; ``h_l = transformer_block(h_{l-1})``;
  ``P(u) = softmax(h_n W_e^T)``: token embeddings ``W_e`` (``wte``), learned position
  embeddings ``W_p`` (``wpe``), ``n`` blocks of masked multi-head self-attention and a
  position-wise feed-forward network, and an output layer tied to ``W_e``.
- §4.1 "Model specifications": 12 layers, 768-dimensional states, 12 heads, 3072-dimensional
  inner states, GELU, learned positions, N(0, 0.02) initialisation, context 512 tokens,
  dropout 0.1 on residuals, embeddings and attention. The block is post-LN, as in the
  original Transformer and OpenAI's ``finetune-transformer-lm`` code: ``n = LN(x + attn(x))``,
  ``h = LN(n + mlp(n))``.
- GPT-2 (Radford et al. 2019, §2.3), as a configuration: layer norm moved to the input of
  each sub-block (pre-LN), a final layer norm after the last block, residual projections
  initialised with std 0.02/sqrt(N) for N residual layers, context 1024, vocabulary 50,257.

Module names follow Hugging Face's ``GPT2LMHeadModel`` (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
...), so the key maps in ``interop.py`` (weight import from Hugging Face checkpoints) are short.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from shared.attention import scaled_dot_product_attention


@dataclass
class GPTConfig:
    """The model's hyper-parameters; the defaults are GPT-1's (§4.1), the GPT-2 switches follow GPT-2's §2.3."""
    vocab_size: int = 40478          # §4.1: BPE with 40,000 merges (+ HF's 478 extra symbols in `openai-gpt`)
    n_ctx: int = 512                 # §4.1: "sequences of 512 tokens"
    n_layer: int = 12                # §4.1: "12-layer decoder-only transformer"
    n_head: int = 12                 # §4.1: "12 attention heads"
    d_model: int = 768               # §4.1: "768 dimensional states"
    d_ff: int = 3072                 # §4.1: "3072 dimensional inner states"
    dropout: float = 0.1             # §4.1: "residual, embedding, and attention dropouts with a rate of 0.1"
    pre_ln: bool = False             # GPT-2 §2.3: LN at the input of each sub-block (GPT-1: post-LN)
    final_ln: bool = False           # GPT-2 §2.3: "an additional layer normalization was added after the final block"
    scaled_residual_init: bool = False  # GPT-2 §2.3: residual-layer weights scaled by 1/sqrt(N)
    tie_weights: bool = True         # Eq. (2): P(u) = softmax(h_n W_e^T)
    bias: bool = True                # biases in Linear and LayerNorm (nanoGPT's CPU config turns them off)
    activation: str = "gelu_tanh"    # §4.1 GELU; OpenAI's code (and HF's "gelu_new") use the tanh approximation
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02           # §4.1: "a simple weight initialization of N(0, 0.02)"

    def __post_init__(self):
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}; "
                             f"pick n_head that divides d_model (e.g. {self.d_model // 64 or 1})")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not one of {sorted(ACTIVATIONS)}")
        if self.final_ln and not self.pre_ln:
            raise ValueError("final_ln=True only makes sense with pre_ln=True (a post-LN block already ends in LN)")


ACTIVATIONS = {
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # OpenAI's GPT-1/GPT-2 code, HF "gelu_new"
    "gelu": F.gelu,                                        # exact erf GELU
    "relu": F.relu,
}


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention (§3.1; Vaswani et al. 2017 §3.2.2)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.h = cfg.n_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)  # W^Q, W^K, W^V for all heads
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)      # W^O
        self.attn_dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:                    # x: [B, T, D]
        q, k, v = rearrange(self.c_attn(x), "b t (three h d) -> three b h t d", three=3, h=self.h)
        # softmax(Q K^T / sqrt(d_k)) V, position t attends to positions <= t only (the causal mask)
        a = scaled_dot_product_attention(q, k, v, is_causal=True,  # F.scaled_dot_product_attention (shared.attention)
                                         dropout_p=self.attn_dropout if self.training else 0.0)  # [B, h, T, d]
        a = rearrange(a, "b h t d -> b t (h d)")
        return self.resid_dropout(self.c_proj(a))                           # [B, T, D]


class MLP(nn.Module):
    """Position-wise feed-forward network with GELU (§4.1)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias)
        self.act = ACTIVATIONS[cfg.activation]
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:                    # [B, T, D]
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """One transformer_block of Eq. (2): post-LN (GPT-1) or pre-LN (GPT-2)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.pre_ln = cfg.pre_ln
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:                    # [B, T, D]
        if self.pre_ln:                     # GPT-2: x + f(LN(x))
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
        n = self.ln_1(x + self.attn(x))     # GPT-1: LN(x + f(x))
        return self.ln_2(n + self.mlp(n))


class GPT(nn.Module):
    """The language model of Eq. (2); ``forward`` returns next-token logits ``[B, T, V]``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.d_model),   # W_e
            wpe=nn.Embedding(cfg.n_ctx, cfg.d_model),        # W_p, learned (§4.1)
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)]),
            ln_f=nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias) if cfg.final_ln else nn.Identity(),
        ))
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight  # W_e^T in Eq. (2)
        self.apply(self._init_weights)
        if cfg.scaled_residual_init:  # GPT-2 §2.3: residual projections get std / sqrt(N), N = 2 per block
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, 0.0, cfg.init_std / math.sqrt(2 * cfg.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        std = self.cfg.init_std                                # §4.1: N(0, 0.02)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """The final block's activations ``h_n`` (after ``ln_f`` for GPT-2): ``[B, T, D]``."""
        B, T = idx.shape
        if T > self.cfg.n_ctx:
            raise ValueError(f"sequence of {T} tokens is longer than the context n_ctx={self.cfg.n_ctx}; "
                             f"truncate the input or build the model with a larger n_ctx")
        pos = torch.arange(T, device=idx.device)
        h = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # h_0 = U W_e + W_p
        for block in self.transformer.h:
            h = block(h)                                                                # h_l, Eq. (2)
        return self.transformer.ln_f(h)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:                # idx: [B, T] -> logits [B, T, V]
        return self.lm_head(self.hidden(idx))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 greedy: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``idx`` [B, T]: greedy, or sampled with temperature and top-k."""
        if not greedy and temperature <= 0:
            raise ValueError(f"temperature must be > 0 (got {temperature}); use greedy=True for argmax decoding")
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.cfg.n_ctx:])[:, -1, :]           # [B, V]
            if greedy:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx

    def extend_vocab(self, n_new: int) -> None:
        """Add ``n_new`` token embeddings, N(0, 0.02), e.g. §3.3's start / delimiter / extract tokens."""
        old = self.transformer.wte
        wte = nn.Embedding(old.num_embeddings + n_new, old.embedding_dim, device=old.weight.device,
                           dtype=old.weight.dtype)
        with torch.no_grad():
            nn.init.normal_(wte.weight, 0.0, self.cfg.init_std)
            wte.weight[:old.num_embeddings] = old.weight
        self.transformer.wte = wte
        head = nn.Linear(self.cfg.d_model, wte.num_embeddings, bias=False, device=wte.weight.device)
        if self.cfg.tie_weights:
            head.weight = wte.weight
        else:
            with torch.no_grad():
                nn.init.normal_(head.weight, 0.0, self.cfg.init_std)
                head.weight[:old.num_embeddings] = self.lm_head.weight
        self.lm_head = head
        self.cfg.vocab_size = wte.num_embeddings


class GPTClassifier(nn.Module):
    """§3.2: a linear output layer ``W_y`` on the final activation ``h_l^m`` of the extract token.

    ``forward(idx, extract)`` returns ``(class_logits [B, C], lm_logits [B, T, V])``: the second output
    is what the auxiliary objective L1 of Eq. (5) needs.
    """

    def __init__(self, gpt: GPT, n_classes: int, clf_dropout: float = 0.1):  # §4.1: "dropout ... classifier 0.1"
        super().__init__()
        self.gpt = gpt
        self.dropout = nn.Dropout(clf_dropout)
        self.W_y = nn.Linear(gpt.cfg.d_model, n_classes)
        nn.init.normal_(self.W_y.weight, 0.0, gpt.cfg.init_std)
        nn.init.zeros_(self.W_y.bias)

    def forward(self, idx: torch.Tensor, extract: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.gpt.hidden(idx)                                          # [B, T, D]
        h_m = h[torch.arange(idx.size(0), device=idx.device), extract]    # [B, D], h_l^m at the extract token
        return self.W_y(self.dropout(h_m)), self.gpt.lm_head(h)          # Eq. (3) logits, Eq. (2) logits


# -- configurations ---------------------------------------------------------------------------

def gpt1_config(**kw) -> GPTConfig:
    """GPT-1, §4.1 (HF ``openai-gpt``: vocabulary 40,478, 512 positions)."""
    return GPTConfig(**kw)


def gpt2_small_config(**kw) -> GPTConfig:
    """GPT-2 small (Radford et al. 2019, Table 2 and §2.3; HF ``gpt2``)."""
    base = dict(vocab_size=50257, n_ctx=1024, pre_ln=True, final_ln=True, scaled_residual_init=True)
    return GPTConfig(**{**base, **kw})


def nanogpt_cpu_config(**kw) -> GPTConfig:
    """nanoGPT's shakespeare_char CPU run: 4 layers, 4 heads, 128-d, context 64, no dropout, no biases,
    GPT-2 block (pre-LN, final LN, scaled residual init), exact GELU (nanoGPT's ``nn.GELU()``); vocabulary
    65 characters. No counterpart in the paper: a CPU-sized stand-in for §4.1's model."""
    base = dict(vocab_size=65, n_ctx=64, n_layer=4, n_head=4, d_model=128, d_ff=512, dropout=0.0, pre_ln=True,
                final_ln=True, scaled_residual_init=True, bias=False, activation="gelu")
    return GPTConfig(**{**base, **kw})


CONFIGS = {"gpt1": gpt1_config, "gpt2-small": gpt2_small_config, "nanogpt-cpu": nanogpt_cpu_config}
VARIANTS = {name: (lambda f=f: GPT(f())) for name, f in CONFIGS.items()}  # DESIGN "Contract" 1


def build(variant: str, **overrides) -> GPT:
    """``VARIANTS[variant]`` with config fields overridden, e.g. ``build("gpt1", n_layer=2)``; no counterpart in the paper."""
    if variant not in CONFIGS:
        raise ValueError(f"unknown GPT variant {variant!r}; choose one of {', '.join(CONFIGS)}")
    return GPT(CONFIGS[variant](**overrides))


def save_config(cfg: GPTConfig, path: str | Path) -> None:
    """Write ``cfg`` as JSON beside a checkpoint; no counterpart in the paper."""
    Path(path).write_text(json.dumps(asdict(cfg), indent=2) + "\n")


def load_config(path: str | Path) -> GPTConfig:
    """Read a config written by ``save_config``; no counterpart in the paper."""
    return GPTConfig(**json.loads(Path(path).read_text()))
