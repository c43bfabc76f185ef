"""Tokenisers, datasets and the embedded defaults.

- :class:`CharTokenizer`: one token per character (nanoGPT's shakespeare_char, 65 symbols on tiny Shakespeare).
- :class:`BPETokenizer`: byte-level BPE trained with ``tokenizers`` on the corpus at hand (§4.1 uses a BPE
  vocabulary with 40,000 merges; GPT-2's byte-level variant needs no unknown token).
- :class:`LMWindows`: every window of ``n_ctx + 1`` tokens of a corpus as an (input, next-token) pair.
- :class:`ClassificationSet` + :func:`collate_classification`: §3.3's input transformation for
  classification: ``<start> text <extract>``, right-padded, with the extract position and the LM targets.
- :func:`read_trec` / :func:`read_sst2`: the labelled tasks used for fine-tuning.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .loss import IGNORE, shift_targets

SPECIALS = ("<start>", "<extract>", "<unk>")  # §3.3: randomly initialised start and extract tokens (+ unknown)


class CharTokenizer:
    """Characters <-> ids; ``specials`` are appended after the characters."""

    kind = "char"

    def __init__(self, chars: list[str], specials: tuple[str, ...] = ()):
        self.chars = list(chars)
        self.specials = list(specials)
        self.itos = self.chars + self.specials
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.unk = self.stoi.get("<unk>")

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def with_specials(self, specials=SPECIALS) -> "CharTokenizer":
        return CharTokenizer(self.chars, tuple(s for s in specials if s not in self.chars))

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as e:
            if self.unk is not None:
                return [self.stoi.get(c, self.unk) for c in text]
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary of {len(self.chars)} characters; "
                             f"use with_specials() to map unknown characters to <unk>") from None

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def token_id(self, name: str) -> int:
        return self.stoi[name]

    def save(self, path) -> None:
        Path(path).write_text(json.dumps({"kind": "char", "chars": self.chars, "specials": self.specials}) + "\n")


class BPETokenizer:
    """Byte-level BPE (``tokenizers``): ``vocab_size = 256 bytes + merges + specials``."""

    kind = "bpe"

    def __init__(self, tok):
        self.tok = tok

    @classmethod
    def train(cls, texts, merges: int, specials: tuple[str, ...] = SPECIALS[:2]) -> "BPETokenizer":
        """Learn up to ``merges`` merges (§4.1: 40,000) from an iterable of strings."""
        from tokenizers import ByteLevelBPETokenizer

        tok = ByteLevelBPETokenizer()
        tok.train_from_iterator(list(texts) if isinstance(texts, str) else texts,
                                vocab_size=256 + merges + len(specials), min_frequency=2,
                                special_tokens=list(specials), show_progress=False)
        return cls(tok._tokenizer)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def with_specials(self, specials=SPECIALS[:2]) -> "BPETokenizer":
        self.tok.add_special_tokens(list(specials))
        return self

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def decode(self, ids) -> str:
        return self.tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def token_id(self, name: str) -> int:
        i = self.tok.token_to_id(name)
        if i is None:
            raise KeyError(f"{name!r} is not a token of this BPE vocabulary")
        return i

    def save(self, path) -> None:
        Path(path).write_text(json.dumps({"kind": "bpe", "tokenizer": json.loads(self.tok.to_str())}) + "\n")


def load_tokenizer(path) -> CharTokenizer | BPETokenizer:
    d = json.loads(Path(path).read_text())
    if d["kind"] == "char":
        return CharTokenizer(d["chars"], tuple(d["specials"]))
    from tokenizers import Tokenizer

    return BPETokenizer(Tokenizer.from_str(json.dumps(d["tokenizer"])))


def build_tokenizer(kind: str, text: str, bpe_merges: int = 40000):
    if kind == "char":
        return CharTokenizer.from_text(text)
    if kind == "bpe":
        return BPETokenizer.train([text[i:i + 100_000] for i in range(0, len(text), 100_000)], bpe_merges)
    raise ValueError(f"tokenizer {kind!r} is not one of 'char', 'bpe'")


# -- language modelling -----------------------------------------------------------------------

def split_corpus(tokens: torch.Tensor, train_fraction: float = 0.9) -> tuple[torch.Tensor, torch.Tensor]:
    """nanoGPT's split: the first 90% of the tokens train, the last 10% validate."""
    n = int(train_fraction * len(tokens))
    return tokens[:n], tokens[n:]


class LMWindows(Dataset):
    """Item ``i``: ``(tokens[i : i + n_ctx], tokens[i + 1 : i + n_ctx + 1])``, every start position of the corpus."""

    def __init__(self, tokens: torch.Tensor, n_ctx: int):
        if len(tokens) <= n_ctx + 1:
            raise ValueError(f"a corpus of {len(tokens)} tokens is too short for windows of n_ctx={n_ctx}")
        self.tokens, self.n_ctx = tokens, n_ctx

    def __len__(self) -> int:
        return len(self.tokens) - self.n_ctx - 1

    def __getitem__(self, i: int):
        chunk = self.tokens[i:i + self.n_ctx + 1]
        return chunk[:-1], chunk[1:]


