"""BERT: a bidirectional Transformer encoder pre-trained with MLM + NSP (Devlin et al. 2019, §3, Fig. 1-2).

Read beside the paper:

- §3 "Model Architecture": a multi-layer bidirectional Transformer encoder (Vaswani et al. 2017) with
  ``L`` layers, hidden size ``H``, ``A`` self-attention heads and a feed-forward size of ``4H``.
  BERT-BASE: L=12, H=768, A=12 (110M); BERT-LARGE: L=24, H=1024, A=16 (340M). The encoder block is the
  original post-LN one: ``x = LN(x + Dropout(Attn(x)))``, ``x = LN(x + Dropout(FFN(x)))``, with the exact
  (erf) GELU of the released code (§3 cites Hendrycks & Gimpel; App. A.2 "gelu activation").
- §3 "Input/Output Representations" and Fig. 2: the input embedding is the sum of the token (WordPiece),
  segment (A/B) and learned position embeddings, followed (in the released code) by LayerNorm and dropout.
  The first token is ``[CLS]``; its final hidden state ``C`` (after the pooler: dense + tanh) is the
  aggregate sequence representation; sentence pairs are separated by ``[SEP]``.
- §3.1 Task #1, masked LM: "the final hidden vectors corresponding to the mask tokens are fed into an
  output softmax over the vocabulary"; the released code puts a transform (dense + GELU + LayerNorm) before
  an output layer tied to the input token embeddings, with its own bias.
- §3.1 Task #2, NSP: ``C`` is used for next sentence prediction (a 2-way linear layer; label 0 = IsNext).
- §3.2 / §4: fine-tuning heads: a classification layer ``W ∈ R^{K×H}`` on ``C`` (GLUE, §4.1), and start /
  end vectors ``S, E ∈ R^H`` scored against every token (SQuAD, §4.2).

Module names follow Hugging Face's ``BertForPreTraining`` (``bert.embeddings.word_embeddings``,
``bert.encoder.layer.0.attention.self.query``, ``cls.predictions.transform.dense`` ...), so the key map in
``interop.py`` is nearly the identity. Configuration names are the paper's: ``L``, ``H``, ``A``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from shared.attention import scaled_dot_product_attention


@dataclass
class BertConfig:
    """§3: L layers, hidden size H, A heads, feed-forward 4H; Table 6 sizes."""
    vocab_size: int = 30522          # §3: "30,000 token vocabulary" (the released uncased vocab has 30,522)
    max_position: int = 512          # §3 / App. A.2: sequences up to 512 tokens, learned positions
    type_vocab_size: int = 2         # §3: segment embeddings for sentence A and sentence B
    L: int = 12                      # §3: number of layers (BASE)
    H: int = 768                     # §3: hidden size (BASE)
    A: int = 12                      # §3: self-attention heads (BASE)
    d_ff: int | None = None          # §3 footnote: "feed-forward/filter size to be 4H"; None -> 4H
    dropout: float = 0.1             # App. A.2: "dropout probability of 0.1 on all layers"
    attn_dropout: float = 0.1        # released code: attention_probs_dropout_prob = 0.1
    layer_norm_eps: float = 1e-12    # released code
    init_std: float = 0.02           # released code: truncated normal, stddev 0.02 (HF: normal)
    pad_token_id: int = 0            # [PAD] = 0 in the released vocabulary
    causal: bool = False             # Table 5 "LTR & No NSP": a left-context-only encoder (not BERT)

    def __post_init__(self):
        if self.d_ff is None:
            self.d_ff = 4 * self.H
        if self.H % self.A:
            raise ValueError(f"H={self.H} is not divisible by A={self.A}; pick A that divides H (BERT: H/A = 64)")


# -- embeddings (§3, Fig. 2) ------------------------------------------------------------------

class BertEmbeddings(nn.Module):
    """Token + segment + position embeddings, summed (Fig. 2), then LayerNorm and dropout."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.H, padding_idx=cfg.pad_token_id)  # token E_tok
        self.position_embeddings = nn.Embedding(cfg.max_position, cfg.H)                         # learned E_i
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.H)                    # segment E_A/E_B
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        B, T = input_ids.shape
        if T > self.position_embeddings.num_embeddings:
            raise ValueError(f"sequence of {T} tokens is longer than max_position="
                             f"{self.position_embeddings.num_embeddings}; truncate the input")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        pos = torch.arange(T, device=input_ids.device)
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) \
            + self.position_embeddings(pos)                                   # [B, T, H]
        return self.dropout(self.LayerNorm(e))


# -- the encoder (§3; Vaswani et al. 2017 §3.1-3.3) -------------------------------------------

