"""Equivalence with independent implementations (torchvision, Hugging Face transformers): their random
weights ported through interop.py's key maps give equal outputs and gradients, dropout off and on."""
import pytest
import torch
from torchvision.models import VisionTransformer as TVViT
from transformers import ViTConfig as HFConfig
from transformers import ViTForImageClassification, ViTModel

from papers.vit.interop import (config_from_huggingface, config_from_torchvision, convert_huggingface_state_dict,
                                convert_torchvision_state_dict, from_huggingface, from_torchvision,
                                load_huggingface, load_torchvision, to_torchvision_state_dict)
from papers.vit.model import VARIANTS, ViTConfig, VisionTransformer

ATOL = dict(atol=2e-5, rtol=1e-4)


def randomize(module, seed=0):
    """Every parameter random (the libraries zero-initialise heads and class tokens)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module


def grads(module):
    return {k: p.grad for k, p in module.named_parameters()}


def tv_small(dropout=0.0, attention_dropout=0.0, representation_size=None):
    return TVViT(image_size=16, patch_size=4, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64,
                 num_classes=5, dropout=dropout, attention_dropout=attention_dropout,
                 representation_size=representation_size)


def run_pair(a, b, x, train, seed=123):
    a.train(train)
    b.train(train)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(seed)
    ya = a(xa)
    torch.manual_seed(seed)
    yb = b(xb)
    ya = getattr(ya, "logits", ya)
    yb = getattr(yb, "logits", yb)
    w = torch.randn_like(ya)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    return ya, yb, xa.grad, xb.grad


@pytest.fixture
def logical_order_dropout(monkeypatch):
    """torchvision's ``nn.MultiheadAttention(batch_first=True)`` returns a transposed view, and dropout draws
    its mask in memory order (``empty_like`` keeps strides), so the same seed gives a different mask on a
    contiguous tensor. This dropout draws the mask in logical (row-major) order, so both models get the same
    mask at the same place whenever they drop out the same tensor in the same order of calls."""
    def dropout(x, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return x
        keep = (torch.rand(x.shape) >= p).to(x.dtype)
        return x * keep / (1 - p)

    monkeypatch.setattr(torch.nn.functional, "dropout", dropout)


@pytest.mark.parametrize("train,p,rep", [(False, 0.0, None), (True, 0.0, 16), (True, 0.3, None), (False, 0.3, 16)])
def test_torchvision_equivalence(train, p, rep, logical_order_dropout):
    torch.manual_seed(0)
    tv = randomize(tv_small(dropout=p, attention_dropout=p, representation_size=rep))
    ours = VisionTransformer(config_from_torchvision(tv))
    load_torchvision(ours, tv.state_dict())
    x = torch.randn(3, 3, 16, 16)
    yt, yo, gxt, gxo = run_pair(tv, ours, x, train)
    torch.testing.assert_close(yo, yt, **ATOL)
    torch.testing.assert_close(gxo, gxt, **ATOL)
    gt = convert_torchvision_state_dict(grads(tv))
    go = grads(ours)
    assert set(gt) == set(go)
    for k in go:
        torch.testing.assert_close(go[k], gt[k], **ATOL, msg=k)
    if train and p:  # dropout really acted: another seed gives another output
        torch.manual_seed(7)
        assert not torch.allclose(ours(x), yo)


def test_torchvision_vit_b_16_full_size_eval():
    """torchvision's own ``vit_b_16`` (random weights) ported into our ``vit-b16``: same logits."""
    from torchvision.models import vit_b_16

    torch.manual_seed(0)
    tv = vit_b_16().eval()
    with torch.no_grad():
        tv.heads.head.weight.normal_(std=0.02)  # make the zero-initialised head informative
    ours = load_torchvision(VARIANTS["vit-b16"](), tv.state_dict()).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), atol=1e-4, rtol=1e-4)


def test_round_trip_and_file_import(tmp_path):
    torch.manual_seed(0)
    tv = randomize(tv_small(representation_size=16))
    ours = VisionTransformer(config_from_torchvision(tv))
    load_torchvision(ours, tv.state_dict())
    back = to_torchvision_state_dict(ours)
    assert set(back) == set(tv.state_dict())
    for k, v in tv.state_dict().items():
        assert torch.equal(back[k], v), k
    # a local .pth file, as torchvision's checkpoints are distributed (here a ViT-B/32-shaped one on meta
    # is too big for a test, so: the small model saved and read back through from_torchvision's checks)
    f = tmp_path / "vit.pth"
    torch.save({"model": tv.state_dict()}, f)
    ours2 = VisionTransformer(config_from_torchvision(tv))
    load_torchvision(ours2, f)
    for k, v in ours.state_dict().items():
        assert torch.equal(ours2.state_dict()[k], v), k
    with pytest.raises(ValueError, match="do not fit"):
        load_torchvision(VisionTransformer(ViTConfig(image_size=16, patch_size=4, D=32, L=3, heads=4,
                                                     mlp_dim=64, num_classes=5, representation_size=16)), f)
    with pytest.raises(FileNotFoundError):
        load_torchvision(ours2, tmp_path / "missing.pth")


