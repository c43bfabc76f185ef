"""Equivalence with Hugging Face ``transformers`` BERT, random weights, and checkpoint-folder import.

HF's randomly initialised ``BertForPreTraining`` is ported into ours through the key map in
``papers/bert/interop.py``; hidden states, MLM and NSP logits, the pre-training loss and the gradient of
every parameter must agree, in eval and train mode, with dropout off and on (the same seed gives the same
dropout masks: both call ``scaled_dot_product_attention`` and ``nn.Dropout`` in the same order).
"""
import shutil

import pytest
import torch
import transformers
from transformers import BertConfig as HFConfig
from transformers import (BertForPreTraining as HFPreTraining, BertForQuestionAnswering as HFQA,
                          BertForSequenceClassification as HFClf, BertModel as HFModel, BertTokenizerFast)

from papers.bert.interop import from_hf, from_hf_state_dict, from_pretrained
from papers.bert.loss import IGNORE, pretraining_loss

V, T = 97, 20


def hf_config(dropout=0.0, **kw):
    base = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=40, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                initializer_range=0.2)   # a large init: non-trivial logits
    return HFConfig(**{**base, **kw})


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, V, (3, T), generator=g)
    tt = torch.zeros_like(x)
    tt[:, 9:] = 1
    am = torch.ones_like(x)
    am[1, 15:] = 0                                   # one padded sequence
    labels = torch.full_like(x, IGNORE)
    labels[:, 3] = x[:, 3]
    labels[:, 12] = x[:, 12]
    nsp = torch.tensor([0, 1, 0])
    return x, tt, am, labels, nsp


@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_pretraining_outputs_losses_and_gradients_match(dropout, mode):
    torch.manual_seed(0)
    hf = HFPreTraining(hf_config(dropout))
    ours = from_hf(hf)
    assert ours.cfg.dropout == dropout and ours.cfg.L == 2 and ours.cfg.H == 32
    getattr(hf, mode)()
    getattr(ours, mode)()
    x, tt, am, labels, nsp = inputs()
    captured = {}
    ours.bert.register_forward_hook(lambda m, i, o: captured.update(h=o[0]))   # returns None: output unchanged
    torch.manual_seed(7)
    out = hf(input_ids=x, token_type_ids=tt, attention_mask=am, labels=labels, next_sentence_label=nsp,
             output_hidden_states=True)
    torch.manual_seed(7)
    mlm, nsp_logits = ours(x, tt, am)
    loss, _, _ = pretraining_loss(mlm, labels, nsp_logits, nsp)
    assert torch.allclose(out.hidden_states[-1], captured["h"], atol=1e-5)
    assert torch.allclose(out.prediction_logits, mlm, atol=1e-4)
    assert torch.allclose(out.seq_relationship_logits, nsp_logits, atol=1e-5)
    assert torch.allclose(out.loss, loss, atol=1e-5)
    out.loss.backward()
    loss.backward()
    hf_grads = from_hf_state_dict({k: p.grad for k, p in hf.named_parameters(remove_duplicate=False)})
    our_grads = dict(ours.named_parameters())
    assert set(hf_grads) == set(our_grads)          # the tied decoder appears once, as the embedding
    for k, g in hf_grads.items():
        assert torch.allclose(g, our_grads[k].grad, atol=1e-4, rtol=1e-4), k
    if dropout and mode == "train":                 # the masks are really drawn: another seed differs
        torch.manual_seed(8)
        assert not torch.allclose(ours(x, tt, am)[0], mlm)


def test_fine_tuning_heads_match():
    torch.manual_seed(0)
    x, tt, am, _, _ = inputs(2)
    hf = HFClf(hf_config(num_labels=6)).eval()
    ours = from_hf(hf).eval()
    assert torch.allclose(hf(input_ids=x, token_type_ids=tt, attention_mask=am).logits, ours(x, tt, am), atol=1e-5)
    hf = HFQA(hf_config()).eval()
    ours = from_hf(hf).eval()
    o = hf(input_ids=x, token_type_ids=tt, attention_mask=am)
    s, e = ours(x, tt, am)
    real = am.bool()
    assert torch.allclose(o.start_logits[real], s[real], atol=1e-5)
    assert torch.allclose(o.end_logits[real], e[real], atol=1e-5)