class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention, softmax(QK^T / sqrt(d_k)) V, with A heads. §3 (Vaswani et al. 2017, Eq. (1))."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.A, self.p = cfg.A, cfg.attn_dropout
        self.query = nn.Linear(cfg.H, cfg.H)
        self.key = nn.Linear(cfg.H, cfg.H)
        self.value = nn.Linear(cfg.H, cfg.H)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:     # x: [B, T, H]
        q, k, v = (rearrange(f(x), "b t (a d) -> b a t d", a=self.A) for f in (self.query, self.key, self.value))
        # mask: bool [B, 1, T|1, T], True where attention is allowed; dropout on the attention probabilities
        # F.scaled_dot_product_attention; shared.attention picks the unfused kernel for bf16 CPU training at <= 128 keys
        o = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        return rearrange(o, "b a t d -> b t (a d)")                                     # [B, T, H]


class BertSelfOutput(nn.Module):
    """W^O, dropout, residual and LayerNorm: LN(x + Dropout(W^O a)) (post-LN). §3 (the Transformer encoder of Vaswani et al.)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.H)
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(a)))


class BertAttention(nn.Module):
    """§3: the self-attention sub-layer (Vaswani et al. 2017)."""
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    """The first FFN layer, H -> 4H, with the exact GELU. §3: "we use a gelu activation" (§A.2)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))                                                     # erf GELU


class BertOutput(nn.Module):
    """The second FFN layer, 4H -> H, dropout, residual and LayerNorm (post-LN). §3."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.d_ff, cfg.H)
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(h)))


class BertLayer(nn.Module):
    """One Transformer encoder block: self-attention sub-layer, then the feed-forward sub-layer. §3."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    """§3: a stack of L identical layers."""
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.L)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    """§3 / §3.1: ``C``, the [CLS] state through a dense layer and tanh (released code)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.H)

    def forward(self, h_cls: torch.Tensor) -> torch.Tensor:                            # [B, H]
        return torch.tanh(self.dense(h_cls))


def attention_mask_4d(attention_mask: torch.Tensor | None, T: int, causal: bool, device) -> torch.Tensor | None:
    """bool [B, 1, T, T] (or [B, 1, 1, T]): True where a query may attend to a key.

    ``attention_mask`` [B, T] is 1 for real tokens and 0 for padding (HF's convention); ``causal`` adds the
    left-to-right constraint of Table 5's "LTR" model.
    """
    mask = None
    if attention_mask is not None:
        mask = attention_mask.bool()[:, None, None, :]                                   # [B, 1, 1, T]
    if causal:
        tri = torch.ones(T, T, dtype=torch.bool, device=device).tril()[None, None]       # [1, 1, T, T]
        mask = tri if mask is None else mask & tri
    return mask


class BertModel(nn.Module):
    """The encoder: ``forward`` returns (sequence output [B, T, H], pooled ``C`` [B, H]). §3, Fig. 1 and Fig. 2."""

    def __init__(self, cfg: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg) if add_pooling_layer else None
        init_weights(self, cfg)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        T = input_ids.size(1)
        mask = attention_mask_4d(attention_mask, T, self.cfg.causal, input_ids.device)
        h = self.encoder(self.embeddings(input_ids, token_type_ids), mask)               # [B, T, H]
        if self.pooler is None:
            return h, None
        if self.cfg.causal:  # a left-to-right model: only the last real token has seen the whole input
            last = (attention_mask.sum(1) - 1) if attention_mask is not None else \
                torch.full((h.size(0),), T - 1, device=h.device)
            pooled_in = h[torch.arange(h.size(0), device=h.device), last.long()]
        else:
            pooled_in = h[:, 0]                                                          # the [CLS] state
        return h, self.pooler(pooled_in)


# -- pre-training heads (§3.1, App. A.1) ------------------------------------------------------

class BertPredictionHeadTransform(nn.Module):
    """dense + GELU + LayerNorm before the output softmax (released code). §3.1 Task #1; no counterpart in the paper beyond that."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.H)
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    """§3.1 Task #1: "an output softmax over the vocabulary", weights tied to the token embeddings."""

    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = BertPredictionHeadTransform(cfg)
        self.word_embeddings = [word_embeddings]  # a list: the tied matrix is registered once, in the encoder
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))                            # output-only bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:                                 # [..., H] -> [..., V]
        return F.linear(self.transform(x), self.word_embeddings[0].weight, self.bias)


class BertPreTrainingHeads(nn.Module):
    """§3.1: the masked-LM head (Task #1) and the NSP head (Task #2)."""
    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(cfg, word_embeddings)
        self.seq_relationship = nn.Linear(cfg.H, 2)                                      # §3.1 Task #2: NSP


class BertForPreTraining(nn.Module):
    """§3.1: the encoder with the masked-LM and next-sentence heads.

    ``forward(input_ids, token_type_ids, attention_mask, mlm_positions=None)`` returns
    ``(mlm_logits, nsp_logits)``: MLM logits [B, T, V] at every position, or, with ``mlm_positions`` (a bool
    [B, T] mask), [N, V] only at the N selected positions (what the loss needs; the output softmax is the
    expensive part with a large vocabulary). NSP logits [B, 2]: index 0 = IsNext, 1 = NotNext.
    """

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.bert = BertModel(cfg)
        self.cls = BertPreTrainingHeads(cfg, self.bert.embeddings.word_embeddings)
        init_weights(self.cls, cfg)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, mlm_positions=None):
        h, C = self.bert(input_ids, token_type_ids, attention_mask)
        if mlm_positions is not None:
            h = h[mlm_positions]                                                         # [N, H]
        return self.cls.predictions(h), self.cls.seq_relationship(C)


