"""§3.1 objectives by hand, and the App. A.2 / §4.1 recipe constants."""
import math

import pytest
import torch

from papers.bert import loss as L
from papers.bert.model import BertConfig, BertForPreTraining


def test_mlm_loss_only_at_masked_positions():
    logits = torch.zeros(1, 3, 4)
    logits[0, 1] = torch.tensor([0.0, math.log(3.0), 0.0, 0.0])       # p(1) = 3/6 at position 1
    labels = torch.tensor([[L.IGNORE, 1, L.IGNORE]])
    assert L.mlm_loss(logits, labels).item() == pytest.approx(-math.log(0.5))
    # gathered form: [N, V] with labels [N]
    assert L.mlm_loss(logits[0, 1:2], torch.tensor([1])).item() == pytest.approx(-math.log(0.5))


def test_pretraining_loss_is_sum_of_means():
    g = torch.Generator().manual_seed(0)
    mlm, nsp = torch.randn(2, 5, 7, generator=g), torch.randn(2, 2, generator=g)
    labels = torch.full((2, 5), L.IGNORE)
    labels[0, 1], labels[1, 3], labels[1, 4] = 3, 0, 6
    y = torch.tensor([0, 1])
    total, a, b = L.pretraining_loss(mlm, labels, nsp, y)
    lp = mlm.log_softmax(-1)
    mean_mlm = -(lp[0, 1, 3] + lp[1, 3, 0] + lp[1, 4, 6]) / 3
    mean_nsp = -(nsp.log_softmax(-1)[0, 0] + nsp.log_softmax(-1)[1, 1]) / 2
    assert a.item() == pytest.approx(mean_mlm.item(), abs=1e-6)
    assert b.item() == pytest.approx(mean_nsp.item(), abs=1e-6)
    assert total.item() == pytest.approx((mean_mlm + mean_nsp).item(), abs=1e-6)   # App. A.2: the sum
    only, _, none = L.pretraining_loss(mlm, labels)                                  # Table 5 "No NSP"
    assert none is None and only.item() == pytest.approx(mean_mlm.item(), abs=1e-6)


def test_span_loss():
    s = torch.tensor([[0.0, 0.0]])
    assert L.span_loss(s, s, torch.tensor([0]), torch.tensor([1])).item() == pytest.approx(math.log(2))


def test_appendix_a2_recipe():
    assert (L.PRETRAIN_LR, L.BETAS, L.WEIGHT_DECAY, L.WARMUP_STEPS, L.PRETRAIN_STEPS) == \
        (1e-4, (0.9, 0.999), 0.01, 10_000, 1_000_000)
    assert L.PRETRAIN_BATCH * 512 == 131_072 and L.DROPOUT == 0.1            # "256 sequences * 512 tokens"
    assert (L.FINETUNE_BATCH, L.FINETUNE_EPOCHS, L.FINETUNE_LRS) == (32, 3, (5e-5, 4e-5, 3e-5, 2e-5))
    # warm-up over 10,000 steps, then linear decay to 0 at 1M steps
    f = lambda s: L.warmup_linear(s, L.WARMUP_STEPS, L.PRETRAIN_STEPS)  # noqa: E731
    assert f(0) == 0.0 and f(5_000) == pytest.approx(0.5) and f(10_000) == pytest.approx(0.99)
    assert f(500_000) == pytest.approx(0.5) and f(1_000_000) == 0.0
    assert all(f(s) >= f(s + 1000) for s in range(10_000, 999_000, 50_000))


def test_optimizer_groups_skip_layernorm_and_bias():
    m = BertForPreTraining(BertConfig(vocab_size=30, max_position=8, L=1, H=8, A=2))
    opt = L.adam(m)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.9, 0.999)
    names = {id(p): n for n, p in m.named_parameters()}
    assert all(("LayerNorm" in names[id(p)] or names[id(p)].endswith("bias")) for p in no_decay["params"])
    assert all(p.dim() == 2 for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(m.parameters()))
