"""Tokenisers (character and byte-level BPE), LM windows, the §3.3 classification format and the task readers."""
import pytest
import torch

from papers.gpt.data import (BPETokenizer, CharTokenizer, ClassificationSet, LMWindows, RandomWindows, TREC_CLASSES,
                             build_tokenizer, collate_classification, default_corpus, default_questions,
                             eval_windows, load_tokenizer, read_sst2, read_trec, split_corpus)
from papers.gpt.loss import IGNORE


def test_char_tokenizer_roundtrip_and_unknown(tmp_path):
    text = default_corpus(1)
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    with pytest.raises(ValueError, match="<unk>"):
        tok.encode("#")
    ft = tok.with_specials()
    assert ft.vocab_size == tok.vocab_size + 3 and ft.encode("a#")[1] == ft.token_id("<unk>")
    assert ft.encode(text) == tok.encode(text)                       # specials come after the characters
    ft.save(tmp_path / "t.json")
    again = load_tokenizer(tmp_path / "t.json")
    assert again.itos == ft.itos


def test_bpe_tokenizer(tmp_path):
    text = default_corpus(3)
    tok = build_tokenizer("bpe", text, bpe_merges=200)
    assert isinstance(tok, BPETokenizer)
    assert tok.decode(tok.encode("Shall I compare thee?")) == "Shall I compare thee?"
    assert tok.vocab_size <= 256 + 200 + 2
    assert len(tok.encode(text)) < len(text) / 2                    # merges compress the corpus
    assert tok.token_id("<extract>") is not None
    tok.save(tmp_path / "b.json")
    assert load_tokenizer(tmp_path / "b.json").encode("thee") == tok.encode("thee")
    with pytest.raises(ValueError, match="tokenizer"):
        build_tokenizer("wordpiece", text)


def test_lm_windows_and_split():
    tokens = torch.arange(100)
    train, val = split_corpus(tokens, 0.9)
    assert len(train) == 90 and val[0] == 90                        # first 90% train, last 10% validation
    ds = LMWindows(train, 8)
    x, y = ds[5]
    assert x.tolist() == list(range(5, 13)) and y.tolist() == list(range(6, 14))
    assert ds[len(ds) - 1][1][-1] <= 89
    ex, ey = eval_windows(val, 4)
    assert ex.shape == (2, 4) and torch.equal(ey, ex + 1)
    with pytest.raises(ValueError, match="too short"):
        LMWindows(torch.arange(5), 8)


def test_classification_format():
    tok = CharTokenizer.from_text("abc ?").with_specials()
    ds = ClassificationSet(["ab ?", "c" * 50], [1, 0], tok, n_ctx=16)
    ids, y = ds[0]
    assert ids[0] == tok.token_id("<start>") and ids[-1] == tok.token_id("<extract>") and y == 1
    assert len(ds[1][0]) == 16                                       # truncated to the context
    b = collate_classification([ds[0], ds[1]])
    assert b["idx"].shape == (2, 16) and b["extract"].tolist() == [5, 15]
    assert b["idx"][0, 5] == tok.token_id("<extract>")
    assert b["lm_targets"][0].tolist()[:6] == ids[1:] + [IGNORE]
    assert (b["lm_targets"][0, 5:] == IGNORE).all()


def test_read_trec_latin1_and_sst2(tmp_path):
    p = tmp_path / "train.txt"
    p.write_bytes("DESC:manner How did serfdom develop in Russia ?\nHUM:ind Who was Galil\xe9o ?\n".encode("latin-1"))
    texts, labels = read_trec(p, encoding="latin-1")
    assert texts[1] == "Who was Galiléo ?" and [TREC_CLASSES[i] for i in labels] == ["DESC", "HUM"]
    bad = tmp_path / "bad.txt"
    bad.write_text("WHAT:x nothing\n")
    with pytest.raises(ValueError, match="COARSE"):
        read_trec(bad)
    s = tmp_path / "train.tsv"
    s.write_text("sentence\tlabel\nit 's a charming journey \t1\nflat , boring \t0\n")
    assert read_sst2(s) == (["it 's a charming journey", "flat , boring"], [1, 0])


def test_default_questions_are_deterministic():
    a, b = default_questions(50, seed=3), default_questions(50, seed=3)
    assert a == b and set(a[1]) <= set(range(len(TREC_CLASSES)))


def test_random_windows_are_nanogpt_get_batch_and_fixed_by_the_seed():
    tokens = torch.arange(100)
    ds = RandomWindows(tokens, 8, num_samples=5000, seed=3)
    assert len(ds) == 5000
    starts = torch.tensor([int(ds[i][0][0]) for i in range(len(ds))])
    # nanoGPT: torch.randint(len(data) - block_size) -> starts 0 .. 91, with replacement
    assert starts.min() == 0 and starts.max() == 100 - 8 - 1 and len(set(starts.tolist())) < 5000
    x, y = ds[7]
    assert torch.equal(y[:-1], x[1:]) and y[-1] == x[-1] + 1
    again = RandomWindows(tokens, 8, num_samples=5000, seed=3)
    assert all(torch.equal(ds[i][0], again[i][0]) for i in (0, 17, 4999))          # a resumed run sees the same items
