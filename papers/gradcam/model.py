"""Grad-CAM (Selvaraju et al. 2017), read top to bottom beside the paper.

- §3, Eq. (1): the neuron-importance weight of feature map k for class c is the spatially averaged
  gradient of the class score *before the softmax*, α_k^c = (1/Z) Σ_i Σ_j ∂y^c / ∂A^k_ij.
- §3, Eq. (2): L^c_Grad-CAM = ReLU(Σ_k α_k^c A^k), a coarse map the size of the layer's feature maps
  (14x14 at VGG-16's conv5_3), upsampled bilinearly to the input for display and localisation.
- §3.1: Grad-CAM generalises CAM (Zhou et al. 2016). For a network ending in global average pooling
  and one linear layer, y^c = Σ_k w_k^c (1/Z) Σ_ij A^k_ij, so α_k^c = w_k^c / Z and Grad-CAM equals
  ReLU(CAM) / Z exactly (:func:`class_activation_map`).
- §3.2 / Fig. 1: Guided Backpropagation (Springenberg et al. 2014) backpropagates only positive
  gradients through each ReLU, and only where the ReLU's input was positive; Guided Grad-CAM is the
  elementwise product of that input-resolution map and the upsampled Grad-CAM map.
- §5.2, counterfactual explanations: negating the gradients, α_k^c = (1/Z) Σ_ij -∂y^c/∂A^k_ij,
  highlights the regions whose presence lowers the score of class c (``counterfactual=True``).

Everything is batched (one map per image, each for its own target class), works on any layer of any
network, named by module or by its dotted name (``"features.29"``, ``"conv5_x"``), and works for
transformers through a token-to-map reshape (:class:`TokenGrid`). Forward hooks live only for the
duration of one call and are removed even when the forward pass raises.

``VARIANTS`` maps names to the networks this package explains: the paper's VGG-16 (torchvision's
layout, for user checkpoints) and the two small CNNs of the quick reproduction (one with FC layers,
explained by Grad-CAM without modification; one with CAM's GAP -> linear head).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from typing import Callable, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, reduce
from torch.overrides import TorchFunctionMode

Target = int | torch.Tensor | list | Callable[[torch.Tensor], torch.Tensor] | None


# -- targets: which score y^c to explain --------------------------------------------------------

def class_scores(logits: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, c)``: the pre-softmax score y^c of each image's target class [B] and the classes [B].

    ``target`` is None (each image's top-1 class, as the paper's figures), an int (the same class for
    every image), a list or an int tensor [B] (one class per image), or a callable mapping the logits
    [B, C] to scores [B] (any differentiable function of the output; its classes are reported as -1).
    §3: y^c is the score for class c before the softmax.
    """
    if logits.dim() != 2:
        raise ValueError(f"the network must output class scores [B, C]; got shape {tuple(logits.shape)}")
    B, C = logits.shape
    if callable(target) and not isinstance(target, torch.Tensor):
        y = target(logits)
        if y.shape != (B,):
            raise ValueError(f"a callable target must map logits [B, C] to scores [B], got {tuple(y.shape)}")
        return y, torch.full((B,), -1, dtype=torch.long, device=logits.device)
    if target is None:
        c = logits.argmax(-1)
    elif isinstance(target, int):
        c = torch.full((B,), target, dtype=torch.long, device=logits.device)
    else:
        c = torch.as_tensor(target, dtype=torch.long, device=logits.device).reshape(-1)
        if c.shape != (B,):
            raise ValueError(f"need one target class per image ({B}), got {c.numel()}")
    if ((c < 0) | (c >= C)).any():
        raise ValueError(f"target classes must lie in [0, {C}), got {c.tolist()}")
    return logits.gather(1, c[:, None])[:, 0], c                       # y^c [B], c [B]


# -- layers: where A^k is read ------------------------------------------------------------------

def resolve_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """A module of ``model``, given as the module itself or its dotted name (``"features.29"``). No counterpart in the paper."""
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"layer {layer.__class__.__name__} is not a submodule of the model")
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n][:40]
        raise ValueError(f"the model has no layer {layer!r}; some of its layers: {', '.join(names)}") from None


