"""Paper facts of §3 as tests: parameter counts, positional encoding, attention, masks, causality."""
import dataclasses
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from papers.transformer.model import (BASE, BIG, TABLE3, VARIANTS, MultiHeadAttention, Transformer,
                                      TransformerConfig, attention, causal_mask, padding_mask, param_formula,
                                      sinusoidal_encoding)
from shared.profiling import count_params

V = 37000


def tiny(**kw):
    cfg = dict(vocab_size=50, N=2, d_model=32, d_ff=64, h=4, P_drop=0.0, max_len=64)
    cfg.update(kw)
    torch.manual_seed(0)
    return Transformer(TransformerConfig(**cfg))


def test_encoder_layer_formula_base():
    d, dff = 512, 2048
    assert param_formula(BASE)["encoder_layer"] == 4 * (d * d + d) + 2 * d * dff + dff + d + 4 * d == 3_152_384


@pytest.mark.parametrize("name", ["transformer-base", "transformer-big", *[f"table3-{k}" for k in TABLE3]])
def paper_count(N, d, d_ff, h, d_k, d_v, V, bias=True):
    """Parameters of the §3 model typed from the paper: per head W_i^Q, W_i^K in R^{d x d_k}, W_i^V in
    R^{d x d_v}; W^O in R^{h d_v x d}; FFN W_1 [d, d_ff], b_1, W_2 [d_ff, d], b_2 (Eq. 2); LayerNorm gain and
    bias after every sub-layer; one shared V x d embedding (§3.4). Biases on the projections as in the
    3,152,384 count (nn.MultiheadAttention)."""
    attn = h * (2 * d * d_k + d * d_v) + h * d_v * d + (h * (2 * d_k + d_v) + d if bias else 0)
    ffn = d * d_ff + d_ff + d_ff * d + d
    enc = attn + ffn + 2 * (2 * d)
    dec = 2 * attn + ffn + 3 * (2 * d)
    return N * enc + N * dec + V * d


@pytest.mark.parametrize("name,dims", [
    ("transformer-base", (6, 512, 2048, 8, 64, 64)), ("transformer-big", (6, 1024, 4096, 16, 64, 64)),
    ("table3-A-h1", (6, 512, 2048, 1, 512, 512)), ("table3-A-h16", (6, 512, 2048, 16, 32, 32)),
    ("table3-B-dk16", (6, 512, 2048, 8, 16, 64)), ("table3-C-N2", (2, 512, 2048, 8, 64, 64)),
    ("table3-C-d256", (6, 256, 2048, 8, 32, 32)), ("table3-C-dff4096", (6, 512, 4096, 8, 64, 64))])
def test_param_formula_and_module_against_the_papers_formula(name, dims):
    """Table 3's rows, dimensions typed from the table; counts from the formula above, not from our code."""
    with torch.device("meta"):
        cfg = VARIANTS[name]().cfg
    expected = paper_count(*dims, V=cfg.vocab_size)
    assert param_formula(cfg)["total"] == expected
    assert count_params(VARIANTS[name]) == expected


@pytest.mark.parametrize("name", ["transformer-base", "transformer-big", *[f"table3-{k}" for k in TABLE3]])
def test_param_formula_matches_module(name):
    with torch.device("meta"):
        cfg = VARIANTS[name]().cfg
    assert count_params(VARIANTS[name]) == param_formula(cfg)["total"]


def test_totals_near_paper_with_37k_vocab():
    base = count_params(lambda: Transformer(dataclasses.replace(BASE, vocab_size=V)))
    big = count_params(lambda: Transformer(dataclasses.replace(BIG, vocab_size=V)))
    assert base == 63_082_496 and big == 214_245_376
    assert abs(base / 65e6 - 1) < 0.05 and abs(big / 213e6 - 1) < 0.01


