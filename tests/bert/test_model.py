"""Paper facts (§3: BERT-BASE / LARGE sizes), the encoder's structure and the heads, at tiny size."""
import math

import pytest
import torch

from papers.bert.model import (BertConfig, BertForPreTraining, BertForQuestionAnswering,
                               BertForSequenceClassification, BertModel, VARIANTS, bert_base_config,
                               bert_cpu_config, bert_large_config, build)
from shared.profiling import count_params


def tiny(**kw):
    return BertConfig(**{**dict(vocab_size=50, max_position=24, L=2, H=16, A=2, dropout=0.0, attn_dropout=0.0), **kw})


def test_bert_base_parameter_count():
    # §3: "110M"; HF BertModel (vocabulary 30,522, 512 positions, 2 segments, pooler): 109,482,240
    assert count_params(VARIANTS["bert-base"]) == 109_482_240
    assert count_params(lambda: BertModel(bert_base_config(), add_pooling_layer=False)) == 108_891_648


def test_bert_large_parameter_count():
    # §3: "340M"; HF BertModel LARGE: 335,141,888
    assert count_params(VARIANTS["bert-large"]) == 335_141_888


def test_pretraining_heads_parameter_count():
    # HF BertForPreTraining (decoder tied to the token embeddings, its own bias): 110,106,428 / 336,226,108
    assert count_params(lambda: BertForPreTraining(bert_base_config())) == 110_106_428
    assert count_params(lambda: BertForPreTraining(bert_large_config())) == 336_226_108


def test_variant_specifications():
    b, l, c = bert_base_config(), bert_large_config(), bert_cpu_config()
    assert (b.L, b.H, b.A, b.d_ff, b.vocab_size, b.max_position, b.type_vocab_size) == (12, 768, 12, 3072, 30522, 512, 2)
    assert (l.L, l.H, l.A, l.d_ff) == (24, 1024, 16, 4096)
    assert b.dropout == 0.1 and b.attn_dropout == 0.1 and b.init_std == 0.02 and not b.causal
    assert (c.L, c.H, c.A, c.d_ff, c.max_position) == (2, 128, 2, 512, 128)
    assert set(VARIANTS) == {"bert-base", "bert-large", "bert-cpu"}
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(H=30, A=4)


def test_mlm_decoder_tied_with_own_bias():
    torch.manual_seed(0)
    m = BertForPreTraining(tiny())
    head = m.cls.predictions
    assert head.word_embeddings[0] is m.bert.embeddings.word_embeddings
    assert head.bias.shape == (50,) and torch.all(head.bias == 0)
    names = [n for n, _ in m.named_parameters()]
    assert sum("word_embeddings" in n for n in names) == 1            # registered once
    x = torch.randint(5, 50, (2, 10))
    mlm, nsp = m(x)
    assert mlm.shape == (2, 10, 50) and nsp.shape == (2, 2)
    manual = head.transform(m.bert(x)[0]) @ m.bert.embeddings.word_embeddings.weight.T + head.bias
    assert torch.allclose(mlm, manual, atol=1e-6)
    mlm.sum().backward()
    assert m.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    # logits at selected positions only == the full logits gathered there
    pos = torch.zeros(2, 10, dtype=torch.bool)
    pos[0, 3] = pos[1, 7] = True
    sel, _ = m(x, mlm_positions=pos)
    assert sel.shape == (2, 50) and torch.allclose(sel, mlm.detach()[pos], atol=1e-6)


def test_embeddings_sum_token_segment_position_then_layernorm():
    torch.manual_seed(0)
    m = BertModel(tiny())
    e = m.embeddings
    x = torch.randint(5, 50, (2, 6))
    seg = torch.tensor([[0, 0, 0, 1, 1, 1]] * 2)
    s = e.word_embeddings(x) + e.token_type_embeddings(seg) + e.position_embeddings(torch.arange(6))
    ref = torch.nn.functional.layer_norm(s, (16,), e.LayerNorm.weight, e.LayerNorm.bias, 1e-12)
    assert torch.allclose(e(x, seg), ref, atol=1e-6)
    assert not torch.allclose(e(x, seg), e(x))                       # segments matter
    assert torch.all(e.word_embeddings.weight[0] == 0)                # [PAD] row starts at zero


