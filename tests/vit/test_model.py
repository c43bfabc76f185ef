"""Paper facts (Table 1, §3.1-3.2, ../shared/PAPER_FACTS.md §9) and the architecture's behaviour."""
import pytest
import torch
import torch.nn as nn

from papers.vit.model import VARIANTS, ViTConfig, VisionTransformer, build, interpolate_position_embedding
from shared.profiling import count_params

# torchvision's counts with a 1000-class head (PAPER_FACTS §9 "Exact counts"); Table 1 rounds them
# to 86M / 307M / 632M.
COUNTS = {"vit-b16": 86_567_656, "vit-b32": 88_224_232, "vit-l16": 304_326_632, "vit-l32": 306_535_400,
          "vit-h14": 632_045_800}
TABLE1 = {"vit-b16": (12, 768, 3072, 12), "vit-l16": (24, 1024, 4096, 16), "vit-h14": (32, 1280, 5120, 16)}


@pytest.mark.parametrize("name", list(COUNTS))
def test_parameter_counts(name):
    assert count_params(VARIANTS[name]) == COUNTS[name]


def test_table1_round_counts():
    assert int(count_params(VARIANTS["vit-b16"]) / 1e6) == 86        # Table 1 "86M"
    assert abs(count_params(VARIANTS["vit-l16"]) / 1e6 - 307) < 3     # Table 1 "307M" (304.3M: within 1%)
    assert int(count_params(VARIANTS["vit-h14"]) / 1e6) == 632       # Table 1 "632M"


@pytest.mark.parametrize("name", list(TABLE1))
def test_table1_dims(name):
    with torch.device("meta"):
        m = VARIANTS[name]()
    c = m.cfg
    assert (c.L, c.D, c.mlp_dim, c.heads) == TABLE1[name]
    assert len(m.blocks) == c.L


def test_cpu_configuration_is_311k():
    # PAPER_FACTS §9: D = 96, L = 4, 3 heads, MLP 192, patch 4, 311k parameters.
    assert round(count_params(VARIANTS["vit-cpu"]) / 1e3) == 311
    c = build("vit-cpu").cfg
    assert (c.D, c.L, c.heads, c.mlp_dim, c.patch_size, c.image_size) == (96, 4, 3, 192, 4, 32)


def test_197_tokens_at_224_over_16():
    with torch.device("meta"):
        m = VARIANTS["vit-b16"]()
        z = m.embed(torch.empty(2, 3, 224, 224))
    assert m.cfg.N == 196 and tuple(z.shape) == (2, 197, 768)
    assert tuple(m.position_embedding.shape) == (1, 197, 768)


def tiny(**kw):
    return VisionTransformer(ViTConfig(**{**dict(image_size=16, patch_size=4, D=32, L=2, heads=4, mlp_dim=64,
                                                  num_classes=5), **kw}))


def test_patch_embedding_is_eq1_linear_map():
    """Eq. (1): token i is x_p^i E + b, with patches in row-major order and flattened (p1 p2 c)."""
    torch.manual_seed(0)
    m = tiny()
    x = torch.randn(1, 3, 16, 16)
    tok = m.patch_embedding(x)[0]                                   # [16, D]
    E, b = m.patch_embedding.proj.weight, m.patch_embedding.proj.bias
    i, j = 1, 2                                                    # patch (row 1, column 2) -> index 1*4 + 2
    patch = x[0, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4].permute(1, 2, 0).reshape(-1)
    torch.testing.assert_close(tok[i * 4 + j], E @ patch + b)


def test_prenorm_ln_before_attention_and_mlp():
    """Eqs. (2)-(3): LN is applied to the block input before MSA and before the MLP."""
    torch.manual_seed(0)
    blk = tiny().blocks[0].eval()
    seen = []
    blk.msa.register_forward_pre_hook(lambda mod, args: seen.append(("msa", args[0])))
    blk.mlp.register_forward_pre_hook(lambda mod, args: seen.append(("mlp", args[0])))
    z = torch.randn(2, 17, 32) * 3 + 1
    out = blk(z)
    torch.testing.assert_close(seen[0][1], blk.ln_1(z))
    z1 = blk.msa(blk.ln_1(z)) + z                                  # Eq. (2)
    torch.testing.assert_close(seen[1][1], blk.ln_2(z1))
    torch.testing.assert_close(out, blk.mlp(blk.ln_2(z1)) + z1)    # Eq. (3)


