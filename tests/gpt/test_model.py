"""Paper facts, causal masking, weight tying and the configurations (§3.1, §4.1; GPT-2 §2.3)."""
import math

import pytest
import torch

from papers.gpt.model import (GPT, GPTClassifier, GPTConfig, VARIANTS, build, gpt1_config, gpt2_small_config,
                              nanogpt_cpu_config)
from shared.profiling import count_flops, count_params


def tiny(**kw):
    base = dict(vocab_size=31, n_ctx=16, n_layer=2, n_head=2, d_model=16, d_ff=64, dropout=0.0)
    return GPTConfig(**{**base, **kw})


def test_gpt1_parameter_count():
    # HF openai-gpt: vocabulary 40,478, 512 positions, tied head -> 116,534,784 ("117M", GPT-2 Table 2)
    assert count_params(VARIANTS["gpt1"]) == 116_534_784


def test_gpt2_small_parameter_count():
    assert count_params(VARIANTS["gpt2-small"]) == 124_439_808
    # nanoGPT prints the count without position embeddings: "123.65M"
    assert count_params(VARIANTS["gpt2-small"]) - 1024 * 768 == 123_653_376


def test_variant_specifications():
    g1, g2, cpu = gpt1_config(), gpt2_small_config(), nanogpt_cpu_config()
    assert (g1.n_layer, g1.d_model, g1.n_head, g1.d_ff, g1.n_ctx) == (12, 768, 12, 3072, 512)
    assert not g1.pre_ln and not g1.final_ln and g1.tie_weights and g1.init_std == 0.02 and g1.dropout == 0.1
    assert (g2.n_ctx, g2.vocab_size, g2.pre_ln, g2.final_ln, g2.scaled_residual_init) == (1024, 50257, True, True, True)
    assert (cpu.n_layer, cpu.n_head, cpu.d_model, cpu.n_ctx, cpu.dropout) == (4, 4, 128, 64, 0.0)
    assert cpu.activation == "gelu" and g1.activation == "gelu_tanh"  # nanoGPT: nn.GELU(); OpenAI's code: tanh form
    assert count_params(VARIANTS["nanogpt-cpu"]) == 804_096  # ~0.80M; nanoGPT prints 0.80M for this run


def test_weight_tying():
    m = GPT(tiny())
    assert m.lm_head.weight is m.transformer.wte.weight
    m.extend_vocab(3)
    assert m.lm_head.weight is m.transformer.wte.weight and m.lm_head.weight.shape == (34, 16)
    untied = GPT(tiny(tie_weights=False))
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert count_params(untied) - count_params(GPT(tiny())) == 31 * 16


@pytest.mark.parametrize("pre_ln", [False, True])
def test_causal_mask(pre_ln):
    torch.manual_seed(0)
    m = GPT(tiny(pre_ln=pre_ln, final_ln=pre_ln)).eval()
    x = torch.randint(0, 31, (2, 12))
    y = x.clone()
    y[:, 7:] = (y[:, 7:] + 1) % 31           # change the future
    a, b = m(x), m(y)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:])
    # gradient of the output at position t w.r.t. the embeddings of positions > t is exactly zero
    emb = m.transformer.wte(x).detach().requires_grad_(True)
    h = emb + m.transformer.wpe(torch.arange(12))
    for blk in m.transformer.h:
        h = blk(h)
    (h[:, 4] * torch.randn(16)).sum().backward()  # (a plain sum of a LayerNorm output is constant)
    assert emb.grad[:, 5:].abs().max() == 0 and emb.grad[:, :5].abs().max() > 0


def test_post_ln_vs_pre_ln_block_output():
    torch.manual_seed(0)
    x = torch.randint(0, 31, (2, 10))
    post = GPT(tiny()).eval()                 # GPT-1: the last block ends in a LayerNorm
    h = post.hidden(x)
    assert torch.allclose(h.mean(-1), torch.zeros(2, 10), atol=1e-5)
    pre = GPT(tiny(pre_ln=True, final_ln=False)).eval()   # pre-LN without ln_f: the residual stream
    assert not torch.allclose(pre.hidden(x).mean(-1), torch.zeros(2, 10), atol=1e-3)


def test_initialisation():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=500, n_ctx=64, n_layer=6, n_head=4, d_model=256, d_ff=1024))
    assert abs(m.transformer.wte.weight.std().item() - 0.02) < 1e-3          # §4.1 N(0, 0.02)
    assert abs(m.transformer.h[0].attn.c_proj.weight.std().item() - 0.02) < 1e-3
    s = GPT(GPTConfig(vocab_size=500, n_ctx=64, n_layer=6, n_head=4, d_model=256, d_ff=1024, pre_ln=True,
                      final_ln=True, scaled_residual_init=True))
    want = 0.02 / math.sqrt(12)                                               # GPT-2 §2.3: 1/sqrt(N), N = 2 * 6
    for blk in s.transformer.h:
        assert abs(blk.attn.c_proj.weight.std().item() - want) < 4e-4
        assert abs(blk.mlp.c_proj.weight.std().item() - want) < 4e-4
    assert abs(s.transformer.h[0].mlp.c_fc.weight.std().item() - 0.02) < 1e-3


