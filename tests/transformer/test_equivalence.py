"""Equivalence with torch.nn's independent implementation, weights ported through the documented key map
(interop.mha_from_torch, encoder_layer_from_torch, decoder_layer_from_torch, from_torch_transformer):
equal outputs and equal gradients, in train mode (dropout 0) and eval mode."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from papers.transformer.interop import (decoder_layer_from_torch, encoder_layer_from_torch, from_torch_transformer,
                                        mha_from_torch)
from papers.transformer.model import DecoderLayer, EncoderLayer, MultiHeadAttention, Transformer, TransformerConfig, \
    causal_mask

D, H, FF = 32, 4, 64
TOL = dict(atol=1e-5, rtol=1e-4)


def cfg(**kw):
    return TransformerConfig(vocab_size=40, N=2, d_model=D, d_ff=FF, h=H, P_drop=0.0, max_len=32, **kw)


def grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def _lengths_mask(B, S, lengths):
    keep = torch.arange(S)[None] < torch.tensor(lengths)[:, None]   # True = real token
    return keep


@pytest.mark.parametrize("train", [True, False])
def test_multihead_attention(train):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(D, H, dropout=0.0, batch_first=True)
    ours = MultiHeadAttention(D, H, D // H, D // H)
    mha_from_torch(ours, ref)
    ref.train(train), ours.train(train)
    q = torch.randn(3, 5, D, requires_grad=True)
    kv = torch.randn(3, 7, D, requires_grad=True)
    keep = _lengths_mask(3, 7, [7, 4, 2])
    q2, kv2 = q.detach().clone().requires_grad_(), kv.detach().clone().requires_grad_()
    out_ref, _ = ref(q, kv, kv, key_padding_mask=~keep, need_weights=False)
    out = ours(q2, kv2, keep[:, None, None, :])
    assert torch.allclose(out, out_ref, **TOL)
    g = torch.randn_like(out)
    out_ref.backward(g), out.backward(g)
    assert torch.allclose(q.grad, q2.grad, **TOL) and torch.allclose(kv.grad, kv2.grad, **TOL)
    gr, go = grads(ref), grads(ours)
    d = D
    assert torch.allclose(torch.cat([go["W_Q.weight"], go["W_K.weight"], go["W_V.weight"]]), gr["in_proj_weight"], **TOL)
    assert torch.allclose(torch.cat([go["W_Q.bias"], go["W_K.bias"], go["W_V.bias"]]), gr["in_proj_bias"], **TOL)
    assert torch.allclose(go["W_O.weight"], gr["out_proj.weight"], **TOL) and d == D


@pytest.mark.parametrize("train", [True, False])
def test_encoder_layer(train):
    torch.manual_seed(1)
    ref = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=False)
    ours = EncoderLayer(cfg())
    encoder_layer_from_torch(ours, ref)
    ref.train(train), ours.train(train)
    x = torch.randn(2, 6, D)
    keep = _lengths_mask(2, 6, [6, 4])
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref = ref(xr, src_key_padding_mask=~keep)
    out = ours(xo, keep[:, None, None, :])
    assert torch.allclose(out[keep], out_ref[keep], **TOL)
    g = torch.randn_like(out) * keep[..., None]
    out_ref.backward(g), out.backward(g)
    assert torch.allclose(xr.grad, xo.grad, **TOL)
    gr, go = grads(ref), grads(ours)
    for a, b in [("linear1.weight", "ffn.W_1.weight"), ("linear2.weight", "ffn.W_2.weight"),
                 ("norm1.weight", "ln_1.weight"), ("norm2.bias", "ln_2.bias"), ("self_attn.out_proj.weight", "self_attn.W_O.weight")]:
        assert torch.allclose(gr[a], go[b], **TOL), a
    if not train:   # the inference fast path of nn (no grad) agrees too
        with torch.no_grad():
            assert torch.allclose(ours(x, keep[:, None, None, :])[keep], ref(x, src_key_padding_mask=~keep)[keep], **TOL)


@pytest.mark.parametrize("train", [True, False])
def test_decoder_layer(train):
    torch.manual_seed(2)
    ref = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=False)
    ours = DecoderLayer(cfg())
    decoder_layer_from_torch(ours, ref)
    ref.train(train), ours.train(train)
    y, mem = torch.randn(2, 5, D), torch.randn(2, 6, D)
    keep = _lengths_mask(2, 6, [6, 3])
    yr, yo = y.clone().requires_grad_(), y.clone().requires_grad_()
    mr, mo = mem.clone().requires_grad_(), mem.clone().requires_grad_()
    out_ref = ref(yr, mr, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5), tgt_is_causal=True,
                  memory_key_padding_mask=~keep)
    out = ours(yo, mo, causal_mask(5), keep[:, None, None, :])
    assert torch.allclose(out, out_ref, **TOL)
    g = torch.randn_like(out)
    out_ref.backward(g), out.backward(g)
    assert torch.allclose(yr.grad, yo.grad, **TOL) and torch.allclose(mr.grad, mo.grad, **TOL)
    gr, go = grads(ref), grads(ours)
    assert torch.allclose(gr["multihead_attn.in_proj_weight"],
                          torch.cat([go[f"cross_attn.W_{k}.weight"] for k in "QKV"]), **TOL)
    assert torch.allclose(gr["norm3.weight"], go["ln_3.weight"], **TOL)


@pytest.mark.parametrize("train", [True, False])
def test_whole_model_against_nn_transformer(train):
    """Ours (final_norm=True) == shared embedding x sqrt(d) + PE -> nn.Transformer -> E^T.

    The reference builds its positional encoding from §3.5's formula with python's math and its masks
    with nn.Transformer's own helper: nothing of ours but the ported weights."""
    torch.manual_seed(3)
    ref = nn.Transformer(D, H, 2, 2, FF, dropout=0.0, batch_first=True)
    E = nn.Parameter(torch.randn(40, D) * D ** -0.5)
    ours = Transformer(cfg(final_norm=True))
    from_torch_transformer(ours, ref, E.detach())
    ref.train(train), ours.train(train)
    src = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0]])
    tgt = torch.tensor([[1, 11, 12, 13], [1, 14, 15, 0]])
    pe = torch.tensor([[math.sin(pos / 10000 ** (i / D)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / D))
                        for i in range(D)] for pos in range(32)])                      # §3.5, typed from the paper

    def ref_forward(src, tgt):
        emb = lambda t: F.embedding(t, E) * math.sqrt(D) + pe[:t.size(1)]  # noqa: E731
        T = tgt.size(1)
        out = ref(emb(src), emb(tgt), tgt_mask=nn.Transformer.generate_square_subsequent_mask(T), tgt_is_causal=True,
                  src_key_padding_mask=src == 0,
                  tgt_key_padding_mask=tgt == 0, memory_key_padding_mask=src == 0)
        return F.linear(out, E)

    lo, lr = ours(src, tgt), ref_forward(src, tgt)
    keep = tgt != 0
    assert torch.allclose(lo[keep], lr[keep], **TOL)
    g = torch.randn_like(lo) * keep[..., None]
    lo.backward(g), lr.backward(g)
    assert torch.allclose(ours.embed.weight.grad, E.grad, **TOL)
    assert torch.allclose(ours.encoder[0].ffn.W_1.weight.grad, ref.encoder.layers[0].linear1.weight.grad, **TOL)
    assert torch.allclose(ours.decoder[1].cross_attn.W_O.weight.grad,
                          ref.decoder.layers[1].multihead_attn.out_proj.weight.grad, **TOL)


