"""Equivalence with the grad-cam package (jacobgil/pytorch-grad-cam) on the same model, layer and target.

The package returns each map ReLU'd, min-max scaled to [0, 1] and resized to the input with OpenCV's
bilinear resize; we compare its weights and raw maps with ours exactly, and its returned maps with ours
put through the same scaling (:func:`ours_like_package`). torchvision's ResNet-18 (random weights) is
ported into papers/resnet's through that package's documented key map, so the same network is explained
through two implementations of it (module ReLUs in torchvision's, ``F.relu`` in ours).
"""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision
from pytorch_grad_cam import GradCAM as PkgGradCAM
from pytorch_grad_cam.guided_backprop import GuidedBackpropReLUModel
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from papers.gradcam.model import CNNConfig, GradCAM, SmallCNN, TokenGrid, guided_backprop, normalize, upsample
from papers.resnet.model import resnet

try:  # the key map lives in papers/resnet/interop.py (DESIGN "Code"); model.py held it before
    from papers.resnet.interop import convert_torchvision_state_dict
except ImportError:
    from papers.resnet.model import convert_torchvision_state_dict


def ours_like_package(e, size):
    return normalize(upsample(normalize(e.cam), size))


def package(model, layer, x, targets, reshape=None):
    """The package's maps, and its channel weights and raw (ReLU'd) maps from its stored activations."""
    with PkgGradCAM(model, [layer], reshape_transform=reshape) as pkg:
        maps = pkg(x, targets)
        A = pkg.activations_and_grads.activations[0].numpy()
        G = pkg.activations_and_grads.gradients[0].numpy()
        w = pkg.get_cam_weights(x, layer, targets, A, G)
        raw = np.maximum(pkg.get_cam_image(x, layer, targets, A, G), 0)
    return torch.from_numpy(maps), torch.from_numpy(w), torch.from_numpy(raw)


def small_cnn(seed=0):
    torch.manual_seed(seed)
    return SmallCNN(CNNConfig(in_channels=3, widths=(8, 16, 16), hidden=16, image_size=32))


@pytest.mark.parametrize("train_mode", [False, True])
def test_gradcam_equals_package_on_a_cnn(train_mode):
    m = small_cnn()
    m.train(train_mode)  # both explain the eval-mode network (the package calls model.eval())
    x = torch.randn(4, 3, 32, 32)
    t = [3, 0, 9, 3]
    e = GradCAM(m, m.gradcam_layer)(x, t)
    maps, w, raw = package(m, m.get_submodule(m.gradcam_layer), x, [ClassifierOutputTarget(c) for c in t])
    torch.testing.assert_close(e.alpha, w, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(e.cam, raw, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(ours_like_package(e, (32, 32)), maps, rtol=0, atol=1e-5)


def test_counterfactual_equals_package_with_a_negated_score():
    """§5.2's negated gradients are the package's Grad-CAM of the target -y^c."""
    m = small_cnn(1)
    x = torch.randn(3, 3, 32, 32)
    t = [1, 5, 7]
    e = GradCAM(m, m.gradcam_layer)(x, t, counterfactual=True)
    maps, w, raw = package(m, m.get_submodule(m.gradcam_layer), x, [lambda o, c=c: -o[c] for c in t])
    torch.testing.assert_close(e.alpha, w, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(e.cam, raw, rtol=1e-5, atol=1e-7)


def test_guided_backprop_equals_package():
    m = small_cnn(2)
    x = torch.randn(2, 3, 32, 32)
    ours = guided_backprop(m, x, [4, 6])
    for i, c in enumerate([4, 6]):
        theirs = torch.from_numpy(GuidedBackpropReLUModel(m, device="cpu")(x[i:i + 1], c)).permute(2, 0, 1)
        torch.testing.assert_close(ours[i], theirs, rtol=1e-5, atol=1e-8)


@pytest.fixture(scope="module")
def resnets():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=10).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that eval mode matters
        for mod in tv.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    ours = resnet(18, num_classes=10).eval()
    ours.load_state_dict(convert_torchvision_state_dict(tv.state_dict()))
    return tv, ours


def test_gradcam_on_our_resnet_equals_package_on_torchvision(resnets):
    tv, ours = resnets
    x = torch.randn(2, 3, 64, 64)
    t = [2, 8]
    e = GradCAM(ours, "conv5_x")(x, t)
    maps, w, raw = package(tv, tv.layer4, x, [ClassifierOutputTarget(c) for c in t])
    torch.testing.assert_close(e.alpha, w, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(e.cam, raw, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours_like_package(e, (64, 64)), maps, rtol=0, atol=1e-4)
    # and at an inner stage, on ours and the package's on ours
    e3 = GradCAM(ours, "conv4_x")(x, t)
    maps3, _, _ = package(ours, ours.conv4_x, x, [ClassifierOutputTarget(c) for c in t])
    torch.testing.assert_close(ours_like_package(e3, (64, 64)), maps3, rtol=0, atol=1e-4)


def test_guided_backprop_on_functional_relus_equals_package_on_module_relus(resnets):
    """Our ResNet calls F.relu (no modules to swap); torchvision's has nn.ReLU(inplace=True) modules."""
    tv, ours = resnets
    x = torch.randn(1, 3, 64, 64)
    g = guided_backprop(ours, x, 5)[0]
    theirs = torch.from_numpy(GuidedBackpropReLUModel(tv, device="cpu")(x, 5)).permute(2, 0, 1)
    torch.testing.assert_close(g, theirs, rtol=1e-4, atol=1e-4 * theirs.abs().max().item())


def test_vit_gradcam_equals_package_with_its_reshape_transform():
    from papers.vit.model import vit_cpu
    torch.manual_seed(0)
    v = vit_cpu(image_size=16, patch_size=4, in_channels=1, num_classes=5, zero_init_head=False).eval()
    x = torch.randn(2, 1, 16, 16)
    t = [1, 3]

    def reshape_transform(z, h=4, w=4):  # the package's ViT tutorial
        r = z[:, 1:, :].reshape(z.size(0), h, w, z.size(2))
        return r.transpose(2, 3).transpose(1, 2)

    e = GradCAM(v, v.blocks[-2], TokenGrid(prefix=1))(x, t)
    maps, w, raw = package(v, v.blocks[-2], x, [ClassifierOutputTarget(c) for c in t], reshape_transform)
    torch.testing.assert_close(e.alpha, w, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(e.cam, raw, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours_like_package(e, (16, 16)), maps, rtol=0, atol=1e-4)
