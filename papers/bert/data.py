"""BERT's data pipeline: WordPiece, documents, NSP sentence pairs, MLM masking, GLUE-style tasks.

- §3 "Input/Output Representations": WordPiece embeddings (Wu et al. 2016) with a 30,000-token vocabulary;
  ``[CLS] A [SEP] B [SEP]`` with segment ids 0 for A (and its [CLS]/[SEP]) and 1 for B.
  :class:`WordPieceTokenizer` trains one with ``tokenizers`` on the corpus at hand, or loads a Hugging Face
  checkpoint's ``tokenizer.json`` / ``vocab.txt``.
- §3.1 "Pre-training data": "it is critical to use a document-level corpus rather than a shuffled
  sentence-level corpus ... in order to extract long contiguous sequences". :func:`read_documents` reads a
  folder of ``.txt`` files (one document per file) or one file whose documents are separated by blank lines.
- §3.1 Task #2 and App. A.1: "when choosing the sentences A and B for each pretraining example, 50% of the
  time B is the actual next sentence that follows A (labeled as IsNext), and 50% of the time it is a random
  sentence from the corpus (labeled as NotNext)"; "the combined length is ≤ 512 tokens".
  :func:`create_instances_from_document` follows the released ``create_pretraining_data.py``: segments
  of whole sentences filling a target length (shorter with probability 0.1), a random split point, a
  "not next" B drawn from *another* document, random truncation of the longer segment.
- §3.1 Task #1 and App. A.1: "we mask 15% of all WordPiece tokens in each sequence at random ... we replace
  the i-th token with (1) the [MASK] token 80% of the time (2) a random token 10% of the time (3) the
  unchanged i-th token 10% of the time". :func:`mask_tokens` (never a special token).
- GLUE-style tasks for fine-tuning: :func:`read_sst2` (``sentence\\tlabel``), :func:`read_trec`
  (``COARSE:fine question``), :func:`read_glue_tsv` (any tsv with one or two text columns).
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .loss import IGNORE

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MASK_PROB = 0.15                  # §3.1: "mask 15% of all WordPiece tokens"
MASK_SPLIT = (0.8, 0.1, 0.1)      # App. A.1 / §3.1: [MASK] 80%, random 10%, unchanged 10%
SHORT_SEQ_PROB = 0.1              # released create_pretraining_data.py: short_seq_prob


# -- WordPiece (§3) ---------------------------------------------------------------------------

class WordPieceTokenizer:
    """A ``tokenizers`` WordPiece tokenizer (BERT normaliser and pre-tokeniser) with BERT's special tokens."""

    def __init__(self, tok):
        self.tok = tok
        ids = {s: tok.token_to_id(s) for s in SPECIALS}
        missing = [s for s, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}; a BERT vocabulary needs "
                             f"{', '.join(SPECIALS)}")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (ids[s] for s in SPECIALS)
        self.special_ids = frozenset(ids.values())

    @classmethod
    def train(cls, texts, vocab_size: int = 8192, lowercase: bool = True, min_frequency: int = 2) -> "WordPieceTokenizer":
        """Learn a WordPiece vocabulary of ``vocab_size`` entries (specials first: [PAD]=0 ... [MASK]=4)."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=list(SPECIALS), show_progress=False)
        tok.train_from_iterator(iter(texts), trainer=trainer)
        return cls(tok)

    @classmethod
    def from_folder(cls, path: str | Path) -> "WordPieceTokenizer":
        """A Hugging Face checkpoint's tokenizer: ``tokenizer.json`` if present, else ``vocab.txt``
        (lower-casing from ``tokenizer_config.json``'s ``do_lower_case``, default true, as BertTokenizer)."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

        path = Path(path)
        if (path / "tokenizer.json").is_file():
            tok = Tokenizer.from_file(str(path / "tokenizer.json"))
            tok.post_processor = None      # we add [CLS]/[SEP] ourselves
            tok.no_truncation()
            tok.no_padding()
            return cls(tok)
        if (path / "vocab.txt").is_file():
            conf = path / "tokenizer_config.json"
            lower = json.loads(conf.read_text()).get("do_lower_case", True) if conf.is_file() else True
            tok = Tokenizer(models.WordPiece.from_file(str(path / "vocab.txt"), unk_token="[UNK]"))
            tok.normalizer = normalizers.BertNormalizer(lowercase=lower)
            tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            tok.decoder = decoders.WordPiece()
            return cls(tok)
        raise FileNotFoundError(f"{path}: no tokenizer.json or vocab.txt; a BERT checkpoint folder needs one of them")

    @classmethod
    def load(cls, path: str | Path) -> "WordPieceTokenizer":
        from tokenizers import Tokenizer
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """WordPiece ids of ``text``, without [CLS]/[SEP]."""
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids) -> str:
        return self.tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def tokens(self, text: str) -> list[str]:
        return self.tok.encode(text, add_special_tokens=False).tokens

    def build_inputs(self, a: list[int], b: list[int] | None = None) -> tuple[list[int], list[int]]:
        """§3, Fig. 2: ``[CLS] A [SEP] (B [SEP])`` and the segment ids (0 for A, 1 for B)."""
        ids = [self.cls_id, *a, self.sep_id]
        seg = [0] * len(ids)
        if b is not None:
            ids += [*b, self.sep_id]
            seg += [1] * (len(b) + 1)
        return ids, seg


