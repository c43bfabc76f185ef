"""Images with known object boxes, for scoring localisation without a box-trained model.

The paper scores Grad-CAM's weakly-supervised localisation on ILSVRC-15 val boxes (§4.1) with a
classifier that never saw a box. At CPU scale we build the same situation: a
``size`` x ``size`` canvas holding one MNIST digit (28x28) at a random position, plus clutter (8x8
fragments of other digits, as in cluttered MNIST, Mnih et al. 2014) that carries no class. The
digit's box is the tight box around its ink. Two-object canvases (two digits of different classes)
serve the counterfactual experiment (§5.2).

Digits come from MNIST's t10k files in the registry (the training images are not in the team store,
so the 10k test digits are split, by default 8k to train / 2k to test); absent those, an embedded
generated task draws ten classes of glyphs (:func:`synthetic_glyphs`) with the same boxes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shared.data import registry
from shared.data.formats import read_idx

DIGIT = 28
INK = 32  # a pixel >= this (of 255) is ink when the box is measured


@dataclass
class Canvases:
    x: torch.Tensor          # [N, 1, S, S] float in [0, 1]
    y: torch.Tensor          # [N] the (first) object's class
    box: torch.Tensor        # [N, 4] (x0, y0, x1, y1) pixel box of the object, x1/y1 exclusive
    y2: torch.Tensor | None = None    # [N] the second object's class (two-object canvases)
    box2: torch.Tensor | None = None  # [N, 4]

    def __len__(self) -> int:
        return len(self.y)


def load_mnist_t10k(data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """MNIST's 10k test digits [N, 28, 28] uint8 and labels [N], or None when the files are absent."""
    files = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    if not all(registry.available("mnist", f, data_dir) for f in files):
        return None
    x = read_idx(registry.require("mnist", files[0], data_dir, download=False))
    y = read_idx(registry.require("mnist", files[1], data_dir, download=False))
    return x.astype(np.uint8), y.astype(np.int64)


