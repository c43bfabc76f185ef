import math

import pytest
import torch
from torch import nn

from shared.metrics import accuracy, bleu, coco_map, perplexity
from shared.profiling import count_flops, count_params, time_fn


def test_accuracy_topk_and_labels():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.5, 0.4, 0.1]])
    y = torch.tensor([1, 0, 1, 1])
    assert accuracy(logits, y) == 0.5
    assert accuracy(logits, y, topk=2) == 1.0
    assert accuracy(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 0])) == pytest.approx(2 / 3)


def test_perplexity():
    assert perplexity(math.log(65)) == pytest.approx(65)


def test_bleu_hand_case_and_signature():
    hyp = ["the cat sat on the mat"]
    score, sig = bleu(hyp, ["the cat sat on the mat"])
    assert score == pytest.approx(100.0) and "tok:13a" in sig and "nrefs:1" in sig
    # 4 of 6 unigrams, 2/5 bigrams, 1/4 trigrams, 0/3 4-grams -> exp smoothing; brevity penalty 1
    score2, _ = bleu(["the cat sat on a rug"], ["the cat sat on the mat"])
    import sacrebleu
    assert score2 == pytest.approx(sacrebleu.corpus_bleu(["the cat sat on a rug"], [["the cat sat on the mat"]]).score)
    assert 0 < score2 < 100
    with pytest.raises(ValueError, match="hypotheses"):
        bleu(["a", "b"], ["a"])


def test_coco_map_perfect_and_shifted():
    gt = [{"image_id": 1, "boxes": [[10, 10, 50, 50], [60, 60, 100, 120]], "labels": [1, 2]},
          {"image_id": 2, "boxes": [[0, 0, 30, 30]], "labels": [1]}]
    perfect = [{**g, "scores": [0.9] * len(g["labels"])} for g in gt]
    m = coco_map(gt, perfect)
    assert m["mAP"] == pytest.approx(1.0) and m["AP50"] == pytest.approx(1.0)
    # class-2 box shifted to IoU 5/7: a hit at thresholds .50-.70 only -> AP@[.5:.95] = 5/10 for that class
    shifted = [{"image_id": 1, "boxes": [[10, 10, 50, 50]], "labels": [1], "scores": [0.9]},
               {"image_id": 2, "boxes": [[0, 0, 30, 30]], "labels": [1], "scores": [0.9]},
               {"image_id": 1, "boxes": [[60, 70, 100, 130]], "labels": [2], "scores": [0.9]}]
    inter = 40 * 50
    iou = inter / (40 * 60 + 40 * 60 - inter)
    assert iou == pytest.approx(5 / 7)
    m2 = coco_map(gt, shifted)
    assert m2["AP50"] == pytest.approx(1.0) and m2["mAP"] == pytest.approx((1.0 + 0.5) / 2, abs=1e-6)
    assert coco_map(gt, [])["mAP"] == 0.0


def test_count_params_meta_and_tied():
    def build():
        m = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10))
        m[1].weight = m[0].weight  # tied: counted once
        return m
    assert count_params(build) == 10 * 4 + 10
    with torch.device("meta"):
        assert next(build().parameters()).device.type == "meta"
    assert count_params(nn.Linear(3, 2)) == 8


def test_count_flops_linear_and_conv():
    assert count_flops(nn.Linear(8, 4, bias=False), torch.randn(2, 8)) == 2 * 2 * 8 * 4
    conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    assert count_flops(conv, torch.randn(1, 3, 8, 8)) == 2 * 16 * 8 * 8 * 3 * 9


def test_time_fn():
    t = time_fn(lambda: sum(range(100)), warmup=1, iters=5)
    assert t["iters"] == 5 and 0 <= t["median"] <= t["mean"] * 5


def test_count_flops_includes_cpu_attention():
    class Attn(nn.Module):
        def forward(self, q):
            return nn.functional.scaled_dot_product_attention(q, q, q)
    B, H, L, E = 2, 4, 16, 8
    q = torch.randn(B, H, L, E, requires_grad=True)
    fwd = 2 * (2 * B * H * L * L * E)  # QK^T and (softmax)V
    assert count_flops(Attn(), q) == fwd
    # backward: 5 matmuls of the same size (QK^T recomputed, dV, dP, dQ, dK), torch's flash formula
    assert count_flops(Attn(), q, backward=True) == fwd + 5 * fwd // 2