def test_class_token_feeds_the_head():
    torch.manual_seed(0)
    m = tiny(zero_init_head=False).eval()
    x = torch.randn(2, 3, 16, 16)
    z = m.forward_features(x)
    torch.testing.assert_close(m(x), m.head(z[:, 0]))
    # changing a patch token's final output leaves the logits unchanged: only row 0 is read
    m.ln.register_forward_hook(lambda mod, i, o: torch.cat([o[:, :1], torch.randn_like(o[:, 1:])], 1))
    torch.testing.assert_close(m(x), m.head(z[:, 0]))


def test_heads():
    m = tiny()
    assert m.pre_logits is None and m.head.weight.abs().sum() == 0 and m.head.bias.abs().sum() == 0  # §3.2
    torch.manual_seed(0)
    p = tiny(representation_size=32, zero_init_head=False).eval()   # pre-training head: one tanh hidden layer
    x = torch.randn(2, 3, 16, 16)
    y = p.forward_features(x)[:, 0]
    torch.testing.assert_close(p(x), p.head(torch.tanh(p.pre_logits(y))))
    p.reset_head(7)                                                 # fine-tuning: zero-initialised D x K
    assert p.pre_logits is None and p.cfg.num_classes == 7
    assert torch.equal(p(x), torch.zeros(2, 7))


def test_gap_classifier():
    torch.manual_seed(0)
    m = tiny(classifier="gap", zero_init_head=False).eval()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(m(x), m.head(m.forward_features(x)[:, 1:].mean(1)))


def test_interpolation_keeps_class_row_and_identity_at_same_size():
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 14 * 14, 8)
    new = interpolate_position_embedding(pos, (14, 14), (24, 24))    # 224 -> 384 px at P = 16
    assert new.shape == (1, 1 + 24 * 24, 8)
    assert torch.equal(new[:, 0], pos[:, 0])                         # the class-token row is kept
    same = interpolate_position_embedding(pos, (14, 14), (14, 14))
    torch.testing.assert_close(same, pos)                            # the grid is reproduced


def test_interpolation_follows_2d_location():
    """§3.2 "according to their location in the original image": a plane over the grid stays that plane."""
    gh = gw = 4
    r, c = torch.meshgrid(torch.arange(gh, dtype=torch.float), torch.arange(gw, dtype=torch.float), indexing="ij")
    plane = torch.stack([r, c, 2 * r - c], -1).reshape(1, gh * gw, 3)
    pos = torch.cat([torch.full((1, 1, 3), 9.0), plane], 1)
    new = interpolate_position_embedding(pos, (4, 4), (7, 7), mode="bilinear", align_corners=True)
    r2, c2 = torch.meshgrid(torch.linspace(0, 3, 7), torch.linspace(0, 3, 7), indexing="ij")
    want = torch.stack([r2, c2, 2 * r2 - c2], -1).reshape(1, 49, 3)
    torch.testing.assert_close(new[:, 1:], want)


def test_interpolation_matches_torchvision():
    """An independent implementation: torchvision's ``interpolate_embeddings`` (bicubic, align_corners=True)."""
    from torchvision.models.vision_transformer import interpolate_embeddings

    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 14 * 14, 8)
    sd = interpolate_embeddings(384, 16, {"encoder.pos_embedding": pos})
    ours = interpolate_position_embedding(pos, (14, 14), (24, 24), mode="bicubic", align_corners=True)
    torch.testing.assert_close(ours, sd["encoder.pos_embedding"])


def test_resize_for_higher_resolution_finetuning():
    torch.manual_seed(0)
    m = tiny()
    cls_row = m.position_embedding[:, 0].clone()
    with pytest.raises(ValueError, match="resize"):
        m(torch.randn(1, 3, 24, 24))
    m.resize(24)
    assert m.cfg.N == 36 and m.position_embedding.shape == (1, 37, 32)
    assert torch.equal(m.position_embedding[:, 0], cls_row)
    assert m(torch.randn(1, 3, 24, 24)).shape == (1, 5)


