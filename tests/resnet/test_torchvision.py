"""Equivalence with torchvision's ResNets (v1.5 flag), ported through TORCHVISION_KEY_MAP: equal
outputs, gradients and BN statistics, in train and eval mode. No download: random weights."""
import pytest
import torch

import torchvision  # oracle: a test dependency (pip install -e ".[test]"); never skipped

from papers.resnet.model import (convert_torchvision_state_dict, from_torchvision, load_torchvision,  # noqa: E402
                                 resnet, torchvision_key)


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


def test_cifar_resnet20_equals_torchvision_basicblocks():
    """§4.2's ResNet-20 against the same stack of torchvision BasicBlocks (option A as their downsample)."""
    from papers.resnet.benchmark import TorchvisionCifarResNet
    from papers.resnet.model import cifar_resnet

    torch.manual_seed(0)
    tv, ours = TorchvisionCifarResNet(20), cifar_resnet(20)
    n = 3
    sd = {}
    for k, v in tv.state_dict().items():
        if k.startswith("layers."):
            _, i, rest = k.split(".", 2)
            s, j = divmod(int(i), n)
            k = f"conv{s + 2}_x.{j}.{rest}"
        sd[k] = v
    ours.load_state_dict(sd)
    x = torch.randn(4, 3, 32, 32)
    for train in (True, False):
        tv.train(train)
        ours.train(train)
        a, b = tv(x), ours(x)
        assert torch.allclose(a, b, atol=1e-5)
        a.sum().backward()
        b.sum().backward()
    assert torch.allclose(tv.conv1.weight.grad, ours.conv1.weight.grad, atol=1e-5)
    assert torch.allclose(tv.layers[8].conv2.weight.grad, ours.conv4_x[2].conv2.weight.grad, atol=1e-5)
