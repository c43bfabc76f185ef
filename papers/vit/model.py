"""Vision Transformer (Dosovitskiy et al., ICLR 2021), read top to bottom beside the paper.

- §3.1, Eq. (1): an image x in R^{H x W x C} is cut into N = HW/P^2 patches x_p^i of P x P pixels;
  each flattened patch (P^2 C values) is mapped to D dimensions by one linear projection E
  (:class:`PatchEmbedding`). A learnable class token x_class is prepended (z_0^0 = x_class), and
  learned 1-D position embeddings E_pos in R^{(N+1) x D} are added.
- §3.1, Eqs. (2)-(3): L encoder blocks, each "LN before every block, residual connections after
  every block" (pre-norm): z'_l = MSA(LN(z_{l-1})) + z_{l-1};  z_l = MLP(LN(z'_l)) + z'_l.
  The MLP has two layers with a GELU non-linearity (:class:`MLP`). MSA is Appendix A, Eqs. (5)-(8),
  with one packed projection U_qkv in R^{D x 3D_h} (:class:`MSA`).
- §3.1, Eq. (4): y = LN(z_L^0), the class token's output, feeds the classification head: "an MLP with
  one hidden layer at pre-training time and a single linear layer at fine-tuning time". The hidden
  layer is a tanh "pre-logits" layer (``representation_size``; the authors' code); the fine-tuning
  head is "a zero-initialized D x K feedforward layer" (§3.2).
- §3.2: fine-tuning at a higher resolution keeps P, so the sequence grows; "we perform 2D
  interpolation of the pre-trained position embeddings, according to their location in the original
  image" (:func:`interpolate_position_embedding`, :meth:`VisionTransformer.resize`).
- §3.1 "Hybrid Architecture": the patches come from a CNN feature map; "as a special case, the
  patches can have spatial size 1x1". :func:`hybrid` uses papers/resnet's ResNet as that CNN.
- Table 1: ViT-Base / Large / Huge; "ViT-L/16" is Large with 16x16 patches (:data:`VARIANTS`).
- Appendix D.3: a global-average-pooling classifier instead of the class token (``classifier="gap"``).

Dropout (Appendix B.1, Table 3: 0.1 when training on ImageNet, 0 on JFT) sits where the authors'
code puts it: after adding E_pos, on the attention weights (``attention_dropout``), after MSA's
output projection, after the GELU and after the MLP's second layer.

For Grad-CAM and other explainers (a stable interface): the patch-token feature map of block ``l`` as a
[B, D, H/P, W/P] tensor on the autograd graph comes from
``logits, fmap = model.forward_with_feature_map(x, layer=-2)`` (default: the input of the last block, the
deepest map whose gradient is not zero); the blocks are ``model.blocks[l]`` (forward hooks see [B, 1+N, D]
tokens), and ``model.tokens_to_map(z)`` turns such tokens into the map.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


@dataclass
class ViTConfig:
    """Table 1: layers L, hidden size D, MLP size, heads; patch size P (§3.1); dropout (App. B.1)."""
    image_size: int | tuple[int, int] = 224   # H = W = 224 (pre-training resolution, §4.1)
    patch_size: int = 16                       # P
    in_channels: int = 3                       # C
    D: int = 768                               # hidden size, Table 1
    L: int = 12                                # layers, Table 1
    heads: int = 12                            # k, Table 1 (D_h = D / k, App. A)
    mlp_dim: int = 3072                        # Table 1 "MLP size"
    num_classes: int = 1000                    # K
    representation_size: int | None = None     # pre-training head's tanh hidden layer; None: linear head
    classifier: Literal["token", "gap"] = "token"  # class token (Eq. 4) or global average pooling (App. D.3)
    dropout: float = 0.0                       # Table 3: 0.1 on ImageNet, 0.0 on JFT
    attention_dropout: float = 0.0             # on the attention weights A (App. A, Eq. 6)
    mlp_hidden_dropout: bool = True            # dropout after the GELU (authors' code); HF's ViT has none there
    layer_norm_eps: float = 1e-6               # the authors' code (Flax LayerNorm epsilon 1e-6)
    zero_init_head: bool = True                # §3.2: "zero-initialized D x K feedforward layer"
    backbone_channels: int = 0                 # > 0: hybrid (§3.1); the backbone's feature channels

    def validate(self) -> "ViTConfig":
        """Checked when a model is built (not on construction, so that ``--set vit.D=... vit.heads=...``
        overrides can be applied one at a time)."""
        if self.D % self.heads:
            raise ValueError(f"D = {self.D} must be divisible by the number of heads k = {self.heads} (D_h = D/k)")
        if self.classifier not in ("token", "gap"):
            raise ValueError(f"classifier must be 'token' (Eq. 4) or 'gap' (App. D.3), got {self.classifier!r}")
        gh, gw = self.grid
        if gh < 1 or gw < 1 or (self.backbone_channels == 0 and any(s % self.patch_size for s in self.size)):
            raise ValueError(f"image size {self.size} is not a multiple of the patch size P = {self.patch_size}")
        return self

    @property
    def size(self) -> tuple[int, int]:
        s = self.image_size
        return (s, s) if isinstance(s, int) else tuple(s)

    @property
    def grid(self) -> tuple[int, int]:
        """Patches per side, (H/P, W/P); for a hybrid, the feature-map grid (the backbone's stride is
        folded into ``patch_size``)."""
        return self.size[0] // self.patch_size, self.size[1] // self.patch_size

    @property
    def N(self) -> int:  # number of patches (§3.1: N = HW/P^2)
        return self.grid[0] * self.grid[1]

    @property
    def D_h(self) -> int:
        return self.D // self.heads


# -- Eq. (1): patches, class token, position embeddings ---------------------------------------

class PatchEmbedding(nn.Module):
    """x_p^i E: flatten each P x P patch (P^2 C values, "(p1 p2 c)" order) and project it to D (Eq. 1).

    Written as the paper's linear map on flattened patches; a stride-P convolution (torchvision's
    ``conv_proj``) is the same map with its weight reshaped (see ``interop.py``). ``P = 1`` on a
    feature map is the hybrid's 1x1 patch (§3.1)."""

    def __init__(self, P: int, C: int, D: int):
        super().__init__()
        self.P = P
        self.proj = nn.Linear(P * P * C, D)   # E in R^{(P^2 C) x D}, plus a bias

    def forward(self, x):                                                     # [B, C, H, W]
        x = rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=self.P, p2=self.P)  # [B, N, P^2 C]
        return self.proj(x)                                                   # [B, N, D]