# -- documents (§3.1 "Pre-training data") -----------------------------------------------------

_SENT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]*[A-Z0-9])")


def read_text_file(path: Path) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")           # e.g. Gutenberg's shakespeare-caesar.txt


def split_sentences(paragraph: str) -> list[str]:
    """A paragraph into sentences (a rule-based splitter; the released code expects one sentence per line)."""
    text = " ".join(paragraph.split())
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def text_to_sentences(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; each paragraph is split into sentences."""
    paras = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return [s for p in paras for s in split_sentences(p)]


def read_documents(path: str | Path, max_files: int = 0) -> list[list[str]]:
    """Documents as lists of sentences: every ``.txt`` file of a folder is one document; a single file holds
    documents separated by two blank lines (or is one document if it has none)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".txt")
        if max_files:
            files = files[:max_files]
        if not files:
            raise FileNotFoundError(f"{path} holds no .txt files; give a folder of plain-text documents")
        docs = [text_to_sentences(read_text_file(f)) for f in files]
    elif path.is_file():
        text = read_text_file(path).replace("\r\n", "\n")
        chunks = re.split(r"\n\s*\n\s*\n", text)
        docs = [text_to_sentences(c) for c in chunks]
    else:
        raise FileNotFoundError(f"{path}: no such file or folder of .txt documents")
    return [d for d in docs if d]


# -- NSP pairs (§3.1 Task #2, App. A.1; released create_pretraining_data.py) -------------------

def truncate_seq_pair(a: list[int], b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """Trim the longer of A, B one token at a time, from the front or the back at random (released code)."""
    while len(a) + len(b) > max_num_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def create_instances_from_document(docs: list[list[list[int]]], doc_index: int, max_seq_length: int,
                                   rng: random.Random, nsp: bool = True,
                                   short_seq_prob: float = SHORT_SEQ_PROB) -> list[tuple[list[int], list[int], int]]:
    """(A, B, is_random_next) triples from document ``doc_index`` of ``docs`` (sentences as token ids).

    With ``nsp`` 50% of B segments come from a random other document (NotNext = 1), the rest are the actual
    continuation (IsNext = 0). With ``nsp=False`` B is always the continuation (Table 5 "No NSP" inputs).
    """
    document = docs[doc_index]
    max_num_tokens = max_seq_length - 3                           # [CLS], [SEP], [SEP]
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    instances, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            if chunk:
                want_random = nsp and len(docs) > 1 and rng.random() < 0.5
                while not want_random and len(chunk) == 1 and i + 1 < len(document):
                    i += 1                                            # a one-sentence chunk takes the next
                    chunk.append(document[i])                         # sentence as its B (released code: random)
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for s in chunk[:a_end] for t in s]
                b, is_random_next = [], 0
                if nsp and len(docs) > 1 and (want_random or len(chunk) == 1):
                    is_random_next = 1
                    target_b = target - len(a)
                    for _ in range(10):                               # a document other than this one
                        r = rng.randint(0, len(docs) - 1)
                        if r != doc_index:
                            break
                    other = docs[r]
                    start = rng.randint(0, len(other) - 1)
                    for s in other[start:]:
                        b.extend(s)
                        if len(b) >= target_b:
                            break
                    i -= len(chunk) - a_end                           # put the unused sentences back
                else:
                    b = [t for s in chunk[a_end:] for t in s]
                truncate_seq_pair(a, b, max_num_tokens, rng)
                if a and b:
                    instances.append((a, b, is_random_next))
            chunk, length = [], 0
        i += 1
    return instances