class TokenGrid:
    """The token-to-map reshape for vision transformers: layer output [B, N, D] -> maps [B, D, h, w].

    A ViT's tokens are the ``prefix`` extra tokens ([class], distillation, registers) followed by the
    h x w patch tokens in raster order; we drop the prefix and lay the patch tokens out on their grid,
    so that the D embedding dimensions play the role of Grad-CAM's feature maps A^k (the same convention
    as pytorch-grad-cam's ViT example). ``grid`` defaults to the square root of the patch count.

    Which layer: the class token alone feeds the head, so the patch tokens of the *last* block's output
    have zero gradient; read the tokens entering the last block's attention (its first LayerNorm),
    where patch tokens still reach the class token.
    An extension for ViT; no counterpart in the paper (§3 is for CNN feature maps).
    """

    def __init__(self, prefix: int = 1, grid: tuple[int, int] | None = None):
        self.prefix, self.grid = prefix, grid

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:     # [B, prefix + h*w, D]
        if tokens.dim() != 3:
            raise ValueError(f"TokenGrid expects tokens [B, N, D], got shape {tuple(tokens.shape)}")
        patches = tokens[:, self.prefix:]                          # [B, h*w, D]
        n = patches.shape[1]
        h, w = self.grid or (round(n ** 0.5),) * 2
        if h * w != n:
            raise ValueError(f"{n} patch tokens do not fill a {h}x{w} grid; pass grid=(h, w) or the right prefix")
        return rearrange(patches, "b (h w) d -> b d h w", h=h, w=w)

    def __repr__(self) -> str:
        return f"TokenGrid(prefix={self.prefix}, grid={self.grid})"


@contextlib.contextmanager
def eval_mode(model: nn.Module, enabled: bool = True):
    """Run ``model`` in eval mode (the deployed network: BatchNorm running statistics, no dropout,
    images independent of each other within a batch), restoring each module's mode afterwards. No counterpart in the paper."""
    modes = {m: m.training for m in model.modules()}
    if enabled:
        model.eval()
    try:
        yield model
    finally:
        for m, t in modes.items():
            m.training = t