# -- Appendix A: multihead self-attention -----------------------------------------------------

class MSA(nn.Module):
    """[q, k, v] = z U_qkv (Eq. 5); A = softmax(q k^T / sqrt(D_h)) (Eq. 6); SA = A v (Eq. 7);
    MSA = [SA_1; ...; SA_k] U_msa (Eq. 8)."""

    def __init__(self, D: int, heads: int, attention_dropout: float = 0.0):
        super().__init__()
        self.heads, self.p_attn = heads, attention_dropout
        self.qkv = nn.Linear(D, 3 * D)     # U_qkv for all k heads at once (with biases, as in the authors' code)
        self.proj = nn.Linear(D, D)        # U_msa

    def forward(self, z, return_attention: bool = False):                    # [B, N+1, D]
        q, k, v = rearrange(self.qkv(z), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        p = self.p_attn if self.training else 0.0
        if return_attention:  # the explicit Eq. (6), for attention-distance / rollout analyses (Fig. 7)
            A = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # [B, k, N+1, N+1]
            sa = F.dropout(A, p, self.training) @ v
        else:
            A = None
            sa = F.scaled_dot_product_attention(q, k, v, dropout_p=p)       # Eqs. (6)-(7)  [B, k, N+1, D_h]
        out = self.proj(rearrange(sa, "b h n d -> b n (h d)"))               # Eq. (8)  [B, N+1, D]
        return (out, A) if return_attention else out


class MLP(nn.Module):
    """"The MLP contains two layers with a GELU non-linearity" (§3.1)."""

    def __init__(self, D: int, mlp_dim: int, dropout: float, hidden_dropout: bool = True):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, mlp_dim), nn.Linear(mlp_dim, D)
        self.drop1 = nn.Dropout(dropout if hidden_dropout else 0.0)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x):                                                     # [B, N+1, D]
        return self.drop2(self.fc2(self.drop1(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    """One encoder layer, pre-norm (Eqs. 2-3)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.D, eps=cfg.layer_norm_eps)
        self.msa = MSA(cfg.D, cfg.heads, cfg.attention_dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.ln_2 = nn.LayerNorm(cfg.D, eps=cfg.layer_norm_eps)
        self.mlp = MLP(cfg.D, cfg.mlp_dim, cfg.dropout, cfg.mlp_hidden_dropout)

    def forward(self, z, return_attention: bool = False):                    # [B, N+1, D]
        a = self.msa(self.ln_1(z), return_attention=return_attention)
        a, A = a if return_attention else (a, None)
        z = self.drop(a) + z                                                  # Eq. (2)
        z = self.mlp(self.ln_2(z)) + z                                        # Eq. (3)
        return (z, A) if return_attention else z


# -- §3.2: 2-D interpolation of the position embeddings ----------------------------------------

def interpolate_position_embedding(pos: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                                   num_prefix: int = 1, mode: str = "bicubic", align_corners: bool = False
                                   ) -> torch.Tensor:
    """§3.2: "2D interpolation of the pre-trained position embeddings, according to their location in the
    original image". ``pos`` is [1, num_prefix + gh*gw, D]; the class token's row(s) are kept as they are,
    the patch rows are laid out on their (gh, gw) grid, resized to ``new_grid`` and flattened back.

    The default (bicubic, half-pixel centres) is what timm and Hugging Face do; torchvision's
    ``interpolate_embeddings`` uses ``align_corners=True``; the authors' code zooms with scipy (order 1)."""
    if pos.dim() != 3 or pos.shape[1] != num_prefix + old_grid[0] * old_grid[1]:
        raise ValueError(f"position embeddings {tuple(pos.shape)} do not hold {num_prefix} class row(s) and a "
                         f"{old_grid[0]}x{old_grid[1]} grid")
    prefix, grid = pos[:, :num_prefix], pos[:, num_prefix:]
    grid = rearrange(grid, "1 (h w) d -> 1 d h w", h=old_grid[0], w=old_grid[1])    # [1, D, gh, gw]
    kw = {} if mode == "nearest" else {"align_corners": align_corners}
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode=mode, **kw).to(pos.dtype)  # [1, D, gh', gw']
    return torch.cat([prefix, rearrange(grid, "1 d h w -> 1 (h w) d")], dim=1)    # [1, 1 + gh'*gw', D]


# -- the network -------------------------------------------------------------------------------

class VisionTransformer(nn.Module):
    """§3.1, Fig. 1, Eqs. (1)-(4): patch embedding, class token, position embeddings, L pre-norm blocks, head."""
    def __init__(self, cfg: ViTConfig = ViTConfig(), backbone: nn.Module | None = None):
        super().__init__()
        if (backbone is None) != (cfg.backbone_channels == 0):
            raise ValueError("a hybrid needs both a backbone module and cfg.backbone_channels > 0 (use hybrid())")
        self.cfg = cfg.validate()
        self.backbone = backbone   # hybrid (§3.1): CNN feature map -> 1x1 patches
        if backbone is None:
            self.patch_embedding = PatchEmbedding(cfg.patch_size, cfg.in_channels, cfg.D)
        else:
            self.patch_embedding = PatchEmbedding(1, cfg.backbone_channels, cfg.D)
        self.class_token = nn.Parameter(torch.zeros(1, 1, cfg.D))                    # x_class
        self.position_embedding = nn.Parameter(torch.zeros(1, cfg.N + 1, cfg.D))     # E_pos, learned 1-D
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.L))
        self.ln = nn.LayerNorm(cfg.D, eps=cfg.layer_norm_eps)                          # Eq. (4)
        if cfg.representation_size:   # pre-training head: one hidden layer (tanh), §3.1
            self.pre_logits = nn.Linear(cfg.D, cfg.representation_size)
            head_in = cfg.representation_size
        else:
            self.pre_logits = None
            head_in = cfg.D
        self.head = nn.Linear(head_in, cfg.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' initialisation: E lecun-normal (truncated, std sqrt(1/fan_in)); E_pos ~ N(0, 0.02);
        x_class zeros; attention and MLP weights Xavier-uniform; MLP biases N(0, 1e-6); LayerNorm identity;
        the fine-tuning head zero-initialised (§3.2)."""
        fan_in = self.patch_embedding.proj.in_features
        nn.init.trunc_normal_(self.patch_embedding.proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.patch_embedding.proj.bias)
        nn.init.normal_(self.position_embedding, std=0.02)
        nn.init.zeros_(self.class_token)
        for b in self.blocks:
            for lin in (b.msa.qkv, b.msa.proj):
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)
            for lin in (b.mlp.fc1, b.mlp.fc2):
                nn.init.xavier_uniform_(lin.weight)
                nn.init.normal_(lin.bias, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.pre_logits is not None:
            nn.init.trunc_normal_(self.pre_logits.weight, std=math.sqrt(1 / self.pre_logits.in_features))
            nn.init.zeros_(self.pre_logits.bias)
        if self.cfg.zero_init_head:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        else:
            nn.init.trunc_normal_(self.head.weight, std=math.sqrt(1 / self.head.in_features))
            nn.init.zeros_(self.head.bias)

    # -- pieces ----------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. (1): z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos (then dropout).  [B, C, H, W] -> [B, N+1, D]"""
        if x.dim() != 4:
            raise ValueError(f"expected images [B, C, H, W], got shape {tuple(x.shape)}")
        if self.backbone is not None:
            x = self.backbone(x)                                                 # [B, C', H/P, W/P]
        elif x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected {self.cfg.in_channels} channels, got {x.shape[1]}")
        if x.shape[-2:] != self._input_hw():
            raise ValueError(f"this model's position embeddings are for {self.cfg.size[0]}x{self.cfg.size[1]} "
                             f"images; got {tuple(x.shape[-2:]) if self.backbone is not None else tuple(x.shape[-2:])}"
                             f" ({'feature map' if self.backbone is not None else 'pixels'}). Use "
                             f"model.resize(new_size) to interpolate them (§3.2)")
        x = self.patch_embedding(x)                                              # [B, N, D]
        cls = self.class_token.expand(x.shape[0], -1, -1)                        # [B, 1, D]
        z = torch.cat([cls, x], dim=1) + self.position_embedding                 # [B, N+1, D]
        return self.drop(z)

    def _input_hw(self) -> tuple[int, int]:
        if self.backbone is None:
            return self.cfg.size
        return self.cfg.grid  # the backbone's output grid

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the final LayerNorm: [B, N+1, D] (row 0 is y of Eq. 4)."""
        z = self.embed(x)
        for block in self.blocks:
            z = block(z)                                                         # Eqs. (2)-(3)
        return self.ln(z)

    def pool(self, z: torch.Tensor) -> torch.Tensor:
        """y = LN(z_L^0) (Eq. 4; ``z`` is already normalised) or the mean of the patch tokens (App. D.3)."""
        return z[:, 0] if self.cfg.classifier == "token" else z[:, 1:].mean(1)  # [B, D]

    def classify(self, y: torch.Tensor) -> torch.Tensor:
        if self.pre_logits is not None:
            y = torch.tanh(self.pre_logits(y))                                   # the pre-training head's hidden layer
        return self.head(y)                                                      # [B, K]

    def forward(self, x: torch.Tensor) -> torch.Tensor:                         # [B, C, H, W] -> [B, K]
        return self.classify(self.pool(self.forward_features(x)))

    # -- analyses ------------------------------------------------------------------------------
    def tokens_to_map(self, z: torch.Tensor) -> torch.Tensor:
        """Patch tokens as a feature map: [B, 1+N, D] -> [B, D, H/P, W/P] (class token dropped)."""
        gh, gw = self.cfg.grid
        return rearrange(z[:, 1:], "b (h w) d -> b d h w", h=gh, w=gw)

    def forward_with_feature_map(self, x: torch.Tensor, layer: int = -2) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, fmap)``: ``fmap`` [B, D, H/P, W/P] is the patch-token output of block ``layer``, a tensor
        on the autograd graph, so ``torch.autograd.grad(logits[:, c].sum(), fmap)`` gives its gradients
        (Grad-CAM). The logits are computed from that very tensor.

        The default, ``layer=-2``, is the input of the last block: the last block's own patch outputs never
        reach the class token (Eq. 4 reads row 0 only, and LN acts per token), so their gradient is zero
        (with ``classifier="gap"`` every layer works). ``layer=-1`` is the last block's output."""
        if not -self.cfg.L <= layer < self.cfg.L:
            raise ValueError(f"layer {layer} out of range for {self.cfg.L} blocks")
        layer = layer % self.cfg.L
        z = self.embed(x)
        fmap = None
        for i, block in enumerate(self.blocks):
            z = block(z)
            if i == layer:
                fmap = self.tokens_to_map(z)                                     # [B, D, gh, gw]
                z = torch.cat([z[:, :1], rearrange(fmap, "b d h w -> b (h w) d")], dim=1)
        return self.classify(self.pool(self.ln(z))), fmap

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's attention weights A (Eq. 6), [B, k, N+1, N+1], in eval mode (for Fig. 7, right)."""
        z = self.embed(x)
        maps = []
        for block in self.blocks:
            z, A = block(z, return_attention=True)
            maps.append(A)
        return maps

    # -- §3.2: fine-tuning at another resolution / with a new head --------------------------------
    def resize(self, image_size: int | tuple[int, int], mode: str = "bicubic", align_corners: bool = False
               ) -> "VisionTransformer":
        """Fine-tune at a new resolution (§3.2): keep P, interpolate E_pos in 2-D. In place; returns self."""
        new_cfg = replace(self.cfg, image_size=image_size)
        pe = interpolate_position_embedding(self.position_embedding.data, self.cfg.grid, new_cfg.grid,
                                            mode=mode, align_corners=align_corners)
        self.position_embedding = nn.Parameter(pe)
        self.cfg = new_cfg
        return self

    def reset_head(self, num_classes: int) -> "VisionTransformer":
        """§3.2: "we remove the pre-trained prediction head and attach a zero-initialized D x K feedforward
        layer". Drops the pre-training head's hidden layer too. In place; returns self."""
        dev, dt = self.head.weight.device, self.head.weight.dtype
        self.pre_logits = None
        self.head = nn.Linear(self.cfg.D, num_classes, device=dev, dtype=dt)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.cfg = replace(self.cfg, num_classes=num_classes, representation_size=None)
        return self


# -- §3.1 hybrid: a ResNet's feature map as the patches ----------------------------------------

class ResNetFeatures(nn.Module):
    """papers/resnet's network cut after ``num_stages`` stages: images -> its feature map [B, C', H/s, W/s]. §3.1 Hybrid Architecture: a CNN feature map as the input sequence."""

    def __init__(self, resnet: nn.Module, num_stages: int):
        super().__init__()
        self.conv1, self.bn1, self.maxpool = resnet.conv1, resnet.bn1, resnet.maxpool
        self.stage_names = resnet.stage_names[:num_stages]
        for n in self.stage_names:
            self.add_module(n, getattr(resnet, n))
        self.out_channels = resnet.cfg.widths[num_stages - 1] * resnet.cfg.expansion
        stem = 4 if resnet.cfg.stem == "imagenet" else 1
        self.stride = stem * 2 ** (num_stages - 1)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for n in self.stage_names:
            x = getattr(self, n)(x)
        return x


def hybrid(resnet: nn.Module, num_stages: int, **vit_overrides) -> VisionTransformer:
    """§3.1 / §4.1 "Hybrids": ``resnet``'s feature map after ``num_stages`` stages, cut into 1x1 patches and
    projected to D. ``patch_size`` becomes the backbone's total stride (so ``grid`` is the feature map's)."""
    feats = ResNetFeatures(resnet, num_stages)
    cfg = ViTConfig(**{**vit_overrides, "patch_size": feats.stride, "backbone_channels": feats.out_channels})
    return VisionTransformer(cfg, backbone=feats)


def r50_vit_b16(**overrides) -> VisionTransformer:
    """§4.1: "for the hybrids we feed the intermediate feature maps into ViT with patch size of one pixel";
    the ResNet-50 has stage 4 removed and stage 3 extended to 9 blocks (3, 4, 9), so the map has stride 16
    and 1024 channels. (The paper's ResNet uses Group Norm and weight standardisation (BiT, §4.1); ours has
    BatchNorm: a deviation.)"""
    from papers.resnet.model import ResNet, ResNetConfig

    rn = ResNet(ResNetConfig(block="bottleneck", layers=(3, 4, 9), widths=(64, 128, 256), num_classes=1))
    return hybrid(rn, 3, **overrides)


# -- Table 1's models ----------------------------------------------------------------------------

TABLE1 = {  # layers L, hidden size D, MLP size, heads
    "base": dict(L=12, D=768, mlp_dim=3072, heads=12),
    "large": dict(L=24, D=1024, mlp_dim=4096, heads=16),
    "huge": dict(L=32, D=1280, mlp_dim=5120, heads=16),
}
# The CPU configuration: a tiny ViT for 32x32 CIFAR-10 images, patch 4.
CPU = dict(L=4, D=96, mlp_dim=192, heads=3, patch_size=4, image_size=32, num_classes=10)


def vit(size: str, patch_size: int, **overrides) -> VisionTransformer:
    """ViT-{B,L,H}/P (Table 1 notation): a fine-tuning (linear, zero-initialised) head by default; pass
    ``representation_size=D`` for the pre-training head."""
    return VisionTransformer(ViTConfig(**{**TABLE1[size], "patch_size": patch_size, **overrides}))


def vit_cpu(**overrides) -> VisionTransformer:
    """A CPU-sized ViT for 32x32 CIFAR-10 images (patch 4); no counterpart in the paper."""
    return VisionTransformer(ViTConfig(**{**CPU, **overrides}))


VARIANTS = {
    "vit-b16": partial(vit, "base", 16),
    "vit-b32": partial(vit, "base", 32),
    "vit-l16": partial(vit, "large", 16),
    "vit-l32": partial(vit, "large", 32),
    "vit-h14": partial(vit, "huge", 14),
    "r50-vit-b16": r50_vit_b16,
    "vit-cpu": vit_cpu,
}


def build(name: str, **overrides) -> VisionTransformer:
    """``VARIANTS[name](**overrides)`` with a helpful error for an unknown name. No counterpart in the paper."""
    if name not in VARIANTS:
        raise ValueError(f"unknown ViT variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name](**overrides)