def synthetic_glyphs(n: int, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The embedded default: ``n`` 28x28 glyphs of ``classes`` kinds, each kind a fixed random 5x5
    stroke pattern drawn at a random scale (3-4 px per cell) and offset, with intensity jitter."""
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(12345).random((classes, 5, 5)) < 0.45
    templates[:, 2, 2] = True  # no empty glyph
    x = np.zeros((n, DIGIT, DIGIT), np.uint8)
    y = rng.integers(0, classes, n)
    for i in range(n):
        s = int(rng.integers(3, 5))
        g = np.kron(templates[y[i]], np.ones((s, s))) * rng.uniform(0.6, 1.0)
        oy, ox = rng.integers(0, DIGIT - g.shape[0] + 1, 2)
        x[i, oy:oy + g.shape[0], ox:ox + g.shape[1]] = (g * 255).astype(np.uint8)
    return x, y.astype(np.int64)


def ink_box(digit: np.ndarray) -> tuple[int, int, int, int]:
    """Tight (x0, y0, x1, y1) box of the ink in a 28x28 digit (x1, y1 exclusive)."""
    ys, xs = np.nonzero(digit >= INK)
    if len(ys) == 0:
        return 0, 0, DIGIT, DIGIT
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def make_canvases(digits: np.ndarray, labels: np.ndarray, n: int, size: int = 64, clutter: int = 6,
                  objects: int = 1, seed: int = 0) -> Canvases:
    """``n`` canvases with ``objects`` (1 or 2) digits from ``digits`` and ``clutter`` fragments each.

    Fragments are 8x8 crops of other digits placed anywhere outside the objects' boxes (they may
    touch a box's edge but never cover the object). Two objects have different classes and
    non-overlapping boxes."""
    if objects not in (1, 2):
        raise ValueError(f"objects must be 1 or 2, got {objects}")
    if size < DIGIT * objects:
        raise ValueError(f"a {size}px canvas cannot hold {objects} non-overlapping {DIGIT}px digits")
    rng = np.random.default_rng(seed)
    N = len(digits)
    x = np.zeros((n, size, size), np.float32)
    ys = np.zeros((n, objects), np.int64)
    boxes = np.zeros((n, objects, 4), np.int64)
    for i in range(n):
        placed: list[tuple[int, int, int, int]] = []
        first = int(rng.integers(N))
        chosen = [first]
        if objects == 2:
            while True:
                j = int(rng.integers(N))
                if labels[j] != labels[first]:
                    chosen.append(j)
                    break
        for k, j in enumerate(chosen):
            b0 = ink_box(digits[j])
            for _ in range(1000):
                oy, ox = (int(v) for v in rng.integers(0, size - DIGIT + 1, 2))
                b = (ox + b0[0], oy + b0[1], ox + b0[2], oy + b0[3])
                if not any(_overlap(b, p) for p in placed):
                    break
            else:
                raise RuntimeError("could not place the objects; use a larger canvas")
            placed.append(b)
            x[i, oy:oy + DIGIT, ox:ox + DIGIT] = np.maximum(x[i, oy:oy + DIGIT, ox:ox + DIGIT], digits[j] / 255.0)
            ys[i, k], boxes[i, k] = labels[j], b
        for _ in range(clutter):
            src = digits[int(rng.integers(N))]
            for _ in range(50):
                sy, sx = rng.integers(4, DIGIT - 12, 2)
                ty, tx = (int(v) for v in rng.integers(0, size - 8 + 1, 2))
                if not any(_overlap((tx, ty, tx + 8, ty + 8), p) for p in placed):
                    patch = src[sy:sy + 8, sx:sx + 8] / 255.0
                    x[i, ty:ty + 8, tx:tx + 8] = np.maximum(x[i, ty:ty + 8, tx:tx + 8], patch)
                    break
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Canvases(t(x)[:, None], t(ys[:, 0]), t(boxes[:, 0]),
                    t(ys[:, 1]) if objects == 2 else None, t(boxes[:, 1]) if objects == 2 else None)


@dataclass
class Splits:
    train: Canvases
    test: Canvases
    pairs: Canvases          # two-object test canvases (counterfactuals, §5.2)
    source: str              # "mnist" or "synthetic"


def load_splits(data_dir: str | None, source: str = "auto", n_train: int = 8000, n_test: int = 1000,
                n_pairs: int = 500, train_digits: int = 8000, size: int = 64, clutter: int = 6,
                seed: int = 0, synthetic_digits: int = 3000) -> Splits:
    """Train canvases from the first ``train_digits`` digits, test and pair canvases from the rest.

    ``source``: auto (MNIST t10k when present, else the generated glyphs) | mnist | synthetic."""
    if source not in ("auto", "mnist", "synthetic"):
        raise ValueError(f"dataset {source!r} is not one of auto, mnist, synthetic")
    mnist = None if source == "synthetic" else load_mnist_t10k(data_dir)
    if mnist is None and source == "mnist":
        raise registry.DataError("MNIST t10k files not found; put t10k-images-idx3-ubyte.gz and "
                                 "t10k-labels-idx1-ubyte.gz under <data-dir>/mnist/ "
                                 "(python -m shared.data fetch mnist --data-dir DIR)")
    if mnist is None:
        digits, labels = synthetic_glyphs(synthetic_digits, seed=seed)
        train_digits = min(train_digits, int(0.8 * len(digits)))
        name = "synthetic"
    else:
        digits, labels = mnist
        name = "mnist"
    if not 0 < train_digits < len(digits):
        raise ValueError(f"train_digits must leave test digits: 0 < {train_digits} < {len(digits)}")
    tr, te = slice(0, train_digits), slice(train_digits, None)
    return Splits(make_canvases(digits[tr], labels[tr], n_train, size, clutter, 1, seed),
                  make_canvases(digits[te], labels[te], n_test, size, clutter, 1, seed + 1),
                  make_canvases(digits[te], labels[te], n_pairs, size, clutter, 2, seed + 2), name)
