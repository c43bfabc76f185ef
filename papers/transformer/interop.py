"""Weight import from ``torch.nn``'s Transformer modules into ours (a supported feature; the equivalence
tests use it with random weights). The key map, module by module:

- ``nn.MultiheadAttention``: ``in_proj_weight`` rows = ``[W_Q; W_K; W_V]`` (``in_proj_bias`` likewise),
  ``out_proj`` -> ``W_O``;
- ``nn.TransformerEncoderLayer``: ``self_attn`` -> ``self_attn``, ``linear1/2`` -> ``ffn.W_1/2``,
  ``norm1/2`` -> ``ln_1/2``;
- ``nn.TransformerDecoderLayer``: also ``multihead_attn`` -> ``cross_attn``, ``norm3`` -> ``ln_3``;
- ``nn.Transformer``: the layers above, ``encoder.norm`` / ``decoder.norm`` -> ``enc_norm`` / ``dec_norm``
  (build ours with ``final_norm=True``); the shared embedding table is passed separately.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .model import DecoderLayer, EncoderLayer, MultiHeadAttention, Transformer


def mha_from_torch(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    """Key map: in_proj_weight = cat(W_Q, W_K, W_V) (rows), in_proj_bias likewise; out_proj -> W_O.
    Weight import: no counterpart in the paper."""
    d = ref.embed_dim
    with torch.no_grad():
        for i, lin in enumerate((ours.W_Q, ours.W_K, ours.W_V)):
            lin.weight.copy_(ref.in_proj_weight[i * d:(i + 1) * d])
            lin.bias.copy_(ref.in_proj_bias[i * d:(i + 1) * d])
        ours.W_O.weight.copy_(ref.out_proj.weight)
        ours.W_O.bias.copy_(ref.out_proj.bias)


def _copy(dst: nn.Module, src: nn.Module) -> None:
    with torch.no_grad():
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def encoder_layer_from_torch(ours: EncoderLayer, ref: nn.TransformerEncoderLayer) -> None:
    """self_attn -> self_attn, linear1/linear2 -> ffn.W_1/W_2, norm1/norm2 -> ln_1/ln_2.
    Weight import: no counterpart in the paper."""
    mha_from_torch(ours.self_attn, ref.self_attn)
    _copy(ours.ffn.W_1, ref.linear1), _copy(ours.ffn.W_2, ref.linear2)
    _copy(ours.ln_1, ref.norm1), _copy(ours.ln_2, ref.norm2)


def decoder_layer_from_torch(ours: DecoderLayer, ref: nn.TransformerDecoderLayer) -> None:
    """self_attn -> self_attn, multihead_attn -> cross_attn, linear1/2 -> ffn.W_1/2, norm1..3 -> ln_1..3.
    Weight import: no counterpart in the paper."""
    mha_from_torch(ours.self_attn, ref.self_attn)
    mha_from_torch(ours.cross_attn, ref.multihead_attn)
    _copy(ours.ffn.W_1, ref.linear1), _copy(ours.ffn.W_2, ref.linear2)
    _copy(ours.ln_1, ref.norm1), _copy(ours.ln_2, ref.norm2), _copy(ours.ln_3, ref.norm3)


def from_torch_transformer(ours: Transformer, ref: nn.Transformer, embedding: torch.Tensor | None = None) -> None:
    """Port an ``nn.Transformer`` (post-norm, batch_first) into ours; ``embedding`` [V, d] fills the shared table.

    ``nn.Transformer`` has final LayerNorms after both stacks: build ours with ``final_norm=True``.
    Weight import: no counterpart in the paper.
    """
    if not ours.cfg.final_norm:
        raise ValueError("nn.Transformer has final LayerNorms; build TransformerConfig(final_norm=True) to import it")
    for a, b in zip(ours.encoder, ref.encoder.layers):
        encoder_layer_from_torch(a, b)
    for a, b in zip(ours.decoder, ref.decoder.layers):
        decoder_layer_from_torch(a, b)
    _copy(ours.enc_norm, ref.encoder.norm), _copy(ours.dec_norm, ref.decoder.norm)
    if embedding is not None:
        with torch.no_grad():
            ours.embed.weight.copy_(embedding)
