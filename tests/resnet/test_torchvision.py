"""Equivalence with torchvision's ResNets (v1.5 flag), ported through interop.TORCHVISION_KEY_MAP: equal
outputs, gradients and BN statistics, in train and eval mode. No download: random weights."""
import pytest
import torch

import torchvision  # oracle: a test dependency (pip install -e ".[test]"); never skipped

from papers.resnet.interop import (convert_torchvision_state_dict, from_torchvision, load_torchvision,  # noqa: E402
                                   torchvision_key)
from papers.resnet.model import resnet  # noqa: E402


def ported(depth: int, seed: int = 0):
    torch.manual_seed(seed)
    tv = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    for m in tv.modules():  # non-trivial BN parameters and statistics, so that eval mode is a real test
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours = resnet(depth, stride_on_3x3=depth >= 50)
    load_torchvision(ours, tv.state_dict())
    return tv, ours


def test_key_map_examples():
    assert torchvision_key("conv1.weight") == "conv1.weight"
    assert torchvision_key("layer1.0.conv2.weight") == "conv2_x.0.conv2.weight"
    assert torchvision_key("layer3.0.downsample.0.weight") == "conv4_x.0.shortcut.conv.weight"
    assert torchvision_key("layer4.0.downsample.1.running_var") == "conv5_x.0.shortcut.bn.running_var"
    assert torchvision_key("fc.bias") == "fc.bias"


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_outputs_and_gradients_match(depth, mode):
    tv, ours = ported(depth)
    tv.train(mode == "train")
    ours.train(mode == "train")
    x = torch.randn(2, 3, 64, 64)
    y_tv, y_ours = tv(x), ours(x)
    assert torch.allclose(y_tv, y_ours, atol=1e-5, rtol=1e-4)
    y_tv.square().sum().backward()
    y_ours.square().sum().backward()
    grads_ours = {k: p.grad for k, p in ours.named_parameters()}
    for k, p in tv.named_parameters():
        g = grads_ours[torchvision_key(k)]
        assert torch.allclose(p.grad, g, atol=1e-5, rtol=1e-3), k
    if mode == "train":  # the BN running statistics moved identically
        ours_sd = ours.state_dict()
        for k, v in convert_torchvision_state_dict(tv.state_dict()).items():
            assert torch.allclose(v.float(), ours_sd[k].float(), atol=1e-6), k


def test_import_torchvision_checkpoint_file(tmp_path):
    torch.manual_seed(1)
    tv = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(tv.state_dict(), path)
    ours = from_torchvision("resnet18", path).eval()
    assert ours.cfg.num_classes == 7
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(tv(x), ours(x), atol=1e-5)


def test_import_refuses_paper_layout_bottleneck():
    sd = torchvision.models.resnet50(weights=None).state_dict()
    with pytest.raises(ValueError, match="v1.5"):
        load_torchvision(resnet(50), sd)
    with pytest.raises(ValueError, match="same depth"):
        load_torchvision(resnet(101, stride_on_3x3=True), sd)


class OptionA(torch.nn.Module):
    """§3.3 option (A), written from the text: "the shortcut still performs identity mapping, with extra zero
    entries padded for increasing dimensions"; "when the shortcuts go across feature maps of two sizes, they
    are performed with a stride of 2". Zeros appended after the existing channels."""

    def __init__(self, c_out):
        super().__init__()
        self.c_out = c_out

    def forward(self, x):
        x = x[:, :, ::2, ::2]
        zeros = torch.zeros(x.shape[0], self.c_out - x.shape[1], *x.shape[2:], dtype=x.dtype)
        return torch.cat([x, zeros], dim=1)


def torchvision_cifar_resnet(depth=20):
    """§4.2's 6n+2 network assembled from torchvision BasicBlocks and plain torch.nn layers only."""
    from torchvision.models.resnet import BasicBlock

    n, blocks, c_in = (depth - 2) // 6, [], 16
    for stage, c in enumerate((16, 32, 64)):
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            blocks.append(BasicBlock(c_in, c, stride, downsample=OptionA(c) if stride == 2 else None))
            c_in = c
    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16),
                               torch.nn.ReLU(), *blocks, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(64, 10))


