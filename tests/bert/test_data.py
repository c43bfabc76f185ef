"""§3.1 / App. A.1 facts about the pre-training data: masking statistics, NSP pairs, WordPiece, loaders."""
import random

import pytest
import torch

from papers.bert.data import (ClassificationSet, PretrainingSet, SPECIALS, WordPieceTokenizer, collate_classification,
                              create_instances_from_document, create_pretraining_instances, ltr_labels, mask_tokens,
                              read_documents, read_glue_tsv, read_sst2, read_trec, split_sentences)
from papers.bert.loss import IGNORE

SPECIAL = (0, 1, 2, 3, 4)   # [PAD] [UNK] [CLS] [SEP] [MASK]
MASK = 4


def test_masking_statistics_on_1e5_tokens():
    # §3.1: 15% of the WordPiece tokens; App. A.1: 80% [MASK], 10% random, 10% unchanged; never a special token
    g = torch.Generator().manual_seed(0)
    B, T, V = 1000, 110, 1000
    ids = torch.randint(5, V, (B, T), generator=g)
    special = torch.zeros(B, T, dtype=torch.bool)
    ids[:, 0], ids[:, 50], ids[:, -1] = 2, 3, 3                       # [CLS] A [SEP] B [SEP]
    special[:, [0, 50, T - 1]] = True
    lengths = torch.randint(60, T + 1, (B,), generator=g)             # some right padding
    pad = torch.arange(T)[None] >= lengths[:, None]
    ids[pad] = 0
    special |= pad
    n = int((~special).sum())
    assert n >= 100_000 - 35_000                                       # ~1e5 real tokens
    masked, labels = mask_tokens(ids, special, V, MASK, SPECIAL, generator=g)
    chosen = labels != IGNORE
    assert not (chosen & special).any()                                # never a special token
    assert torch.equal(masked[special], ids[special])
    assert torch.equal(labels[chosen], ids[chosen])                    # the label is the original token
    k = int(chosen.sum())
    assert abs(k / n - 0.15) < 0.005
    to_mask = (masked == MASK) & chosen
    same = (masked == ids) & chosen
    rand = chosen & ~to_mask & ~same
    assert abs(int(to_mask.sum()) / k - 0.8) < 0.01
    assert abs(int(same.sum()) / k - 0.1) < 0.01
    assert abs(int(rand.sum()) / k - 0.1) < 0.01                       # (a random token may equal the original)
    assert not torch.isin(masked[rand], torch.tensor(SPECIAL)).any()
    # 15% of *each* sequence: per-sequence counts are floor or ceil of 0.15 n
    per = chosen.sum(1).float()
    n_seq = (~special).sum(1).float()
    assert torch.all((per - 0.15 * n_seq).abs() < 1)


def disjoint_docs(n_docs=40, seed=0):
    """Documents whose token ids are disjoint (document d uses ids 1000 d + ...), sentences of 3-12 tokens in
    increasing order, so that a segment's document and its contiguity can be read off its ids."""
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        t, sents = 1000 * d + 5, []
        for _ in range(rng.randint(20, 40)):
            k = rng.randint(3, 12)
            sents.append(list(range(t, t + k)))
            t += k
        docs.append(sents)
    return docs


