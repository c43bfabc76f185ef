"""The Transformer of Vaswani et al. (2017), §3, read top to bottom beside the paper.

    Encoder (§3.1): N x [ LayerNorm(x + Dropout(MultiHead(x, x, x))),  LayerNorm(x + Dropout(FFN(x))) ]
    Decoder (§3.1): N x [ masked self-attention, encoder-decoder attention, FFN ], each post-LN
    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                                  # §3.2.1, Eq. (1)
    MultiHead(Q, K, V) = Concat(head_1..head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)  # §3.2.2
    FFN(x) = max(0, x W_1 + b_1) W_2 + b_2                                              # §3.3, Eq. (2)
    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),  PE(pos, 2i+1) = cos(...)              # §3.5
    one weight matrix for source embedding, target embedding and pre-softmax linear, embeddings x sqrt(d_model)  # §3.4
    residual dropout on every sub-layer output and on embedding + PE sums              # §5.4

``VARIANTS`` holds transformer-base, transformer-big and the rows of Table 3 as configurations.
Masks are boolean with ``True`` = "may attend" (the convention of ``F.scaled_dot_product_attention``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from shared.attention import scaled_dot_product_attention


@dataclass
class TransformerConfig:
    """The model's hyper-parameters, named as in §3 and Table 3 (N, d_model, d_ff, h, d_k, d_v, P_drop);
    the defaults are the base model. Label smoothing eps_ls (a Table 3 column too) belongs to the training
    objective, ``loss.label_smoothed_nll``, and to the run's config."""
    vocab_size: int = 37000          # shared source/target BPE vocabulary, §5.1 ("about 37000 tokens")
    N: int = 6                       # layers in the encoder stack, §3.1
    N_dec: int | None = None         # layers in the decoder stack (None: = N, as in the paper)
    d_model: int = 512               # §3.1
    d_ff: int = 2048                 # inner FFN dimension, §3.3
    h: int = 8                       # heads, §3.2.2
    d_k: int | None = None           # None: d_model / h (Table 3 rows (B) change it alone)
    d_v: int | None = None           # None: d_model / h
    P_drop: float = 0.1              # residual dropout, §5.4
    positional: str = "sinusoid"     # §3.5; "learned" = Table 3 row (E)
    max_len: int = 1024              # positions a learned embedding (or the PE table) covers
    share_embeddings: bool = True    # §3.4: one matrix for both embeddings and the pre-softmax linear
    scale_embeddings: bool = True    # §3.4: multiply embedding weights by sqrt(d_model)
    final_norm: bool = False         # nn.Transformer's extra LayerNorm after each stack (not in the paper)
    attn_bias: bool = True           # biases on W^Q, W^K, W^V, W^O: not in Eq. (1)-(2)'s notation, but in
                                     # nn.MultiheadAttention and in the 3,152,384-per-layer count; False = paper
    ln_eps: float = 1e-5             # not given in the paper; PyTorch's default
    pad_id: int = 0

    # None fields stay None (so dataclasses.replace(cfg, h=1) re-derives them); read the resolved values:
    @property
    def n_dec(self) -> int:
        return self.N if self.N_dec is None else self.N_dec

    @property
    def dk(self) -> int:
        return self.d_k if self.d_k is not None else self._per_head()

    @property
    def dv(self) -> int:
        return self.d_v if self.d_v is not None else self._per_head()

    def _per_head(self) -> int:
        if self.d_model % self.h:
            raise ValueError(f"d_model={self.d_model} is not divisible by h={self.h}; set d_k and d_v "
                             f"explicitly or pick h dividing d_model")
        return self.d_model // self.h

    def __post_init__(self):
        if self.positional not in ("sinusoid", "learned"):
            raise ValueError(f"positional={self.positional!r}: use 'sinusoid' (§3.5) or 'learned' (Table 3 (E))")
        self.dk, self.dv  # noqa: B018 - validate now


# -- §3.2.1 scaled dot-product attention ---------------------------------------------------------

def attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, mask: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (1) written out: returns the output and the attention weights softmax(QK^T/sqrt(d_k)).

    Q [..., n, d_k], K [..., m, d_k], V [..., m, d_v], mask broadcastable to [..., n, m] (True = keep).
    The model itself calls ``F.scaled_dot_product_attention`` (fused; through ``shared.attention``, which picks
    the unfused kernel for bf16 training on the CPU, where it is faster); a test checks both agree.
    """
    d_k = Q.size(-1)
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)                   # [..., n, m]
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))               # "setting to -inf", §3.2.3
    weights = scores.softmax(dim=-1)
    return weights @ V, weights                                          # [..., n, d_v], [..., n, m]


class MultiHeadAttention(nn.Module):
    """§3.2.2: h parallel heads of d_k / d_v dimensions; W^Q, W^K, W^V per head stacked in one Linear."""

    def __init__(self, d_model: int, h: int, d_k: int, d_v: int, bias: bool = True):
        super().__init__()
        self.h, self.d_k, self.d_v = h, d_k, d_v
        self.W_Q = nn.Linear(d_model, h * d_k, bias=bias)   # the h matrices W_i^Q in R^{d_model x d_k}
        self.W_K = nn.Linear(d_model, h * d_k, bias=bias)
        self.W_V = nn.Linear(d_model, h * d_v, bias=bias)
        self.W_O = nn.Linear(h * d_v, d_model, bias=bias)   # W^O in R^{h d_v x d_model}
        self.keep_weights = False                # set True to keep the last attention map (heatmaps)
        self.weights: torch.Tensor | None = None

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, mask: torch.Tensor | None = None,
                cache: dict | None = None, static_kv: bool = False) -> torch.Tensor:
        """x_q [B, n, d_model] attends over x_kv [B, m, d_model]; mask [B|1, 1|h, n, m].

        ``cache`` (incremental decoding): self-attention appends this step's keys/values to the
        cached ones; encoder-decoder attention (``static_kv``) computes them once.
        """
        q = rearrange(self.W_Q(x_q), "b n (h d) -> b h n d", h=self.h)          # [B, h, n, d_k]
        if cache is not None and static_kv and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k = rearrange(self.W_K(x_kv), "b m (h d) -> b h m d", h=self.h)      # [B, h, m, d_k]
            v = rearrange(self.W_V(x_kv), "b m (h d) -> b h m d", h=self.h)      # [B, h, m, d_v]
            if cache is not None:
                if not static_kv and "k" in cache:
                    k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
        if self.keep_weights:
            heads, self.weights = attention(q, k, v, mask)
        else:
            heads = scaled_dot_product_attention(q, k, v, attn_mask=mask)        # Eq. (1), fused (shared.attention)
        return self.W_O(rearrange(heads, "b h n d -> b n (h d)"))               # Concat(head_i) W^O


class PositionwiseFeedForward(nn.Module):
    """§3.3, Eq. (2): FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied to each position alike."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.W_1 = nn.Linear(d_model, d_ff)
        self.W_2 = nn.Linear(d_ff, d_model)

    def forward(self, x):  # [B, n, d_model]
        return self.W_2(F.relu(self.W_1(x)))


def sinusoidal_encoding(n_pos: int, d_model: int) -> torch.Tensor:
    """§3.5: PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))."""
    pos = torch.arange(n_pos, dtype=torch.float64).unsqueeze(1)                    # [P, 1]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)                      # [d/2]
    angle = pos / torch.pow(10000.0, two_i / d_model)                             # [P, d/2]
    pe = torch.zeros(n_pos, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)[:, : d_model // 2]
    return pe.float()


class PositionalEncoding(nn.Module):
    """Adds position information to embeddings: fixed sinusoids (§3.5) or learned (Table 3 (E))."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.learned = cfg.positional == "learned"
        if self.learned:
            self.table = nn.Embedding(cfg.max_len, cfg.d_model)
        else:
            self.register_buffer("pe", sinusoidal_encoding(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, n: int, start: int = 0) -> torch.Tensor:  # -> [n, d_model]
        idx = torch.arange(start, start + n, device=(self.table.weight if self.learned else self.pe).device)
        if start + n > (self.table.num_embeddings if self.learned else self.pe.size(0)):
            raise ValueError(f"position {start + n - 1} is beyond max_len; raise TransformerConfig.max_len")
        return self.table(idx) if self.learned else self.pe[idx]


# -- §3.1 the two stacks -------------------------------------------------------------------------

class EncoderLayer(nn.Module):
    """§3.1: self-attention and FFN sub-layers, each LayerNorm(x + Dropout(Sublayer(x))) (§5.4)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.h, cfg.dk, cfg.dv, cfg.attn_bias)
        self.ffn = PositionwiseFeedForward(cfg.d_model, cfg.d_ff)
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.drop = nn.Dropout(cfg.P_drop)

    def forward(self, x, src_mask):  # x [B, S, d_model], src_mask [B, 1, 1, S]
        x = self.ln_1(x + self.drop(self.self_attn(x, x, src_mask)))
        return self.ln_2(x + self.drop(self.ffn(x)))


