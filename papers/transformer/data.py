"""Data of §5.1: a shared source/target BPE vocabulary, token-count batches, and the corpora.

- Multi30k (WMT16 multimodal task 1, En-De; ``../shared/data/multi30k``) for the quick preset.
- WMT14 En-De (Europarl v7 + Common Crawl + News Commentary v9; newstest2013 dev, newstest2014 test),
  registered in ``shared/data/registry.py`` as ``wmt14_en_de``, for the paper preset.
- An embedded synthetic task (copy, reverse or sort of random symbol strings) that needs no files.

§5.1: "Sentences were encoded using byte-pair encoding, which has a shared source-target vocabulary of
about 37000 tokens. ... Sentence pairs were batched together by approximate sequence length. Each
training batch contained a set of sentence pairs containing approximately 25000 source tokens and 25000
target tokens." :class:`TokenBatches` makes such batches; each item of it is a whole batch, so that
``shared.trainer.Trainer`` (which counts examples) runs with ``batch_size = world_size x grad_accum``.
"""
from __future__ import annotations

import random
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from shared.data import read_parallel_text, registry

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)              # ids 0, 1, 2, 3


# -- the shared BPE vocabulary (§5.1) -----------------------------------------------------------

class BPEVocab:
    """A byte-pair-encoding vocabulary shared by source and target, trained with ``tokenizers``.

    Pre-tokenisation is ``Metaspace`` (spaces become a marker), so ``decode`` gives back detokenised
    text that sacrebleu can score.
    """

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (tokenizer.token_to_id(s) for s in SPECIALS)
        if (self.pad_id, self.bos_id, self.eos_id, self.unk_id) != (0, 1, 2, 3):
            raise ValueError("the tokenizer's special tokens must be <pad>, <s>, </s>, <unk> with ids 0-3")

    @classmethod
    def train(cls, texts, vocab_size: int, min_frequency: int = 2) -> "BPEVocab":
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=list(SPECIALS), show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> "BPEVocab":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    def __len__(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts)]

    def decode(self, ids: list[list[int]]) -> list[str]:
        return self.tok.decode_batch(ids, skip_special_tokens=True)

    def tokens(self, text: str) -> list[str]:
        return self.tok.encode(text).tokens


# -- batches by approximate length and token count (§5.1) ---------------------------------------

