"""Equivalence with Hugging Face's OpenAIGPTLMHeadModel (GPT-1) and GPT2LMHeadModel (GPT-2), random weights.

HF's randomly initialised weights are ported into ours through the key map
(``papers/gpt/interop.py``, ``from_hf_state_dict``); logits, gradients of every parameter, and 20 greedily generated tokens must agree.
"""
import pytest
import torch

import transformers  # oracle: a test dependency (pip install -e ".[test]"); never skipped
from transformers import GPT2Config, GPT2LMHeadModel, OpenAIGPTConfig, OpenAIGPTLMHeadModel  # noqa: E402

from papers.gpt.interop import from_hf, from_hf_state_dict, from_pretrained  # noqa: E402

V, CTX = 101, 48


def hf_model(kind: str, dropout: float = 0.0):
    torch.manual_seed(0)
    common = dict(vocab_size=V, n_positions=CTX, n_embd=32, n_layer=3, n_head=4, resid_pdrop=dropout,
                  embd_pdrop=dropout, attn_pdrop=dropout, initializer_range=0.2)  # large init: non-trivial logits
    if kind == "gpt1":
        return OpenAIGPTLMHeadModel(OpenAIGPTConfig(**common))
    return GPT2LMHeadModel(GPT2Config(**common, bos_token_id=0, eos_token_id=0))


@pytest.fixture(params=["gpt1", "gpt2"])
def pair(request):
    hf = hf_model(request.param)
    return request.param, hf, from_hf(hf)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_logits_and_gradients_match(pair, mode):
    kind, hf, ours = pair
    assert ours.cfg.pre_ln == (kind == "gpt2") and ours.lm_head.weight is ours.transformer.wte.weight
    getattr(hf, mode)()
    getattr(ours, mode)()
    x = torch.randint(0, V, (3, 40), generator=torch.Generator().manual_seed(1))
    a, b = hf(x).logits, ours(x)
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), (a - b).abs().max()
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(2))
    (a * w).sum().backward()
    (b * w).sum().backward()
    hf_grads = from_hf_state_dict({k: p.grad for k, p in hf.named_parameters()})
    our_grads = dict(ours.named_parameters())
    assert set(hf_grads) == set(our_grads)  # lm_head is tied: only the embedding appears
    for k, g in hf_grads.items():
        assert torch.allclose(g, our_grads[k].grad, atol=1e-4, rtol=1e-4), k


def test_greedy_generation_identical(pair):
    kind, hf, ours = pair
    hf.eval()
    ours.eval()
    prompt = torch.randint(0, V, (2, 6), generator=torch.Generator().manual_seed(3))
    theirs = hf.generate(prompt, max_new_tokens=20, do_sample=False, pad_token_id=0, eos_token_id=None)
    mine = ours.generate(prompt, 20, greedy=True)
    assert mine.shape == (2, 26)
    assert torch.equal(theirs, mine)


def test_dropout_configuration_is_carried_over():
    ours = from_hf(hf_model("gpt1", dropout=0.1))
    assert ours.cfg.dropout == 0.1 and ours.transformer.drop.p == 0.1


def test_import_checkpoint_from_local_directory(tmp_path):
    for kind in ("gpt1", "gpt2"):
        hf = hf_model(kind).eval()
        hf.save_pretrained(tmp_path / kind)
        ours = from_pretrained(tmp_path / kind).eval()
        x = torch.randint(0, V, (2, 17))
        assert torch.allclose(hf(x).logits, ours(x), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="config.json"):
        from_pretrained(tmp_path / "nowhere")