def test_counts_equal_nn_transformer_plus_embedding():
    """nn.Transformer(512, 8, 6, 6, 2048) = 44,140,544 (with final norms); + one shared 37000 x 512 table."""
    ref = count_params(lambda: nn.Transformer(512, 8, 6, 6, 2048, batch_first=True))
    assert ref == 44_140_544
    ours = count_params(lambda: Transformer(dataclasses.replace(BASE, vocab_size=V, final_norm=True)))
    assert ours == ref + V * 512 == 63_084_544
    big_ref = count_params(lambda: nn.Transformer(1024, 16, 6, 6, 4096, batch_first=True))
    big = count_params(lambda: Transformer(dataclasses.replace(BIG, vocab_size=V, final_norm=True)))
    assert big == big_ref + V * 1024 == 214_249_472


def test_variant_configs():
    with torch.device("meta"):
        b, g = VARIANTS["transformer-base"](), VARIANTS["transformer-big"]()
        h1, learned = VARIANTS["table3-A-h1"](), VARIANTS["table3-E-learned"]()
        dk16 = VARIANTS["table3-B-dk16"]()
    assert (b.cfg.N, b.cfg.d_model, b.cfg.d_ff, b.cfg.h, b.cfg.dk, b.cfg.P_drop) == (6, 512, 2048, 8, 64, 0.1)
    assert not hasattr(b.cfg, "eps_ls")   # label smoothing is the loss's (loss.py, the run config), not the model's
    assert (g.cfg.d_model, g.cfg.d_ff, g.cfg.h, g.cfg.P_drop) == (1024, 4096, 16, 0.3)
    assert h1.cfg.h == 1 and h1.encoder[0].self_attn.W_Q.out_features == 512
    assert learned.pos.learned and dk16.cfg.dk == 16 and dk16.cfg.dv == 64
    assert len(b.encoder) == 6 and len(b.decoder) == 6


def test_replace_rederives_head_size():
    cfg = dataclasses.replace(TransformerConfig(d_model=128, h=4), h=1)
    assert cfg.dk == 128 and cfg.n_dec == cfg.N


def test_bad_head_count_names_the_fix():
    with pytest.raises(ValueError, match="not divisible by h"):
        TransformerConfig(d_model=100, h=8)
    with pytest.raises(ValueError, match="sinusoid"):
        TransformerConfig(positional="rope")


def test_positional_encoding_values():
    pe = sinusoidal_encoding(50, 16)
    assert torch.equal(pe[0, 0::2], torch.zeros(8)) and torch.equal(pe[0, 1::2], torch.ones(8))
    pos = torch.arange(50, dtype=torch.float32)
    assert torch.allclose(pe[:, 0], torch.sin(pos), atol=1e-6)
    assert torch.allclose(pe[:, 1], torch.cos(pos), atol=1e-6)
    p, i = 37, 3
    assert math.isclose(pe[p, 2 * i], math.sin(p / 10000 ** (2 * i / 16)), abs_tol=1e-6)
    assert math.isclose(pe[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 16)), abs_tol=1e-6)


def test_sdpa_equals_explicit_formula():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 6)
    mask = torch.rand(2, 1, 5, 7) > 0.3
    mask[..., 0] = True
    ours, w = attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, ref, atol=1e-6)
    manual = torch.softmax((q @ k.transpose(-1, -2) / math.sqrt(8)).masked_fill(~mask, -1e30), -1) @ v
    assert torch.allclose(ours, manual, atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 5), atol=1e-6)        # rows sum to 1
    assert torch.all(w[~mask.expand_as(w)] == 0)                            # masked keys get no weight


def test_mha_fused_path_equals_explicit_path():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, 4, 4)
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    mask = padding_mask(torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]), 0)
    fused = mha(x, mem, mask)
    mha.keep_weights = True
    explicit = mha(x, mem, mask)
    assert torch.allclose(fused, explicit, atol=1e-6)
    assert mha.weights.shape == (2, 4, 5, 6) and torch.all(mha.weights[0, ..., 4:] == 0)


