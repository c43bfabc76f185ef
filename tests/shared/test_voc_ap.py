"""PASCAL VOC average precision (shared.metrics.voc_ap / voc_map): the VOC2007 11-point interpolation on a
hand-computed case, the definition (mean over r in {0, .1, ..., 1} of the max precision at recall >= r),
difficult objects, duplicates and the strict IoU > 0.5 rule."""
import numpy as np
import pytest

from shared.metrics import voc_ap, voc_map


def test_hand_computed_case():
    # class 0: image 1 holds A and B, image 2 holds C and a "difficult" D; npos = 3 (D not counted)
    gt = [{"image_id": 1, "boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 0]},
          {"image_id": 2, "boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "labels": [0, 0], "difficult": [0, 1]}]
    dets = [{"image_id": 1, "boxes": [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 25]], "labels": [0, 0, 0],
             "scores": [0.9, 0.8, 0.4]},
            {"image_id": 2, "boxes": [[40, 40, 45, 45], [50, 50, 60, 60], [1, 0, 11, 10]], "labels": [0, 0, 0],
             "scores": [0.7, 0.6, 0.5]}]
    # by score: .9 TP (A), .8 FP (duplicate of A), .7 FP (background), .6 ignored (difficult D),
    # .5 TP (C: IoU 90/110), .4 FP (IoU with B exactly 0.5: not > 0.5)
    # (recall, precision): (1/3, 1), (1/3, 1/2), (1/3, 1/3), (1/3, 1/3), (2/3, 1/2), (2/3, 2/5)
    # 11-point: r = 0, .1, .2, .3 -> 1; r = .4, .5, .6 -> 1/2; r = .7 ... 1 -> 0: (4 + 1.5) / 11 = 0.5
    m = voc_map(gt, dets)
    assert m["AP"][0] == pytest.approx(0.5)
    # the area under the monotone envelope (VOC2010+): 1/3 * 1 + 1/3 * 1/2 = 0.5 as well
    assert voc_map(gt, dets, use_07_metric=False)["AP"][0] == pytest.approx(0.5)
    # a second class with ground truth but no detections has AP 0 and halves the mean;
    # a category with no ground truth is skipped, as in the devkit
    gt2 = gt + [{"image_id": 3, "boxes": [[0, 0, 5, 5]], "labels": [1]}]
    m2 = voc_map(gt2, dets, categories=[0, 1, 2])
    assert m2["AP"] == {0: pytest.approx(0.5), 1: 0.0} and m2["mAP"] == pytest.approx(0.25)


def test_eleven_point_definition():
    # precision 1 up to recall 0.5, nothing beyond: r = 0 ... .5 -> 1 (6 points), the rest 0 -> 6/11
    assert voc_ap([0.25, 0.5], [1.0, 1.0]) == pytest.approx(6 / 11)
    assert voc_ap([0.3], [1.0]) == pytest.approx(4 / 11)          # recall exactly 0.3 counts for r = 0.3
    assert voc_ap([1.0], [1.0]) == pytest.approx(1.0)
    # random curves against the definition written out: mean over r in {0, .1, ..., 1} of max(prec[rec >= r])
    g = np.random.default_rng(0)
    for _ in range(20):
        hits = g.random(30) < 0.6
        npos = int(hits.sum()) + int(g.integers(0, 5))
        tp = np.cumsum(hits)
        rec, prec = tp / npos, tp / np.arange(1, 31)
        expected = np.mean([max([p for r_, p in zip(rec, prec) if r_ >= k / 10 - 1e-12], default=0.0)
                            for k in range(11)])
        assert voc_ap(rec, prec) == pytest.approx(expected)


def test_perfect_and_empty():
    gt = [{"image_id": 1, "boxes": [[0, 0, 4, 4], [5, 5, 9, 9]], "labels": [0, 1]}]
    perfect = [{"image_id": 1, "boxes": [[0, 0, 4, 4], [5, 5, 9, 9]], "labels": [0, 1], "scores": [0.9, 0.8]}]
    assert voc_map(gt, perfect)["mAP"] == pytest.approx(1.0)
    assert voc_map(gt, [])["mAP"] == 0.0