def test_post_ln_block_and_exact_gelu():
    torch.manual_seed(0)
    m = BertModel(tiny()).eval()
    layer = m.encoder.layer[0]
    x = torch.randn(2, 5, 16)
    a = layer.attention.self(x, None)
    y = layer.attention.output.LayerNorm(x + layer.attention.output.dense(a))       # LN(x + Attn(x))
    inner = layer.intermediate.dense(y)
    gelu = inner * 0.5 * (1 + torch.erf(inner / math.sqrt(2)))                      # exact, not tanh
    assert torch.allclose(layer.intermediate(y), gelu, atol=1e-6)
    z = layer.output.LayerNorm(y + layer.output.dense(gelu))                         # LN(y + FFN(y))
    assert torch.allclose(layer(x, None), z, atol=1e-5)


def test_pooler_is_tanh_of_cls_state():
    torch.manual_seed(0)
    m = BertModel(tiny()).eval()
    x = torch.randint(5, 50, (3, 7))
    h, C = m(x)
    assert torch.allclose(C, torch.tanh(m.pooler.dense(h[:, 0])), atol=1e-6)


def test_padding_is_invisible_with_attention_mask():
    torch.manual_seed(0)
    m = BertModel(tiny()).eval()
    x = torch.randint(5, 50, (1, 6))
    padded = torch.cat([x, torch.zeros(1, 4, dtype=torch.long)], 1)
    am = torch.tensor([[1] * 6 + [0] * 4])
    h1, c1 = m(x)
    h2, c2 = m(padded, attention_mask=am)
    assert torch.allclose(h1, h2[:, :6], atol=1e-5) and torch.allclose(c1, c2, atol=1e-5)


def test_bidirectional_vs_causal():
    torch.manual_seed(0)
    x = torch.randint(5, 50, (2, 8))
    y = x.clone()
    y[:, 5:] = (y[:, 5:] + 1) % 45 + 5                                 # change the future
    bi = BertModel(tiny()).eval()
    assert not torch.allclose(bi(x)[0][:, :5], bi(y)[0][:, :5])      # BERT sees both sides (§3.1)
    torch.manual_seed(0)
    ltr = BertModel(tiny(causal=True)).eval()                          # Table 5 "LTR"
    assert torch.allclose(ltr(x)[0][:, :5], ltr(y)[0][:, :5], atol=1e-6)


def test_dropout_placement_in_train_mode():
    torch.manual_seed(0)
    m = BertForPreTraining(tiny(dropout=0.3, attn_dropout=0.3))
    x = torch.randint(5, 50, (2, 9))
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])
    m.train()
    a, b = m(x)[0], m(x)[0]
    assert not torch.allclose(a, b)
    # embedding dropout, the two residual dropouts and attention dropout are all active
    assert m.bert.embeddings.dropout.p == 0.3
    assert m.bert.encoder.layer[0].attention.output.dropout.p == 0.3
    assert m.bert.encoder.layer[0].output.dropout.p == 0.3
    assert m.bert.encoder.layer[0].attention.self.p == 0.3
    # with every rate at 0, train mode equals eval mode
    torch.manual_seed(0)
    z = BertForPreTraining(tiny())
    z.train()
    t = z(x)[0]
    z.eval()
    assert torch.allclose(t, z(x)[0], atol=1e-6)


def test_fine_tuning_heads():
    torch.manual_seed(0)
    cfg = tiny()
    x = torch.randint(5, 50, (3, 11))
    am = torch.ones_like(x)
    am[0, 8:] = 0
    clf = BertForSequenceClassification(cfg, 6).eval()
    assert clf(x, attention_mask=am).shape == (3, 6)
    _, C = clf.bert(x, attention_mask=am)
    assert torch.allclose(clf(x, attention_mask=am), clf.classifier(C), atol=1e-6)   # §4.1: W on C
    qa = BertForQuestionAnswering(cfg).eval()
    s, e = qa(x, attention_mask=am)
    assert s.shape == e.shape == (3, 11)
    assert torch.isinf(s[0, 8:]).all() and torch.isfinite(s[1]).all()
    h, _ = qa.bert(x, attention_mask=am)
    assert torch.allclose(s[1], h[1] @ qa.qa_outputs.weight[0] + qa.qa_outputs.bias[0], atol=1e-5)  # S · T_i
    assert isinstance(build("bert-cpu", head="none", L=1, H=8, A=2), BertModel)
    with pytest.raises(ValueError, match="variant"):
        build("bert-huge")


def test_too_long_input_is_named():
    m = BertModel(tiny())
    with pytest.raises(ValueError, match="max_position"):
        m(torch.ones(1, 30, dtype=torch.long))