def test_from_torchvision_reads_head_and_resolution(tmp_path):
    with torch.device("meta"):
        tv = TVViT(image_size=384, patch_size=32, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072,
                   num_classes=21843, representation_size=768)
        ours = from_torchvision("vit-b32", tv.state_dict())
    assert ours.cfg.image_size == 384 and ours.cfg.num_classes == 21843 and ours.cfg.representation_size == 768
    with pytest.raises(ValueError):
        from_torchvision("vit-cpu", {})


def hf_small(dropout=0.0, attention_dropout=0.0, classification=False):
    c = HFConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=16,
                 patch_size=4, hidden_dropout_prob=dropout, attention_probs_dropout_prob=attention_dropout,
                 num_labels=5)
    return c, (ViTForImageClassification(c) if classification else ViTModel(c))


@pytest.mark.parametrize("train,p", [(False, 0.0), (True, 0.0), (True, 0.3)])
def test_huggingface_vitmodel_equivalence(train, p):
    """ViTModel: last_hidden_state == our tokens after the final LN; pooler_output == tanh(pre_logits(y))."""
    torch.manual_seed(0)
    c, hf = hf_small(p, p)
    randomize(hf)
    cfg = config_from_huggingface(c, num_classes=5)
    ours = VisionTransformer(ViTConfig(**{**cfg.__dict__, "representation_size": 32}))
    load_huggingface(ours, hf.state_dict(), strict_head=False)
    hf.train(train)
    ours.train(train)
    x = torch.randn(3, 3, 16, 16)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(5)
    out = hf(pixel_values=xa)
    torch.manual_seed(5)
    z = ours.forward_features(xb)
    pooled = torch.tanh(ours.pre_logits(ours.pool(z)))
    torch.testing.assert_close(z, out.last_hidden_state, **ATOL)
    torch.testing.assert_close(pooled, out.pooler_output, **ATOL)
    w1, w2 = torch.randn_like(z), torch.randn_like(pooled)
    ((out.last_hidden_state * w1).sum() + (out.pooler_output * w2).sum()).backward()
    ((z * w1).sum() + (pooled * w2).sum()).backward()
    torch.testing.assert_close(xb.grad, xa.grad, **ATOL)
    gh = convert_huggingface_state_dict(grads(hf))
    go = {k: v for k, v in grads(ours).items() if not k.startswith("head.")}
    assert set(gh) == set(go)
    for k in go:
        torch.testing.assert_close(go[k], gh[k], **ATOL, msg=k)


@pytest.mark.parametrize("train,p", [(False, 0.0), (True, 0.2)])
def test_huggingface_classifier_equivalence(train, p):
    torch.manual_seed(0)
    c, hf = hf_small(p, p, classification=True)
    randomize(hf)
    ours = load_huggingface(VisionTransformer(config_from_huggingface(c)), hf.state_dict())
    x = torch.randn(3, 3, 16, 16)
    yh, yo, gh, go = run_pair(hf, ours, x, train)
    torch.testing.assert_close(yo, yh, **ATOL)
    torch.testing.assert_close(go, gh, **ATOL)
    g1, g2 = convert_huggingface_state_dict(grads(hf)), grads(ours)
    assert set(g1) == set(g2)
    for k in g2:
        torch.testing.assert_close(g2[k], g1[k], **ATOL, msg=k)


def test_from_huggingface_folder(tmp_path):
    """Importing a saved Hugging Face folder (config.json + model.safetensors) is a feature."""
    torch.manual_seed(0)
    c, hf = hf_small(classification=True)
    randomize(hf).eval()
    hf.save_pretrained(tmp_path / "hfvit")
    ours = from_huggingface(tmp_path / "hfvit").eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hf(pixel_values=x).logits, **ATOL)
    c2, base = hf_small()
    randomize(base).save_pretrained(tmp_path / "base")
    m = from_huggingface(tmp_path / "base", num_classes=3)
    assert m.cfg.representation_size == 32 and m.cfg.num_classes == 3 and m.head.weight.abs().sum() == 0


def test_old_huggingface_key_names():
    """transformers 4.x names (most hub checkpoints) map to the same parameters."""
    torch.manual_seed(0)
    _, hf = hf_small()
    sd = hf.state_dict()
    old = {}
    for k, v in sd.items():
        k = k.replace("layers.", "encoder.layer.").replace("attention.q_proj", "attention.attention.query") \
            .replace("attention.k_proj", "attention.attention.key").replace("attention.v_proj", "attention.attention.value") \
            .replace("attention.o_proj", "attention.output.dense").replace("mlp.fc1", "intermediate.dense") \
            .replace("mlp.fc2", "output.dense")
        old["vit." + k] = v
    a, b = convert_huggingface_state_dict(sd), convert_huggingface_state_dict(old)
    assert set(a) == set(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