def collate(pairs: list[tuple[list[int], list[int]]], bos: int = 1, eos: int = 2, pad: int = 0):
    """[(src ids, tgt ids)] -> src [B, S] (ids + </s>), tgt_in [B, T] (<s> + ids), tgt_out [B, T] (ids + </s>)."""
    S = max(len(s) for s, _ in pairs) + 1
    T = max(len(t) for _, t in pairs) + 1
    src = torch.full((len(pairs), S), pad, dtype=torch.long)
    tgt_in = torch.full((len(pairs), T), pad, dtype=torch.long)
    tgt_out = torch.full((len(pairs), T), pad, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        src[i, :len(s) + 1] = torch.tensor(s + [eos])
        tgt_in[i, :len(t) + 1] = torch.tensor([bos] + t)
        tgt_out[i, :len(t) + 1] = torch.tensor(t + [eos])
    return src, tgt_in, tgt_out


class TokenBatches(Dataset):
    """Pairs grouped into batches of about ``max_tokens`` source and ``max_tokens`` target tokens (§5.1).

    Pairs are sorted by length (with a seeded shuffle inside equal lengths) and cut greedily, so each
    batch holds sentences of similar length; item ``i`` is the ``i``-th batch, already collated. The
    trainer's sampler shuffles the order of batches each epoch.
    """

    def __init__(self, pairs: list[tuple[list[int], list[int]]], max_tokens: int, seed: int = 0,
                 max_len: int = 256):
        if max_tokens <= max_len + 1:
            raise ValueError(f"max_tokens={max_tokens} must exceed max_len+1={max_len + 1} so every pair fits")
        rng = random.Random(seed)
        pairs = [p for p in pairs if 0 < len(p[0]) <= max_len and 0 < len(p[1]) <= max_len]
        order = sorted(range(len(pairs)), key=lambda i: (max(len(pairs[i][0]), len(pairs[i][1])), rng.random()))
        self.batches: list[list[tuple[list[int], list[int]]]] = []
        cur, S, T = [], 0, 0
        for i in order:
            s, t = pairs[i]
            S2, T2 = max(S, len(s) + 1), max(T, len(t) + 1)
            if cur and max(S2, T2) * (len(cur) + 1) > max_tokens:         # padded tokens per side
                self.batches.append(cur)
                cur, S2, T2 = [], len(s) + 1, len(t) + 1
            cur.append((s, t))
            S, T = S2, T2
        if cur:
            self.batches.append(cur)
        self.n_pairs = len(pairs)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        return collate(self.batches[i])


def unwrap(items):
    """``collate_fn`` for the trainer: each item of :class:`TokenBatches` is already a batch."""
    if len(items) != 1:
        raise ValueError(f"a micro-batch must hold one TokenBatches item, got {len(items)}: set batch_size "
                         f"= world_size x grad_accum")
    return items[0]


def sentence_batches(src_ids: list[list[int]], max_sentences: int = 64):
    """Inference batches: indices sorted by source length, cut every ``max_sentences``."""
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    return [order[i:i + max_sentences] for i in range(0, len(order), max_sentences)]


# -- Multi30k -----------------------------------------------------------------------------------

MULTI30K_SPLITS = {"train": "train", "val": "val", "test2016": "test_2016_flickr"}


def load_multi30k(data_dir, src_lang: str = "de", tgt_lang: str = "en") -> dict[str, list[tuple[str, str]]]:
    """Verified Multi30k pairs per split (``train`` 29,000, ``val`` 1,014, ``test2016`` 1,000)."""
    out = {}
    for split, stem in MULTI30K_SPLITS.items():
        s = registry.require("multi30k", f"{stem}.{src_lang}.gz", data_dir)
        t = registry.require("multi30k", f"{stem}.{tgt_lang}.gz", data_dir)
        out[split] = [(a.strip(), b.strip()) for a, b in read_parallel_text(s, t)]
    return out


def multi30k_available(data_dir) -> bool:
    return all(registry.available("multi30k", f"{stem}.{lang}.gz", data_dir)
               for stem in MULTI30K_SPLITS.values() for lang in ("de", "en"))


# -- WMT14 En-De (paper preset) -----------------------------------------------------------------

WMT14_TRAIN = {  # archive -> (English member, German member)
    "training-parallel-europarl-v7.tgz": ("training/europarl-v7.de-en.en", "training/europarl-v7.de-en.de"),
    "training-parallel-commoncrawl.tgz": ("commoncrawl.de-en.en", "commoncrawl.de-en.de"),
    "training-parallel-nc-v9.tgz": ("training/news-commentary-v9.de-en.en", "training/news-commentary-v9.de-en.de"),
}
WMT14_DEV = ("dev.tgz", "dev/newstest2013-src.en.sgm", "dev/newstest2013-ref.de.sgm")
WMT14_TEST = ("test-full.tgz", "test-full/newstest2014-deen-src.en.sgm", "test-full/newstest2014-deen-ref.de.sgm")
_SEG = re.compile(r"<seg[^>]*>(.*)</seg>", re.IGNORECASE)


def _tar_lines(archive: Path, member: str) -> list[str]:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(member)
        if f is None:
            raise FileNotFoundError(f"{archive} has no file {member!r}")
        return f.read().decode("utf-8").splitlines()


def read_sgm(lines: list[str]) -> list[str]:
    """The ``<seg>`` texts of a WMT .sgm file, in order (XML entities unescaped)."""
    import html

    return [html.unescape(m.group(1).strip()) for ln in lines if (m := _SEG.search(ln))]


def wmt14_checksum_state(data_dir=None) -> dict[str, str]:
    """For each WMT14 file: 'md5 verified' or 'UNVERIFIED (no checksum known)' (never claimed otherwise)."""
    spec = registry.spec("wmt14_en_de")
    return {f.path: ("sha256 verified" if f.sha256 else "md5 verified" if f.md5 else "UNVERIFIED (no checksum known)")
            for f in spec.files}


def load_wmt14_en_de(data_dir=None, max_train: int | None = None) -> dict[str, list[tuple[str, str]]]:
    """WMT14 En->De as in §5.1 (about 4.5M training pairs), newstest2013 (dev) and newstest2014 (test).

    Files come from the registry (downloaded and checksum-verified where a checksum is registered).
    """
    if "wmt14_en_de" not in registry.REGISTRY:
        raise registry.DataError("dataset 'wmt14_en_de' is not registered in shared/data/registry.py")
    train: list[tuple[str, str]] = []
    for archive, (en, de) in WMT14_TRAIN.items():
        path = registry.require("wmt14_en_de", archive, data_dir)
        pairs = list(zip(_tar_lines(path, en), _tar_lines(path, de)))
        train += [(a.strip(), b.strip()) for a, b in pairs if a.strip() and b.strip()]
        if max_train and len(train) >= max_train:
            train = train[:max_train]
            break
    out = {"train": train}
    for split, (archive, en, de) in (("dev", WMT14_DEV), ("test", WMT14_TEST)):
        path = registry.require("wmt14_en_de", archive, data_dir)
        out[split] = list(zip(read_sgm(_tar_lines(path, en)), read_sgm(_tar_lines(path, de))))
    return out


# -- the embedded synthetic task ----------------------------------------------------------------

@dataclass
class SyntheticTask:
    """Map a random string of ``n_symbols`` symbols (length 1..max_len) to its copy, reversal or sort.

    Symbols are ids 4 .. 4 + n_symbols - 1 (after the four special tokens); the vocabulary is shared.
    """
    kind: str = "reverse"        # copy | reverse | sort
    n_symbols: int = 20
    max_len: int = 12

    def __post_init__(self):
        if self.kind not in ("copy", "reverse", "sort"):
            raise ValueError(f"synthetic task {self.kind!r}: use copy, reverse or sort")

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + self.n_symbols

    def target(self, x: list[int]) -> list[int]:
        return list(x) if self.kind == "copy" else x[::-1] if self.kind == "reverse" else sorted(x)

    def sample(self, n: int, seed: int) -> list[tuple[list[int], list[int]]]:
        rng = random.Random(seed)
        out = []
        for _ in range(n):
            x = [rng.randrange(len(SPECIALS), self.vocab_size) for _ in range(rng.randint(1, self.max_len))]
            out.append((x, self.target(x)))
        return out


_SRC_WORDS = ("ka lo mi tu re sa no pe vi da ru zo be fi ga hu je ko li ma ne po qu ri se ta ul va we xi").split()
_TGT_WORDS = ("cat dog red big sun run sky sea old new tree bird fish blue tall small warm cold fast slow "
              "hill road boat lamp door rock leaf star rain snow").split()


def synthetic_parallel_text(n: int, seed: int, min_words: int = 3, max_words: int = 9) -> list[tuple[str, str]]:
    """The embedded stand-in for a translation corpus: a fixed word-for-word lexicon plus reordering.

    The target is the source mapped word by word through a fixed dictionary and then reversed, so
    the model must learn a vocabulary, alignment and reordering; text in, text out, so BPE, beam
    search and BLEU run exactly as on Multi30k. Used when Multi30k is absent (tests, CI).
    """
    rng = random.Random(seed)
    lex = dict(zip(_SRC_WORDS, _TGT_WORDS))
    out = []
    for _ in range(n):
        words = [rng.choice(_SRC_WORDS) for _ in range(rng.randint(min_words, max_words))]
        out.append((" ".join(words), " ".join(lex[w] for w in reversed(words)).capitalize() + "."))
    return out
