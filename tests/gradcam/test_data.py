"""Canvases with known boxes: the box holds the digit's ink, clutter stays outside it, two objects differ."""
import gzip
import struct

import numpy as np
import pytest
import torch

from papers.gradcam.data import DIGIT, INK, ink_box, load_splits, make_canvases, synthetic_glyphs


def _digits(n=40, seed=0):
    return synthetic_glyphs(n, seed=seed)


def test_box_is_the_ink_and_clutter_stays_outside():
    d, y = _digits()
    c = make_canvases(d, y, 30, size=48, clutter=6, seed=1)
    assert c.x.shape == (30, 1, 48, 48) and c.x.dtype == torch.float32 and 0 <= c.x.min() and c.x.max() <= 1
    for i in range(30):
        x0, y0, x1, y1 = c.box[i].tolist()
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
        inside = c.x[i, 0, y0:y1, x0:x1]
        assert inside[0].max() >= INK / 255 and inside[-1].max() >= INK / 255     # tight: ink on each edge
        assert inside[:, 0].max() >= INK / 255 and inside[:, -1].max() >= INK / 255
    assert c.y2 is None


def test_two_objects_differ_and_do_not_overlap():
    d, y = _digits()
    c = make_canvases(d, y, 25, size=64, clutter=3, objects=2, seed=2)
    assert (c.y != c.y2).all()
    a, b = c.box, c.box2
    overlap = (torch.minimum(a[:, 2], b[:, 2]) > torch.maximum(a[:, 0], b[:, 0])) & \
              (torch.minimum(a[:, 3], b[:, 3]) > torch.maximum(a[:, 1], b[:, 1]))
    assert not overlap.any()
    with pytest.raises(ValueError, match="non-overlapping"):
        make_canvases(d, y, 1, size=40, objects=2)


def test_ink_box():
    g = np.zeros((DIGIT, DIGIT), np.uint8)
    g[5:9, 10:20] = 200
    g[0, 0] = INK - 1                                                         # faint: not ink
    assert ink_box(g) == (10, 5, 20, 9)


def _write_idx(path, arr):
    arr = np.asarray(arr)
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + arr.tobytes())


def test_splits_read_mnist_idx_files_or_fall_back(no_data_env, monkeypatch):
    splits = load_splits(None, n_train=20, n_test=10, n_pairs=5, train_digits=100)
    assert splits.source == "synthetic" and len(splits.train) == 20 and len(splits.pairs) == 5
    from shared.data import registry
    with pytest.raises(registry.DataError, match="t10k"):
        load_splits(None, source="mnist")
    root = no_data_env / "d" / "mnist"
    root.mkdir(parents=True)
    d, y = _digits(60, seed=3)
    _write_idx(root / "t10k-images-idx3-ubyte.gz", d)
    _write_idx(root / "t10k-labels-idx1-ubyte.gz", y.astype(np.uint8))
    monkeypatch.setattr(registry, "verify", lambda path, f: "fixture")      # the real files carry md5s
    s = load_splits(str(no_data_env / "d"), source="mnist", n_train=10, n_test=5, n_pairs=3, train_digits=40)
    assert s.source == "mnist" and set(s.train.y.tolist()) <= set(y[:40].tolist())
    with pytest.raises(ValueError, match="dataset"):
        load_splits(None, source="cifar")
