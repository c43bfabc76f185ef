"""Weights in and out of other implementations: torchvision's ``VisionTransformer`` and Hugging Face's
``ViTModel`` / ``ViTForImageClassification``, through documented key maps (DESIGN.md "Fidelity").

Importing their checkpoints from a local file is a feature (no download happens here):

    from papers.vit.interop import from_torchvision, from_huggingface
    model = from_torchvision("vit-b16", "vit_b_16-c867db91.pth")          # a torchvision .pth state dict
    model = from_huggingface("path/to/google-vit-base-patch16-224/")      # config.json + model.safetensors

torchvision key -> ours (``{i}`` is the layer index):

| torchvision                                              | ours                               |
|----------------------------------------------------------|------------------------------------|
| conv_proj.weight [D, C, P, P] (a stride-P conv)          | patch_embedding.proj.weight [D, P*P*C] (E, Eq. 1; rearranged "d c p1 p2 -> d (p1 p2 c)") |
| conv_proj.bias                                           | patch_embedding.proj.bias          |
| class_token                                              | class_token                        |
| encoder.pos_embedding                                    | position_embedding                 |
| encoder.layers.encoder_layer_{i}.ln_1 / ln_2             | blocks.{i}.ln_1 / ln_2             |
| encoder.layers.encoder_layer_{i}.self_attention.in_proj_weight / in_proj_bias | blocks.{i}.msa.qkv.weight / bias (U_qkv, packed [q; k; v]) |
| encoder.layers.encoder_layer_{i}.self_attention.out_proj | blocks.{i}.msa.proj (U_msa)        |
| encoder.layers.encoder_layer_{i}.mlp.0 / mlp.3 (or linear_1 / linear_2) | blocks.{i}.mlp.fc1 / fc2 |
| encoder.ln                                               | ln                                 |
| heads.pre_logits / heads.head                            | pre_logits / head                  |

Hugging Face key -> ours (``vit.`` prefix of ``ViTForImageClassification`` dropped; transformers >= 5
names first, the 4.x names of most hub checkpoints in brackets):

| Hugging Face                                             | ours                               |
|----------------------------------------------------------|------------------------------------|
| embeddings.cls_token / embeddings.position_embeddings    | class_token / position_embedding   |
| embeddings.patch_embeddings.projection (conv)            | patch_embedding.proj (rearranged as above) |
| layers.{i}.layernorm_before / layernorm_after [encoder.layer.{i}.*] | blocks.{i}.ln_1 / ln_2  |
| layers.{i}.attention.q_proj, k_proj, v_proj [encoder.layer.{i}.attention.attention.query, key, value] | blocks.{i}.msa.qkv (concatenated) |
| layers.{i}.attention.o_proj [encoder.layer.{i}.attention.output.dense] | blocks.{i}.msa.proj  |
| layers.{i}.mlp.fc1 / fc2 [encoder.layer.{i}.intermediate.dense / output.dense] | blocks.{i}.mlp.fc1 / fc2 |
| layernorm                                                | ln                                 |
| pooler.dense (ViTModel; followed by tanh)                | pre_logits (the pre-training head's tanh layer) |
| classifier (ViTForImageClassification)                   | head                               |

Hugging Face's ViT has no dropout after the MLP's GELU (``mlp_hidden_dropout=False``) and LayerNorm
epsilon 1e-12 (``layer_norm_eps``); :func:`config_from_huggingface` sets both.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from einops import rearrange

from .model import VARIANTS, ViTConfig, VisionTransformer

# -- torchvision ----------------------------------------------------------------------------------

TORCHVISION_KEY_MAP: list[tuple[str, str]] = [  # applied in order with re.sub
    (r"^conv_proj\.", "patch_embedding.proj."),
    (r"^encoder\.pos_embedding$", "position_embedding"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.", r"blocks.\1."),
    (r"\.self_attention\.in_proj_weight$", ".msa.qkv.weight"),
    (r"\.self_attention\.in_proj_bias$", ".msa.qkv.bias"),
    (r"\.self_attention\.out_proj\.", ".msa.proj."),
    (r"\.mlp\.(0|linear_1)\.", ".mlp.fc1."),
    (r"\.mlp\.(3|linear_2)\.", ".mlp.fc2."),
    (r"^encoder\.ln\.", "ln."),
    (r"^heads\.", ""),
]


def conv_to_linear(w: torch.Tensor) -> torch.Tensor:
    """A stride-P conv weight [D, C, P, P] as E's weight [D, P*P*C] (our "(p1 p2 c)" patch layout)."""
    return rearrange(w, "d c p1 p2 -> d (p1 p2 c)")