def test_feature_map_for_gradcam():
    torch.manual_seed(0)
    m = tiny(zero_init_head=False).eval()
    x = torch.randn(2, 3, 16, 16)
    logits, fmap = m.forward_with_feature_map(x)
    torch.testing.assert_close(logits, m(x))
    assert fmap.shape == (2, 32, 4, 4)
    g, = torch.autograd.grad(logits[:, 1].sum(), fmap)
    assert g.shape == fmap.shape and g.abs().sum() > 0
    _, f0 = m.forward_with_feature_map(x, layer=0)
    z = m.blocks[0](m.embed(x))
    torch.testing.assert_close(f0, m.tokens_to_map(z))              # layer=-2 == 0 for L = 2
    logits, last = m.forward_with_feature_map(x, layer=-1)         # the last block's patch outputs never reach
    g, = torch.autograd.grad(logits[:, 1].sum(), last)              # the class token (Eq. 4): zero gradient
    assert g.abs().sum() == 0


def test_attention_maps_are_eq6():
    torch.manual_seed(0)
    m = tiny().eval()
    x = torch.randn(2, 3, 16, 16)
    maps = m.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (2, 4, 17, 17)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 4, 17))
    z = m.embed(x)
    out, _ = m.blocks[0](z, return_attention=True)
    torch.testing.assert_close(out, m.blocks[0](z))                   # explicit Eq. (6) == fused SDPA


def test_dropout_placement_train_mode():
    """With dropout p > 0: train mode is stochastic, eval mode deterministic; the dropout modules sit
    after E_pos, after MSA, after the GELU and after the MLP."""
    torch.manual_seed(0)
    m = tiny(dropout=0.5, attention_dropout=0.5)
    x = torch.randn(2, 3, 16, 16)
    m.train()
    assert not torch.equal(m.forward_features(x), m.forward_features(x))
    m.eval()
    assert torch.equal(m.forward_features(x), m.forward_features(x))
    drops = [n for n, mod in m.named_modules() if isinstance(mod, nn.Dropout) and mod.p > 0]
    assert drops == ["drop", "blocks.0.drop", "blocks.0.mlp.drop1", "blocks.0.mlp.drop2", "blocks.1.drop",
                     "blocks.1.mlp.drop1", "blocks.1.mlp.drop2"]
    assert all(b.msa.p_attn == 0.5 for b in m.blocks)


def test_hybrid_resnet_feature_map_as_patches():
    from papers.resnet.model import cifar_resnet

    torch.manual_seed(0)
    rn = cifar_resnet(20, width=4)
    from papers.vit.model import hybrid
    m = hybrid(rn, 2, image_size=16, D=32, L=1, heads=4, mlp_dim=64, num_classes=3, zero_init_head=False)
    assert m.cfg.patch_size == 2 and m.cfg.grid == (8, 8) and m.patch_embedding.P == 1   # 1x1 patches (§3.1)
    x = torch.randn(2, 3, 16, 16)
    assert m(x).shape == (2, 3)
    fm = rn.maxpool(torch.relu(rn.bn1(rn.conv1(x))))
    for name in rn.stage_names[:2]:                                # the first two stages: [2, 8, 8, 8]
        fm = getattr(rn, name)(fm)
    assert fm.shape == (2, 8, 8, 8)
    torch.testing.assert_close(m.backbone(x), fm)
    with torch.device("meta"):
        r50 = build("r50-vit-b16")
    assert r50.cfg.grid == (14, 14) and r50.cfg.backbone_channels == 1024


def test_bad_inputs():
    with pytest.raises(ValueError, match="divisible"):
        VisionTransformer(ViTConfig(D=10, heads=3))
    with pytest.raises(ValueError, match="multiple"):
        VisionTransformer(ViTConfig(image_size=30, patch_size=4, D=8, heads=2, L=1, mlp_dim=8))
    with pytest.raises(ValueError, match="unknown"):
        build("vit-x")