def create_pretraining_instances(docs: list[list[list[int]]], max_seq_length: int, seed: int, nsp: bool = True,
                                 dupe_factor: int = 1, short_seq_prob: float = SHORT_SEQ_PROB):
    """Every document's instances, ``dupe_factor`` times with different splits, shuffled (released code)."""
    rng = random.Random(seed)
    out = []
    for _ in range(dupe_factor):
        for d in range(len(docs)):
            out.extend(create_instances_from_document(docs, d, max_seq_length, rng, nsp, short_seq_prob))
    rng.shuffle(out)
    return out


class PretrainingSet(Dataset):
    """Pre-training inputs, padded to ``max_seq_length``: ``input_ids``, ``token_type_ids``,
    ``attention_mask``, ``special_mask`` (True at [CLS]/[SEP]/[PAD]) and ``nsp_label`` (1 = NotNext)."""

    def __init__(self, instances, tok: WordPieceTokenizer, max_seq_length: int):
        n = len(instances)
        if n == 0:
            raise ValueError("no pre-training instances: the corpus is too small for the sequence length")
        self.input_ids = torch.full((n, max_seq_length), tok.pad_id, dtype=torch.long)
        self.token_type_ids = torch.zeros((n, max_seq_length), dtype=torch.long)
        self.attention_mask = torch.zeros((n, max_seq_length), dtype=torch.long)
        self.special_mask = torch.ones((n, max_seq_length), dtype=torch.bool)
        self.nsp_label = torch.tensor([r for _, _, r in instances], dtype=torch.long)
        for i, (a, b, _) in enumerate(instances):
            ids, seg = tok.build_inputs(a, b)
            T = len(ids)
            self.input_ids[i, :T] = torch.tensor(ids)
            self.token_type_ids[i, :T] = torch.tensor(seg)
            self.attention_mask[i, :T] = 1
            self.special_mask[i, 1:1 + len(a)] = False
            self.special_mask[i, 2 + len(a):2 + len(a) + len(b)] = False

    def __len__(self) -> int:
        return len(self.nsp_label)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids[i], "token_type_ids": self.token_type_ids[i],
                "attention_mask": self.attention_mask[i], "special_mask": self.special_mask[i],
                "nsp_label": self.nsp_label[i]}


# -- MLM masking (§3.1 Task #1, App. A.1) -----------------------------------------------------

def mask_tokens(input_ids: torch.Tensor, special_mask: torch.Tensor, vocab_size: int, mask_id: int,
                special_ids=(), mask_prob: float = MASK_PROB, split=MASK_SPLIT,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked inputs, MLM labels): ``mask_prob * n`` (stochastically rounded) of each sequence's n non-special
    tokens are chosen uniformly at random; of those 80% become [MASK], 10% a random
    non-special token, 10% stay. Labels hold the original token at chosen positions and IGNORE elsewhere."""
    B, T = input_ids.shape
    device = input_ids.device
    cand = ~special_mask
    n = cand.sum(1)                                                           # [B]
    # 15% of each sequence's n tokens, rounded stochastically so that the rate is exactly 15% in expectation
    # at every length (the released code rounds to nearest, with at least one)
    k = torch.floor(n.float() * mask_prob + torch.rand(B, generator=generator, device=device)).long()
    score = torch.rand(B, T, generator=generator, device=device).masked_fill(~cand, 2.0)
    rank = score.argsort(1).argsort(1)                                        # 0 = smallest score
    chosen = rank < k[:, None]                                                # [B, T]
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    u = torch.rand(B, T, generator=generator, device=device)
    to_mask = chosen & (u < split[0])
    to_random = chosen & (u >= split[0]) & (u < split[0] + split[1])
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[list(special_ids)] = False
    pool = allowed.nonzero().squeeze(1).to(device)                            # non-special token ids
    rand_tok = pool[torch.randint(len(pool), (B, T), generator=generator, device=device)]
    out = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    out = torch.where(to_random, rand_tok, out)
    return out, labels


def ltr_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Table 5 "LTR": every position predicts the next real token; the last real token and padding: IGNORE."""
    labels = torch.full_like(input_ids, IGNORE)
    labels[:, :-1] = input_ids[:, 1:]
    labels[:, :-1][attention_mask[:, 1:] == 0] = IGNORE
    labels[:, -1] = IGNORE
    return labels