def test_import_requires_final_norm():
    with pytest.raises(ValueError, match="final_norm=True"):
        from_torch_transformer(Transformer(cfg()), nn.Transformer(D, H, 2, 2, FF, batch_first=True))


# -- train mode with dropout > 0: §5.4's residual dropout, where the paper puts it -------------------------------

P = 0.5


def _same_draws(seed, f):
    torch.manual_seed(seed)
    return f()


def test_encoder_layer_dropout_in_train_mode_is_where_5_4_puts_it():
    """§5.4: "dropout to the output of each sub-layer, before it is added to the sub-layer input and
    normalized": LayerNorm(x + Dropout(Sublayer(x))), written out with F.dropout in the same draw order."""
    torch.manual_seed(4)
    layer = EncoderLayer(TransformerConfig(vocab_size=40, N=1, d_model=D, d_ff=FF, h=H, P_drop=P, max_len=32)).train()
    x, keep = torch.randn(2, 6, D), _lengths_mask(2, 6, [6, 4])[:, None, None, :]

    def reference():
        a = F.dropout(layer.self_attn(x, x, keep), P, training=True)
        h = F.layer_norm(x + a, (D,), layer.ln_1.weight, layer.ln_1.bias, layer.ln_1.eps)
        f = F.dropout(F.linear(F.relu(F.linear(h, layer.ffn.W_1.weight, layer.ffn.W_1.bias)), layer.ffn.W_2.weight,
                               layer.ffn.W_2.bias), P, training=True)
        return F.layer_norm(h + f, (D,), layer.ln_2.weight, layer.ln_2.bias, layer.ln_2.eps)

    ours = _same_draws(7, lambda: layer(x, keep))
    assert torch.allclose(ours, _same_draws(7, reference), **TOL)
    assert not torch.allclose(ours, _same_draws(8, reference), **TOL)   # the masks matter: dropout is on


def test_decoder_layer_and_embedding_dropout_in_train_mode():
    """Three sub-layers of the decoder, and dropout on the sums of embeddings and positional encodings."""
    torch.manual_seed(5)
    c = TransformerConfig(vocab_size=40, N=1, d_model=D, d_ff=FF, h=H, P_drop=P, max_len=32)
    m = Transformer(c).train()
    layer = m.decoder[0]
    y, mem = torch.randn(2, 5, D), torch.randn(2, 6, D)
    keep = _lengths_mask(2, 6, [6, 3])[:, None, None, :]
    causal = torch.ones(5, 5, dtype=torch.bool).tril()[None, None]

    def ln(t, mod):
        return F.layer_norm(t, (D,), mod.weight, mod.bias, mod.eps)

    def reference():
        h = ln(y + F.dropout(layer.self_attn(y, y, causal), P, training=True), layer.ln_1)
        h = ln(h + F.dropout(layer.cross_attn(h, mem, keep), P, training=True), layer.ln_2)
        return ln(h + F.dropout(layer.ffn(h), P, training=True), layer.ln_3)

    assert torch.allclose(_same_draws(3, lambda: layer(y, mem, causal, keep)), _same_draws(3, reference), **TOL)
    tokens = torch.tensor([[5, 6, 7, 8]])
    pe = torch.tensor([[math.sin(pos / 10000 ** (i / D)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / D))
                        for i in range(D)] for pos in range(4)])
    emb = _same_draws(9, lambda: m._embed(m.embed, tokens))
    ref = _same_draws(9, lambda: F.dropout(m.embed.weight[tokens] * math.sqrt(D) + pe, P, training=True))
    assert torch.allclose(emb, ref, **TOL) and (emb == 0).float().mean() > 0.2
