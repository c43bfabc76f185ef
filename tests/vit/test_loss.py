"""The paper's recipes (§4.1, App. B.1; ../shared/PAPER_FACTS.md §9) and the schedule."""
import math

import pytest
import torch

from papers.vit.loss import FINETUNE, PRETRAIN, WarmupDecay, cross_entropy, finetune_optimizer, pretrain_optimizer
from papers.vit.model import ViTConfig, VisionTransformer
from papers.vit.reproduce import PRESETS


def test_pretraining_recipe_pinned():
    # §4.1: Adam beta1 0.9, beta2 0.999, batch 4096, weight decay 0.1; linear warm-up (10k steps) and decay
    assert PRETRAIN == dict(betas=(0.9, 0.999), batch_size=4096, weight_decay=0.1, warmup_steps=10_000,
                            decay="linear")
    p = PRESETS["paper-pretrain"]
    assert (p.optimizer, tuple(p.betas), p.batch_size, p.weight_decay, p.warmup_steps, p.decay) == \
        ("adam", (0.9, 0.999), 4096, 0.1, 10_000, "linear")
    assert p.representation_size == 768        # the pre-training head's hidden layer (ViT-B: D)


def test_finetuning_recipe_pinned():
    # §4.1 / App. B.1.1: SGD momentum 0.9, batch 512, cosine decay, resolution 384, grad clip at norm 1
    p = PRESETS["paper"]
    assert (p.optimizer, p.momentum, p.batch_size, p.decay, p.resolution, p.grad_clip, p.weight_decay) == \
        ("sgd", 0.9, 512, "cosine", 384, 1.0, 0.0)
    assert FINETUNE["batch_size"] == 512 and FINETUNE["resolution"] == 384


def test_quick_anchor_settings():
    q = PRESETS["quick"]
    assert len(q.seeds) >= 3 and len(q.sizes) >= 2 and list(q.sizes) == sorted(q.sizes)
    assert (q.vit.D, q.vit.L, q.vit.heads, q.vit.mlp_dim, q.vit.patch_size) == (96, 4, 3, 192, 4)  # PAPER_FACTS §9
    assert q.optimizer == "adam" and tuple(q.betas) == (0.9, 0.999)


def tiny():
    return VisionTransformer(ViTConfig(image_size=8, patch_size=4, D=8, L=1, heads=2, mlp_dim=16, num_classes=3))


def test_optimizers():
    m = tiny()
    a = pretrain_optimizer(m, 1e-3)
    assert isinstance(a, torch.optim.AdamW) and a.defaults["betas"] == (0.9, 0.999)
    decayed = {id(p) for p in a.param_groups[0]["params"]}
    assert a.param_groups[0]["weight_decay"] == 0.1 and a.param_groups[1]["weight_decay"] == 0.0
    assert id(m.patch_embedding.proj.weight) in decayed and id(m.position_embedding) not in decayed
    assert id(m.blocks[0].ln_1.weight) not in decayed and id(m.head.bias) not in decayed
    s = finetune_optimizer(m, 0.01)
    assert isinstance(s, torch.optim.SGD) and s.defaults["momentum"] == 0.9 and s.defaults["weight_decay"] == 0.0


def test_warmup_then_linear_and_cosine_decay():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = WarmupDecay(opt, 1.0, total=100, warmup=10, decay="linear")
    assert s.lr_at(0) == pytest.approx(0.1) and s.lr_at(9) == pytest.approx(1.0)
    assert s.lr_at(55) == pytest.approx(0.5) and s.lr_at(100) == pytest.approx(0.0)
    c = WarmupDecay(opt, 1.0, total=100, warmup=0, decay="cosine")
    assert c.lr_at(50) == pytest.approx(0.5) and c.lr_at(25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    s2 = WarmupDecay(opt, 1.0, total=100, warmup=10)
    for _ in range(30):
        s.step()
    s2.load_state_dict(s.state_dict())
    assert opt.param_groups[0]["lr"] == pytest.approx(s.lr_at(30))


def test_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    want = -(2.0 - math.log(math.exp(2) + 1 + math.exp(-1)))
    assert cross_entropy(logits, torch.tensor([0])).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError):
        cross_entropy(logits, torch.tensor([[0]]))