class RandomWindows(LMWindows):
    """nanoGPT's ``get_batch``: windows starting at uniformly random positions, drawn with replacement.

    The ``num_samples`` start positions are drawn once from ``seed``, so item ``i`` is fixed and a resumed run
    sees the same windows; any order of the items is again an i.i.d. uniform sequence."""

    def __init__(self, tokens: torch.Tensor, n_ctx: int, num_samples: int, seed: int = 0):
        super().__init__(tokens, n_ctx)
        g = torch.Generator().manual_seed(seed)
        self.starts = torch.randint(len(tokens) - n_ctx, (num_samples,), generator=g)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int):
        return super().__getitem__(int(self.starts[i]))


def eval_windows(tokens: torch.Tensor, n_ctx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows that cover the whole split once: (x, y), each [N, n_ctx]."""
    n = (len(tokens) - 1) // n_ctx
    x = tokens[:n * n_ctx].view(n, n_ctx)
    y = tokens[1:n * n_ctx + 1].view(n, n_ctx)
    return x, y


# -- classification (§3.3, Fig. 1 right) ------------------------------------------------------

class ClassificationSet(Dataset):
    """``<start> text <extract>`` token ids (text truncated to fit ``n_ctx``) and an integer label."""

    def __init__(self, texts: list[str], labels: list[int], tokenizer, n_ctx: int):
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        start, extract = tokenizer.token_id("<start>"), tokenizer.token_id("<extract>")
        self.items = [([start] + tokenizer.encode(t)[:n_ctx - 2] + [extract], y) for t, y in zip(texts, labels)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def collate_classification(items, pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence. Causal attention means padding after a token never changes it."""
    lengths = torch.tensor([len(ids) for ids, _ in items])
    idx = torch.full((len(items), int(lengths.max())), pad_id, dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        idx[i, :len(ids)] = torch.tensor(ids)
    return {"idx": idx, "extract": lengths - 1, "labels": torch.tensor([y for _, y in items]),
            "lm_targets": shift_targets(idx, lengths)}


# TREC (Li & Roth 2002) is read by the shared reader; re-exported for this package's callers.
from shared.data.formats import TREC_CLASSES, read_trec  # noqa: E402,F401


def read_sst2(path) -> tuple[list[str], list[int]]:
    """GLUE SST-2 tsv (``sentence\\tlabel``)."""
    from shared.data import read_tsv

    rows = read_tsv(path)
    return [r["sentence"] for r in rows], [int(r["label"]) for r in rows]


# -- embedded defaults (no download needed) -----------------------------------------------------

DEFAULT_TEXT = """\
SONNET XVIII.
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date:
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance, or nature's changing course, untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall Death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can read, or eyes can see,
So long lives this, and this gives life to thee.

HAMLET:
To be, or not to be: that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles,
And by opposing end them? To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep: perchance to dream: ay, there's the rub;
For in that sleep of death what dreams may come
When we have shuffled off this mortal coil,
Must give us pause.

MACBETH:
To-morrow, and to-morrow, and to-morrow,
Creeps in this petty pace from day to day
To the last syllable of recorded time,
And all our yesterdays have lighted fools
The way to dusty death. Out, out, brief candle!
Life's but a walking shadow, a poor player
That struts and frets his hour upon the stage
And then is heard no more: it is a tale
Told by an idiot, full of sound and fury,
Signifying nothing.
"""


def default_corpus(repeats: int = 20) -> str:
    """The embedded corpus (public-domain Shakespeare), repeated so that a short run has windows to sample."""
    return DEFAULT_TEXT * repeats


_Q = {  # a generated question-type task with TREC's classes: the wh-phrase decides the class
    "ABBR": ["What does {A} stand for ?", "What is the abbreviation for {n} ?"],
    "DESC": ["Why does the {n} {v} ?", "How does a {n} {v} ?", "What is the meaning of {n} ?"],
    "ENTY": ["What {n} did the king {v} ?", "Which {n} is used to {v} ?"],
    "HUM": ["Who was the first {n} to {v} ?", "Who {v}s the {n} ?"],
    "LOC": ["Where is the {n} ?", "Where did the {n} {v} ?"],
    "NUM": ["How many {n}s are there ?", "When did the {n} {v} ?", "How far is the {n} ?"],
}
_NOUNS = "king queen castle river sword crown ship horse garden tower bridge letter army storm poet".split()
_VERBS = "fall rise sail burn sing fight travel grow break shine".split()


def default_questions(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``n`` generated questions labelled with TREC's coarse classes (a stand-in when trec_qc is absent)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        y = rng.randrange(len(TREC_CLASSES))
        t = rng.choice(_Q[TREC_CLASSES[y]])
        texts.append(t.format(n=rng.choice(_NOUNS), v=rng.choice(_VERBS),
                              A="".join(rng.choice("ABCDEFGHIKLMNOPRSTW") for _ in range(3))))
        labels.append(y)
    return texts, labels