def test_shapes_and_flops():
    cfg = tiny()
    m = GPT(cfg)
    B, T, d, L, V, dff = 2, 8, 16, 2, 31, 64
    x = torch.randint(0, V, (B, T))
    assert m(x).shape == (B, T, V) and m.hidden(x).shape == (B, T, d)
    # matmul FLOPs: per token per layer 2 * (3d^2 + d^2 + 2 d d_ff), head 2 d V; attention 2 * 2 T^2 d per layer
    linear = B * T * (L * 2 * (4 * d * d + 2 * d * dff) + 2 * d * V)
    attention = L * B * 4 * T * T * d
    # shared.profiling counts the CPU attention kernel too (torch's own formula)
    assert count_flops(m, x) == linear + attention


def test_generate_greedy_topk_and_errors():
    torch.manual_seed(0)
    m = GPT(tiny()).eval()
    x = torch.randint(0, 31, (1, 4))
    g = m.generate(x, 20, greedy=True)
    assert g.shape == (1, 24) and torch.equal(g[:, :4], x)
    k1 = m.generate(x, 20, top_k=1, temperature=0.7)              # top-1 sampling is greedy
    assert torch.equal(g, k1)
    gen = torch.Generator().manual_seed(3)
    s1 = m.generate(x, 30, top_k=5, generator=gen)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(s1, m.generate(x, 30, top_k=5, generator=gen))   # seeded sampling is reproducible
    assert m.generate(x, 40, greedy=True).shape == (1, 44)            # longer than n_ctx=16: context is cropped
    with pytest.raises(ValueError, match="temperature"):
        m.generate(x, 2, temperature=0.0)
    with pytest.raises(ValueError, match="n_ctx"):
        m(torch.zeros(1, 17, dtype=torch.long))


def test_bad_configs():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=100, n_head=12)
    with pytest.raises(ValueError, match="activation"):
        GPTConfig(activation="swishy")
    with pytest.raises(ValueError, match="variant"):
        build("gpt3")


def test_classifier_uses_extract_token_and_ignores_padding():
    torch.manual_seed(0)
    gpt = GPT(tiny())
    clf = GPTClassifier(gpt, n_classes=3, clf_dropout=0.0).eval()
    a = torch.tensor([[1, 5, 6, 7, 2]])
    padded = torch.tensor([[1, 5, 6, 7, 2, 0, 0, 0]])
    la, lm_a = clf(a, torch.tensor([4]))
    lb, lm_b = clf(padded, torch.tensor([4]))
    assert la.shape == (1, 3) and lm_b.shape == (1, 8, 31)
    assert torch.allclose(la, lb, atol=1e-6)                       # Eq. (3) on h_l^m, padding after it is invisible
    expect = clf.W_y(gpt.hidden(a)[:, 4])
    assert torch.allclose(la, expect, atol=1e-6)


# -- train mode: §4.1 "residual, embedding, and attention dropouts with a rate of 0.1" (here p = 0.5) --------

def test_embedding_dropout_is_applied_to_the_sum_of_embeddings():
    # h_0 = dropout(U W_e + W_p), Eq. (2), before the first block: the first random draw of a forward pass
    torch.manual_seed(0)
    m = GPT(tiny(dropout=0.5)).train()
    x = torch.randint(0, 31, (4, 12))
    seen = []
    m.transformer.h[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
    torch.manual_seed(1)
    m(x)
    with torch.no_grad():
        emb = m.transformer.wte(x) + m.transformer.wpe(torch.arange(12))
    torch.manual_seed(1)
    assert torch.equal(seen[0], torch.nn.functional.dropout(emb, 0.5, training=True))
    m.eval()
    m(x)
    assert torch.allclose(seen[1], emb)                                 # no dropout in eval mode


@pytest.mark.parametrize("pre_ln", [False, True])
def test_residual_dropout_is_the_last_op_of_each_sublayer(pre_ln):
    # dropout on each sub-layer's output before it is added to the residual stream: exact zeros in a
    # fraction p of the attention and MLP outputs in train mode, none in eval mode
    torch.manual_seed(0)
    m = GPT(tiny(dropout=0.5, pre_ln=pre_ln, final_ln=pre_ln)).train()
    x = torch.randint(0, 31, (8, 16))
    outs = {}
    for name in ("attn", "mlp"):
        for i, blk in enumerate(m.transformer.h):
            getattr(blk, name).register_forward_hook(lambda mod, a, o, k=f"{name}{i}": outs.__setitem__(k, o.detach()))
    m(x)
    for k, o in outs.items():
        assert 0.42 < (o == 0).float().mean().item() < 0.58, k
    m.eval()
    m(x)
    for k, o in outs.items():
        assert (o == 0).float().mean().item() < 0.01, k


def test_attention_dropout_reaches_the_attention_weights(monkeypatch):
    torch.manual_seed(0)
    m = GPT(tiny(dropout=0.5))
    seen = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(*args, **kw):
        seen.append(kw.get("dropout_p", 0.0))
        return sdpa(*args, **kw)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    x = torch.randint(0, 31, (2, 8))
    m.train()(x)
    m.eval()(x)
    assert seen == [0.5, 0.5, 0.0, 0.0]                                 # one call per layer


def test_classifier_dropout_before_W_y():
    # §4.1 "we add dropout to the classifier with a rate of 0.1" (here 0.5): on h_l^m, the input of W_y
    torch.manual_seed(0)
    clf = GPTClassifier(GPT(tiny()), n_classes=3, clf_dropout=0.5).train()
    seen = []
    clf.W_y.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
    idx = torch.randint(0, 31, (64, 6))
    clf(idx, torch.full((64,), 5))
    assert 0.4 < (seen[0] == 0).float().mean().item() < 0.6
    clf.eval()(idx, torch.full((64,), 5))
    assert (seen[1] == 0).float().mean().item() == 0