def capture(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass returning ``(logits, A)``: the output and the layer's output, with the graph
    from A to the output kept. The forward hook is removed before this returns, even on an error.

    The hook hands the rest of the network a clone of A, so that an in-place op downstream (``ReLU(
    inplace=True)``) cannot overwrite the stored activations; when A needs no gradient (frozen weights,
    an input that needs none), A is made a leaf that does, so Eq. (1)'s gradient always exists.
    """
    store: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"Grad-CAM needs a layer whose output is a tensor; {module.__class__.__name__} "
                            f"returns {type(output).__name__}")
        a = output if output.requires_grad else output.detach().requires_grad_(True)
        store["A"] = a
        return a.clone()

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        handle.remove()
    if "A" not in store:
        raise RuntimeError("the chosen layer was not called in the forward pass")
    return logits, store["A"]


# -- Grad-CAM (§3, Eqs. 1-2) and counterfactual explanations (§5.2) ---------------------------------

@dataclass
class Explanation:
    """One Grad-CAM call on a batch. Eqs. (1)-(2) and §3.2's products, kept together; the container has no counterpart in the paper."""
    cam: torch.Tensor          # L^c, Eq. (2): [B, h, w], non-negative, unnormalised
    alpha: torch.Tensor        # α^c, Eq. (1): [B, K]
    logits: torch.Tensor       # the network's output [B, C] (detached)
    target: torch.Tensor       # the explained class of each image [B] (-1 for a callable target)
    activations: torch.Tensor  # A: [B, K, h, w] (after the reshape, detached)
    gradients: torch.Tensor    # ∂y^c/∂A: [B, K, h, w] (negated for a counterfactual, detached)

    def upsampled(self, size: tuple[int, int]) -> torch.Tensor:
        """L^c upsampled to ``size`` with bilinear interpolation (§3): [B, H, W]."""
        return upsample(self.cam, size)


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of maps [B, h, w] to [B, H, W] (half-pixel centres, as OpenCV's resize). §3: the coarse map is upsampled to the input resolution."""
    return F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def normalize(maps: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Each map min-max scaled to [0, 1] (for display and thresholds; pytorch-grad-cam's scaling). No counterpart in the paper (display and thresholds)."""
    lo = reduce(maps, "b ... -> b", "min").view(-1, *[1] * (maps.dim() - 1))
    m = maps - lo
    hi = reduce(m, "b ... -> b", "max").view(-1, *[1] * (maps.dim() - 1))
    return m / (hi + eps)


def gradcam_from(A: torch.Tensor, dA: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. (1)-(2) on given feature maps A [B, K, h, w] and gradients ∂y^c/∂A [B, K, h, w]:
    returns ``(L^c [B, h, w], α [B, K])``."""
    alpha = reduce(dA, "b k h w -> b k", "mean")                     # Eq. (1): (1/Z) Σ_i Σ_j ∂y^c/∂A^k_ij
    cam = F.relu(torch.einsum("bk,bkhw->bhw", alpha, A))             # Eq. (2): ReLU(Σ_k α_k^c A^k)
    return cam, alpha


class GradCAM:
    """Grad-CAM for a chosen layer of a network (§3).

    >>> explain = GradCAM(model, "features.29")          # VGG-16's conv5_3 (after its ReLU)
    >>> e = explain(images, target=None)                 # each image's top-1 class
    >>> heat = normalize(e.upsampled(images.shape[-2:])) # [B, H, W] in [0, 1]

    ``reshape`` maps the layer's output to [B, K, h, w] (e.g. :class:`TokenGrid` for a ViT). The network
    runs in eval mode (restored afterwards) unless ``eval=False``; hooks exist only during a call.
    """

    def __init__(self, model: nn.Module, layer: nn.Module | str, reshape: Callable | None = None,
                 eval: bool = True):
        self.model, self.layer = model, resolve_layer(model, layer)
        self.reshape, self.eval = reshape, eval

    def __call__(self, x: torch.Tensor, target: Target = None, counterfactual: bool = False) -> Explanation:
        with eval_mode(self.model, self.eval):
            logits, A = capture(self.model, self.layer, x)
            y, c = class_scores(logits, target)                       # y^c before the softmax [B]
            # Images are independent (eval mode), so d(Σ_b y_b)/dA gives every image its own ∂y^c/∂A.
            (dA,) = torch.autograd.grad(y.sum(), A)
        A, dA = A.detach(), dA.detach()
        if self.reshape is not None:
            A, dA = self.reshape(A), self.reshape(dA)
        if A.dim() != 4:
            raise ValueError(f"Grad-CAM needs feature maps [B, K, h, w]; the layer gives {tuple(A.shape)} "
                             f"(pass reshape=TokenGrid() for transformer tokens)")
        if counterfactual:
            dA = -dA                                                  # §5.2: negated gradients
        cam, alpha = gradcam_from(A, dA)
        return Explanation(cam, alpha, logits.detach(), c, A, dA)

    # context-manager form, for symmetry with pytorch-grad-cam (no state is held between calls)
    def __enter__(self) -> "GradCAM":
        return self

    def __exit__(self, *exc) -> None:
        return None


def gradcam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, target: Target = None,
            counterfactual: bool = False, reshape: Callable | None = None) -> torch.Tensor:
    """Grad-CAM maps upsampled to the input size, [B, H, W] (unnormalised; Eq. (2) then §3's upsampling)."""
    e = GradCAM(model, layer, reshape)(x, target, counterfactual)
    return e.upsampled(x.shape[-2:])


# -- CAM (Zhou et al. 2016), which Grad-CAM generalises (§3.1) --------------------------------------

def class_activation_map(features: torch.Tensor, weight: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CAM: M^c = Σ_k w_k^c A^k for a network ending in GAP -> linear (weight [C, K]); [B, h, w].

    §3.1: Grad-CAM on the same layer equals ReLU(M^c) / Z with Z = h * w (a test checks it exactly)."""
    w = weight[target]                                                # [B, K]
    return torch.einsum("bk,bkhw->bhw", w, features)


def cam(model: nn.Module, layer: nn.Module | str, fc: nn.Linear | str, x: torch.Tensor,
        target: Target = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CAM of ``model`` (GAP -> ``fc`` after ``layer``): returns ``(M^c [B, h, w], logits, classes)``. §3.1: Grad-CAM generalises this CAM."""
    layer, fc = resolve_layer(model, layer), resolve_layer(model, fc)
    if not isinstance(fc, nn.Linear):
        raise ValueError(f"CAM needs the final linear layer, got {fc.__class__.__name__}")
    with eval_mode(model), torch.no_grad():
        logits, A = capture(model, layer, x)
        _, c = class_scores(logits, target)
    return class_activation_map(A.detach(), fc.weight.detach(), c), logits.detach(), c


# -- Guided Backpropagation (Springenberg et al. 2014) and Guided Grad-CAM (§3.2) ----------------------

class GuidedReLU(torch.autograd.Function):
    """ReLU forward; backward passes a gradient only where the input was positive (the ReLU's own
    derivative) *and* the incoming gradient is positive (the "guidance"): negative gradients are
    zeroed at every ReLU. §3.2: Guided Backpropagation (Springenberg et al. 2014)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * (x > 0).to(grad_out.dtype) * (grad_out > 0).to(grad_out.dtype)


_RELUS = {F.relu, torch.relu, torch.relu_, F.relu_, torch.Tensor.relu, torch.Tensor.relu_}


class guided_relus(TorchFunctionMode):
    """Within this context every ReLU, module (``nn.ReLU``) or functional (``F.relu``, ``torch.relu``,
    ``x.relu()``), computes :class:`GuidedReLU`. Intercepting the function rather than swapping modules
    covers networks that call ``F.relu`` in ``forward`` (our ResNet's blocks). In-place ReLUs return a
    new tensor; the networks here all use the returned value. §3.2: Guided Backpropagation's rule for every ReLU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RELUS:
            return GuidedReLU.apply(args[0])
        return func(*args, **(kwargs or {}))


def guided_backprop(model: nn.Module, x: torch.Tensor, target: Target = None, eval: bool = True) -> torch.Tensor:
    """Guided Backpropagation: ∂y^c/∂x through guided ReLUs; [B, C_in, H, W]. §3.2 (Springenberg et al. 2014)."""
    x = x.detach().requires_grad_(True)
    with eval_mode(model, eval), torch.enable_grad(), guided_relus():
        y, _ = class_scores(model(x), target)
        (g,) = torch.autograd.grad(y.sum(), x)
    return g.detach()


def guided_gradcam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, target: Target = None,
                   reshape: Callable | None = None, counterfactual: bool = False) -> torch.Tensor:
    """Guided Grad-CAM (§3.2, Fig. 1): guided backprop ⊙ upsampled Grad-CAM; [B, C_in, H, W]."""
    e = GradCAM(model, layer, reshape)(x, target, counterfactual)
    gb = guided_backprop(model, x, e.target if target is None else target)
    return gb * e.upsampled(x.shape[-2:])[:, None]


def input_gradient(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Plain gradient saliency |∂y^c/∂x| maxed over input channels (Simonyan et al. 2014; the paper's
    "Backprop" localisation baseline, Table 1); [B, H, W]."""
    x = x.detach().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        y, _ = class_scores(model(x), target)
        (g,) = torch.autograd.grad(y.sum(), x)
    return reduce(g.abs(), "b c h w -> b h w", "max")


# -- the networks explained ----------------------------------------------------------------------

@dataclass(frozen=True)
class CNNConfig:
    """A small VGG-style network (3x3 convs, ReLU, 2x2 max pools) for the quick reproduction.

    ``head="fc"``: like VGG-16 it ends in fully connected layers (pool, flatten, fc-ReLU-dropout-fc),
    which CAM cannot explain and Grad-CAM can (§3.1). ``head="gap"``: CAM's architecture, the last conv
    maps go through global average pooling into one linear layer."""
    in_channels: int = 1
    widths: tuple[int, ...] = (16, 32, 64)   # conv widths; a 2x2 max pool between consecutive convs
    num_classes: int = 10
    head: Literal["fc", "gap"] = "fc"
    hidden: int = 128                         # fc head: width of the hidden fc layer
    dropout: float = 0.5                      # fc head: dropout before the last fc (as VGG's fc6/fc7)
    image_size: int = 64

    def __post_init__(self):
        if self.head not in ("fc", "gap"):
            raise ValueError(f"head must be 'fc' (VGG-like) or 'gap' (CAM's GAP -> linear), got {self.head!r}")
        if not self.widths:
            raise ValueError("need at least one conv layer")

    @property
    def grid(self) -> int:  # side of the last conv's maps
        return self.image_size // 2 ** (len(self.widths) - 1)


class SmallCNN(nn.Module):
    """``features`` (conv-ReLU, pool, ..., conv-ReLU) then the head; Grad-CAM's layer is the last
    ReLU of ``features`` (``"features.<n>"``, :attr:`gradcam_layer`), like VGG-16's conv5_3. The quick reproduction's network; no counterpart in the paper."""

    def __init__(self, cfg: CNNConfig = CNNConfig()):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c = cfg.in_channels
        for i, w in enumerate(cfg.widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            c = w
        self.features = nn.Sequential(*layers)                           # [B, K, g, g]
        if cfg.head == "fc":
            g = cfg.grid // 2
            self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c * g * g, cfg.hidden), nn.ReLU(),
                                      nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.num_classes))
        else:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, cfg.num_classes))

    @property
    def gradcam_layer(self) -> str:
        return f"features.{len(self.features) - 1}"

    @property
    def fc(self) -> nn.Linear:  # the last linear layer (CAM's weights for head="gap")
        return self.head[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C_in, H, W] -> [B, num_classes]
        if x.dim() != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected images [B, {self.cfg.in_channels}, H, W], got {tuple(x.shape)}")
        return self.head(self.features(x))


def vgg16(num_classes: int = 1000) -> nn.Module:
    """VGG-16 (Simonyan & Zisserman 2015), the paper's main network (Table 1), in torchvision's layout so
    that torchvision-format checkpoints load directly. conv5_3 after its ReLU is ``features.29``
    (14x14 at 224 px), the layer the paper explains."""
    from torchvision.models import vgg16 as tv_vgg16
    return tv_vgg16(weights=None, num_classes=num_classes)


VGG16_GRADCAM_LAYER = "features.29"

VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "vgg16": vgg16,
    "cnn-fc": partial(SmallCNN, CNNConfig(head="fc")),
    "cnn-gap": partial(SmallCNN, CNNConfig(head="gap")),
}

METHODS = ("gradcam", "guided-backprop", "guided-gradcam", "counterfactual", "cam", "gradient")