def test_cifar_resnet20_equals_an_independent_torchvision_build():
    """Ours against torchvision BasicBlocks with an option-A shortcut written from the paper's text:
    equal outputs and gradients, train and eval mode, and the same 269,722 parameters (Table 6: 0.27M)."""
    from papers.resnet.model import cifar_resnet

    torch.manual_seed(0)
    ref, ours = torchvision_cifar_resnet(20), cifar_resnet(20)
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in ours.parameters()) == 269_722
    n, sd = 3, {}
    names = {"0": "conv1", "1": "bn1", "14": "fc"}            # 3..11: the nine blocks; 12, 13: pool, flatten
    for k, v in ref.state_dict().items():
        i, rest = k.split(".", 1)
        if i in names:
            sd[f"{names[i]}.{rest}"] = v
        else:
            s, j = divmod(int(i) - 3, n)
            sd[f"conv{s + 2}_x.{j}.{rest}"] = v
    ours.load_state_dict(sd)
    x = torch.randn(4, 3, 32, 32)
    for train in (True, False):
        ref.train(train)
        ours.train(train)
        a, b = ref(x), ours(x)
        assert torch.allclose(a, b, atol=1e-5)
        a.square().sum().backward()
        b.square().sum().backward()
    assert torch.allclose(ref[0].weight.grad, ours.conv1.weight.grad, atol=1e-4, rtol=1e-4)
    assert torch.allclose(ref[14].weight.grad, ours.fc.weight.grad, atol=1e-4, rtol=1e-4)


def test_paper_layout_bottleneck_has_its_stride_on_the_first_1x1():
    """Fig. 5 right with the stride of conv3_1 on the first 1x1 (the paper's layout), built from torch.nn layers
    with the same weights, and the projection shortcut of Eq. (2) (1x1, stride 2, BN): equal outputs."""
    from papers.resnet.model import Bottleneck, ResNetConfig

    torch.manual_seed(2)
    nn = torch.nn
    ours = Bottleneck(64, 32, 2, ResNetConfig(block="bottleneck", shortcut="B"))
    main = nn.Sequential(nn.Conv2d(64, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 128, 1, bias=False), nn.BatchNorm2d(128))
    short = nn.Sequential(nn.Conv2d(64, 128, 1, stride=2, bias=False), nn.BatchNorm2d(128))
    for dst, src in zip([main[0], main[1], main[3], main[4], main[6], main[7], short[0], short[1]],
                        [ours.conv1, ours.bn1, ours.conv2, ours.bn2, ours.conv3, ours.bn3, ours.shortcut.conv,
                         ours.shortcut.bn]):
        dst.load_state_dict(src.state_dict())
    x = torch.randn(2, 64, 16, 16)
    for train in (True, False):
        for m in (ours, main, short):
            m.train(train)
        y = ours(x)
        assert y.shape == (2, 128, 8, 8)
        assert torch.allclose(y, torch.relu(main(x) + short(x)), atol=1e-5)


def test_batchnorm_statistics_in_train_mode():
    """§3.4: BN after every conv; in train mode it normalises with the batch's statistics and updates the running
    ones (PyTorch momentum 0.1, unbiased variance); eval mode uses the running ones."""
    from papers.resnet.model import cifar_resnet

    torch.manual_seed(3)
    m = cifar_resnet(20, width=4).train()
    x = torch.randn(8, 3, 32, 32)
    h = m.conv1(x)                                                       # the first BN's input
    m(x)
    assert torch.allclose(m.bn1.running_mean, 0.1 * h.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(m.bn1.running_var, 0.9 + 0.1 * h.var(dim=(0, 2, 3), unbiased=True), atol=1e-5)
    assert int(m.bn1.num_batches_tracked) == 1
    batch_norm = (h - h.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(h.var(dim=(0, 2, 3), unbiased=False,
                                                                               keepdim=True) + m.bn1.eps)
    assert torch.allclose(m.bn1(h), batch_norm * m.bn1.weight[:, None, None] + m.bn1.bias[:, None, None], atol=1e-5)
    m.eval()
    with torch.no_grad():
        assert not torch.allclose(m.bn1(h), batch_norm, atol=1e-3)          # eval: running statistics, not the batch's