WORDS = ("the a of and to in is was he she it that his her with for as on at by king queen castle river "
         "sword crown ship horse garden tower bridge letter army storm poet ##s ##ed ##ing ##ly un ##able").split()


def write_checkpoint(folder, safetensors=True, fast_tokenizer=True):
    """A BERT of another size (H=48, L=3, A=3, FFN 100, 64 positions) with its own vocabulary, written by HF."""
    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "!"] + WORDS
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(3)
    hf = HFModel(HFConfig(vocab_size=len(vocab), hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
                          intermediate_size=100, max_position_embeddings=64, initializer_range=0.2)).eval()
    hf.save_pretrained(folder)
    if not safetensors:  # the legacy format (transformers 5 writes safetensors only)
        torch.save(hf.state_dict(), folder / "pytorch_model.bin")
        (folder / "model.safetensors").unlink()
    hf_tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    if fast_tokenizer:
        hf_tok.save_pretrained(folder)
    return hf, hf_tok


TEXTS = ["The King rode to the castle.", "Queens, horses and swords!", "unable to sail the ship?"]


@pytest.mark.parametrize("fmt", ["safetensors+tokenizer.json", "bin+vocab.txt"])
def test_import_checkpoint_folder_with_its_wordpiece_tokenizer(tmp_path, fmt):
    folder = tmp_path / "ckpt"
    hf, hf_tok = write_checkpoint(folder, safetensors=fmt.startswith("safetensors"),
                                  fast_tokenizer=fmt.endswith("tokenizer.json"))
    assert (folder / ("model.safetensors" if fmt.startswith("safetensors") else "pytorch_model.bin")).is_file()
    assert (folder / "tokenizer.json").is_file() == fmt.endswith("tokenizer.json")
    ours, tok = from_pretrained(folder, head="model")
    ours.eval()
    assert (ours.cfg.H, ours.cfg.L, ours.cfg.A, ours.cfg.d_ff, ours.cfg.max_position) == (48, 3, 3, 100, 64)
    # the same WordPiece ids as HF's tokenizer, and the same special-token ids
    for t in TEXTS:
        assert tok.encode(t) == hf_tok(t, add_special_tokens=False)["input_ids"]
    assert (tok.cls_id, tok.sep_id, tok.mask_id, tok.pad_id) == \
        (hf_tok.cls_token_id, hf_tok.sep_token_id, hf_tok.mask_token_id, hf_tok.pad_token_id) == (3, 4, 5, 0)
    enc = hf_tok(TEXTS[0], TEXTS[1], return_tensors="pt")
    ids, seg = tok.build_inputs(tok.encode(TEXTS[0]), tok.encode(TEXTS[1]))
    assert ids == enc["input_ids"][0].tolist() and seg == enc["token_type_ids"][0].tolist()
    with torch.no_grad():
        ref = hf(**enc)
        h, C = ours(torch.tensor([ids]), torch.tensor([seg]))
    assert torch.allclose(ref.last_hidden_state, h, atol=1e-5)
    assert torch.allclose(ref.pooler_output, C, atol=1e-5)
    # the pre-training head of a bare encoder checkpoint stays freshly initialised; the encoder is loaded
    pre, _ = from_pretrained(folder, head="pretraining", tokenizer=False)
    assert torch.equal(pre.bert.embeddings.word_embeddings.weight, hf.embeddings.word_embeddings.weight)


def test_import_errors_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        from_pretrained(tmp_path / "nowhere")
    folder = tmp_path / "ckpt"
    write_checkpoint(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        from_pretrained(folder)
    shutil.rmtree(folder)
    write_checkpoint(folder)
    cfg = (folder / "config.json").read_text().replace('"num_hidden_layers": 3', '"num_hidden_layers": 2')
    (folder / "config.json").write_text(cfg)
    with pytest.raises(ValueError, match="unexpected"):
        from_pretrained(folder, head="model")
    assert transformers.__version__