class DecoderLayer(nn.Module):
    """§3.1: masked self-attention, attention over the encoder output, FFN; each post-LN."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.h, cfg.dk, cfg.dv, cfg.attn_bias)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.h, cfg.dk, cfg.dv, cfg.attn_bias)
        self.ffn = PositionwiseFeedForward(cfg.d_model, cfg.d_ff)
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.ln_3 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.drop = nn.Dropout(cfg.P_drop)

    def forward(self, y, memory, tgt_mask, src_mask, cache: dict | None = None):
        # y [B, T, d_model], memory [B, S, d_model], tgt_mask [B|1, 1, T, T_total], src_mask [B, 1, 1, S]
        y = self.ln_1(y + self.drop(self.self_attn(y, y, tgt_mask, cache=None if cache is None else cache["self"])))
        y = self.ln_2(y + self.drop(self.cross_attn(y, memory, src_mask, static_kv=True,
                                                    cache=None if cache is None else cache["cross"])))
        return self.ln_3(y + self.drop(self.ffn(y)))


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """[B, S] -> [B, 1, 1, S]: True where the key is a real token.
    Masks the padded keys out of the softmax of Eq. (1)."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(T: int, device=None) -> torch.Tensor:
    """[1, 1, T, T]: position t may attend to positions <= t only (§3.2.3)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()[None, None]


class Transformer(nn.Module):
    """The encoder-decoder of §3 (Fig. 1). ``forward(src, tgt_in)`` returns logits [B, T, V]."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, d)                    # shared, §3.4
        if not cfg.share_embeddings:
            self.tgt_embed = nn.Embedding(cfg.vocab_size, d)
            self.generator = nn.Linear(d, cfg.vocab_size, bias=False)
        self.pos = PositionalEncoding(cfg)
        self.drop = nn.Dropout(cfg.P_drop)                              # on embedding + PE sums, §5.4
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.N))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_dec))
        self.enc_norm = nn.LayerNorm(d, eps=cfg.ln_eps) if cfg.final_norm else nn.Identity()
        self.dec_norm = nn.LayerNorm(d, eps=cfg.ln_eps) if cfg.final_norm else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self):
        """Not specified in the paper. We follow tensor2tensor: Glorot-uniform matrices, zero biases, and
        embeddings ~ N(0, d_model^-0.5) so that embedding x sqrt(d_model) has unit scale (§3.4)."""
        for name, p in self.named_parameters():
            if p.dim() == 2 and "embed" not in name and "pos.table" not in name:
                nn.init.xavier_uniform_(p)
            elif p.dim() == 1 and name.endswith("bias"):
                nn.init.zeros_(p)
        nn.init.normal_(self.embed.weight, std=self.cfg.d_model ** -0.5)
        if not self.cfg.share_embeddings:
            nn.init.normal_(self.tgt_embed.weight, std=self.cfg.d_model ** -0.5)
        if self.cfg.positional == "learned":
            nn.init.normal_(self.pos.table.weight, std=self.cfg.d_model ** -0.5)

    # §3.4: embeddings multiplied by sqrt(d_model), then + PE (§3.5), then dropout (§5.4)
    def _embed(self, table: nn.Embedding, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        scale = math.sqrt(self.cfg.d_model) if self.cfg.scale_embeddings else 1.0
        return self.drop(table(tokens) * scale + self.pos(tokens.size(1), start))  # [B, n, d_model]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src [B, S] -> memory [B, S, d_model], src_mask [B, 1, 1, S]."""
        src_mask = padding_mask(src, self.cfg.pad_id)
        x = self._embed(self.embed, src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.enc_norm(x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               cache: list[dict] | None = None, start: int = 0) -> torch.Tensor:
        """tgt_in [B, T] (shifted right, starting with <s>) -> logits [B, T, V].

        With ``cache`` (from :meth:`new_cache`), ``tgt_in`` holds only the new position(s) starting at
        ``start``; keys and values of earlier positions come from the cache.
        """
        T = tgt_in.size(1)
        if cache is None:
            tgt_mask = causal_mask(T, tgt_in.device) & padding_mask(tgt_in, self.cfg.pad_id)
        else:  # new positions attend to every cached position and causally among themselves
            tgt_mask = torch.ones(T, start + T, dtype=torch.bool, device=tgt_in.device).tril(start)[None, None]
        y = self._embed(self.embed if self.cfg.share_embeddings else self.tgt_embed, tgt_in, start)
        for i, layer in enumerate(self.decoder):
            y = layer(y, memory, tgt_mask, src_mask, None if cache is None else cache[i])
        y = self.dec_norm(y)
        if self.cfg.share_embeddings:
            return F.linear(y, self.embed.weight)                        # pre-softmax linear = E^T, §3.4
        return self.generator(y)

    def new_cache(self) -> list[dict]:
        return [{"self": {}, "cross": {}} for _ in self.decoder]

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    def keep_attention_weights(self, on: bool = True) -> None:
        """Make every attention module keep its last weights (``.weights``) for plotting."""
        for m in self.modules():
            if isinstance(m, MultiHeadAttention):
                m.keep_weights, m.weights = on, None


# -- parameter count as a formula (§3, Table 3 "params") -----------------------------------------

def param_formula(cfg: TransformerConfig) -> dict[str, int]:
    """Closed-form parameter count; tests compare it with the module (and Table 3's 65M / 213M)."""
    d, f, h, dk, dv, V = cfg.d_model, cfg.d_ff, cfg.h, cfg.dk, cfg.dv, cfg.vocab_size
    b = 1 if cfg.attn_bias else 0
    mha = 2 * (d * h * dk + b * h * dk) + (d * h * dv + b * h * dv) + (h * dv * d + b * d)   # W^Q, W^K, W^V, W^O
    ffn = 2 * d * f + f + d                                                     # W_1, b_1, W_2, b_2
    ln = 2 * d
    enc_layer = mha + ffn + 2 * ln                                              # 4(d^2+d) + 2 d d_ff + d_ff + d + 4d
    dec_layer = 2 * mha + ffn + 3 * ln
    emb = V * d * (1 if cfg.share_embeddings else 3)
    pos = cfg.max_len * d if cfg.positional == "learned" else 0
    final = 2 * ln if cfg.final_norm else 0
    total = cfg.N * enc_layer + cfg.n_dec * dec_layer + emb + pos + final
    return {"encoder_layer": enc_layer, "decoder_layer": dec_layer, "embedding": emb, "positional": pos,
            "final_norms": final, "total": total}


# -- the paper's configurations ------------------------------------------------------------------

BASE = TransformerConfig()
BIG = TransformerConfig(d_model=1024, d_ff=4096, h=16, P_drop=0.3)            # Table 3 "big"

# Table 3 rows (A)-(E) that change the model, against the base model (unlisted values identical to base).
# Rows (D) eps_ls = 0 / 0.2 change the loss, not the model: reproduce.ABLATIONS holds them.
TABLE3 = {
    "A-h1": dict(h=1, d_k=512, d_v=512), "A-h4": dict(h=4, d_k=128, d_v=128),
    "A-h16": dict(h=16, d_k=32, d_v=32), "A-h32": dict(h=32, d_k=16, d_v=16),
    "B-dk16": dict(d_k=16), "B-dk32": dict(d_k=32),
    "C-N2": dict(N=2), "C-N4": dict(N=4), "C-N8": dict(N=8),
    "C-d256": dict(d_model=256, d_k=32, d_v=32), "C-d1024": dict(d_model=1024, d_k=128, d_v=128),
    "C-dff1024": dict(d_ff=1024), "C-dff4096": dict(d_ff=4096),
    "D-drop0": dict(P_drop=0.0), "D-drop0.2": dict(P_drop=0.2),
    "E-learned": dict(positional="learned"),
}


def build(cfg: TransformerConfig | None = None, **overrides) -> Transformer:
    """A ``Transformer`` of the base model (§3, Table 3) or ``cfg``, with fields overridden."""
    return Transformer(replace(cfg or BASE, **overrides))


VARIANTS = {
    "transformer-base": partial(build, BASE),
    "transformer-big": partial(build, BIG),
    **{f"table3-{k}": partial(build, BASE, **v) for k, v in TABLE3.items()},
}