def linear_to_conv(w: torch.Tensor, C: int) -> torch.Tensor:
    P = int(round((w.shape[1] // C) ** 0.5))
    return rearrange(w, "d (p1 p2 c) -> d c p1 p2", p1=P, p2=P, c=C)


def torchvision_key(key: str) -> str:
    for pattern, repl in TORCHVISION_KEY_MAP:
        key = re.sub(pattern, repl, key)
    return key


def convert_torchvision_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvision ``VisionTransformer`` state dict (or its gradients) -> ours."""
    out = {}
    for k, v in sd.items():
        nk = torchvision_key(k)
        out[nk] = conv_to_linear(v) if nk == "patch_embedding.proj.weight" and v.dim() == 4 else v
    return out


def config_from_torchvision(tv) -> ViTConfig:
    """Our config for a torchvision ``VisionTransformer`` instance (its attributes)."""
    layers = list(tv.encoder.layers)
    return ViTConfig(image_size=tv.image_size, patch_size=tv.patch_size, D=tv.hidden_dim, L=len(layers),
                     heads=layers[0].num_heads, mlp_dim=tv.mlp_dim, num_classes=tv.num_classes,
                     representation_size=tv.representation_size, dropout=tv.dropout,
                     attention_dropout=tv.attention_dropout, layer_norm_eps=tv.encoder.ln.eps)


def _read(weights) -> dict[str, torch.Tensor]:
    """A state dict, or a local file holding one (``.pth``/``.pt``/``.bin`` via torch.load, ``.safetensors``),
    optionally under "state_dict"/"model", optionally "module."-prefixed."""
    if isinstance(weights, (str, Path)):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint file at {path}")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            weights = load_file(str(path))
        else:
            weights = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(weights.get(wrapper), dict):
            weights = weights[wrapper]
    return {k.removeprefix("module."): v for k, v in weights.items()}


def _load(model: VisionTransformer, ours: dict[str, torch.Tensor], source: str) -> VisionTransformer:
    missing, unexpected = model.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise ValueError(f"the {source} weights do not fit this model ({model.cfg}): missing {missing[:4]}"
                         f"{'...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}"
                         f"{'...' if len(unexpected) > 4 else ''}")
    return model


def load_torchvision(model: VisionTransformer, weights) -> VisionTransformer:
    """torchvision ViT weights (a state dict or a local ``.pth``) into ``model``, in place."""
    return _load(model, convert_torchvision_state_dict(_read(weights)), "torchvision")


def from_torchvision(name: str, weights, **overrides) -> VisionTransformer:
    """Our ``vit-b16`` ... ``vit-h14`` holding torchvision weights; the head (class count, pre-logits) and
    the resolution are read from the checkpoint."""
    sd = _read(weights)
    if name not in VARIANTS or not name.startswith("vit-") or name == "vit-cpu":
        raise ValueError(f"from_torchvision takes vit-b16/b32/l16/l32/h14, got {name!r}")
    kw = dict(num_classes=sd["heads.head.weight"].shape[0])
    if "heads.pre_logits.weight" in sd:
        kw["representation_size"] = sd["heads.pre_logits.weight"].shape[0]
    P = sd["conv_proj.weight"].shape[-1]
    g = int(round((sd["encoder.pos_embedding"].shape[1] - 1) ** 0.5))
    kw["image_size"] = g * P
    return load_torchvision(VARIANTS[name](**{**kw, **overrides}), sd)


def to_torchvision_state_dict(model: VisionTransformer) -> dict[str, torch.Tensor]:
    """Ours -> torchvision's names and shapes (the inverse of :func:`convert_torchvision_state_dict`)."""
    inv = {}
    tv_keys = _torchvision_keys(model.cfg)
    ours = model.state_dict()
    for k in tv_keys:
        v = ours[torchvision_key(k)]
        inv[k] = linear_to_conv(v, model.cfg.in_channels) if k == "conv_proj.weight" else v
    return inv


def _torchvision_keys(cfg: ViTConfig) -> list[str]:
    keys = ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    for i in range(cfg.L):
        p = f"encoder.layers.encoder_layer_{i}."
        keys += [p + s for s in ("ln_1.weight", "ln_1.bias", "self_attention.in_proj_weight",
                                 "self_attention.in_proj_bias", "self_attention.out_proj.weight",
                                 "self_attention.out_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.0.weight",
                                 "mlp.0.bias", "mlp.3.weight", "mlp.3.bias")]
    keys += ["encoder.ln.weight", "encoder.ln.bias"]
    if cfg.representation_size:
        keys += ["heads.pre_logits.weight", "heads.pre_logits.bias"]
    return keys + ["heads.head.weight", "heads.head.bias"]


# -- Hugging Face --------------------------------------------------------------------------------

HF_KEY_MAP: list[tuple[str, str]] = [  # applied in order, after dropping a leading "vit."
    (r"^embeddings\.cls_token$", "class_token"),
    (r"^embeddings\.position_embeddings$", "position_embedding"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embedding.proj."),
    (r"^(?:layers|encoder\.layer)\.(\d+)\.", r"blocks.\1."),
    (r"\.layernorm_before\.", ".ln_1."),
    (r"\.layernorm_after\.", ".ln_2."),
    (r"\.attention\.(?:o_proj|output\.dense)\.", ".msa.proj."),
    (r"\.(?:mlp\.fc1|intermediate\.dense)\.", ".mlp.fc1."),
    (r"\.(?:mlp\.fc2|output\.dense)\.", ".mlp.fc2."),
    (r"^layernorm\.", "ln."),
    (r"^pooler\.dense\.", "pre_logits."),
    (r"^classifier\.", "head."),
]
_HF_QKV = re.compile(r"^blocks\.(\d+)\.attention\.(?:attention\.)?(q_proj|k_proj|v_proj|query|key|value)\.(weight|bias)$")


def hf_key(key: str) -> str:
    key = key.removeprefix("vit.")
    for pattern, repl in HF_KEY_MAP:
        key = re.sub(pattern, repl, key)
    return key


def convert_huggingface_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face ViT state dict (or its gradients) -> ours; q, k, v are concatenated into U_qkv."""
    out, qkv = {}, {}
    for k, v in sd.items():
        nk = hf_key(k)
        m = _HF_QKV.match(nk)
        if m:
            i, which, kind = m.groups()
            qkv.setdefault((i, kind), {})[which[0]] = v   # q / k / v
            continue
        if nk == "embeddings.mask_token":
            continue  # masked image modelling only
        out[nk] = conv_to_linear(v) if nk == "patch_embedding.proj.weight" and v.dim() == 4 else v
    for (i, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"layer {i}: incomplete q/k/v {kind}s in the Hugging Face weights")
        out[f"blocks.{i}.msa.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], 0)
    return out


def config_from_huggingface(hf_config, num_classes: int | None = None) -> ViTConfig:
    """Our config for a ``transformers.ViTConfig`` (or its ``config.json`` as a dict)."""
    c = hf_config if isinstance(hf_config, dict) else hf_config.to_dict()
    if c.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"only GELU (§3.1) is supported, the config has {c['hidden_act']!r}")
    if not c.get("qkv_bias", True):
        raise ValueError("qkv_bias=False is not supported: the paper's U_qkv has biases")
    n = num_classes if num_classes is not None else len(c.get("id2label") or {}) or 1000
    return ViTConfig(image_size=c.get("image_size", 224), patch_size=c.get("patch_size", 16),
                     in_channels=c.get("num_channels", 3), D=c["hidden_size"], L=c["num_hidden_layers"],
                     heads=c["num_attention_heads"], mlp_dim=c["intermediate_size"], num_classes=n,
                     dropout=c.get("hidden_dropout_prob", 0.0),
                     attention_dropout=c.get("attention_probs_dropout_prob", 0.0), mlp_hidden_dropout=False,
                     layer_norm_eps=c.get("layer_norm_eps", 1e-12))


def load_huggingface(model: VisionTransformer, weights, strict_head: bool = True) -> VisionTransformer:
    """Hugging Face ViT weights (a state dict, a ``.safetensors``/``.bin`` file) into ``model``, in place.
    With ``strict_head=False`` a checkpoint without a classifier (``ViTModel``) leaves the zero head alone."""
    ours = convert_huggingface_state_dict(_read(weights))
    if not strict_head:
        for k in ("head.weight", "head.bias"):
            ours.setdefault(k, getattr(model.head, k.split(".")[1]).detach().clone())
    return _load(model, ours, "Hugging Face")


def from_huggingface(path, num_classes: int | None = None) -> VisionTransformer:
    """A local Hugging Face ViT folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``) as
    our model. A ``ViTModel`` checkpoint's pooler becomes the pre-training head's tanh layer (with a new
    zero-initialised head of ``num_classes``); a ``ViTForImageClassification`` checkpoint's classifier is
    the head."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
    files = [path / f for f in ("model.safetensors", "pytorch_model.bin") if (path / f).is_file()]
    if not files:
        raise FileNotFoundError(f"{path} holds no model.safetensors or pytorch_model.bin")
    sd = convert_huggingface_state_dict(_read(files[0]))
    cfg_json = json.loads((path / "config.json").read_text())
    has_head = "head.weight" in sd
    n = sd["head.weight"].shape[0] if has_head else (num_classes or 1000)
    cfg = config_from_huggingface(cfg_json, num_classes=n)
    if "pre_logits.weight" in sd:
        cfg = ViTConfig(**{**cfg.__dict__, "representation_size": sd["pre_logits.weight"].shape[0]})
    model = VisionTransformer(cfg)
    if not has_head:  # a ViTModel checkpoint: keep the new zero-initialised head (§3.2)
        sd.update({"head.weight": model.head.weight.detach().clone(), "head.bias": model.head.bias.detach().clone()})
    return _load(model, sd, "Hugging Face")