# -- fine-tuning tasks (GLUE-style) -----------------------------------------------------------

# TREC (Li & Roth 2002) is read by the shared reader; re-exported for this package's callers.
from shared.data.formats import TREC_CLASSES, read_trec  # noqa: E402,F401


def read_glue_tsv(path, text_a: str = "sentence", text_b: str | None = None, label: str = "label",
                  label_names: list[str] | None = None):
    """A GLUE-style tsv with a header: (texts_a, texts_b or None, label ids)."""
    from shared.data import read_tsv

    rows = read_tsv(path)
    if rows and (text_a not in rows[0] or label not in rows[0] or (text_b and text_b not in rows[0])):
        raise ValueError(f"{path}: columns {list(rows[0])}; expected {text_a!r}{', ' + repr(text_b) if text_b else ''}"
                         f" and {label!r}")
    a = [r[text_a].strip() for r in rows]
    b = [r[text_b].strip() for r in rows] if text_b else None
    if label_names:
        y = [label_names.index(r[label]) for r in rows]
    else:
        y = [int(r[label]) for r in rows]
    return a, b, y


def read_sst2(path) -> tuple[list[str], list[int]]:
    """GLUE SST-2 tsv (``sentence\\tlabel``, 1 = positive)."""
    a, _, y = read_glue_tsv(path)
    return a, y


class ClassificationSet(Dataset):
    """§4.1: ``[CLS] text [SEP]`` (or a pair ``[CLS] A [SEP] B [SEP]``), truncated to ``max_len``."""

    def __init__(self, texts: list[str], labels: list[int], tok: WordPieceTokenizer, max_len: int,
                 texts_b: list[str] | None = None):
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        ids_a = tok.encode_batch(texts)
        ids_b = tok.encode_batch(texts_b) if texts_b is not None else [None] * len(texts)
        rng = random.Random(0)
        self.items = []
        for a, b, y in zip(ids_a, ids_b, labels):
            if b is None:
                a = a[:max_len - 2]
            else:
                truncate_seq_pair(a, b, max_len - 3, rng)
            ids, seg = tok.build_inputs(a, b)
            self.items.append((ids, seg, int(y)))
        self.pad_id = tok.pad_id

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def collate_classification(items, pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence of the batch; ``attention_mask`` is 0 on padding."""
    T = max(len(ids) for ids, _, _ in items)
    B = len(items)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((B, T), dtype=torch.long)
    attention_mask = torch.zeros((B, T), dtype=torch.long)
    for i, (ids, seg, _) in enumerate(items):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        token_type_ids[i, :len(seg)] = torch.tensor(seg)
        attention_mask[i, :len(ids)] = 1
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask,
            "labels": torch.tensor([y for _, _, y in items])}


# -- embedded defaults (no download needed) ---------------------------------------------------

_NOUNS = "king queen castle river sword crown ship horse garden tower bridge letter army storm poet".split()
_VERBS = "fell rose sailed burned sang fought travelled grew broke shone".split()
_ADJS = "old young dark bright quiet proud cold golden silent ancient".split()


def default_documents(n_docs: int = 12, n_sentences: int = 60, seed: int = 0) -> list[list[str]]:
    """Generated documents, each with its own small topic vocabulary (a stand-in when no corpus is found)."""
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        nouns = rng.sample(_NOUNS, 5)
        docs.append([f"The {rng.choice(_ADJS)} {rng.choice(nouns)} {rng.choice(_VERBS)} near the "
                     f"{rng.choice(nouns)} of {rng.choice(nouns)}." for _ in range(n_sentences)])
    return docs


def default_sentiment(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """Generated positive / negative sentences (a stand-in for SST-2)."""
    rng = random.Random(seed)
    good, bad = "wonderful charming moving brilliant delightful".split(), "dull tedious awful clumsy boring".split()
    texts, labels = [], []
    for _ in range(n):
        y = rng.randrange(2)
        texts.append(f"the {rng.choice(_NOUNS)} is {rng.choice(good if y else bad)} and {rng.choice(_ADJS)}")
        labels.append(y)
    return texts, labels
