"""Hugging Face interop: port ``transformers`` BERT weights into ours, and import a checkpoint folder.

Key map (HF -> ours). Our module names are HF's, so the map is the identity except for:

    cls.predictions.decoder.weight          -> dropped: tied to bert.embeddings.word_embeddings.weight
    cls.predictions.decoder.bias            -> dropped: the same tensor as cls.predictions.bias
    bert.embeddings.position_ids            -> dropped (a buffer of HF's: arange(max_position))
    bert.embeddings.token_type_ids          -> dropped (a buffer of HF's: zeros)
    embeddings.* / encoder.* / pooler.*     -> bert.* (a bare ``BertModel`` checkpoint has no prefix)
    *.LayerNorm.gamma / *.LayerNorm.beta    -> *.LayerNorm.weight / *.LayerNorm.bias (old TF-converted files)

``classifier.*`` (BertForSequenceClassification) and ``qa_outputs.*`` (BertForQuestionAnswering) keep
their names. HF's NSP labels (0 = IsNext, 1 = NotNext) are ours.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .data import WordPieceTokenizer
from .model import (BertConfig, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                    BertModel)

_DROP = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "embeddings.position_ids",
         "embeddings.token_type_ids")
_TOP = ("bert.", "cls.", "classifier.", "qa_outputs.")


def config_from_hf(hf_config) -> BertConfig:
    """Our config for a HF ``BertConfig`` (object or ``config.json`` dict)."""
    c = hf_config if isinstance(hf_config, dict) else hf_config.to_dict()
    if c.get("model_type", "bert") != "bert":
        raise ValueError(f"model_type {c.get('model_type')!r} is not BERT")
    if c.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"hidden_act {c.get('hidden_act')!r} is not supported: BERT uses the exact GELU ('gelu')")
    if c.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"position_embedding_type {c['position_embedding_type']!r} is not supported "
                         f"(BERT's are absolute, learned)")
    if c.get("is_decoder") or c.get("add_cross_attention"):
        raise ValueError("a decoder / cross-attention BERT is not the paper's encoder")
    return BertConfig(vocab_size=c["vocab_size"], max_position=c["max_position_embeddings"],
                      type_vocab_size=c.get("type_vocab_size", 2), L=c["num_hidden_layers"], H=c["hidden_size"],
                      A=c["num_attention_heads"], d_ff=c["intermediate_size"],
                      dropout=c.get("hidden_dropout_prob", 0.1), attn_dropout=c.get("attention_probs_dropout_prob", 0.1),
                      layer_norm_eps=c.get("layer_norm_eps", 1e-12), init_std=c.get("initializer_range", 0.02),
                      pad_token_id=c.get("pad_token_id") or 0)


def from_hf_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a HF BERT state dict (any head, or a bare BertModel) onto our names (see the key map above)."""
    out = {}
    for k, v in sd.items():
        if k.endswith(_DROP):
            continue
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if not k.startswith(_TOP):
            k = "bert." + k
        out[k] = v
    return out


def _load(model: torch.nn.Module, sd: dict[str, torch.Tensor], where: str) -> None:
    ours = set(model.state_dict())
    sd = {k: v for k, v in sd.items() if k in ours or not k.startswith(("cls.", "classifier.", "qa_outputs."))}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{where}: the weights do not match the config: missing {missing}, unexpected {unexpected}")


def from_hf(hf_model) -> torch.nn.Module:
    """Ours with the weights of a HF ``BertForPreTraining`` / ``BertModel`` / ``BertForSequenceClassification``
    / ``BertForQuestionAnswering`` instance (the same class of ours)."""
    cfg = config_from_hf(hf_model.config)
    name = type(hf_model).__name__
    if name == "BertForPreTraining":
        model = BertForPreTraining(cfg)
    elif name == "BertForSequenceClassification":
        model = BertForSequenceClassification(cfg, hf_model.config.num_labels)
    elif name == "BertForQuestionAnswering":
        model = BertForQuestionAnswering(cfg)
    elif name == "BertModel":
        model = BertModel(cfg, add_pooling_layer=hf_model.pooler is not None)
    else:
        raise ValueError(f"{name} is not supported; port BertForPreTraining, BertModel, "
                         f"BertForSequenceClassification or BertForQuestionAnswering")
    _load(model, from_hf_state_dict(hf_model.state_dict()), name)
    return model


def read_hf_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_file
        return load_file(str(path / "model.safetensors"))
    if (path / "pytorch_model.bin").is_file():
        return torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {path}")


def from_pretrained(path: str | Path, head: str = "pretraining", num_labels: int | None = None,
                    tokenizer: bool = True):
    """Import a HF BERT checkpoint folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``
    + ``tokenizer.json`` or ``vocab.txt``) of any size, offline. Returns ``(model, tokenizer)``.

    ``head``: ``pretraining`` (BertForPreTraining; the MLM/NSP heads are loaded when the file has them and
    stay freshly initialised otherwise), ``model`` (the encoder with pooler), ``classification`` (a fresh
    or loaded ``classifier``, ``num_labels`` classes) or ``qa``.
    """
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found: point from_pretrained at a folder written by "
                                f"save_pretrained() (config.json + model.safetensors + vocab.txt)")
    hf_cfg = json.loads(cfg_file.read_text())
    cfg = config_from_hf(hf_cfg)
    sd = from_hf_state_dict(read_hf_state_dict(path))
    has_pooler = any(k.startswith("bert.pooler.") for k in sd)
    if head == "pretraining":
        model = BertForPreTraining(cfg)
    elif head == "model":
        model = BertModel(cfg, add_pooling_layer=has_pooler)
        sd = {k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")}
    elif head == "classification":
        n = num_labels or len(hf_cfg.get("id2label", {})) or 2
        model = BertForSequenceClassification(cfg, n)
    elif head == "qa":
        model = BertForQuestionAnswering(cfg)
    else:
        raise ValueError(f"head {head!r} is not one of pretraining, model, classification, qa")
    ours = model.state_dict()
    heads = ("cls.", "classifier.", "qa_outputs.", "bert.pooler.", "pooler.")
    # another head's weights are skipped; heads the checkpoint lacks keep their fresh initialisation;
    # any other missing or unexpected key (a size or layer-count mismatch) is an error
    sd = {k: v for k, v in sd.items() if k in ours or not k.startswith(heads)}
    for k, v in ours.items():
        if k not in sd and k.startswith(heads):
            sd[k] = v
    _load(model, sd, str(path))
    tok = WordPieceTokenizer.from_folder(path) if tokenizer else None
    return model, tok