# -- fine-tuning heads (§3.2, §4.1-4.2, Fig. 4) -----------------------------------------------

class BertForSequenceClassification(nn.Module):
    """§4.1: "a classification layer W ∈ R^{K×H}" on ``C``: log(softmax(C W^T)); dropout 0.1 before it."""

    def __init__(self, cfg: BertConfig, num_labels: int, bert: BertModel | None = None):
        super().__init__()
        self.cfg, self.num_labels = cfg, num_labels
        self.bert = bert if bert is not None else BertModel(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.H, num_labels)
        init_weights(self.classifier, cfg)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None) -> torch.Tensor:   # [B, K]
        _, C = self.bert(input_ids, token_type_ids, attention_mask)
        return self.classifier(self.dropout(C))


class BertForQuestionAnswering(nn.Module):
    """§4.2: start vector S and end vector E; P_i = softmax_i(S · T_i), the same for E (one Linear(H, 2))."""

    def __init__(self, cfg: BertConfig, bert: BertModel | None = None):
        super().__init__()
        self.cfg = cfg
        self.bert = bert if bert is not None else BertModel(cfg, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(cfg.H, 2)                                            # rows S and E
        init_weights(self.qa_outputs, cfg)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.bert(input_ids, token_type_ids, attention_mask)                     # [B, T, H]
        start, end = rearrange(self.qa_outputs(h), "b t two -> two b t")
        if attention_mask is not None:  # padding is never an answer
            start = start.masked_fill(attention_mask == 0, float("-inf"))
            end = end.masked_fill(attention_mask == 0, float("-inf"))
        return start, end                                                                # [B, T] each


def init_weights(module: nn.Module, cfg: BertConfig) -> None:
    """Released code: N(0, 0.02) weights (truncated there), zero biases, LayerNorm (1, 0); [PAD] row zero. No counterpart in the paper."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, cfg.init_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, cfg.init_std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, BertLMPredictionHead):
            nn.init.zeros_(m.bias)


# -- configurations ---------------------------------------------------------------------------

def bert_base_config(**kw) -> BertConfig:
    """§3: BERT-BASE, L=12, H=768, A=12, 110M parameters."""
    return BertConfig(**kw)


def bert_large_config(**kw) -> BertConfig:
    """§3: BERT-LARGE, L=24, H=1024, A=16, 340M parameters."""
    return BertConfig(**{**dict(L=24, H=1024, A=16), **kw})


def bert_cpu_config(**kw) -> BertConfig:
    """A CPU-sized BERT (the L=2, H=128 size of Turc et al. 2019's BERT-Tiny),
    with an 8,192-entry WordPiece vocabulary and 128 positions (App. A.2's first phase is 128 tokens). No counterpart in the paper (a CPU-sized model)."""
    return BertConfig(**{**dict(vocab_size=8192, max_position=128, L=2, H=128, A=2), **kw})


CONFIGS = {"bert-base": bert_base_config, "bert-large": bert_large_config, "bert-cpu": bert_cpu_config}

VARIANTS = {  # the encoder of each size (BertModel with pooler, as the paper's parameter counts)
    "bert-base": lambda: BertModel(bert_base_config()),
    "bert-large": lambda: BertModel(bert_large_config()),
    "bert-cpu": lambda: BertModel(bert_cpu_config()),
}


def build(variant: str, head: str = "pretraining", num_labels: int = 2, **overrides) -> nn.Module:
    """``variant`` in CONFIGS with config overrides; ``head`` one of pretraining / classification / qa / none. No counterpart in the paper."""
    if variant not in CONFIGS:
        raise ValueError(f"unknown BERT variant {variant!r}; choose one of {', '.join(CONFIGS)}")
    cfg = CONFIGS[variant](**overrides)
    if head == "pretraining":
        return BertForPreTraining(cfg)
    if head == "classification":
        return BertForSequenceClassification(cfg, num_labels)
    if head == "qa":
        return BertForQuestionAnswering(cfg)
    if head == "none":
        return BertModel(cfg)
    raise ValueError(f"head {head!r} is not one of pretraining, classification, qa, none")


def save_config(cfg: BertConfig, path: str | Path) -> None:
    """No counterpart in the paper."""
    Path(path).write_text(json.dumps(asdict(cfg), indent=2) + "\n")


def load_config(path: str | Path) -> BertConfig:
    """No counterpart in the paper."""
    return BertConfig(**json.loads(Path(path).read_text()))