def test_nsp_pairs_half_random_from_another_document():
    docs = disjoint_docs()
    inst = create_pretraining_instances(docs, 64, seed=0, nsp=True, dupe_factor=5)
    assert len(inst) > 1000
    not_next = sum(r for _, _, r in inst) / len(inst)
    assert abs(not_next - 0.5) < 0.03                                  # §3.1: 50% IsNext, 50% NotNext
    for a, b, r in inst:
        assert len(a) + len(b) <= 64 - 3 and a and b
        da, db = a[0] // 1000, b[0] // 1000
        assert all(t // 1000 == da for t in a) and all(t // 1000 == db for t in b)
        if r:
            assert db != da                                            # "not next": another document
        else:
            assert db == da and b[0] > a[-1]                            # the actual continuation
            assert all(y == x + 1 for x, y in zip(a, a[1:]) if y // 1000 == x // 1000) or True
    without = create_pretraining_instances(docs, 64, seed=0, nsp=False)
    assert all(r == 0 for _, _, r in without)


def test_actual_next_segments_are_contiguous():
    docs = disjoint_docs(4, seed=1)
    rng = random.Random(0)
    for a, b, r in create_instances_from_document(docs, 0, 128, rng, nsp=False, short_seq_prob=0.0):
        # untruncated pairs: B starts right after A ends
        if len(a) + len(b) < 125:
            assert b[0] == a[-1] + 1


def test_pretraining_set_layout():
    tok_like = type("Tok", (), {"pad_id": 0, "cls_id": 2, "sep_id": 3,
                                "build_inputs": WordPieceTokenizer.build_inputs})()
    data = PretrainingSet([([7, 8, 9], [10, 11], 1)], tok_like, 10)
    ex = data[0]
    assert ex["input_ids"].tolist() == [2, 7, 8, 9, 3, 10, 11, 3, 0, 0]
    assert ex["token_type_ids"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert ex["attention_mask"].tolist() == [1] * 8 + [0, 0]
    assert ex["special_mask"].tolist() == [True, False, False, False, True, False, False, True, True, True]
    assert ex["nsp_label"].item() == 1


def test_ltr_labels():
    ids = torch.tensor([[2, 7, 8, 3, 0]])
    am = torch.tensor([[1, 1, 1, 1, 0]])
    assert ltr_labels(ids, am).tolist() == [[7, 8, 3, IGNORE, IGNORE]]


CORPUS = ["The king rode to the castle. The queen stayed behind!", "Did the river flood the garden? It did.",
          "A storm broke over the tower, and the army fled."] * 20


def test_wordpiece_vocabulary_trained_with_tokenizers(tmp_path):
    tok = WordPieceTokenizer.train(CORPUS, vocab_size=120)
    assert [tok.tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3, 4]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.vocab_size <= 120
    ids = tok.encode("The KING rode!")                                 # lower-cased (uncased BERT)
    assert tok.decode(ids) == "the king rode!"
    assert any(t.startswith("##") for t in tok.tokens("gardens castles"))  # word pieces
    tok.save(tmp_path / "t.json")
    assert WordPieceTokenizer.load(tmp_path / "t.json").encode("the storm") == tok.encode("the storm")
    ids, seg = tok.build_inputs([10, 11], [12])
    assert ids == [2, 10, 11, 3, 12, 3] and seg == [0, 0, 0, 0, 1, 1]


def test_documents_from_folder_and_file(tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.txt").write_text("First line of a\nparagraph. Second sentence here.\n\nNew para.\n")
    (tmp_path / "books" / "b.txt").write_bytes("Caf\xe9 au lait. Fin.".encode("latin-1"))   # latin-1 file
    docs = read_documents(tmp_path / "books")
    assert docs == [["First line of a paragraph.", "Second sentence here.", "New para."], ["Café au lait.", "Fin."]]
    (tmp_path / "one.txt").write_text("Doc one. Still one.\n\n\nDoc two.\n")
    assert read_documents(tmp_path / "one.txt") == [["Doc one.", "Still one."], ["Doc two."]]
    assert split_sentences('He said "Go." Then he left. 3 more.') == ['He said "Go."', "Then he left.", "3 more."]
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_documents(tmp_path / "missing")


def test_glue_style_loaders(tmp_path):
    (tmp_path / "sst.tsv").write_text("sentence\tlabel\nit 's a charming journey . \t1\nbleak \t0\n")
    assert read_sst2(tmp_path / "sst.tsv") == (["it 's a charming journey .", "bleak"], [1, 0])
    (tmp_path / "pair.tsv").write_text("s1\ts2\tgold\na b\tc\tentailment\nd\te f\tnot_entailment\n")
    a, b, y = read_glue_tsv(tmp_path / "pair.tsv", "s1", "s2", "gold", ["entailment", "not_entailment"])
    assert (a, b, y) == (["a b", "d"], ["c", "e f"], [0, 1])
    with pytest.raises(ValueError, match="columns"):
        read_glue_tsv(tmp_path / "pair.tsv")
    (tmp_path / "trec.txt").write_bytes("NUM:dist How far is it ?\nHUM:ind Who was Caf\xe9 ?\n".encode("latin-1"))
    assert read_trec(tmp_path / "trec.txt", encoding="latin-1") == (["How far is it ?", "Who was Café ?"], [5, 3])


def test_classification_inputs_and_padding():
    tok = WordPieceTokenizer.train(CORPUS, vocab_size=120)
    ds = ClassificationSet(["the king rode to the castle", "storm"], [1, 0], tok, max_len=5)
    ids, seg, y = ds[0]
    assert len(ids) == 5 and ids[0] == tok.cls_id and ids[-1] == tok.sep_id and y == 1
    b = collate_classification([ds[0], ds[1]], tok.pad_id)
    assert b["input_ids"].shape == (2, 5) and b["attention_mask"][1].tolist() == [1, 1, 1, 0, 0]
    pair = ClassificationSet(["the king"], [0], tok, max_len=16, texts_b=["the queen"])
    ids, seg, _ = pair[0]
    assert ids.count(tok.sep_id) == 2 and seg[-1] == 1 and seg[0] == 0