def test_masks():
    pm = padding_mask(torch.tensor([[5, 6, 0]]), 0)
    assert pm.shape == (1, 1, 1, 3) and pm.flatten().tolist() == [True, True, False]
    cm = causal_mask(4)
    assert cm.shape == (1, 1, 4, 4) and torch.equal(cm[0, 0], torch.tril(torch.ones(4, 4, dtype=torch.bool)))


def test_decoder_is_causal():
    m = tiny().eval()
    src = torch.randint(4, 50, (2, 6))
    tgt = torch.randint(4, 50, (2, 8))
    out = m(src, tgt)
    tgt2 = tgt.clone()
    tgt2[:, 5:] = torch.randint(4, 50, (2, 3))
    out2 = m(src, tgt2)
    assert torch.allclose(out[:, :5], out2[:, :5], atol=1e-5)
    assert not torch.allclose(out[:, 5:], out2[:, 5:], atol=1e-3)


def test_source_padding_is_ignored():
    m = tiny().eval()
    src = torch.randint(4, 50, (1, 6))
    tgt = torch.randint(4, 50, (1, 4))
    padded = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], 1)
    assert torch.allclose(m(src, tgt), m(padded, tgt), atol=1e-5)


def test_shared_scaled_embeddings():
    m = tiny()
    names = [n for n, _ in m.named_parameters()]
    assert "embed.weight" in names and not any("generator" in n or "tgt_embed" in n for n in names)
    tok = torch.tensor([[7, 9, 11]])
    x = m._embed(m.embed, tok)                               # P_drop = 0
    assert torch.allclose(x, m.embed.weight[tok] * math.sqrt(32) + sinusoidal_encoding(64, 32)[:3], atol=1e-6)
    memory, smask = m.encode(torch.tensor([[5, 6]]))
    y = m.decode(tok, memory, smask)
    assert y.shape == (1, 3, 50)
    y.logsumexp(-1).sum().backward()
    # the pre-softmax linear is the embedding matrix: rows of tokens never input still get a gradient
    assert m.embed.weight.grad[40].abs().sum() > 0


def test_unshared_option_and_learned_positions():
    m = tiny(share_embeddings=False, positional="learned")
    assert hasattr(m, "tgt_embed") and hasattr(m, "generator") and m.pos.learned
    assert m(torch.randint(4, 50, (2, 5)), torch.randint(4, 50, (2, 4))).shape == (2, 4, 50)


def test_dropout_placement():
    """§5.4: dropout on each sub-layer output (2 per encoder layer, 3 per decoder layer share one module)
    and on the embedding + PE sums; none inside attention."""
    m = tiny(P_drop=0.5)
    drops = [n for n, mod in m.named_modules() if isinstance(mod, nn.Dropout)]
    assert drops == ["drop", "encoder.0.drop", "encoder.1.drop", "decoder.0.drop", "decoder.1.drop"]
    src, tgt = torch.randint(4, 50, (2, 5)), torch.randint(4, 50, (2, 4))
    m.train()
    assert not torch.allclose(m(src, tgt), m(src, tgt))
    m.eval()
    assert torch.equal(m(src, tgt), m(src, tgt))


def test_incremental_decoding_equals_full():
    m = tiny().eval()
    src, tgt = torch.randint(4, 50, (3, 6)), torch.randint(4, 50, (3, 7))
    memory, smask = m.encode(src)
    full = m.decode(tgt, memory, smask)
    cache = m.new_cache()
    steps = [m.decode(tgt[:, t:t + 1], memory, smask, cache=cache, start=t) for t in range(7)]
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-5)


def test_max_len_error():
    m = tiny(max_len=8)
    with pytest.raises(ValueError, match="max_len"):
        m(torch.randint(4, 50, (1, 9)), torch.randint(4, 50, (1, 2)))


def test_bias_free_projections_option():
    cfg = dataclasses.replace(BASE, attn_bias=False)
    assert count_params(lambda: Transformer(cfg)) == param_formula(cfg)["total"]
    assert param_formula(BASE)["encoder_layer"] - param_formula(cfg)["encoder_layer"] == 4 * 512
