"""Grad-CAM's equations on hand-built cases, CAM equivalence (§3.1), guided backprop, hooks, the ViT reshape."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from papers.gradcam.model import (VARIANTS, VGG16_GRADCAM_LAYER, CNNConfig, GradCAM, SmallCNN, TokenGrid, cam,
                                  capture, class_activation_map, gradcam, guided_backprop, guided_gradcam,
                                  input_gradient, normalize, upsample)


class Probe(nn.Module):
    """The input itself is the feature map A ([B, K, h, w], layer ``a``); logit c = w_c . A[:, :, i, j] reads
    a single spatial cell, so ∂y^c/∂A is w_c at (i, j) and zero elsewhere."""

    def __init__(self, w: torch.Tensor, cell=(1, 2)):
        super().__init__()
        self.a = nn.Identity()
        self.w, self.cell = nn.Parameter(w), cell

    def forward(self, x):
        A = self.a(x)
        i, j = self.cell
        return A[:, :, i, j] @ self.w.T                                   # [B, C]


def test_alpha_is_the_spatial_mean_of_gradients_and_map_is_eq2():
    w = torch.tensor([[2.0, -1.0], [0.5, 3.0]])                              # C = 2 classes, K = 2 maps
    A = torch.rand(1, 2, 3, 4)
    A[0, 0, 1, 2] = 5.0                                                      # strong evidence for class 0 at (1, 2)
    e = GradCAM(Probe(w), "a")(A, target=0)
    Z = 3 * 4
    torch.testing.assert_close(e.alpha, w[:1] / Z)                           # Eq. (1): (1/Z) Σ_ij ∂y/∂A = w / Z
    torch.testing.assert_close(e.cam, F.relu(torch.einsum("k,bkhw->bhw", w[0] / Z, A)))  # Eq. (2)
    assert (e.cam >= 0).all()
    assert divmod(int(e.cam[0].argmax()), 4) == (1, 2)                      # the logit's cell is the peak
    dA = torch.zeros_like(A)
    dA[0, :, 1, 2] = w[0]
    torch.testing.assert_close(e.gradients, dA)


def test_counterfactual_negates_the_gradients():
    w = torch.tensor([[1.0, -2.0]])
    A = torch.rand(2, 2, 3, 3)
    g = GradCAM(Probe(w, (0, 0)), "a")
    e, cf = g(A, 0), g(A, 0, counterfactual=True)
    torch.testing.assert_close(cf.alpha, -e.alpha)                          # §5.2
    torch.testing.assert_close(cf.cam, F.relu(torch.einsum("bk,bkhw->bhw", -e.alpha, A)))
    # the counterfactual highlights map 1 (negative weight), Grad-CAM map 0
    A2 = torch.zeros(1, 2, 3, 3)
    A2[0, 0, 0, 1], A2[0, 1, 2, 2] = 1.0, 1.0
    assert int(g(A2, 0).cam[0].argmax()) == 1 and int(g(A2, 0, counterfactual=True).cam[0].argmax()) == 8


def test_batched_equals_one_image_at_a_time_with_per_image_targets():
    torch.manual_seed(0)
    m = SmallCNN(CNNConfig(widths=(4, 8), hidden=8, image_size=16))
    x = torch.randn(3, 1, 16, 16)
    t = torch.tensor([2, 0, 7])
    g = GradCAM(m, m.gradcam_layer)
    e = g(x, t)
    for i in range(3):
        torch.testing.assert_close(g(x[i:i + 1], int(t[i])).cam[0], e.cam[i], rtol=1e-5, atol=1e-7)
    assert e.target.tolist() == [2, 0, 7]
    assert g(x, None).target.tolist() == e.logits.argmax(-1).tolist()       # default: top-1 class
    torch.testing.assert_close(g(x, lambda z: z[:, 2]).cam, g(x, 2).cam)     # callable target
    up = gradcam(m, m.gradcam_layer, x, t)
    assert up.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="one target class per image"):
        g(x, [1, 2])
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        g(x, 10)


def test_hooks_are_released_even_when_forward_fails():
    torch.manual_seed(0)
    m = SmallCNN(CNNConfig(widths=(4, 8), hidden=8, image_size=16))
    hooks = lambda: sum(len(mod._forward_hooks) + len(mod._backward_hooks) for mod in m.modules())  # noqa: E731
    before = hooks()
    with GradCAM(m, m.gradcam_layer) as g:
        g(torch.randn(2, 1, 16, 16))
        assert hooks() == before
    with pytest.raises(ValueError, match="expected images"):
        g(torch.randn(2, 3, 16, 16))                                        # forward raises after the hook fires?
    assert hooks() == before == 0
    bad = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2, 2))
    with pytest.raises(RuntimeError):
        GradCAM(bad, "1")(torch.randn(1, 1, 5, 5))                          # shape error inside the forward
    assert sum(len(mod._forward_hooks) for mod in bad.modules()) == 0


def test_layer_by_name_or_module_and_clear_errors():
    m = SmallCNN(CNNConfig(widths=(4, 8), hidden=8, image_size=16))
    x = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(GradCAM(m, m.features[-1])(x, 1).cam, GradCAM(m, m.gradcam_layer)(x, 1).cam)
    with pytest.raises(ValueError, match="no layer"):
        GradCAM(m, "features.99")
    with pytest.raises(ValueError, match="not a submodule"):
        GradCAM(m, nn.ReLU())
    with pytest.raises(ValueError, match="TokenGrid"):
        GradCAM(m, "head.2")(x)                                             # a [B, hidden] layer is no map


def test_eval_mode_is_used_and_restored():
    torch.manual_seed(0)
    m = SmallCNN(CNNConfig(widths=(4, 8), hidden=8, dropout=0.5, image_size=16)).train()
    x = torch.randn(4, 1, 16, 16)
    a, b = GradCAM(m, m.gradcam_layer)(x, 1), GradCAM(m, m.gradcam_layer)(x, 1)
    torch.testing.assert_close(a.cam, b.cam)                                # dropout is off while explaining
    assert m.training and all(mod.training for mod in m.modules())
    g1, g2 = guided_backprop(m, x, 1), guided_backprop(m, x, 1)
    torch.testing.assert_close(g1, g2)
    assert m.training


def test_gradcam_equals_cam_for_gap_linear_networks():
    """§3.1: α_k^c = w_k^c / Z, so Grad-CAM = ReLU(CAM) / Z exactly."""
    torch.manual_seed(1)
    m = SmallCNN(CNNConfig(widths=(4, 8, 8), head="gap", image_size=16))
    x = torch.randn(5, 1, 16, 16)
    t = torch.tensor([0, 3, 3, 9, 1])
    e = GradCAM(m, m.gradcam_layer)(x, t)
    Z = e.cam.shape[-1] * e.cam.shape[-2]
    torch.testing.assert_close(e.alpha, m.fc.weight[t].detach() / Z, rtol=1e-5, atol=1e-8)
    M, logits, c = cam(m, m.gradcam_layer, m.fc, x, t)
    torch.testing.assert_close(e.cam * Z, M.clamp(min=0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(class_activation_map(e.activations, m.fc.weight.detach(), t), M)


class TwoLayer(nn.Module):
    def __init__(self, functional: str = "module"):
        super().__init__()
        self.l1 = nn.Linear(3, 3, bias=False)
        self.l2 = nn.Linear(3, 1, bias=False)
        self.relu, self.functional = nn.ReLU(), functional
        with torch.no_grad():
            self.l1.weight.copy_(torch.eye(3))
            self.l2.weight.copy_(torch.tensor([[1.0, -1.0, 2.0]]))

    def forward(self, x):
        h = self.l1(x)
        h = {"module": self.relu, "F.relu": F.relu, "torch.relu": torch.relu, "method": torch.Tensor.relu}[
            self.functional](h)
        return self.l2(h)


@pytest.mark.parametrize("kind", ["module", "F.relu", "torch.relu", "method"])
def test_guided_backprop_by_hand(kind):
    """x = (1, 2, -1): h = relu(x) = (1, 2, 0); y = h1 - h2 + 2 h3. The plain gradient is (1, -1, 0);
    guided backprop also zeroes the negative gradient -1 at the ReLU: (1, 0, 0)."""
    x = torch.tensor([[1.0, 2.0, -1.0]])
    m = TwoLayer(kind)
    x_ = x.clone().requires_grad_(True)
    (g_plain,) = torch.autograd.grad(m(x_).sum(), x_)
    torch.testing.assert_close(g_plain, torch.tensor([[1.0, -1.0, 0.0]]))
    torch.testing.assert_close(guided_backprop(m, x, 0), torch.tensor([[1.0, 0.0, 0.0]]))


def test_guided_backprop_zeroes_negative_gradients_at_every_relu():
    torch.manual_seed(0)
    m = SmallCNN(CNNConfig(widths=(4, 8, 8), hidden=16, image_size=16))
    seen_in, seen_out = [], []

    def hook(mod, grad_in, grad_out):
        seen_in.append(grad_in[0].detach().clone())
        seen_out.append(grad_out[0].detach().clone())

    relus = [mod for mod in m.modules() if isinstance(mod, nn.ReLU)]
    handles = [r.register_full_backward_hook(hook) for r in relus]
    try:
        guided_backprop(m, torch.randn(2, 1, 16, 16), 3)
    finally:
        for h in handles:
            h.remove()
    assert len(seen_in) == len(relus) == 4
    assert all((g >= 0).all() for g in seen_in)                          # nothing negative passes any ReLU
    assert any((g < 0).any() for g in seen_out)                          # ... though negative gradients arrived


def test_guided_gradcam_is_the_product_and_gradient_baseline():
    torch.manual_seed(0)
    m = SmallCNN(CNNConfig(widths=(4, 8), hidden=8, image_size=16))
    x = torch.randn(2, 1, 16, 16)
    ggc = guided_gradcam(m, m.gradcam_layer, x, 4)
    expect = guided_backprop(m, x, 4) * GradCAM(m, m.gradcam_layer)(x, 4).upsampled((16, 16))[:, None]
    torch.testing.assert_close(ggc, expect)
    x_ = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(m.eval()(x_)[:, 4].sum(), x_)
    torch.testing.assert_close(input_gradient(m, x, 4), g.abs().amax(1))


def test_upsample_and_normalize():
    maps = torch.tensor([[[0.0, 1.0], [2.0, 4.0]]])
    up = upsample(maps, (4, 4))
    assert up.shape == (1, 4, 4) and up[0, 0, 0] == 0.0 and up[0, 3, 3] == 4.0   # half-pixel: corners kept
    n = normalize(torch.tensor([[[1.0, 3.0], [5.0, 2.0]]]))
    torch.testing.assert_close(n, torch.tensor([[[0.0, 0.5], [1.0, 0.25]]]), atol=1e-6, rtol=0)


def test_token_grid_reshape():
    z = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)     # [B, 1 + 2*2, D]
    fm = TokenGrid(prefix=1)(z)
    assert fm.shape == (2, 3, 2, 2)
    torch.testing.assert_close(fm[1, :, 1, 0], z[1, 1 + 2])               # raster order, class token dropped
    with pytest.raises(ValueError, match="grid"):
        TokenGrid(prefix=0)(z)
    assert TokenGrid(prefix=1, grid=(1, 4))(z).shape == (2, 3, 1, 4)


def test_vit_through_the_token_reshape_matches_its_feature_map_api():
    """Our hook + TokenGrid on papers/vit's blocks equals the gradient taken through ViT's own
    forward_with_feature_map (an independent path to the same tensor)."""
    from papers.vit.model import vit_cpu
    torch.manual_seed(0)
    v = vit_cpu(image_size=16, patch_size=4, in_channels=1, num_classes=5, zero_init_head=False).eval()
    x = torch.randn(3, 1, 16, 16)
    t = torch.tensor([0, 2, 4])
    e = GradCAM(v, f"blocks.{v.cfg.L - 2}", TokenGrid(prefix=1, grid=v.cfg.grid))(x, t)
    logits, fmap = v.forward_with_feature_map(x, layer=-2)
    (d,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), fmap)
    alpha = d.mean((2, 3))
    torch.testing.assert_close(e.alpha, alpha, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(e.cam, F.relu(torch.einsum("bk,bkhw->bhw", alpha, fmap.detach())), rtol=1e-4, atol=1e-6)
    assert e.cam.shape == (3, 4, 4)
    last = GradCAM(v, f"blocks.{v.cfg.L - 1}", TokenGrid())(x, t)      # the last block's patch tokens never
    assert last.gradients.abs().max() == 0                               # reach the class token (documented)


def test_vgg16_is_the_papers_network():
    with torch.device("meta"):
        m = VARIANTS["vgg16"]()
        assert sum(p.numel() for p in m.parameters()) == 138_357_544    # torchvision's VGG-16 documentation
        logits, A = capture(m, m.get_submodule(VGG16_GRADCAM_LAYER), torch.empty(2, 3, 224, 224))
    assert tuple(A.shape) == (2, 512, 14, 14) and tuple(logits.shape) == (2, 1000)   # §3: 14x14 at conv5_3
    assert isinstance(m.features[28], nn.Conv2d) and isinstance(m.features[29], nn.ReLU)
    for name in ("cnn-fc", "cnn-gap"):
        net = VARIANTS[name]()
        assert net(torch.zeros(1, 1, 64, 64)).shape == (1, 10)
        assert net.get_submodule(net.gradcam_layer).__class__ is nn.ReLU
