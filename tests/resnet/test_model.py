"""Paper facts about the architectures (Table 1, §3.3, §4.2, Table 6), counted on the meta device."""
import pytest
import torch

from papers.resnet.model import (VARIANTS, BasicBlock, Bottleneck, ProjectionShortcut, ResNetConfig, ZeroPadShortcut,
                                 build, cifar_resnet, resnet)
from shared.profiling import count_flops, count_params

IMAGENET_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                   "resnet101": 44_549_160, "resnet152": 60_192_808}
CIFAR_PARAMS = {"resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
                "resnet110": 1_727_962, "resnet1202": 19_421_274}
TABLE6_M = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7,
            "resnet1202": 19.4}
TABLE1_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


def test_variant_names():
    want = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34",
            "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
            "plain20", "plain32", "plain44", "plain56", "plain110"}
    assert want <= set(VARIANTS)


@pytest.mark.parametrize("name,n", IMAGENET_PARAMS.items())
def test_imagenet_param_counts(name, n):
    assert count_params(VARIANTS[name]) == n


@pytest.mark.parametrize("name,n", CIFAR_PARAMS.items())
def test_cifar_param_counts_table6(name, n):
    got = count_params(VARIANTS[name])
    assert got == n
    digits = 1 if name in ("resnet110", "resnet1202") else 2  # as printed in Table 6
    assert round(got / 1e6, digits) == pytest.approx(TABLE6_M[name])  # Table 6: 0.27M ... 19.4M


@pytest.mark.parametrize("d", [20, 32, 44, 56, 110])
def test_option_a_plain_equals_residual(d):
    assert count_params(VARIANTS[f"plain{d}"]) == count_params(VARIANTS[f"resnet{d}"])


def test_imagenet_shortcut_options():
    a, b, c = (count_params(lambda s=s: resnet(34, shortcut=s)) for s in "ABC")
    assert a == count_params(VARIANTS["plain34"])          # option A is parameter-free
    assert a < b < c                                        # B adds projections where dims grow, C everywhere
    # B: 3 projections (conv3_1, conv4_1, conv5_1), each a 1x1 conv + BN
    assert b - a == sum(ci * co + 2 * co for ci, co in [(64, 128), (128, 256), (256, 512)])
    # C also projects every identity shortcut: 16 blocks in all for ResNet-34
    with torch.device("meta"):
        m = resnet(34, shortcut="C")
    assert sum(isinstance(x, ProjectionShortcut) for x in m.modules()) == 16


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_table1_flops_paper_layout(depth):
    with torch.device("meta"):
        m = resnet(depth)
        x = torch.empty(1, 3, 224, 224)
    gmacs = count_flops(m, x) / 2 / 1e9
    assert gmacs == pytest.approx(TABLE1_GMACS[depth], rel=0.03)


def test_v15_moves_flops_like_torchvision():
    with torch.device("meta"):
        x = torch.empty(1, 3, 224, 224)
        v1 = count_flops(resnet(50), x) / 2e9
        v15 = count_flops(resnet(50, stride_on_3x3=True), x) / 2e9
    assert v1 == pytest.approx(3.858, abs=0.002) and v15 == pytest.approx(4.089, abs=0.002)


def test_cifar_flops_resnet20():
    with torch.device("meta"):
        gmacs = count_flops(VARIANTS["resnet20"](), torch.empty(1, 3, 32, 32)) / 2e6
    assert gmacs == pytest.approx(40.6, abs=0.1)


def test_bottleneck_stride_placement():
    with torch.device("meta"):
        v1, v15 = resnet(50), resnet(50, stride_on_3x3=True)
    b1, b15 = v1.conv3_x[0], v15.conv3_x[0]
    assert isinstance(b1, Bottleneck)
    assert b1.conv1.stride == (2, 2) and b1.conv2.stride == (1, 1)   # the paper: stride on the first 1x1
    assert b15.conv1.stride == (1, 1) and b15.conv2.stride == (2, 2)  # torchvision v1.5


def stage_outputs(m, x):
    """The output of every stage (Table 1's conv2_x ..., §4.2's three stages), read by forward hooks."""
    out = []
    hooks = [s.register_forward_hook(lambda mod, inp, o: out.append(o)) for s in m.stages]
    m(x)
    for h in hooks:
        h.remove()
    return out


def test_cifar_stage_shapes_and_depth():
    m = VARIANTS["resnet20"]().eval()
    feats = stage_outputs(m, torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    for d in (20, 32, 44, 56, 110, 1202):
        assert cifar_resnet(d, width=1).cfg.depth == d  # 6n + 2 weighted layers


def test_imagenet_shapes_small_input():
    m = VARIANTS["resnet18"]().eval()
    feats = stage_outputs(m, torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_option_a_shortcut_is_subsample_and_zero_pad():
    s = ZeroPadShortcut(2, 5, 2)
    x = torch.randn(3, 2, 6, 6)
    y = s(x)
    assert y.shape == (3, 5, 3, 3)
    assert torch.equal(y[:, :2], x[:, :, ::2, ::2]) and torch.count_nonzero(y[:, 2:]) == 0


def test_residual_block_is_identity_when_f_is_zero():
    cfg = ResNetConfig(shortcut="A")
    blk = BasicBlock(8, 8, 1, cfg).eval()
    torch.nn.init.zeros_(blk.bn2.weight)          # F(x) = 0  ->  y = relu(x)  (Eq. (1))
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(blk(x), torch.relu(x))
    plain = BasicBlock(8, 8, 1, ResNetConfig(residual=False)).eval()
    torch.nn.init.zeros_(plain.bn2.weight)
    assert torch.count_nonzero(plain(x)) == 0      # a plain block has no shortcut
    assert plain.shortcut is None


def test_zero_init_residual():
    m = resnet(18, zero_init_residual=True)
    assert all(torch.count_nonzero(b.last_bn.weight) == 0 for s in m.stages for b in s)


def test_bad_inputs_have_clear_errors():
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(21)
    with pytest.raises(ValueError, match="Table 1"):
        resnet(20)
    with pytest.raises(ValueError, match="unknown ResNet variant"):
        build("resnet19")
    with pytest.raises(ValueError, match="shortcut"):
        ResNetConfig(shortcut="D")
    with pytest.raises(ValueError, match="expected images"):
        VARIANTS["resnet20"]()(torch.randn(2, 1, 32, 32))
