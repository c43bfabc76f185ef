"""Weight import from Hugging Face: ``OpenAIGPTLMHeadModel`` (GPT-1) and ``GPT2LMHeadModel`` (GPT-2) into :class:`GPT`.

Not part of the paper: the key maps that let the equivalence tests port a randomly initialised HF model into
ours, and that let a user load a ``save_pretrained`` checkpoint folder offline (:func:`from_pretrained`).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .model import ACTIVATIONS, GPT, GPTConfig

# Key map (HF -> ours). GPT-2 (`GPT2LMHeadModel`): identical names; every `*.c_attn/c_proj/c_fc.weight`
# is a Conv1D [in, out] and is transposed. GPT-1 (`OpenAIGPTLMHeadModel`):
#     transformer.tokens_embed.weight    -> transformer.wte.weight
#     transformer.positions_embed.weight -> transformer.wpe.weight
#     transformer.h.{i}.ln_1/ln_2 (post-LN, after the residual sum) -> the same names (Block.pre_ln=False)
# `lm_head.weight` is tied to the token embedding in both; buffers (`attn.bias`, `attn.masked_bias`) are dropped.

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_RENAME = {"transformer.tokens_embed.weight": "transformer.wte.weight",
           "transformer.positions_embed.weight": "transformer.wpe.weight"}


def config_from_hf(hf_config) -> GPTConfig:
    """Our config for a HF ``OpenAIGPTConfig`` / ``GPT2Config`` (object or ``config.json`` dict).
    Weight import: no counterpart in the paper."""
    c = hf_config if isinstance(hf_config, dict) else hf_config.to_dict()
    kind = c.get("model_type")
    if kind not in ("openai-gpt", "gpt2"):
        raise ValueError(f"model_type {kind!r} is not supported; expected 'openai-gpt' or 'gpt2'")
    act = c.get("afn") if kind == "openai-gpt" else c.get("activation_function")
    act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}.get(
        act, "gelu_tanh" if (kind == "openai-gpt" and act == "gelu") else act)  # HF maps GPT-1's "gelu" to gelu_new
    if act not in ACTIVATIONS:
        raise ValueError(f"activation {act!r} of this checkpoint is not supported")
    drop = {c.get("resid_pdrop", 0.1), c.get("embd_pdrop", 0.1), c.get("attn_pdrop", 0.1)}
    if len(drop) != 1:
        raise ValueError(f"this checkpoint uses different dropout rates {sorted(drop)}; ours has one rate")
    n_embd = c["n_embd"]
    return GPTConfig(vocab_size=c["vocab_size"], n_ctx=c["n_positions"], n_layer=c["n_layer"], n_head=c["n_head"],
                     d_model=n_embd, d_ff=c.get("n_inner") or 4 * n_embd, dropout=drop.pop(),
                     pre_ln=kind == "gpt2", final_ln=kind == "gpt2", scaled_residual_init=kind == "gpt2",
                     tie_weights=c.get("tie_word_embeddings", True), activation=act,
                     layer_norm_eps=c.get("layer_norm_epsilon", 1e-5), init_std=c.get("initializer_range", 0.02))


def from_hf_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a HF ``*LMHeadModel`` (or bare ``*Model``) state dict onto ours (see the key map above).
    Weight import: no counterpart in the paper."""
    out = {}
    for k, v in sd.items():
        if k.endswith((".attn.bias", ".attn.masked_bias", "position_ids")):
            continue  # causal-mask buffers
        if not k.startswith(("transformer.", "lm_head.")):
            k = "transformer." + k                                   # a bare GPT2Model / OpenAIGPTModel
        k = _RENAME.get(k, k)
        if k.endswith(_CONV1D):
            v = v.t()                                                # Conv1D [in, out] -> Linear [out, in]
        out[k] = v.contiguous()
    return out


def from_hf(hf_model) -> GPT:
    """Our GPT with the weights of a HF ``GPT2LMHeadModel`` / ``OpenAIGPTLMHeadModel`` instance.
    Weight import: no counterpart in the paper."""
    model = GPT(config_from_hf(hf_model.config))
    sd = from_hf_state_dict(hf_model.state_dict())
    if model.cfg.tie_weights:
        sd["lm_head.weight"] = sd["transformer.wte.weight"]
    model.load_state_dict(sd, strict=True)
    return model


def from_pretrained(path: str | Path) -> GPT:
    """Import a HF checkpoint folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``), offline.
    Weight import: no counterpart in the paper."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found: point from_pretrained at a folder written by "
                                f"save_pretrained() (config.json + model.safetensors)")
    model = GPT(config_from_hf(json.loads(cfg_file.read_text())))
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_file
        sd = load_file(str(path / "model.safetensors"))
    elif (path / "pytorch_model.bin").is_file():
        sd = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {path}")
    sd = from_hf_state_dict(sd)
    if model.cfg.tie_weights:
        sd["lm_head.weight"] = sd["transformer.wte.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not match the config: missing {missing}, unexpected {unexpected}")
    return model
